"""ablation_refiner's decisions: the crop argmax with the presence rule, and the refined wall
with the scar taken from the pipeline, the members' argmax or the scar head's rules."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from ablation_refiner import decide, study_probs, with_scar  # noqa: E402
from ScarSegmentationLib.crop import extract  # noqa: E402
from ScarSegmentationLib.scar import wall_refiner as wr  # noqa: E402
from test_wall_refiner import _study  # noqa: E402


def _crops(probs, boxes):
    return np.stack([[extract(probs[c, 0], boxes[0], wr.SIZE) for c in range(wr.N_CLASSES)]])


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
    pred, probs = _study()
    boxes = wr.boxes_for(probs)
    crops = _crops(probs, boxes)
    wall, pool = wr.refined_wall(pred, [0], [boxes[0]], crops)
    full = study_probs(pred.shape, [0], [boxes[0]], crops)
    for rule in ("pipeline", "members", "rules"):
        out = with_scar(pred, wall, pool, full, rule)
        assert ((out >= 2) == wall).all() and ((out == 1) == pool).all()
        agree = ((out >= 3) == (pred >= 3))[wall].mean()
        assert agree > 0.95, (rule, agree)
