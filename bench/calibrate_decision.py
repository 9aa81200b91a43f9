"""Choose the U-Net's decision (class-weight correction power and scar threshold) on the
cross-validation, and measure the choice honestly by nested cross-validation.

    .venv/bin/python bench/calibrate_decision.py [--rows runs/bench_cv.tsv]

Input: the per-patient rows of bench/bench_cv.py run with --prior-powers, which score every
(power P, threshold T) of its grid on every held-out patient (columns myo_dice@pP,
scar_dice@pP/tT, burden@pP/tT). For each fold, the pair is chosen on the OTHER folds' rows and
applied to this fold's: the most Dice, averaged over myocardium (all patients) and scar
(patients with scar) and over the two centres; ties go to the least burden error. Printed per
centre beside the shipped decision (P 1, T 0.5); the pair chosen on all folds is the one to
ship with these models (PipelineOptions.prior_power, ScarUNetStage threshold).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from bench_cv import CENTRES, read_rows  # noqa: E402

SHIPPED = ("1", "0.5")


def grid(rows: list[dict]) -> list[tuple[str, str]]:
    """(power, threshold) pairs scored in the rows, as written in their column names."""
    pairs = []
    for key in rows[0]:
        if key.startswith("scar_dice@p"):
            p, t = key.split("@p", 1)[1].split("/t")
            pairs.append((p, t))
    return pairs


def scores(rows: list[dict], pair: tuple[str, str]) -> dict[str, float]:
    """Per centre: myocardium Dice, scar Dice (patients with scar), burden error, normal hearts
    below 1 % burden; and the means over the centres that drive the choice."""
    p, t = pair
    out: dict[str, float] = {}
    for c in CENTRES:
        rs = [r for r in rows if r["centre"] == c]
        if not rs:
            continue
        path = [r for r in rs if r["ref_burden"] > 0]
        normal = [r for r in rs if r["ref_burden"] == 0]
        out[f"{c} myocardium"] = float(np.mean([r[f"myo_dice@p{p}"] for r in rs]))
        scar = [r[f"scar_dice@p{p}/t{t}"] for r in path]
        out[f"{c} scar"] = float(np.nanmean(scar)) if path else np.nan
        err = [abs(r[f"burden@p{p}/t{t}"] - r["ref_burden"]) for r in rs]
        out[f"{c} burden MAE"] = float(np.mean(err))
        if normal:
            out[f"{c} normals < 1 %"] = float(
                np.mean([r[f"burden@p{p}/t{t}"] < 1.0 for r in normal])
            )
    centres = [c for c in CENTRES if f"{c} myocardium" in out]
    # a centre without patients with scar (smoke runs) counts its myocardium alone
    out["dice"] = float(
        np.mean([np.nanmean([out[f"{c} myocardium"], out[f"{c} scar"]]) for c in centres])
    )
    out["mae"] = float(np.mean([out[f"{c} burden MAE"] for c in centres]))
    return out


def choose(rows: list[dict], pairs: list[tuple[str, str]]) -> tuple[str, str]:
    s = {pair: scores(rows, pair) for pair in pairs}
    return max(pairs, key=lambda pair: (round(s[pair]["dice"], 3), -s[pair]["mae"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", nargs="+", default=[str(REPO / "runs" / "bench_cv.tsv")])
    args = ap.parse_args()
    rows = read_rows(args.rows)
    pairs = grid(rows)
    if SHIPPED not in pairs:
        ap.error(f"{args.rows}: no decision grid with power 1 and threshold 0.5 (--prior-powers)")
    folds = sorted({int(r["fold"]) for r in rows})
    if len(folds) < 2:
        ap.error(f"{args.rows} holds {len(folds)} fold(s): nested choice needs at least 2")
    nested = []
    print("| held-out fold | power / threshold chosen on the other folds |\n|---|---|")
    for k in folds:
        p, t = choose([r for r in rows if r["fold"] != k], pairs)
        print(f"| {k} | {p} / {t} |")
        for r in rows:
            if r["fold"] == k:
                nested.append({**r, "myo_dice@pN": r[f"myo_dice@p{p}"],
                               "scar_dice@pN/tN": r[f"scar_dice@p{p}/t{t}"],
                               "burden@pN/tN": r[f"burden@p{p}/t{t}"]})  # fmt: skip
    table = {
        "shipped (power 1, threshold 0.5)": scores(rows, SHIPPED),
        "nested CV": scores(nested, ("N", "N")),
    }
    keys = [k for k in table["nested CV"] if k not in ("dice", "mae")]
    print(f"\n| {len(rows)} held-out patients | {' | '.join(keys)} |")
    print("|---" * (len(keys) + 1) + "|")
    for name, s in table.items():
        print(f"| {name} | {' | '.join(f'{s[k]:.3f}' for k in keys)} |")
    print("\nevery pair pooled over all folds (power / threshold: mean Dice, burden MAE):")
    for pair in pairs:
        s = scores(rows, pair)
        print(f"  {pair[0]} / {pair[1]}: {s['dice']:.3f}, {s['mae']:.2f}")
    final = choose(rows, pairs)
    print(
        f"\nchosen on all folds (to ship with these models): power {final[0]}, threshold {final[1]}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
