"""ablation_postprocess grows scar only from predicted lesions (a scar-free heart stays
scar-free), only into the pixels its rule allows, and chooses thresholds on other folds."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from ablation_postprocess import (  # noqa: E402
    grow_from_lesions,
    intensity_growth,
    nested_choice,
    no_reflow_dice,
    probability_growth,
)


def _study() -> tuple[np.ndarray, np.ndarray]:
    """One slice: pool on the left (columns 0-3), wall (4-7) with scar in rows 2-4, columns
    4-5; P(scar) 0.35 in the pool next to the scar (column 3, rows 2-4), 0.35 in a pool pixel
    far from it (row 8, column 0)."""
    pred = np.zeros((1, 10, 10), dtype=np.uint8)
    pred[0, :, :4] = 1
    pred[0, :, 4:8] = 2
    pred[0, 2:5, 4:6] = 3
    probs = np.zeros((5, 1, 10, 10), dtype=np.float32)
    probs[1][pred == 1] = 1.0
    probs[2][pred == 2] = 1.0
    probs[3][pred == 3] = 1.0
    for y, x in ((2, 3), (3, 3), (4, 3), (8, 0)):
        probs[:, 0, y, x] = [0.0, 0.65, 0.0, 0.35, 0.0]
    return pred, probs


def test_growth_follows_the_lesion_and_the_threshold():
    pred, probs = _study()
    scar, wall = probability_growth(pred, probs, 0.3, ("pool",), None)
    grown = scar & (pred == 1)
    assert grown[0, 2:5, 3].all() and grown.sum() == 3  # the far pixel is not connected
    assert (wall >= scar).all() and wall[0, 2:5, 3].all()
    scar, _ = probability_growth(pred, probs, 0.4, ("pool",), None)
    assert (scar == (pred >= 3)).all()  # below the threshold: nothing grows


def test_a_heart_without_predicted_scar_gains_none():
    pred, probs = _study()
    pred[pred == 3] = 2
    scar, _ = probability_growth(pred, probs, 0.1, ("pool", "bg"), 0.1)
    assert not scar.any()
    assert not grow_from_lesions(np.zeros((1, 4, 4), bool), np.ones((1, 4, 4), bool)).any()
    scar, wall = intensity_growth(pred, np.ones(pred.shape, np.float32), 1.0, 2)
    assert not scar.any() and (wall == (pred >= 2)).all()


def test_intensity_growth_stays_within_d_pixels_of_the_scar():
    pred, _ = _study()
    std = np.where(pred >= 3, 1.0, 0.5).astype(np.float32)
    std[0, :, 2:4] = 1.0  # bright pool columns 2-3 next to the wall
    scar, _ = intensity_growth(pred, std, 1.0, 1)
    grown = scar & (pred == 1)
    assert grown[0, 1:6, 3].all() and not grown[0, :, 2].any()


def test_no_reflow_threshold_and_false_volume():
    pred, probs = _study()
    lab = pred.copy()
    probs[4][pred == 3] = 0.3
    probs[3][pred == 3] = 0.7
    assert no_reflow_dice(pred, probs, lab, 0.5) == 0.0  # no reference no-reflow: false volume
    assert no_reflow_dice(pred, probs, lab, 0.25) == 6 / 1000.0
    lab[pred == 3] = 4
    assert no_reflow_dice(pred, probs, lab, 0.25) == 1.0


def test_nested_choice_ignores_the_rows_own_fold():
    rows = [
        {"fold": 0, "nr": {0.2: 1.0, 0.5: 0.0}},
        {"fold": 1, "nr": {0.2: 0.0, 0.5: 0.5}},
        {"fold": 1, "nr": {0.2: 0.1, 0.5: 0.4}},
    ]
    # fold 0 takes fold 1's best (0.5); fold 1 takes fold 0's best (0.2)
    assert nested_choice(rows, (0.2, 0.5), "nr") == [0.0, 0.0, 0.1]


def test_smooth_border_fills_a_scar_notch_in_the_endocardium():
    """A ring (inner radius 10) whose scar sector has its inner edge pushed out to 13: the
    pool between radius 10 and 13 in that sector becomes scar, nothing elsewhere."""
    from ablation_postprocess import smooth_border

    yy, xx = np.mgrid[:64, :64]
    r, ang = np.hypot(yy - 32, xx - 32), np.arctan2(yy - 32, xx - 32)
    sector = np.abs(ang) < 0.5
    inner = np.where(sector, 13, 10)
    pred = np.zeros((1, 64, 64), dtype=np.uint8)
    pred[0][r < inner] = 1
    pred[0][(r >= inner) & (r < 18)] = 2
    pred[0][(r >= inner) & (r < 18) & sector] = 3
    scar, wall = smooth_border(pred, 0.0)
    added = scar & (pred == 1)
    assert added.sum() > 0.6 * ((r >= 10.5) & (r < 13) & (np.abs(ang) < 0.45)).sum()
    assert not (added[0] & ~sector).any()
    assert (wall >= scar).all()
