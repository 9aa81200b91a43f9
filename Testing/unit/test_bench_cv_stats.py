"""bench_cv's per-fold table: reference scar outside the predicted myocardium, and the part of
it that the prediction put into the blood pool (n/a for rows written before that column)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_cv import fold_stats  # noqa: E402

OUTSIDE = "ref. scar outside predicted myocardium (%)"
IN_POOL = "ref. scar in the predicted blood pool (%)"


def _row(ref_burden: float, scar_vox: int, outside: int, in_pool: int | None) -> dict:
    row = {"centre": "EMIDEC PNG", "patient": "p", "fold": 0, "myo_dice": 0.8, "bp_dice": 0.9,
           "scar_dice": 0.5, "nr_dice": np.nan, "nr_ml": 0.0, "nr_rule_dice": np.nan,
           "nr_rule_ml": 0.0, "myo_hd": 3.0, "pred_burden": ref_burden, "ref_burden": ref_burden,
           "scar_ml": 0.0, "ref_scar_vox": scar_vox, "ref_scar_outside_vox": outside}  # fmt: skip
    if in_pool is not None:
        row["ref_scar_in_pool_vox"] = in_pool
    return row


def test_scar_outside_and_in_the_blood_pool_pool_over_patients():
    stats = fold_stats([_row(10.0, 100, 30, 20), _row(5.0, 300, 10, 10), _row(8.0, 100, 0, 0)])
    assert stats[OUTSIDE] == pytest.approx(100 * 40 / 500)
    assert stats[IN_POOL] == pytest.approx(100 * 30 / 500)


def test_rows_without_the_blood_pool_column_give_no_number():
    stats = fold_stats([_row(10.0, 100, 30, 20), _row(5.0, 300, 10, None)])
    assert stats[OUTSIDE] == pytest.approx(10.0)
    assert np.isnan(stats[IN_POOL])
