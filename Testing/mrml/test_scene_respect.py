"""Apply respects the user's scene (real slicer-core scenes): outputs beside the input in the
subject hierarchy, the input never moved; transformed inputs; a repeated Apply refills its nodes;
maps with a colour table and window; segments with standard terminology codes."""

from __future__ import annotations

import numpy as np
import pytest
import slicer
import vtk
from ScarQuantificationLib.mrml_logic import ScarQuantificationHeadlessLogic
from ScarQuantificationLib.mrml_segments import segment_tag
from ScarQuantificationLib.mrml_volumes import to_vtk_matrix
from ScarQuantificationLib.table import Column, Table
from ScarQuantificationLib.terminology import (
    LOCAL_SCHEME,
    SEGMENT_CODES,
    parse_terminology_entry,
    terminology_entry,
)
from ScarSegmentationLib import mrml
from ScarSegmentationLib.logic import INPUT_ROLE, add_result_to_scene
from ScarSegmentationLib.pipeline import PipelineResult
from scipy.spatial.transform import Rotation
from vtkmodules.util import numpy_support


def _result(study, masks, maps=True, boxes=True) -> PipelineResult:
    measurements = Table("measurements", [Column("scar_burden_pct", "double", "%")])
    measurements.add_row(scar_burden_pct=12.5)
    tables = {"measurements": measurements}
    if boxes:
        tables["scar_boxes"] = Table(
            "scar_boxes", [Column("slice_index", "int")], [{"slice_index": 2}]
        )
    prob = np.where(masks["Myocardium"], 0.9, 0.05).astype(np.float32)
    return PipelineResult(
        study=study,
        masks=masks,
        maps={"Myocardium probability": prob, "Myocardium uncertainty": prob * 0.1} if maps else {},
        tables=tables,
        slice_info={},
        boxes=[],
        notes=[],
        stages=[],
        seconds={"total": 0.0},
        peak_memory_mb=0.0,
    )


def _dicom_like_tree(scene, volume):
    """Patient > study > volume, as Slicer's DICOM module builds it."""
    sh = scene.GetSubjectHierarchyNode()
    patient = sh.CreateSubjectItem(sh.GetSceneItemID(), "DOE^JOHN")
    study_item = sh.CreateStudyItem(patient, "CMR 2024-01-01")
    volume_item = sh.CreateItem(study_item, volume)
    return sh, patient, study_item, volume_item


def _all_items(sh):
    ids = vtk.vtkIdList()
    sh.GetItemChildren(sh.GetSceneItemID(), ids, True)
    return {ids.GetId(n) for n in range(ids.GetNumberOfIds())}


# Subject hierarchy ---------------------------------------------------------------------------------


def test_outputs_go_under_the_volumes_study_and_the_volume_stays(scene, study, masks):
    volume = mrml.volume_node_from_study(scene, study, "LGE 12")
    sh, patient, study_item, volume_item = _dicom_like_tree(scene, volume)
    before = _all_items(sh)

    nodes = add_result_to_scene(scene, volume, _result(study, masks))

    assert sh.GetItemByDataNode(volume) == volume_item
    assert sh.GetItemParent(volume_item) == study_item, "the input volume was moved"
    assert sh.GetItemName(patient) == "DOE^JOHN" and sh.GetItemName(study_item) == "CMR 2024-01-01"
    outputs = [nodes.segmentation_node, *nodes.table_nodes.values(), *nodes.map_nodes.values()]
    for node in outputs:
        assert sh.GetItemParent(sh.GetItemByDataNode(node)) == study_item, node.GetName()
    new_items = _all_items(sh) - before
    assert new_items == {sh.GetItemByDataNode(n) for n in outputs}, "no made-up patient or study"


def test_chosen_output_at_scene_level_joins_the_study(scene, study, masks):
    """In Slicer every new node gets an item at the scene level (e.g. "Create new segmentation"
    in the output selector): such an output moves under the input's study."""
    volume = mrml.volume_node_from_study(scene, study, "LGE 12")
    sh, _, study_item, volume_item = _dicom_like_tree(scene, volume)
    chosen = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "chosen")
    sh.CreateItem(sh.GetSceneItemID(), chosen)
    add_result_to_scene(scene, volume, _result(study, masks), segmentation_node=chosen)
    assert sh.GetItemParent(sh.GetItemByDataNode(chosen)) == study_item
    assert sh.GetItemParent(volume_item) == study_item


