"""bench_cv's decision grid and calibrate_decision's nested choice, on made-up rows."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_cv import SCAR_THRESHOLDS, decision_columns  # noqa: E402
from calibrate_decision import SHIPPED, choose, grid, scores  # noqa: E402


def test_decision_columns_threshold_the_scar_probability_inside_the_myocardium():
    lab = np.zeros((1, 4, 4), np.uint8)
    lab[0, :2] = 2
    lab[0, 0, :2] = 3  # two scar pixels in a myocardium of eight
    myo = lab >= 2
    prob = np.zeros(lab.shape, np.float32)
    prob[0, 0, 0], prob[0, 0, 1], prob[0, 1, 0] = 0.9, 0.45, 0.35
    prob[0, 3, 3] = 0.9  # outside the myocardium: never scar
    result = SimpleNamespace(
        masks={"Myocardium": myo, "Blood pool": lab == 1}, maps={"Scar probability": prob}
    )
    cols = decision_columns(result, lab, 0.5)
    assert cols["myo_dice@p0.5"] == 1.0
    assert {f"scar_dice@p0.5/t{t:g}" for t in SCAR_THRESHOLDS} <= set(cols)
    assert cols["scar_dice@p0.5/t0.5"] == 2 * 1 / 3  # one of two found
    assert cols["scar_dice@p0.5/t0.4"] == 1.0
    assert cols["burden@p0.5/t0.3"] == 100 * 3 / 8


def _rows(best: str) -> list[dict]:
    """Two folds, both centres; the pair (1, best) is right everywhere, the others miss."""
    rows = []
    for fold in (0, 1):
        for centre in ("EMIDEC PNG", "MyoPS"):
            row = {"fold": fold, "centre": centre, "patient": f"{centre}{fold}", "ref_burden": 10.0}
            row["myo_dice@p1"] = 0.8
            for t in ("0.4", "0.5"):
                good = t == best
                row[f"scar_dice@p1/t{t}"] = 0.7 if good else 0.5
                row[f"burden@p1/t{t}"] = 10.0 if good else 4.0
            rows.append(row)
    return rows


def test_nested_choice_picks_the_pair_with_the_most_dice():
    rows = _rows("0.4")
    pairs = grid(rows)
    assert set(pairs) == {("1", "0.4"), ("1", "0.5")} and SHIPPED in pairs
    assert choose(rows, pairs) == ("1", "0.4")
    s = scores(rows, ("1", "0.5"))
    assert s["EMIDEC PNG scar"] == 0.5 and s["MyoPS burden MAE"] == 6.0
    assert choose(_rows("0.5"), pairs) == SHIPPED
