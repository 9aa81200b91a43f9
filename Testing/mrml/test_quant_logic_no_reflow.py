"""ScarQuantificationHeadlessLogic.compute and no-reflow: derived from a dark core enclosed by
the given scar and written back as a segment; a user's "No-reflow" segment is input, kept as is."""

from __future__ import annotations

import numpy as np
import pytest
import slicer
from quant_ring_scene import INNER, OUTER, build, column, dice
from ScarQuantificationLib.mrml_logic import ScarQuantificationHeadlessLogic
from ScarQuantificationLib.mrml_segments import (
    masks_from_segmentation_node,
    segmentation_node_from_masks,
)


def _segment_names(node) -> list[str]:
    seg = node.GetSegmentation()
    return [seg.GetNthSegment(n).GetName() for n in range(seg.GetNumberOfSegments())]


def _darken_core(ph) -> np.ndarray:
    """Give a subendocardial part of the bright scar remote-myocardium intensity (as no-reflow
    looks on LGE); returns that part. It borders only blood pool and scar, so it is enclosed."""
    dark = ph.masks["Scar"] & (ph.radius < INNER + 3) & (ph.angle >= 15) & (ph.angle < 45)
    assert dark.sum() > 40 and not (dark & ~ph.core).any()  # inside the bright scar
    voxels = slicer.util.arrayFromVolume(ph.volume)
    healthy = ph.masks["Myocardium"] & ~ph.masks["Scar"]
    remote = float(np.median(voxels[healthy]))
    voxels[dark] = remote + np.random.default_rng(5).normal(0.0, 4.0, dark.sum())
    slicer.util.arrayFromVolumeModified(ph.volume)
    return dark


def _burden(mask: np.ndarray, myocardium: np.ndarray) -> float:
    # The phantom's slices are evenly spaced: volume ratios are voxel count ratios.
    return 100.0 * mask.sum() / myocardium.sum()


def test_dark_core_becomes_a_no_reflow_segment_inside_the_scar(scene):
    ph = build(scene)
    dark = _darken_core(ph)
    tables = ScarQuantificationHeadlessLogic(scene).compute(ph.segmentation, ph.volume)

    assert "No-reflow" in _segment_names(ph.segmentation)
    back = masks_from_segmentation_node(ph.segmentation, ph.volume)
    nr = back["No-reflow"]
    assert dice(nr, dark) > 0.8
    assert not (nr & ~ph.masks["Scar"]).any()
    # The given scar keeps the core (scar includes no-reflow) and is not rewritten.
    assert np.array_equal(back["Scar"], ph.masks["Scar"])
    m = tables["measurements"]
    assert column(m, "no_reflow_burden_pct")[0] == pytest.approx(
        _burden(nr, ph.masks["Myocardium"]), abs=1e-6
    )
    assert column(m, "scar_method") == ["input"]


def test_plain_phantom_adds_no_no_reflow_and_reports_an_input_scar(scene):
    ph = build(scene)
    m = ScarQuantificationHeadlessLogic(scene).compute(ph.segmentation, ph.volume)["measurements"]
    assert "No-reflow" not in _segment_names(ph.segmentation)
    assert column(m, "scar_method") == ["input"]
    # no dark core: the derived no-reflow is empty (reported as zero, not left out)
    assert column(m, "no_reflow_burden_pct") == [pytest.approx(0.0, abs=1e-9)]


@pytest.mark.parametrize("drawn", ["gray zone patch", "empty"])
def test_user_no_reflow_segment_is_input_and_kept(scene, drawn):
    ph = build(scene)
    dark = _darken_core(ph)  # a derived no-reflow would be here
    if drawn == "empty":  # the user says: none
        user = np.zeros_like(dark)
    else:  # elsewhere in the scar, away from the dark core
        user = ph.gray & (ph.radius >= OUTER - 3) & (ph.angle >= 65) & (ph.angle < 80)
        assert user.sum() > 10 and not (user & dark).any()
    segmentation_node_from_masks(scene, {"No-reflow": user}, ph.volume, node=ph.segmentation)
    seg = ph.segmentation.GetSegmentation()
    segment_id = seg.GetSegmentIdBySegmentName("No-reflow")
    assert segment_id

    tables = ScarQuantificationHeadlessLogic(scene).compute(ph.segmentation, ph.volume)

    assert _segment_names(ph.segmentation).count("No-reflow") == 1
    assert seg.GetSegmentIdBySegmentName("No-reflow") == segment_id  # same segment, not replaced
    back = masks_from_segmentation_node(ph.segmentation, ph.volume, names=["No-reflow"])
    assert np.array_equal(back["No-reflow"], user)
    # the numbers use the user's mask too, not the derived dark core
    burden = column(tables["measurements"], "no_reflow_burden_pct")[0]
    assert burden == pytest.approx(_burden(user, ph.masks["Myocardium"]), abs=1e-6)


def test_a_derived_no_reflow_is_recomputed_after_the_scar_is_edited(scene):
    ph = build(scene)
    _darken_core(ph)
    logic = ScarQuantificationHeadlessLogic(scene)
    logic.compute(ph.segmentation, ph.volume)
    assert "No-reflow" in _segment_names(ph.segmentation)
    # the user erases the part of the scar that held the dark core, then recomputes
    edited = ph.masks["Scar"] & (ph.angle >= 50)
    segmentation_node_from_masks(scene, {"Scar": edited}, ph.volume, node=ph.segmentation)
    tables = logic.compute(ph.segmentation, ph.volume)
    assert "No-reflow" not in _segment_names(ph.segmentation)
    assert column(tables["measurements"], "no_reflow_burden_pct")[0] == pytest.approx(0.0)