def test_outputs_beside_a_volume_in_a_folder_and_user_placed_outputs_stay(scene, study, masks):
    volume = mrml.volume_node_from_study(scene, study, "lge")
    sh = scene.GetSubjectHierarchyNode()
    folder = sh.CreateFolderItem(sh.GetSceneItemID(), "My cases")
    sh.CreateItem(folder, volume)
    nodes = add_result_to_scene(scene, volume, _result(study, masks))
    seg_item = sh.GetItemByDataNode(nodes.segmentation_node)
    assert sh.GetItemParent(seg_item) == folder

    # the user moves the segmentation into a folder of their own: Apply again leaves it there
    elsewhere = sh.CreateFolderItem(sh.GetSceneItemID(), "Reviewed")
    sh.SetItemParent(seg_item, elsewhere)
    again = add_result_to_scene(scene, volume, _result(study, masks))
    assert again.segmentation_node is nodes.segmentation_node
    assert sh.GetItemParent(seg_item) == elsewhere
    assert sh.GetItemParent(sh.GetItemByDataNode(volume)) == folder


def test_volume_without_item_gets_one_at_scene_level_and_no_patient_is_made(scene, study, masks):
    volume = mrml.volume_node_from_study(scene, study, "lge")
    nodes = add_result_to_scene(scene, volume, _result(study, masks))
    sh = scene.GetSubjectHierarchyNode()
    scene_item = sh.GetSceneItemID()
    assert sh.GetItemParent(sh.GetItemByDataNode(volume)) == scene_item
    assert sh.GetItemParent(sh.GetItemByDataNode(nodes.segmentation_node)) == scene_item
    levels = {sh.GetItemLevel(item) for item in _all_items(sh)}
    assert slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMLevelPatient() not in levels


# Transforms ----------------------------------------------------------------------------------------


def _transformed_volume(scene, study):
    volume = mrml.volume_node_from_study(scene, study, "moved")
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "registration")
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_euler("xyz", [10.0, -25.0, 35.0], degrees=True).as_matrix()
    matrix[:3, 3] = [100.0, -40.0, 25.0]
    transform.SetMatrixTransformToParent(to_vtk_matrix(matrix))
    volume.SetAndObserveTransformNodeID(transform.GetID())
    return volume, transform


def _exported(scene, segmentation_node, name, volume):
    """Segment voxels on the volume's grid as Slicer itself exports them (the logic behind
    slicer.util.arrayFromSegmentBinaryLabelmap, which slicer-core cannot call: no slicer.modules)."""
    segment_id = segmentation_node.GetSegmentation().GetSegmentIdBySegmentName(name)
    ids = vtk.vtkStringArray()
    ids.InsertNextValue(segment_id)
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
    try:
        assert slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
            segmentation_node, ids, labelmap, volume
        )
        image = labelmap.GetImageData()
        scalars = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
        return scalars.reshape(image.GetDimensions()[::-1]) > 0
    finally:
        scene.RemoveNode(labelmap)


def test_segmentation_follows_a_translated_and_rotated_volume(scene, study, masks):
    volume, transform = _transformed_volume(scene, study)
    nodes = add_result_to_scene(scene, volume, _result(study, masks))
    seg = nodes.segmentation_node
    assert seg.GetTransformNodeID() == transform.GetID()
    for node in nodes.map_nodes.values():
        assert node.GetTransformNodeID() == transform.GetID()
    back = mrml.masks_from_segmentation_node(seg, volume)
    for name, mask in masks.items():
        np.testing.assert_array_equal(back[name], mask, err_msg=name)
        np.testing.assert_array_equal(_exported(scene, seg, name, volume), mask, err_msg=name)


