"""Paired comparison of two sets of bench_cv rows on the same held-out patients (B - A).

    .venv/bin/python bench/compare_cv.py runs/A/f13_unet.tsv runs/B/f13_unet.tsv
    .venv/bin/python bench/compare_cv.py runs/A/f13.tsv,runs/A/f02.tsv runs/B/f13.tsv,runs/B/f02.tsv

Per centre and metric: the patients both files scored (scar Dice only where the reference has
scar, no-reflow Dice only where it has no-reflow, as bench_cv's table), the two means, the mean
difference and the Wilcoxon signed-rank p (scipy; 1 when every difference is 0). Burden error is
|predicted - reference burden| in percentage points, so a negative difference favours B. Used
for every "against the same start" comparison of docs/CROSS_VALIDATION.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from bench_cv import CENTRES, read_rows  # noqa: E402

METRICS = ("myo_dice", "bp_dice", "scar_dice", "nr_dice", "burden_error")


def value(row: dict, metric: str) -> float:
    if metric == "burden_error":
        return abs(row["pred_burden"] - row["ref_burden"])
    if metric == "scar_dice" and not row["ref_burden"] > 0:
        return np.nan  # as the table: scar Dice over patients with reference scar
    return float(row.get(metric, np.nan))


def compare(a: list[dict], b: list[dict]) -> list[dict]:
    """One record per centre and metric with at least one pair: n, mean_a, mean_b, diff, p."""
    by_b = {r["patient"]: r for r in b}
    out = []
    for centre in CENTRES:
        both = [
            (r, by_b[r["patient"]]) for r in a if r["centre"] == centre and r["patient"] in by_b
        ]
        for m in METRICS:
            pairs = np.array([(value(x, m), value(y, m)) for x, y in both]).reshape(-1, 2)
            pairs = pairs[np.isfinite(pairs).all(axis=1)]
            if not len(pairs):
                continue
            d = pairs[:, 1] - pairs[:, 0]
            p = float(wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
            out.append({"centre": centre, "metric": m, "n": len(d), "mean_a": pairs[:, 0].mean(),
                        "mean_b": pairs[:, 1].mean(), "diff": d.mean(), "p": p})  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="bench_cv rows of A (the reference), files separated by commas")
    ap.add_argument("b", help="bench_cv rows of B, files separated by commas")
    args = ap.parse_args()
    print("| centre | metric | n | A | B | B - A | Wilcoxon p |\n|---|---|---|---|---|---|---|")
    for r in compare(read_rows(args.a.split(",")), read_rows(args.b.split(","))):
        print(f"| {r['centre']} | {r['metric']} | {r['n']} | {r['mean_a']:.3f} | "
              f"{r['mean_b']:.3f} | {r['diff']:+.3f} | {r['p']:.3f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
