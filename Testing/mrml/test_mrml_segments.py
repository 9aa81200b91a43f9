"""Segmentation nodes <-> masks: names, colours, order, voxels, empty segments, other grids."""

from __future__ import annotations

import numpy as np
import pytest
import slicer
import vtk
from ScarQuantificationLib.segments import SEGMENT_COLORS, SEGMENT_NAMES
from ScarSegmentationLib.mrml_segments import (
    masks_from_segmentation_node,
    segmentation_node_from_masks,
)
from ScarSegmentationLib.mrml_volumes import ijk_to_ras, volume_node_from_study
from vtkmodules.util import numpy_support


def _segments(node):
    seg = node.GetSegmentation()
    return [seg.GetNthSegment(n) for n in range(seg.GetNumberOfSegments())]


def test_names_colours_order_and_voxels(scene, study, masks):
    volume = volume_node_from_study(scene, study)
    shuffled = {name: masks[name] for name in reversed(list(masks))}  # order must not matter
    node = segmentation_node_from_masks(scene, shuffled, volume, "annulus segmentation")

    names = [s.GetName() for s in _segments(node)]
    assert names == [n for n in SEGMENT_NAMES if n in masks]
    for segment in _segments(node):
        assert segment.GetColor() == pytest.approx(SEGMENT_COLORS[segment.GetName()])
    source = node.GetSegmentation().GetSourceRepresentationName()
    assert source == slicer.vtkSegmentationConverter.GetBinaryLabelmapRepresentationName()
    role = slicer.vtkMRMLSegmentationNode.GetReferenceImageGeometryReferenceRole()
    assert node.GetNodeReference(role) is volume

    back = masks_from_segmentation_node(node, volume)
    assert set(back) == set(masks)
    for name, mask in masks.items():
        assert back[name].dtype == bool
        np.testing.assert_array_equal(back[name], mask, err_msg=name)
    assert "No-reflow" in back and not back["No-reflow"].any()  # empty, but present


def test_overlapping_segments_keep_their_own_voxels(scene, study, masks):
    """Scar lies inside Myocardium: shared labelmap layers must not merge or clip them."""
    volume = volume_node_from_study(scene, study)
    node = segmentation_node_from_masks(scene, masks, volume)
    assert node.GetSegmentation().GetNumberOfLayers() >= 2
    back = masks_from_segmentation_node(node, volume)
    assert back["Scar"].any() and (back["Scar"] <= back["Myocardium"]).all()
    np.testing.assert_array_equal(back["Myocardium"], masks["Myocardium"])


def test_shape_mismatch_is_refused(scene, study, masks):
    volume = volume_node_from_study(scene, study)
    with pytest.raises(ValueError, match="shape"):
        segmentation_node_from_masks(scene, {"Scar": masks["Scar"][1:]}, volume)


def test_existing_node_is_refilled_and_other_segments_kept(scene, study, masks):
    volume = volume_node_from_study(scene, study)
    node = segmentation_node_from_masks(scene, {"Scar": masks["Myocardium"]}, volume)
    node.GetSegmentation().AddEmptySegment("User notes", "User notes")
    same = segmentation_node_from_masks(scene, masks, volume, node=node)
    assert same is node
    names = [s.GetName() for s in _segments(node)]
    assert sorted(names) == sorted([*masks, "User notes"])
    np.testing.assert_array_equal(masks_from_segmentation_node(node, volume)["Scar"], masks["Scar"])


def test_hand_made_segmentation_on_a_finer_grid_is_resampled(scene, study, masks):
    """A segment drawn on a 2x oversampled grid comes back exactly on the reference grid."""
    volume = volume_node_from_study(scene, study)
    fine = np.repeat(np.repeat(masks["Myocardium"], 2, axis=1), 2, axis=2).astype(np.uint8)
    matrix = ijk_to_ras(volume)
    fine_matrix = matrix.copy()
    fine_matrix[:3, :2] /= 2.0  # half the i and j spacing
    fine_matrix[:3, 3] -= 0.25 * (matrix[:3, 0] + matrix[:3, 1])  # voxel corners stay put
    image = slicer.vtkOrientedImageData()
    image.SetDimensions(fine.shape[::-1])
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(fine.ravel(), deep=True))
    vm = vtk.vtkMatrix4x4()
    vm.DeepCopy(fine_matrix.ravel().tolist())
    image.SetImageToWorldMatrix(vm)

    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "hand made")
    node.AddSegmentFromBinaryLabelmapRepresentation(image, "Myocardium", [0.8, 0.45, 0.35])
    back = masks_from_segmentation_node(node, volume)
    np.testing.assert_array_equal(back["Myocardium"], masks["Myocardium"])


def test_closed_surface_segmentation_is_voxelised_on_the_reference_grid(scene, study, masks):
    volume = volume_node_from_study(scene, study)
    node = segmentation_node_from_masks(scene, {"Myocardium": masks["Myocardium"]}, volume)
    assert node.CreateClosedSurfaceRepresentation()
    node.SetSourceRepresentationToClosedSurface()
    node.RemoveBinaryLabelmapRepresentation()
    back = masks_from_segmentation_node(node, volume)["Myocardium"]
    truth = masks["Myocardium"]
    assert back.shape == truth.shape
    dice = 2 * (back & truth).sum() / (back.sum() + truth.sum())
    assert dice > 0.85, dice  # surface smoothing of a thin ring on 8.5 mm slices
