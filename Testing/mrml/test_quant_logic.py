"""ScarQuantificationHeadlessLogic.compute on a real scene: numbers, segments, node reuse,
subject hierarchy, RV insertion point, .mrb round trip."""

from __future__ import annotations

import numpy as np
import pytest
import slicer
from quant_ring_scene import DIRECTION, ORIGIN, SPACING, build, column, dice, node_ids
from ScarQuantificationLib.apex_base import apex_to_base_order
from ScarQuantificationLib.mrml_logic import (
    ScarQuantificationHeadlessLogic,
    link_result_tables,
    result_tables,
)
from ScarQuantificationLib.mrml_segments import (
    masks_from_segmentation_node,
    remove_segments,
    segmentation_node_from_masks,
)
from ScarQuantificationLib.mrml_tables import table_from_table_node, table_node_from_table
from ScarQuantificationLib.quantify import quantify
from ScarQuantificationLib.table import Column, Table
from ScarSegmentationLib.mrml_io import read_mrb, write_mrb
from ScarSegmentationLib.mrml_volumes import ijk_to_ras

RESULT_CLASSES = ("vtkMRMLTableNode", "vtkMRMLPlotChartNode", "vtkMRMLPlotSeriesNode")


def _value(node, name: str) -> float:
    return float(column(node, name)[0])


def _segment_names(node) -> list[str]:
    seg = node.GetSegmentation()
    return [seg.GetNthSegment(n).GetName() for n in range(seg.GetNumberOfSegments())]


def test_logic_constructs_without_arguments_and_has_no_slicer_logic_methods():
    logic = ScarQuantificationHeadlessLogic()
    assert logic.scene is None
    assert not hasattr(logic, "getParameterNode")


def test_quarter_scar_burden_core_and_gray_zone(scene):
    ph = build(scene)
    tables = ScarQuantificationHeadlessLogic(scene).compute(ph.segmentation, ph.volume)

    assert list(tables) == ["measurements", "slices", "lesions", "aha"]
    assert all(n.IsA("vtkMRMLTableNode") and n.GetScene() is scene for n in tables.values())
    m = tables["measurements"]
    expected = 100.0 * ph.masks["Scar"].sum() / ph.masks["Myocardium"].sum()
    assert abs(expected - 25.0) < 2.0  # the phantom is what the test says it is
    assert _value(m, "scar_burden_pct") == pytest.approx(expected, abs=1e-6)
    assert m.GetColumnUnitLabel("scar_burden_pct") == "%"
    core_pct = 100.0 * ph.core.sum() / ph.masks["Myocardium"].sum()
    assert _value(m, "core_scar_burden_pct") == pytest.approx(core_pct, abs=0.5)
    assert len(column(tables["aha"], "segment")) >= 16

    # Derived segments written back; the user's own segment kept.
    names = _segment_names(ph.segmentation)
    assert sorted(names) == sorted(
        ["Myocardium", "Blood pool", "Scar", "User notes", "Core scar", "Gray zone"]
    )
    back = masks_from_segmentation_node(ph.segmentation, ph.volume)
    assert dice(back["Core scar"], ph.core) > 0.97
    assert dice(back["Gray zone"], ph.gray) > 0.95
    assert not (back["Core scar"] & back["Gray zone"]).any()

    # Tables sit under the volume's study in the subject hierarchy.
    sh = scene.GetSubjectHierarchyNode()
    for node in tables.values():
        assert sh.GetItemParent(sh.GetItemByDataNode(node)) == ph.study_item, node.GetName()


