"""Volume nodes <-> numpy arrays with full geometry (spacing, origin, direction; LPS <-> RAS).

Reading voxels and geometry lives in ScarQuantificationLib.mrml_volumes (both modules need it);
this file re-exports it and adds the Study side (validation, slice order) and volume creation.
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from ScarQuantificationLib.mrml_volumes import LPS_TO_RAS as _LPS_TO_RAS
from ScarQuantificationLib.mrml_volumes import (
    VolumeGeometryError,
    array_from_volume_node,
    ijk_to_ras,
    world_geometry,
)
from ScarQuantificationLib.mrml_volumes import to_vtk_matrix as _to_vtk
from vtkmodules.util import numpy_support

from .errors import InputError
from .io.slice_order import order_slices
from .io.validate import validate_study
from .study import Study

__all__ = [
    "array_from_volume_node",
    "copy_geometry",
    "ijk_to_ras",
    "ijk_to_ras_from_study",
    "map_kind",
    "scalar_map_node",
    "set_map_display",
    "study_from_volume_node",
    "volume_node_from_study",
]


def ijk_to_ras_from_study(study: Study) -> np.ndarray:
    """4x4 IJK -> RAS matrix of a study (whose geometry is LPS)."""
    m = np.eye(4)
    m[:3, :3] = _LPS_TO_RAS @ np.asarray(study.direction, dtype=float) @ np.diag(study.spacing)
    m[:3, 3] = _LPS_TO_RAS @ np.asarray(study.origin, dtype=float)
    return m


def volume_node_from_study(
    scene: slicer.vtkMRMLScene, study: Study, name: str | None = None
) -> slicer.vtkMRMLScalarVolumeNode:
    """A scalar volume node holding a copy of study.image with the study's geometry."""
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name or study.name)
    _set_voxels(node, np.asarray(study.image, dtype=np.float32))
    # Spacing, origin and directions set separately (not as one matrix) so they round-trip exactly.
    node.SetSpacing(*(float(v) for v in study.spacing))
    node.SetOrigin(*(float(v) for v in _LPS_TO_RAS @ np.asarray(study.origin, dtype=float)))
    directions = np.eye(4)
    directions[:3, :3] = _LPS_TO_RAS @ np.asarray(study.direction, dtype=float)
    node.SetIJKToRASDirectionMatrix(_to_vtk(directions))
    node.CreateDefaultDisplayNodes()
    return node


# Display of the maps: colour table (the first one the scene has: Slicer's file-based perceptual
# tables, else a built-in one that slicer-core has too) and a fixed window over the map's range.
# A probability lies in 0..1; an uncertainty is a variance of probabilities (MC dropout / flips),
# at most 0.25, so its window is 0..0.25 (a 0..1 window would show it nearly black).
MAP_DISPLAY: dict[str, tuple[tuple[str, ...], tuple[float, float]]] = {
    "probability": (
        ("vtkMRMLColorTableNodeFileViridis.txt", "vtkMRMLColorTableNodeRainbow"),
        (0.0, 1.0),
    ),
    "uncertainty": (
        ("vtkMRMLColorTableNodeFileInferno.txt", "vtkMRMLColorTableNodeIron"),
        (0.0, 0.25),
    ),
}


def map_kind(name: str) -> str | None:
    """ "probability" or "uncertainty" from a map's name (e.g. "Scar uncertainty"), else None."""
    words = name.lower().split()
    return next((kind for kind in MAP_DISPLAY if kind in words), None)


def scalar_map_node(
    scene: slicer.vtkMRMLScene,
    array: np.ndarray,
    reference_volume_node: slicer.vtkMRMLVolumeNode,
    name: str,
    node: slicer.vtkMRMLScalarVolumeNode | None = None,
) -> slicer.vtkMRMLScalarVolumeNode:
    """A float32 volume (probability, uncertainty...) on the reference volume's grid.

    It observes the reference's parent transform (so it lies on the reference's voxels). A
    probability or uncertainty map (by name) gets a colour table and a fixed window (MAP_DISPLAY).
    `node`: refill this existing volume node instead (voxels, geometry, transform, display).
    """
    shape = _shape_kji(reference_volume_node)
    if tuple(array.shape) != shape:
        raise ValueError(f"map {name!r} has shape {array.shape}, reference volume {shape}")
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    _set_voxels(node, np.asarray(array, dtype=np.float32))
    copy_geometry(reference_volume_node, node)
    node.SetAndObserveTransformNodeID(reference_volume_node.GetTransformNodeID())
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    kind = map_kind(name)
    if kind is not None:
        set_map_display(node, kind)
    return node


