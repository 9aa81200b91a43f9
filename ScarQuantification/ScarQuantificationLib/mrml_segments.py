"""Segmentation nodes <-> boolean masks on a reference volume's grid.

Shared by both modules; ScarSegmentationLib.mrml_segments re-exports it (raising its InputError).
Transforms: masks are on the volume's voxel grid, which lies where the volume's parent transform
puts it. A new segmentation observes the volume's parent transform; masks are written into and read
from a segmentation through the (linear) transform between the volume's and the segmentation's
parents, so a segmentation under another transform still gets and gives the right voxels. This is
what slicer.util.updateSegmentBinaryLabelmapFromArray / arrayFromSegmentBinaryLabelmap do in Slicer
(through temporary labelmap nodes and slicer.modules, which slicer-core lacks), done here with the
oriented images' own matrices: no resampling when the two parents are the same.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import slicer
import vtk
from vtkmodules.util import numpy_support

from .mrml_volumes import ijk_to_ras, to_numpy_matrix, to_vtk_matrix
from .segments import SEGMENT_COLORS, SEGMENT_NAMES
from .terminology import TAG as TERMINOLOGY_TAG
from .terminology import terminology_entry

_LABELMAP = slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()


class SegmentationError(ValueError):
    """A segmentation node cannot be read as masks (duplicate names, no labelmap conversion)."""


def segmentation_node_from_masks(
    scene: slicer.vtkMRMLScene,
    masks: dict[str, np.ndarray],
    reference_volume_node: slicer.vtkMRMLVolumeNode,
    name: str = "Segmentation",
    node: slicer.vtkMRMLSegmentationNode | None = None,
) -> slicer.vtkMRMLSegmentationNode:
    """A segmentation node with one segment per mask, binary labelmap as source representation.

    Segment names (and IDs) are the dict keys; colours come from SEGMENT_COLORS; canonical
    segments come first in SEGMENT_NAMES order, any other keys after them in the given order.
    An empty mask still becomes an (empty) segment: a stage that ran and found nothing is not
    the same as a stage that did not run.
    `node`: fill this existing node instead (a Slicer user's chosen output): segments named like
    a key are replaced, other segments are kept; its reference geometry becomes the volume's.
    A new node observes the volume's parent transform; an existing one keeps its own, and the
    masks are placed through the transform between the two (so they land on the volume's voxels).
    Canonical segments carry their standard codes (terminology.py) in the TerminologyEntry tag.
    """
    shape = tuple(reference_volume_node.GetImageData().GetDimensions()[::-1])
    for key, mask in masks.items():
        if tuple(np.shape(mask)) != shape:
            raise ValueError(f"mask {key!r} has shape {np.shape(mask)}, reference volume {shape}")
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        node.SetAndObserveTransformNodeID(reference_volume_node.GetTransformNodeID())
    to_segmentation = volume_to_segmentation(reference_volume_node, node)
    segmentation = node.GetSegmentation()
    remove_segments(node, masks)
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume_node)
    if segmentation.GetNumberOfSegments() == 0:  # never switch the source of kept segments
        node.SetSourceRepresentationToBinaryLabelmap()
    ras = to_vtk_matrix(to_segmentation @ ijk_to_ras(reference_volume_node))
    order = [n for n in SEGMENT_NAMES if n in masks] + [n for n in masks if n not in SEGMENT_COLORS]
    for key in order:
        image = _oriented_image(np.asarray(masks[key]).astype(bool), ras)
        segment = slicer.vtkSegment()
        segment.SetName(key)
        if key in SEGMENT_COLORS:  # other segments get Slicer's next colour
            segment.SetColor(*SEGMENT_COLORS[key])
        entry = terminology_entry(key)
        if entry is not None:
            segment.SetTag(TERMINOLOGY_TAG, entry)
        segment.AddRepresentation(_LABELMAP, image)
        if not segmentation.AddSegment(segment, key):
            raise RuntimeError(f"could not add segment {key!r} to {node.GetName()!r}")
    # Non-overlapping segments share one labelmap layer (smaller .seg.nrrd); overlapping ones
    # (Myocardium contains Scar) keep separate layers.
    segmentation.CollapseBinaryLabelmaps(False)
    return node


def remove_segments(node: slicer.vtkMRMLSegmentationNode, names: Iterable[str]) -> int:
    """Remove every segment whose name or ID is in `names`; returns how many were removed."""
    names = set(names)
    segmentation = node.GetSegmentation()
    removed = 0
    for index in reversed(range(segmentation.GetNumberOfSegments())):
        segment_id = segmentation.GetNthSegmentID(index)
        if segment_id in names or segmentation.GetSegment(segment_id).GetName() in names:
            segmentation.RemoveSegment(segment_id)
            removed += 1
    return removed


def masks_from_segmentation_node(
    node: slicer.vtkMRMLSegmentationNode,
    reference_volume_node: slicer.vtkMRMLVolumeNode,
    names: Iterable[str] | None = None,
) -> dict[str, np.ndarray]:
    """Bool masks keyed by segment name, resampled (nearest neighbour) onto the reference grid.

    Works on hand-corrected or imported segmentations whose labelmaps have another geometry or
    extent, or that lie under another (linear) parent transform than the volume, and on
    segmentations whose source is a closed surface (converted to a labelmap on the reference grid
    first). `names`: read only segments with these names (others are neither
    resampled nor checked). Raises SegmentationError if two read segments share a name.
    """
    wanted = None if names is None else set(names)
    segmentation = node.GetSegmentation()
    reference = _oriented_image_geometry(reference_volume_node, node)
    if not segmentation.ContainsRepresentation(_LABELMAP):
        geometry = slicer.vtkSegmentationConverter.SerializeImageGeometry(reference)
        segmentation.SetConversionParameter(
            slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName(), geometry
        )
        if not node.CreateBinaryLabelmapRepresentation():
            raise SegmentationError(
                f"segmentation {node.GetName()!r} cannot be converted to a labelmap"
            )
    shape = tuple(reference.GetDimensions()[::-1])
    masks: dict[str, np.ndarray] = {}
    for index in range(segmentation.GetNumberOfSegments()):
        segment_id = segmentation.GetNthSegmentID(index)
        segment_name = segmentation.GetSegment(segment_id).GetName()
        if wanted is not None and segment_name not in wanted:
            continue
        if segment_name in masks:
            raise SegmentationError(
                f"segmentation {node.GetName()!r} has two segments named {segment_name!r}"
            )
        masks[segment_name] = _segment_on_reference(node, segment_id, reference, shape)
    return masks


def _segment_on_reference(
    node: slicer.vtkMRMLSegmentationNode,
    segment_id: str,
    reference: slicer.vtkOrientedImageData,
    shape: tuple[int, int, int],
) -> np.ndarray:
    labelmap = slicer.vtkOrientedImageData()
    # Gives this segment's voxels only (0/1), even when the segment shares a layer with others.
    node.GetBinaryLabelmapRepresentation(segment_id, labelmap)
    if labelmap.GetPointData().GetScalars() is None or _is_empty_extent(labelmap):
        return np.zeros(shape, dtype=bool)
    resampled = slicer.vtkOrientedImageData()
    ok = slicer.vtkOrientedImageDataResample.ResampleOrientedImageToReferenceOrientedImage(
        labelmap, reference, resampled, False, False
    )
    if not ok or resampled.GetExtent() != reference.GetExtent():
        raise RuntimeError(f"could not resample segment {segment_id!r} onto the reference grid")
    array = numpy_support.vtk_to_numpy(resampled.GetPointData().GetScalars())
    return array.reshape(resampled.GetDimensions()[::-1]) > 0


def _is_empty_extent(image: vtk.vtkImageData) -> bool:
    e = image.GetExtent()
    return e[0] > e[1] or e[2] > e[3] or e[4] > e[5]


def _oriented_image(mask: np.ndarray, ijk_to_ras: vtk.vtkMatrix4x4) -> slicer.vtkOrientedImageData:
    image = slicer.vtkOrientedImageData()
    image.SetDimensions(mask.shape[::-1])
    flat = np.ascontiguousarray(mask, dtype=np.uint8).ravel()
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(flat, deep=True))
    image.SetImageToWorldMatrix(ijk_to_ras)
    return image


def segment_tag(segment: slicer.vtkSegment, key: str) -> str | None:
    """A segment's tag value (e.g. "TerminologyEntry"), None when it has no such tag."""
    value = vtk.reference("")
    return str(value) if segment.GetTag(key, value) else None


def volume_to_segmentation(
    volume_node: slicer.vtkMRMLVolumeNode, segmentation_node: slicer.vtkMRMLSegmentationNode
) -> np.ndarray:
    """4x4 matrix from the volume's parent space (its RAS) to the segmentation's parent space.

    The identity when both observe the same transform (or none). SegmentationError when the
    transform between them is not linear (harden it first).
    """
    source = volume_node.GetParentTransformNode()
    target = segmentation_node.GetParentTransformNode()
    if source is target or (
        source is not None and target is not None and source.GetID() == target.GetID()
    ):
        return np.eye(4)
    matrix = vtk.vtkMatrix4x4()
    if not slicer.vtkMRMLTransformNode.GetMatrixTransformBetweenNodes(source, target, matrix):
        raise SegmentationError(
            f"the transform between {volume_node.GetName()!r} and {segmentation_node.GetName()!r} "
            "is not linear; harden it first"
        )
    return to_numpy_matrix(matrix)


def _oriented_image_geometry(
    volume_node: slicer.vtkMRMLVolumeNode, segmentation_node: slicer.vtkMRMLSegmentationNode
) -> slicer.vtkOrientedImageData:
    """An oriented image with the volume's grid and extent (a uint8 buffer, zeros), placed in the
    segmentation's coordinates."""
    dims = volume_node.GetImageData().GetDimensions()
    to_segmentation = volume_to_segmentation(volume_node, segmentation_node)
    return _oriented_image(
        np.zeros(dims[::-1], dtype=np.uint8),
        to_vtk_matrix(to_segmentation @ ijk_to_ras(volume_node)),
    )