def test_recompute_after_scar_edit_refills_the_same_nodes(scene):
    ph = build(scene)
    logic = ScarQuantificationHeadlessLogic(scene)
    first = logic.compute(ph.segmentation, ph.volume)
    logic.createPlots(first)
    ids = {key: node.GetID() for key, node in first.items()}
    before = {c: node_ids(scene, c) for c in RESULT_CLASSES}
    segments_before = len(_segment_names(ph.segmentation))
    old_burden = _value(first["measurements"], "scar_burden_pct")

    # The user erases the dim part of the scar (as with Segment Editor's Erase effect).
    edited = ph.masks["Scar"] & (ph.angle < 45)
    segmentation_node_from_masks(scene, {"Scar": edited}, ph.volume, node=ph.segmentation)
    second = logic.compute(ph.segmentation, ph.volume)
    logic.createPlots(second)

    assert {key: node.GetID() for key, node in second.items()} == ids
    assert {c: node_ids(scene, c) for c in RESULT_CLASSES} == before
    assert len(_segment_names(ph.segmentation)) == segments_before
    new_expected = 100.0 * edited.sum() / ph.masks["Myocardium"].sum()
    burden = _value(second["measurements"], "scar_burden_pct")
    assert burden == pytest.approx(new_expected, abs=1e-6)
    assert abs(burden - old_burden) > 5.0
    back = masks_from_segmentation_node(ph.segmentation, ph.volume)
    assert not back["Gray zone"].any()  # only the bright part is left: all core
    assert dice(back["Core scar"], edited) > 0.97


def test_removing_the_scar_drops_scar_tables_and_segments(scene):
    ph = build(scene)
    logic = ScarQuantificationHeadlessLogic(scene)
    first = logic.compute(ph.segmentation, ph.volume)
    charts = logic.createPlots(first)
    aha_id, bullseye_id = first["aha"].GetID(), charts["bullseye"].GetID()

    remove_segments(ph.segmentation, ["Scar"])
    tables = logic.compute(ph.segmentation, ph.volume)
    assert list(tables) == ["measurements", "slices"]
    assert scene.GetNodeByID(aha_id) is None and scene.GetNodeByID(bullseye_id) is None
    assert "Core scar" not in _segment_names(ph.segmentation)
    assert column(tables["measurements"], "myocardium_volume_ml")[0] > 0
    assert tables["measurements"].GetTable().GetColumnByName("scar_burden_pct") is None


def test_no_core_method_gives_no_core_segments(scene):
    ph = build(scene)
    logic = ScarQuantificationHeadlessLogic(scene)
    logic.compute(ph.segmentation, ph.volume)
    assert "Core scar" in _segment_names(ph.segmentation)
    logic.compute(ph.segmentation, ph.volume, coreMethod="none")
    assert "Core scar" not in _segment_names(ph.segmentation)
    assert "Gray zone" not in _segment_names(ph.segmentation)


def test_missing_myocardium_is_explained(scene):
    ph = build(scene)
    remove_segments(ph.segmentation, ["Myocardium"])
    with pytest.raises(ValueError, match="no 'Myocardium' segment.*Blood pool"):
        ScarQuantificationHeadlessLogic(scene).compute(ph.segmentation, ph.volume)


@pytest.mark.parametrize("towards_apex", [True, False])
def test_slice_order_follows_an_oblique_stack_normal(scene, towards_apex):
    """A stack whose normal points along the LV long axis is ordered by geometry, not anatomy
    (the phantom's slices all have the same area, so anatomy alone would call slice 1 base)."""
    apex = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)  # base -> apex in LPS
    normal = apex if towards_apex else -apex
    helper = np.cross(normal, [0.0, 0.0, 1.0])
    helper /= np.linalg.norm(helper)
    direction = np.column_stack([helper, np.cross(normal, helper), normal])
    ph = build(scene, direction=direction)
    tables = ScarQuantificationHeadlessLogic(scene).compute(ph.segmentation, ph.volume)
    rank = dict(
        zip(
            column(tables["slices"], "slice_index"),
            column(tables["slices"], "apex_to_base_rank"),
            strict=True,
        )
    )
    assert rank[5 if towards_apex else 0] == 0
    assert "from geometry" in tables["measurements"].GetAttribute("ScarQuantification.Notes")