def set_map_display(node: slicer.vtkMRMLScalarVolumeNode, kind: str) -> None:
    """Colour table and fixed window of a "probability" or "uncertainty" map (MAP_DISPLAY)."""
    colours, (low, high) = MAP_DISPLAY[kind]
    display = node.GetDisplayNode()
    scene = node.GetScene()
    colour = next((c for c in colours if scene is not None and scene.GetNodeByID(c)), None)
    if colour is not None:
        display.SetAndObserveColorNodeID(colour)
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(low, high)


def copy_geometry(source: slicer.vtkMRMLVolumeNode, target: slicer.vtkMRMLVolumeNode) -> None:
    """Spacing, origin and directions of source onto target, exactly (CopyOrientation goes
    through a matrix decomposition and can change the last bit)."""
    directions = vtk.vtkMatrix4x4()
    source.GetIJKToRASDirectionMatrix(directions)
    target.SetIJKToRASDirectionMatrix(directions)
    target.SetSpacing(source.GetSpacing())
    target.SetOrigin(source.GetOrigin())


def study_from_volume_node(node: slicer.vtkMRMLNode, name: str | None = None) -> Study:
    """A Study from a scalar volume node (a Slicer user's loaded volume is the input).

    The geometry is the node's geometry in world coordinates (a linear parent transform is
    applied). Refused with InputError: anything but a scalar volume (label maps, vector, tensor
    and multi-frame volumes), a volume without voxels, more than one component per voxel. Then the
    same checks and apex-to-base ordering as for files (io.validate_study, io.order_slices): a node
    is always 3D, so a single slice is accepted with a warning, as for a one-slice 3D file.
    """
    label = name or (node.GetName() if node is not None else "volume")
    if node is None or not node.IsA("vtkMRMLScalarVolumeNode"):
        kind = node.GetClassName() if node is not None else "nothing"
        raise InputError(f"{label!r}: expected a scalar volume, got {kind}")
    if node.IsA("vtkMRMLLabelMapVolumeNode"):
        raise InputError(f"{label!r} is a label map volume, not an LGE image")
    if node.IsA("vtkMRMLTensorVolumeNode"):  # vector, diffusion and multi-volume nodes
        raise InputError(
            f"{label!r} is a vector/multi-frame volume ({node.GetClassName()}); "
            "give a 3D scalar LGE stack"
        )
    image = node.GetImageData()
    if image is None or image.GetNumberOfPoints() == 0 or image.GetPointData().GetScalars() is None:
        raise InputError(f"{label!r} holds no voxels")
    if image.GetNumberOfScalarComponents() != 1:
        raise InputError(
            f"{label!r} has {image.GetNumberOfScalarComponents()} components per voxel "
            "(4D or colour image); give a 3D scalar LGE stack"
        )
    dims = image.GetDimensions()
    spacing, origin_ras, direction_ras = _world_geometry(node, label)
    voxels = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[::-1])
    study = Study(
        image=voxels.astype(np.float32),  # astype copies: the study never aliases VTK memory
        spacing=tuple(float(s) for s in spacing),
        origin=tuple(float(o) for o in _LPS_TO_RAS @ origin_ras),
        direction=_LPS_TO_RAS @ direction_ras,
        name=label,
        source=f"MRML volume node {label!r}",
    )
    validate_study(study)
    return order_slices(study)


def _world_geometry(
    node: slicer.vtkMRMLVolumeNode, label: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(spacing, RAS origin, RAS direction columns) in world coordinates; InputError if not linear."""
    try:
        return world_geometry(node, label)
    except VolumeGeometryError as exc:
        raise InputError(str(exc)) from exc


def _set_voxels(node: slicer.vtkMRMLVolumeNode, array: np.ndarray) -> None:
    if array.ndim != 3 or min(array.shape) < 1:
        raise ValueError(f"expected a 3D (k, j, i) array, got shape {array.shape}")
    image = vtk.vtkImageData()
    image.SetDimensions(array.shape[::-1])
    flat = np.ascontiguousarray(array).ravel()
    # deep=True: VTK owns its copy, so the caller's array can be freed or changed.
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(flat, deep=True))
    node.SetAndObserveImageData(image)


def _shape_kji(node: slicer.vtkMRMLVolumeNode) -> tuple[int, int, int]:
    return tuple(node.GetImageData().GetDimensions()[::-1])