def test_masks_cross_a_transform_between_volume_and_chosen_segmentation(scene, study, masks):
    """A user-chosen output segmentation outside the volume's transform keeps its own transform;
    the masks still land on the volume's voxels, and are read back through the transform."""
    volume, _ = _transformed_volume(scene, study)
    chosen = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "chosen")  # no transform
    nodes = add_result_to_scene(scene, volume, _result(study, masks), segmentation_node=chosen)
    assert nodes.segmentation_node is chosen and chosen.GetTransformNodeID() is None
    back = mrml.masks_from_segmentation_node(chosen, volume)
    for name in ("Myocardium", "Scar"):
        np.testing.assert_array_equal(back[name], masks[name], err_msg=name)
        np.testing.assert_array_equal(
            _exported(scene, chosen, name, volume), masks[name], err_msg=name
        )
    # and the world position is the volume's: a mask voxel's centre in world coordinates
    k, j, i = np.argwhere(masks["Myocardium"])[0]
    to_world = vtk.vtkGeneralTransform()
    slicer.vtkMRMLTransformNode.GetTransformBetweenNodes(
        volume.GetParentTransformNode(), None, to_world
    )
    ijk_to_ras = mrml.ijk_to_ras(volume)
    world = to_world.TransformPoint(*(ijk_to_ras @ [i, j, k, 1.0])[:3])
    labelmap = slicer.vtkOrientedImageData()
    chosen.GetBinaryLabelmapRepresentation(
        chosen.GetSegmentation().GetSegmentIdBySegmentName("Myocardium"), labelmap
    )
    world_to_ijk = vtk.vtkMatrix4x4()
    labelmap.GetWorldToImageMatrix(world_to_ijk)
    ijk = [round(v) for v in world_to_ijk.MultiplyPoint([*world, 1.0])[:3]]
    assert labelmap.GetScalarComponentAsDouble(*ijk, 0) > 0


def test_non_linear_transform_between_volume_and_segmentation_is_refused(scene, study, masks):
    volume = mrml.volume_node_from_study(scene, study, "lge")
    grid = scene.AddNewNodeByClass("vtkMRMLGridTransformNode", "warp")
    volume.SetAndObserveTransformNodeID(grid.GetID())
    chosen = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "chosen")
    with pytest.raises(ValueError, match="not linear"):
        mrml.segmentation_node_from_masks(scene, masks, volume, node=chosen)


# Repeated Apply ------------------------------------------------------------------------------------


def test_repeated_apply_refills_its_nodes(scene, study, masks):
    volume = mrml.volume_node_from_study(scene, study, "lge")
    first = add_result_to_scene(scene, volume, _result(study, masks))
    ids = {n.GetID() for n in [first.segmentation_node, *first.table_nodes.values()]}
    ids |= {n.GetID() for n in first.map_nodes.values()}
    count = scene.GetNumberOfNodes()
    assert first.segmentation_node.GetNodeReferenceID(INPUT_ROLE) == volume.GetID()

    second = add_result_to_scene(scene, volume, _result(study, masks))
    assert scene.GetNumberOfNodes() == count
    again = {n.GetID() for n in [second.segmentation_node, *second.table_nodes.values()]}
    again |= {n.GetID() for n in second.map_nodes.values()}
    assert again == ids

    # ScarQuantification's recompute still refills the same measurements node
    tables = ScarQuantificationHeadlessLogic(scene).compute(second.segmentation_node, volume)
    assert tables["measurements"].GetID() == second.table_nodes["measurements"].GetID()

    # a run without maps or boxes removes the stale ones instead of leaving them behind
    third = add_result_to_scene(
        scene, volume, _result(study, masks, maps=False, boxes=False), keep_maps=True
    )
    assert third.map_nodes == {} and "scar_boxes" not in third.table_nodes
    for node_id in (first.map_nodes["Myocardium probability"].GetID(),):
        assert scene.GetNodeByID(node_id) is None
    assert scene.GetNodeByID(first.table_nodes["scar_boxes"].GetID()) is None
    assert third.table_nodes["measurements"].GetID() == first.table_nodes["measurements"].GetID()


def test_repeated_apply_after_saving_and_reopening_the_scene(scene, study, masks, tmp_path):
    """The links to the outputs are node references: they survive a .mrb round trip."""
    volume = mrml.volume_node_from_study(scene, study, "lge")
    add_result_to_scene(scene, volume, _result(study, masks))
    reopened = mrml.read_mrb(mrml.write_mrb(scene, tmp_path / "scene.mrb"))
    volume = reopened.GetFirstNodeByName("lge")
    count = reopened.GetNumberOfNodes()
    nodes = add_result_to_scene(reopened, volume, _result(study, masks))
    assert reopened.GetNumberOfNodes() == count
    assert nodes.segmentation_node.GetName() == "lge segmentation"


