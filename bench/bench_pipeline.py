"""The whole shipped pipeline (stages 1-3, scar, quantification) on the TEST patients.

    .venv/bin/python bench/bench_pipeline.py [--split test] [--mc 4] [--threads 2] [--out runs/bench_pipeline.tsv]

What it measures, per centre (EMIDEC PNG slices, EMIDEC NIfTI with real geometry, MyoPS), on
patients of Resources/Models/split.json never used for training or tuning:
- myocardium and blood pool 3D Dice and Hausdorff after stage 3 (mm with real geometry; pixels
  for EMIDEC PNG, whose spacing is lost), with the installed models and default options;
- the share of slices passing the anatomical checks before stage 3 and of output slices after;
- scar Dice per pathological patient, scar burden absolute error (percentage points), and the
  predicted scar burden on normal patients (false positives), for whatever scar method the
  pipeline runs (FWHM threshold in the predicted myocardium until the scar network is installed);
- seconds per stage per study (models loaded beforehand, one warm-up run) and peak memory.
Reference labels: EMIDEC 1 blood pool, 2-4 myocardium, 3-4 scar; MyoPS mapped the same way.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the command line does

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(REPO / "bench"),
    str(REPO / "ScarSegmentation"),
    str(REPO / "ScarQuantification"),
]

from bench_myocardium import studies  # noqa: E402
from ScarQuantificationLib.metrics import dice, hausdorff  # noqa: E402
from ScarSegmentationLib.errors import NoHeartFoundError  # noqa: E402
from ScarSegmentationLib.factory import build_pipeline  # noqa: E402
from ScarSegmentationLib.pipeline import PipelineOptions  # noqa: E402


def burden(scar: np.ndarray, myo: np.ndarray) -> float:
    return 100.0 * scar.sum() / max(myo.sum(), 1)


def measure(result, lab: np.ndarray, spacing) -> dict[str, float]:
    m = result.masks
    myo, bp = m["Myocardium"], m["Blood pool"]
    ref_myo, ref_bp, ref_scar = lab >= 2, lab == 1, lab >= 3
    row = {
        "myo_dice": dice(myo, ref_myo),
        "bp_dice": dice(bp, ref_bp),
        "myo_hd": hausdorff(myo, ref_myo, spacing),
        "slices_out": int(myo.any(axis=(1, 2)).sum()),
    }
    info = [i for i in result.slice_info.values() if "anatomy_pass_before" in i]
    row["anat_before"] = (
        float(np.mean([i["anatomy_pass_before"] for i in info])) if info else np.nan
    )
    kept = [i for i in info if i.get("kept", True)]
    row["anat_after"] = float(np.mean([i["anatomy_pass_after"] for i in kept])) if kept else np.nan
    scar = m.get("Scar", np.zeros_like(myo))
    row["pred_burden"] = burden(scar, myo)
    row["ref_burden"] = burden(ref_scar, ref_myo)
    row["scar_dice"] = dice(scar, ref_scar) if ref_scar.any() else np.nan
    for stage, seconds in result.seconds.items():
        row[f"s_{stage}"] = seconds
    row["slices"] = result.study.num_slices
    return row


def summarise(rows: list[dict], centre: str) -> list[str]:
    sel = [r for r in rows if r["centre"] == centre]
    path = [r for r in sel if r["ref_burden"] > 0]
    normal = [r for r in sel if r["ref_burden"] == 0]
    unit = "px" if centre == "EMIDEC PNG" else "mm"

    def mean(key: str, rs: list[dict]) -> str:
        v = [r[key] for r in rs if np.isfinite(r[key])]
        return f"{np.mean(v):.3f} (sd {np.std(v):.3f})" if v else "n/a"

    err = [abs(r["pred_burden"] - r["ref_burden"]) for r in path]
    return [
        f"| {centre} | {len(sel)} ({len(path)} P / {len(normal)} N) | {mean('myo_dice', sel)} "
        f"| {mean('bp_dice', sel)} | {mean('myo_hd', sel)} {unit} | {mean('anat_before', sel)} "
        f"| {mean('anat_after', sel)} | {mean('scar_dice', path)} "
        f"| {np.median(err) if err else float('nan'):.2f} "
        f"| {mean('pred_burden', normal)} |"
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test")
    ap.add_argument("--mc", type=int, default=PipelineOptions.mc_samples)
    ap.add_argument("--threads", type=int, default=PipelineOptions.threads)
    ap.add_argument("--out", default=str(REPO / "runs" / "bench_pipeline.tsv"))
    ap.add_argument("--scar-method", default=PipelineOptions.scar_method)
    ap.add_argument("--seed", type=int, default=PipelineOptions.seed, help="MC-dropout seed")
    ap.add_argument(
        "--prior-power",
        type=float,
        default=PipelineOptions.prior_power,
        help="class-weight correction power of the U-Nets (calibration.py)",
    )
    args = ap.parse_args()

    options = PipelineOptions(
        seed=args.seed,
        mc_samples=args.mc,
        threads=args.threads,
        scar_method=args.scar_method,
        prior_power=args.prior_power,
    )
    pipeline = build_pipeline(options)
    items = studies(args.split)
    pipeline.run(items[0][2])  # warm-up, untimed
    rows = []
    for centre, pid, study, lab in items:
        try:
            result = pipeline.run(study)
        except NoHeartFoundError as exc:
            print(f"{pid}: {exc}", file=sys.stderr)
            continue
        rows.append({"centre": centre, "patient": pid, **measure(result, lab, study.spacing)})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        keys = sorted(
            {k for r in rows for k in r}, key=lambda k: (k not in ("centre", "patient"), k)
        )
        w = csv.DictWriter(f, keys, delimiter="\t")
        w.writeheader()
        w.writerows(rows)

    stages = [s for s in pipeline.stages]
    print(
        f"stages: {', '.join(s.name for s in stages)}; MC samples {args.mc}; "
        f"threads {args.threads}; scar method {args.scar_method}; prior power {args.prior_power}"
    )
    print(f"{len(rows)} test studies; per-patient rows: {args.out}\n")
    print(
        "| centre | patients | myocardium Dice | blood pool Dice | myocardium HD | slices passing "
        "checks before stage 3 | output slices passing | scar Dice (P) | burden abs. error "
        "median (pp, P) | predicted burden on N (%) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for centre in ("EMIDEC PNG", "EMIDEC NIfTI", "MyoPS"):
        if any(r["centre"] == centre for r in rows):
            print("\n".join(summarise(rows, centre)))
    print("\nseconds per study (mean / max over test studies; slices per study in brackets):")
    for s in [s.name for s in stages] + ["total"]:
        v = [r[f"s_{s}"] for r in rows]
        print(f"  {s:16s} {np.mean(v):.3f} / {np.max(v):.3f}")
    ten = [r["s_total"] * 10 / r["slices"] for r in rows]
    print(f"  total per 10 slices: mean {np.mean(ten):.2f} s, max {np.max(ten):.2f} s")
    print(f"peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
