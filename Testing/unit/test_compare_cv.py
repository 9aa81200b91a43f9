"""compare_cv pairs two bench_cv row files by patient and centre, scar Dice only where the
reference has scar, burden error as the absolute difference."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_cv import read_rows, write_rows  # noqa: E402
from compare_cv import compare  # noqa: E402


def _rows(shift: float) -> list[dict]:
    rows = []
    for i in range(8):
        ref = 0.0 if i < 2 else 10.0  # two normal hearts
        rows.append({"fold": i % 2, "centre": "EMIDEC PNG", "patient": f"emidec/Case_{i}",
                     "myo_dice": 0.8 + 0.01 * i + shift, "bp_dice": 0.9, "nr_dice": np.nan,
                     "scar_dice": 0.0 if ref == 0 else 0.5 + shift * (i + 1),
                     "pred_burden": ref + 2.0 - 10 * shift, "ref_burden": ref})  # fmt: skip
    return rows


def test_paired_differences_per_metric(tmp_path):
    write_rows(_rows(0.0), tmp_path / "a.tsv")
    b = _rows(0.01)
    b[-1]["patient"] = "emidec/Case_other"  # scored by B only: not paired
    write_rows(b, tmp_path / "b.tsv")
    out = {r["metric"]: r for r in compare(read_rows([str(tmp_path / "a.tsv")]),
                                           read_rows([str(tmp_path / "b.tsv")]))}  # fmt: skip
    assert out["myo_dice"]["n"] == 7 and out["myo_dice"]["diff"] == pytest.approx(0.01)
    assert out["scar_dice"]["n"] == 5  # the normal hearts' 0 scar Dice is not counted
    assert out["scar_dice"]["diff"] == pytest.approx(0.01 * np.mean([3, 4, 5, 6, 7]))
    assert out["burden_error"]["mean_a"] == pytest.approx(2.0)
    assert out["burden_error"]["diff"] == pytest.approx(-0.1)  # B's burden is closer
    assert out["bp_dice"]["p"] == 1.0  # no difference at all
    assert "nr_dice" not in out  # nothing to pair
    assert out["myo_dice"]["p"] < 0.05  # seven equal-signed differences