def test_another_volume_gets_its_own_outputs(scene, study, masks):
    one = mrml.volume_node_from_study(scene, study, "one")
    two = mrml.volume_node_from_study(scene, study, "two")
    a = add_result_to_scene(scene, one, _result(study, masks))
    b = add_result_to_scene(scene, two, _result(study, masks))
    assert a.segmentation_node is not b.segmentation_node
    assert a.table_nodes["measurements"] is not b.table_nodes["measurements"]


# Maps and terminology ------------------------------------------------------------------------------


def test_maps_get_a_colour_table_and_a_fixed_window(scene, study, masks):
    volume = mrml.volume_node_from_study(scene, study, "lge")
    nodes = add_result_to_scene(scene, volume, _result(study, masks))
    expected = {"Myocardium probability": (0.0, 1.0), "Myocardium uncertainty": (0.0, 0.25)}
    for key, (low, high) in expected.items():
        display = nodes.map_nodes[key].GetDisplayNode()
        assert display.GetColorNodeID() != "vtkMRMLColorTableNodeGrey", key
        assert scene.GetNodeByID(display.GetColorNodeID()) is not None, key
        assert not display.GetAutoWindowLevel(), key
        assert display.GetWindowLevelMin() == pytest.approx(low), key
        assert display.GetWindowLevelMax() == pytest.approx(high), key
    prob = nodes.map_nodes["Myocardium probability"].GetDisplayNode().GetColorNodeID()
    unc = nodes.map_nodes["Myocardium uncertainty"].GetDisplayNode().GetColorNodeID()
    assert prob != unc


def test_segments_carry_standard_codes_through_a_seg_nrrd(scene, study, masks, tmp_path):
    volume = mrml.volume_node_from_study(scene, study, "lge")
    masks = {**masks, "Core scar": masks["Scar"], "Gray zone": masks["No-reflow"]}
    seg = mrml.segmentation_node_from_masks(scene, {**masks, "My notes": masks["Scar"]}, volume)
    path = mrml.write_segmentation(seg, tmp_path / "s.seg.nrrd")
    loaded = mrml.read_segmentation(mrml.new_scene(), path)
    segmentation = loaded.GetSegmentation()
    expected = {
        "Myocardium": ("SCT", "74281007"),
        "Blood pool": ("SCT", "87878005"),
        "Scar": ("SCT", "12402003"),
        "Core scar": (LOCAL_SCHEME, "CORESCAR"),
        "Gray zone": (LOCAL_SCHEME, "GRAYZONE"),
        "No-reflow": (LOCAL_SCHEME, "NOREFLOW"),
    }
    for name, (scheme, value) in expected.items():
        segment = segmentation.GetSegment(segmentation.GetSegmentIdBySegmentName(name))
        text = segment_tag(segment, "TerminologyEntry")
        assert text == terminology_entry(name), name
        codes = parse_terminology_entry(text)
        assert (codes.type.scheme, codes.type.value) == (scheme, value), name
        assert codes == SEGMENT_CODES[name]
    # any other segment keeps Slicer's default entry (generic "Tissue"), not one of ours
    other = segmentation.GetSegment(segmentation.GetSegmentIdBySegmentName("My notes"))
    text = segment_tag(other, "TerminologyEntry")
    assert text not in {terminology_entry(name) for name in SEGMENT_CODES}


def test_terminology_entry_has_the_slicer_tag_format():
    text = terminology_entry("Myocardium")
    parts = text.split("~")
    assert len(parts) == 7
    assert parts[0] == "Segmentation category and type - DICOM master list"
    assert parts[1] == "SCT^123037004^Anatomical Structure"
    assert parts[2] == "SCT^74281007^Myocardium"
    assert parts[4] == "Anatomic codes - DICOM master list"
    assert all(p.count("^") == 2 for p in parts[1:4] + parts[5:7])
    scar = parse_terminology_entry(terminology_entry("Scar"))
    assert scar.category.value == "85756007" and scar.region.value == "74281007"
    assert LOCAL_SCHEME.startswith("99")  # DICOM's prefix for local coding schemes
    assert terminology_entry("Something else") is None