def test_rv_insertion_point_in_ras_equals_the_same_point_in_ijk(scene):
    """The markup's RAS point goes through the oblique geometry to the same AHA assignment as
    giving quantify() the point's voxel index directly."""
    ph = build(scene)
    ijk = np.array([23.5 + 12 * np.cos(np.radians(200)), 23.5 + 12 * np.sin(np.radians(200)), 3])
    ras = (ijk_to_ras(ph.volume) @ np.append(ijk, 1.0))[:3]
    markup = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "RV insertion")
    markup.AddControlPoint(ras.tolist())

    logic = ScarQuantificationHeadlessLogic(scene)
    aha = logic.compute(ph.segmentation, ph.volume, rvInsertionNode=markup)["aha"]
    reference = column(aha, "angle_reference")[0]
    assert "user, slice 3" in reference

    image = slicer.util.arrayFromVolume(ph.volume).astype(float)
    lv = ph.masks["Myocardium"] | ph.masks["Blood pool"]
    order, _ = apex_to_base_order(DIRECTION, lv)
    positions = np.asarray(ORIGIN) @ DIRECTION[:, 2] + np.arange(image.shape[0]) * SPACING[2]
    direct = quantify(
        image,
        ph.masks,
        SPACING,
        apex_to_base=order,
        positions_mm=positions,
        direction=DIRECTION,
        rv_insertion=ijk,
        rv_insertion_space="ijk",
    ).tables["aha"]
    assert column(aha, "segment") == direct.values("segment")
    np.testing.assert_allclose(column(aha, "scar_pct"), direct.values("scar_pct"), atol=1e-9)

    # Moving the point turns the segments: the scar lands elsewhere (in the same node).
    before = column(aha, "scar_pct")
    markup.SetNthControlPointPositionWorld(0, *(ijk_to_ras(ph.volume) @ [35.5, 23.5, 3, 1])[:3])
    moved = logic.compute(ph.segmentation, ph.volume, rvInsertionNode=markup)["aha"]
    assert moved is aha
    assert column(moved, "scar_pct") != pytest.approx(before, abs=1.0)


def test_tables_survive_an_mrb_round_trip_and_are_reused_after_it(scene, tmp_path):
    ph = build(scene)
    logic = ScarQuantificationHeadlessLogic(scene)
    tables = logic.compute(ph.segmentation, ph.volume)
    logic.createPlots(tables)
    saved = {key: table_from_table_node(node) for key, node in tables.items()}
    bundle = write_mrb(scene, tmp_path / "scene.mrb")

    loaded = read_mrb(bundle)
    segmentation = loaded.GetFirstNodeByName("Phantom")
    volume = loaded.GetFirstNodeByName("Phantom LGE")
    before = {c: node_ids(loaded, c) for c in RESULT_CLASSES}
    for key, table in saved.items():
        node = segmentation.GetNodeReference(f"ScarQuantificationTable_{key}")
        assert node is not None, key
        back = table_from_table_node(node)
        assert [(c.name, c.type, c.unit) for c in back.columns] == [
            (c.name, c.type, c.unit) for c in table.columns
        ]
        for got, want in zip(back.rows, table.rows, strict=True):
            for name, value in want.items():
                if isinstance(value, float):
                    assert got[name] == pytest.approx(value, rel=1e-5), (key, name)
                else:
                    assert got[name] == value, (key, name)

    again = ScarQuantificationHeadlessLogic(loaded).compute(segmentation, volume)
    ScarQuantificationHeadlessLogic(loaded).createPlots(again)
    assert {c: node_ids(loaded, c) for c in RESULT_CLASSES} == before
    assert _value(again["measurements"], "scar_burden_pct") == pytest.approx(
        saved["measurements"].values("scar_burden_pct")[0], rel=1e-5
    )


def test_linked_pipeline_tables_are_refilled_not_duplicated(scene):
    """Tables made elsewhere (the segmentation pipeline) and linked to the segmentation are the
    ones a compute refills, names kept."""
    ph = build(scene)
    placeholder = Table("x", [Column("n", "int")], [{"n": 1}])
    made = {
        key: table_node_from_table(scene, placeholder, name=f"Pipeline {key}")
        for key in ("measurements", "slices")
    }
    link_result_tables(ph.segmentation, ph.volume, made)
    assert result_tables(ph.segmentation) == made
    tables = ScarQuantificationHeadlessLogic(scene).compute(ph.segmentation, ph.volume)
    assert tables["measurements"] is made["measurements"] and tables["slices"] is made["slices"]
    assert tables["measurements"].GetName() == "Pipeline measurements"
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == 4  # + lesions, aha
    assert _value(tables["measurements"], "scar_burden_pct") == pytest.approx(25.0, abs=2.0)
