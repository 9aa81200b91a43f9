"""Classical anchor: Dice of threshold scar inside the reference myocardium vs the reference scar.

For every pathological EMIDEC PNG patient (myocardium = labels 2+3+4, scar = 3+4) and every MyoPS
patient (myocardium = 200+1220+2221, scar = 2221), segment the scar with
ScarQuantificationLib.core_scar.threshold_scar (FWHM and 2/3/5/6-SD, remote baseline estimated from
the myocardium alone, no-reflow filled), per volume and per slice, and report the patient-level Dice
(all slices pooled). This is the number the networks must beat.

    .venv/bin/python bench/bench_threshold_scar.py [--out runs/bench_threshold_scar.tsv]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "ScarSegmentation"), str(REPO / "ScarQuantification")]

from ScarQuantificationLib.core_scar import threshold_scar  # noqa: E402
from ScarSegmentationLib.data.loaders import load_emidec_png, load_myops  # noqa: E402

METHODS = ("fwhm-remote", "fwhm", "2sd", "3sd", "5sd", "6sd")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice; 1.0 when both are empty (convention)."""
    s = np.count_nonzero(a) + np.count_nonzero(b)
    return 1.0 if s == 0 else 2.0 * np.count_nonzero(a & b) / s


def patient_dice(images: list[np.ndarray], labels: list[np.ndarray]) -> dict[str, float]:
    img = np.stack(images).astype(float)
    lab = np.stack(labels)
    myo, ref = lab >= 2, lab >= 3
    out = {}
    for per_slice in (False, True):
        for m in METHODS:
            pred = threshold_scar(img, myo, m, per_slice=per_slice).scar
            out[f"{m}{'/slice' if per_slice else ''}"] = dice(pred, ref)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="per-patient TSV")
    args = ap.parse_args()
    patients = {k: v for k, v in load_emidec_png().items() if "Case_P" in k}
    patients.update(load_myops())
    rows = []
    for pid, p in patients.items():
        d = patient_dice(p.images, p.labels)
        rows.append((pid, p.centre, p.scar_burden(), d))
        print(pid, " ".join(f"{k}={v:.3f}" for k, v in d.items()), flush=True)
    keys = list(rows[0][3])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w") as f:
            f.write("\t".join(["patient", "centre", "burden"] + keys) + "\n")
            for pid, centre, burden, d in rows:
                f.write(
                    "\t".join([pid, centre, f"{burden:.4f}"] + [f"{d[k]:.4f}" for k in keys]) + "\n"
                )
    print("\n| centre | n | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for centre in ("emidec", "myops"):
        sel = [d for _, c, _, d in rows if c == centre]
        cells = [
            f"{np.mean([d[k] for d in sel]):.3f} ({np.median([d[k] for d in sel]):.3f})"
            for k in keys
        ]
        print(f"| {centre} | {len(sel)} | " + " | ".join(cells) + " |")
    print("cells: mean (median) patient Dice")


if __name__ == "__main__":
    main()
