"""Reading volume nodes: voxels (k, j, i) and geometry, LPS <-> RAS.

The Study-building side (validation, slice order) stays in ScarSegmentationLib.mrml_volumes,
which re-exports these functions.
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from vtkmodules.util import numpy_support

# LPS <-> RAS: negate the first two world axes (the same matrix both ways).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


class VolumeGeometryError(ValueError):
    """A volume's geometry cannot be expressed as spacing, origin and directions."""


def ijk_to_ras(node: slicer.vtkMRMLVolumeNode) -> np.ndarray:
    """The node's own 4x4 IJK -> RAS matrix (parent transforms not applied)."""
    vm = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(vm)
    return to_numpy_matrix(vm)


def array_from_volume_node(node: slicer.vtkMRMLVolumeNode) -> np.ndarray:
    """A copy of the voxels, indexed (k, j, i)."""
    image = node.GetImageData()
    return (
        numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
        .reshape(image.GetDimensions()[::-1])
        .copy()
    )


def world_geometry(
    node: slicer.vtkMRMLVolumeNode, label: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(spacing (i, j, k), RAS origin, RAS direction columns) in world coordinates.

    A linear parent transform is applied; a non-linear one raises VolumeGeometryError.
    """
    label = label or node.GetName()
    parent = node.GetParentTransformNode()
    if parent is None:  # read the stored values, not a decomposed matrix, for exact round trips
        directions = vtk.vtkMatrix4x4()
        node.GetIJKToRASDirectionMatrix(directions)
        return (
            np.array(node.GetSpacing()),
            np.array(node.GetOrigin()),
            to_numpy_matrix(directions)[:3, :3],
        )
    if not parent.IsTransformToWorldLinear():
        raise VolumeGeometryError(
            f"{label!r} is under a non-linear transform; harden or remove it first"
        )
    to_world = vtk.vtkMatrix4x4()
    parent.GetMatrixTransformToWorld(to_world)
    m = to_numpy_matrix(to_world) @ ijk_to_ras(node)
    spacing = np.linalg.norm(m[:3, :3], axis=0)
    return spacing, m[:3, 3], m[:3, :3] / spacing


def world_geometry_lps(
    node: slicer.vtkMRMLVolumeNode, label: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(spacing (i, j, k), LPS origin, LPS direction columns): the Study/ITK convention."""
    spacing, origin_ras, direction_ras = world_geometry(node, label)
    return spacing, LPS_TO_RAS @ origin_ras, LPS_TO_RAS @ direction_ras


def to_vtk_matrix(m: np.ndarray) -> vtk.vtkMatrix4x4:
    vm = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            vm.SetElement(r, c, float(m[r, c]))
    return vm


def to_numpy_matrix(vm: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[vm.GetElement(r, c) for c in range(4)] for r in range(4)])
