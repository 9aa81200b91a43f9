"""No-reflow split from a scar that includes it (ScarQuantificationLib.no_reflow) vs EMIDEC label 4.

    .venv/bin/python bench/bench_no_reflow.py [--fractions 0.2,0.35,0.5] [--borders 0,0.15,0.3]

EMIDEC PNG patients (MyoPS has no no-reflow label), REFERENCE myocardium (labels 2-4) and
reference scar (3-4), so the rule is measured alone. Per split part (train + val for the choice
of the two parameters, test to report): Dice per patient with no-reflow (all slices pooled), the share of
those patients where some no-reflow is found, and the no-reflow pixels predicted on patients
without it (false positives, % of their scar).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "ScarSegmentation"), str(REPO / "ScarQuantification")]

from ScarQuantificationLib.metrics import dice  # noqa: E402
from ScarQuantificationLib.no_reflow import dark_core_no_reflow  # noqa: E402
from ScarSegmentationLib.data import load_emidec_png, load_split  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fractions", default="0.2,0.35,0.5")
    ap.add_argument("--borders", default="0,0.15,0.3")
    args = ap.parse_args()
    grid = [
        (float(f), float(b)) for f in args.fractions.split(",") for b in args.borders.split(",")
    ]
    split = load_split()
    png = load_emidec_png()
    parts = {"train+val": split["train"] + split["val"], "test": split["test"]}
    print(
        "| patients | fraction | max healthy border | P with no-reflow | Dice (mean +- sd) | found in | FP on P without (% of scar) |"
    )
    print("|---|---|---|---|---|---|---|")
    for part, ids in parts.items():
        pats = [png[p] for p in ids if p in png]
        pats = [p for p in pats if (np.stack(p.labels) >= 3).any()]
        for fraction, border in grid:
            d, found, fp = [], [], []
            for p in pats:
                lab = np.stack(p.labels)
                img = np.stack(p.images).astype(float)
                pred = dark_core_no_reflow(img, lab >= 2, lab >= 3, fraction, border)
                ref = lab == 4
                if ref.any():
                    d.append(dice(pred, ref))
                    found.append(bool((pred & ref).any()))
                else:
                    fp.append(100.0 * pred.sum() / (lab >= 3).sum())
            print(f"| {part} | {fraction:g} | {border:g} | {len(d)} | {np.mean(d):.3f} +- {np.std(d):.3f} | "
                  f"{np.mean(found):.0%} | {np.mean(fp):.2f} (n={len(fp)}) |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
