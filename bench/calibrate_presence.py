"""Choose the scar-presence rule (scar/presence.py) on the cross-validation, and measure the
choice honestly by nested cross-validation.

    .venv/bin/python bench/calibrate_presence.py [--rows runs/bench_cv.tsv] [--specificity 0.9]

Input: the per-patient rows of bench/bench_cv.py (run without --scar-presence), which score
every rule of its PRESENCE_GRID on every held-out patient. For each fold, a rule is chosen on
the OTHER folds' rows and applied to this fold's: among the rules that leave at least
`--specificity` of the normal hearts below 1 % burden, the one with the most scar Dice (mean of
the centres' means over patients with scar), then the least burden error. The nested result is
printed beside "no rule"; the rule chosen on all folds is the one to ship (stages/scar_presence.py).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CENTRES = ("EMIDEC PNG", "MyoPS")
NONE = "lesion>=0%,burden>=0%"


def load(path: Path) -> tuple[list[dict], list[str]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    # presence rules only (bench_cv's decision grid writes burden@pP/tT columns too)
    rules = [k.split("@", 1)[1] for k in rows[0] if k.startswith("burden@lesion")]
    for r in rows:
        for k, v in r.items():
            if k not in ("centre", "patient"):
                try:
                    r[k] = float(v) if v != "" else np.nan
                except ValueError:
                    pass
    return rows, rules


def scores(rows: list[dict], rule: str) -> dict[str, float]:
    """Specificity (normal hearts below 1 %), sensitivity (hearts with scar called scar),
    scar Dice and burden error per centre, and their means over the centres."""
    out: dict[str, float] = {}
    normal = [r for r in rows if r["ref_burden"] == 0]
    out["specificity"] = (
        float(np.mean([r[f"burden@{rule}"] < 1.0 for r in normal])) if normal else np.nan
    )
    dices, errs = [], []
    for c in CENTRES:
        rs = [r for r in rows if r["centre"] == c]
        path = [r for r in rs if r["ref_burden"] > 0]
        d = [r[f"scar_dice@{rule}"] for r in path]
        e = [abs(r[f"burden@{rule}"] - r["ref_burden"]) for r in rs]
        out[f"{c} scar Dice"] = float(np.nanmean(d)) if d else np.nan
        out[f"{c} burden MAE"] = float(np.mean(e)) if e else np.nan
        out[f"{c} sensitivity"] = (
            float(np.mean([r[f"burden@{rule}"] > 0 for r in path])) if path else np.nan
        )
        dices.append(out[f"{c} scar Dice"])
        errs.append(out[f"{c} burden MAE"])
    out["dice"] = float(np.nanmean(dices))
    out["mae"] = float(np.nanmean(errs))
    return out


def choose(rows: list[dict], rules: list[str], min_specificity: float) -> str:
    s = {rule: scores(rows, rule) for rule in rules}
    ok = [r for r in rules if s[r]["specificity"] >= min_specificity]
    if not ok:  # none reaches it: the most specific ones
        best = max(s[r]["specificity"] for r in rules)
        ok = [r for r in rules if s[r]["specificity"] == best]
    return max(ok, key=lambda r: (round(s[r]["dice"], 3), -s[r]["mae"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=Path, default=REPO / "runs" / "bench_cv.tsv")
    ap.add_argument("--specificity", type=float, default=0.9)
    args = ap.parse_args()
    rows, rules = load(args.rows)
    folds = sorted({int(r["fold"]) for r in rows})
    if len(folds) < 2:
        ap.error(f"{args.rows} holds {len(folds)} fold(s): nested choice needs at least 2")
    nested = []
    print("| held-out fold | rule chosen on the other folds |\n|---|---|")
    for k in folds:
        rule = choose([r for r in rows if r["fold"] != k], rules, args.specificity)
        print(f"| {k} | {rule} |")
        for r in rows:
            if r["fold"] == k:
                nested.append({**r, "burden@nested": r[f"burden@{rule}"],
                               "scar_dice@nested": r[f"scar_dice@{rule}"]})  # fmt: skip
    final = choose(rows, rules, args.specificity)
    table = {"no rule": scores(rows, NONE), "nested CV": scores(nested, "nested")}
    keys = [k for k in table["no rule"] if k not in ("dice", "mae")]
    print(f"\n| {len(rows)} held-out patients | {' | '.join(keys)} |")
    print("|---" * (len(keys) + 1) + "|")
    for name, s in table.items():
        print(f"| {name} | {' | '.join(f'{s[k]:.3f}' for k in keys)} |")
    print(f"\nrule chosen on all folds (to ship): {final}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
