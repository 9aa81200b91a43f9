"""ablation_refiner's decisions: the crop argmax with the presence rule, and the refined wall
with the scar taken from the pipeline, the members' argmax or the scar head's rules."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from ablation_refiner import blend, decide, presence_row, study_probs, with_scar  # noqa: E402
from bench_pipeline import burden  # noqa: E402
from ScarSegmentationLib.crop import extract  # noqa: E402
from ScarSegmentationLib.scar import wall_refiner as wr  # noqa: E402
from ScarSegmentationLib.stages.scar_presence import RULES  # noqa: E402
from test_wall_refiner import _study  # noqa: E402


def _crops(probs, boxes):
    return np.stack([[extract(probs[c, 0], boxes[0], wr.SIZE) for c in range(wr.N_CLASSES)]])


def _refined_study():
    """The test study with its own softmax as the refiner's output: labels, wall, pool and the
    members' softmax on the study grid."""
    pred, probs = _study()
    boxes = wr.boxes_for(probs)
    crops = _crops(probs, boxes)
    wall, pool = wr.refined_wall(pred, [0], [boxes[0]], crops)
    full = study_probs(pred.shape, [0], [boxes[0]], crops)
    return pred, wall, pool, full


def test_decision_applies_the_presence_rule():
    pred, probs = _study()
    probs[2, 0][pred[0] == 3] = 0.9  # the right half is healthy wall
    probs[3, 0] = 0.02
    probs[:, 0, 30, 45] = [0.0, 0.0, 0.03, 0.97, 0.0]  # one scar speck: below the shipped burden
    boxes = wr.boxes_for(probs)
    crops = _crops(probs, boxes)
    assert (crops[0].argmax(0) == 3).any()
    out = decide(pred, [0], [boxes[0]], crops)
    assert not (out >= 3).any() and (out[0][pred[0] == 3] == 2).mean() > 0.9


def test_scar_inside_the_refined_wall_by_each_rule():
    pred, wall, pool, full = _refined_study()
    for rule in ("pipeline", "members", "rules"):
        out = with_scar(pred, wall, pool, full, rule)
        assert ((out >= 2) == wall).all() and ((out == 1) == pool).all()
        agree = ((out >= 3) == (pred >= 3))[wall].mean()
        assert agree > 0.95, (rule, agree)


def test_blend_weights_the_refiner_inside_its_boxes_only():
    members = np.zeros((5, 1, 4, 4), np.float32)
    members[2] = 1.0  # healthy wall everywhere
    refined = np.zeros_like(members)
    refined[3, 0, :2] = 1.0  # the refiner covers the top half and calls it scar
    out = blend(members, refined, 0.25)
    np.testing.assert_allclose(out[3, 0, :2], 0.25)
    np.testing.assert_allclose(out[2, 0, :2], 0.75)
    np.testing.assert_array_equal(out[:, 0, 2:], members[:, 0, 2:])  # outside: the members'


def test_presence_row_scores_the_decision_before_the_rule():
    pred, wall, pool, full = _refined_study()
    lab = pred.copy()
    row = presence_row("emidec_Case_P001", 3, pred, wall, pool, full, lab)
    assert row["centre"] == "EMIDEC PNG" and row["patient"] == "Case_P001" and row["fold"] == 3
    unfiltered = with_scar(pred, wall, pool, full, "rules", presence=False)
    none = "lesion>=0%,burden>=0%"
    assert row[f"burden@{none}"] == pytest.approx(burden(unfiltered >= 3, unfiltered >= 2))
    assert row[f"burden@{none}"] > 0
    # the shipped rule's column is the shipped decision's burden
    shipped = with_scar(pred, wall, pool, full, "rules")
    assert row[f"burden@{RULES['unet'].name}"] == pytest.approx(burden(shipped >= 3, shipped >= 2))


def test_a_lower_scar_threshold_only_adds_scar_inside_the_same_wall():
    pred, wall, pool, full = _refined_study()
    full[3, 0][pred[0] == 2] = full[2, 0][pred[0] == 2] * 0.7  # P(scar | wall) about 0.4 there
    high = with_scar(pred, wall, pool, full, "rules", presence=False, threshold=0.5)
    low = with_scar(pred, wall, pool, full, "rules", presence=False, threshold=0.3)
    assert ((high >= 3) <= (low >= 3)).all() and (low >= 3).sum() > (high >= 3).sum()
    assert ((low >= 2) == wall).all() and ((high >= 2) == wall).all()
