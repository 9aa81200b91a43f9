"""Stages 1-2 on the TEST patients of Resources/Models/split.json: myocardium / blood pool
accuracy per centre, apex/mid/base breakdown, seconds per stage and peak memory.

    .venv/bin/python bench/bench_myocardium.py [--split test] [--runs runs] [--mc 4] [--threads 1]
        [--net factory|myocardium|scar_unet|CKPT]

Studies: EMIDEC PNG test patients (stacked 2D slices, pixel spacing unknown: Hausdorff in
PIXELS), EMIDEC NIfTI Case_P100 / Case_N006 (real geometry, read with the project's study
loader: Hausdorff in mm) and MyoPS test patients (NIfTI, mm). Each study goes through the real
Pipeline (StandardizeStage, LVROIStage, MyocardiumStage) with the installed weights
(Resources/Models; stage 2 the network the pipeline picks, or --net) or, with --runs, the best
checkpoints of a training run. Per patient: 3D Dice
(all slices pooled) and symmetric surface Hausdorff (ScarQuantificationLib.metrics). Apex/mid/
base: the slices with reference myocardium split in three equal parts, oriented apex->base by
the reference LV area (smaller end = apex; evaluation only). Timing: wall-clock per stage from
the Pipeline (models loaded beforehand, first study run once untimed as warm-up); memory =
process peak RSS (ru_maxrss) after all runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "ScarSegmentation"), str(REPO / "ScarQuantification")]

import torch  # noqa: E402
from ScarQuantificationLib.metrics import dice, hausdorff  # noqa: E402
from ScarSegmentationLib import weights  # noqa: E402
from ScarSegmentationLib.data import data_dir, load_emidec_png, load_split  # noqa: E402
from ScarSegmentationLib.data.geometry import lv_box_from_mask  # noqa: E402
from ScarSegmentationLib.data.loaders import map_myops_labels  # noqa: E402
from ScarSegmentationLib.errors import NoHeartFoundError  # noqa: E402
from ScarSegmentationLib.pipeline import Pipeline, PipelineOptions  # noqa: E402
from ScarSegmentationLib.stages import LVROIStage, MyocardiumStage, StandardizeStage  # noqa: E402
from ScarSegmentationLib.stages.harmonize import IntensityHarmonizeStage  # noqa: E402
from ScarSegmentationLib.study import Study  # noqa: E402

STAGES = ("standardize", "lv_roi", "myocardium")


def load_models(runs: str | None, net: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Stage 1 and 2 networks: installed (stage 2 per --net), or a training run's best."""
    if not runs:
        return weights.load_model("lv_roi"), load_stage2(net)
    return (
        load_checkpoint(Path(runs) / "roi" / "best.pt", "lv_roi"),
        load_checkpoint(Path(runs) / "myocardium" / "best.pt", "myocardium"),
    )


def load_stage2(source: str) -> torch.nn.Module:
    if source == "factory":
        from ScarSegmentationLib.factory import MYOCARDIUM_NETS

        source = next(n for n in MYOCARDIUM_NETS if weights.available(n))
    if source in ("myocardium", "scar_unet"):
        return weights.load_model(source)
    return load_checkpoint(source, "scar_unet")


def load_checkpoint(path: str | Path, installed: str) -> torch.nn.Module:
    """A training checkpoint as the pipeline would load it once exported: checkpoints written
    before the trainer stored its loss class weights take those of the installed `installed`
    network (same split and labels, so the same weights; the training log shows them)."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    m = weights.build_model(ck["config"])
    m.load_state_dict(ck.get("model", ck.get("state_dict")))
    m.config.update({k: v for k, v in ck["config"].items() if k not in m.config})
    if "class_weights" not in m.config and weights.available(installed):
        cw = weights.load_model(installed).config.get("class_weights")
        if cw is not None and len(cw) == m.config["n_classes"]:
            m.config["class_weights"] = cw
    return m.eval()


def nifti_labels(path: Path) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def studies(split_name: str) -> list[tuple[str, str, Study, np.ndarray]]:
    """(centre, patient, study, EMIDEC label volume) for the chosen split."""
    return studies_for(load_split()[split_name])


def studies_for(ids: list[str], nifti: bool = True) -> list[tuple[str, str, Study, np.ndarray]]:
    """(centre, patient, study, EMIDEC label volume) for these patient ids; nifti=False leaves
    out the EMIDEC NIfTI copies of Case_P100 / Case_N006 (their PNG slices stay)."""
    from ScarSegmentationLib.io.load import load_study

    root = data_dir()
    out = []
    png = load_emidec_png(root)
    for pid in ids:
        if pid.startswith("emidec/"):
            p = png[pid]
            img = np.stack(p.images).astype(np.float32)
            out.append(
                ("EMIDEC PNG", pid, Study(img, (1.0, 1.0, 1.0), name=pid), np.stack(p.labels))
            )
    for case in ("Case_P100", "Case_N006"):
        if nifti and f"emidec/{case}" in ids:
            d = root / "emidec-nifti" / case
            study = load_study(d / "Images" / f"{case}.nii.gz")
            lab = nifti_labels(d / "Contours" / f"{case}.nii.gz").astype(np.uint8)
            out.append(("EMIDEC NIfTI", f"emidec/{case}", study, lab))
    for pid in ids:
        if pid.startswith("myops/"):
            case = pid.split("/")[1]
            d = root / "myops-train25" / case
            study = load_study(d / f"{case}_LGE.nii.gz")
            out.append(
                ("MyoPS", pid, study, map_myops_labels(nifti_labels(d / f"{case}_gd.nii.gz")))
            )
    return out


def regions(lab: np.ndarray) -> dict[str, list[int]]:
    """Reference-myocardium slices split apex/mid/base (oriented by reference LV area)."""
    ks = [k for k in range(lab.shape[0]) if (lab[k] >= 2).any()]
    area = [(lab[k] >= 1).sum() for k in ks]
    if len(ks) >= 2 and np.mean(area[: len(ks) // 2]) > np.mean(area[len(ks) - len(ks) // 2 :]):
        ks = ks[::-1]  # larger end is the base
    parts = np.array_split(np.array(ks, dtype=int), 3)
    return {name: list(p) for name, p in zip(("apex", "mid", "base"), parts, strict=True)}


def crop_agreement(info: dict[int, dict], lab: np.ndarray) -> tuple[list[float], list[float]]:
    """Inference crop vs the crop of the reference LV, on slices with both: centre offset
    (fraction of the reference side) and side ratio (inference / reference)."""
    offsets, ratios = [], []
    for k in range(lab.shape[0]):
        ref = lv_box_from_mask(lab[k] >= 1)
        if ref is None or "crop_side_px" not in info.get(k, {}):
            continue
        cy, cx = info[k]["crop_center_yx"]
        offsets.append(float(np.hypot(cy - ref.center_y, cx - ref.center_x)) / ref.side)
        ratios.append(info[k]["crop_side_px"] / ref.side)
    return offsets, ratios


def crop_table(rows: list[dict]) -> None:
    print("\nInference crop (from the predicted ROI) vs the reference-LV crop, over slices:\n")
    print(
        "| centre | slices | centre offset / side: median, 95th pct | side ratio: median, 5th-95th pct |"
    )
    print("|---|---|---|---|")
    for centre in ("EMIDEC PNG", "EMIDEC NIfTI", "MyoPS"):
        off = np.array(
            [x for r in rows if r["centre"] == centre for x in r.get("crop_offsets", [])]
        )
        rat = np.array([x for r in rows if r["centre"] == centre for x in r.get("crop_ratios", [])])
        if off.size:
            print(
                f"| {centre} | {off.size} | {np.median(off):.3f}, {np.percentile(off, 95):.3f} "
                f"| {np.median(rat):.3f}, {np.percentile(rat, 5):.3f}-{np.percentile(rat, 95):.3f} |"
            )


def evaluate(masks: dict[str, np.ndarray], lab: np.ndarray, spacing: tuple) -> dict[str, float]:
    myo, bp = lab >= 2, lab == 1
    pm, pb = masks["Myocardium"], masks["Blood pool"]
    row = {
        "myo_dice": dice(pm, myo),
        "bp_dice": dice(pb, bp),
        "myo_hd": hausdorff(pm, myo, spacing),
        "bp_hd": hausdorff(pb, bp, spacing),
    }
    for name, ks in regions(lab).items():
        row[f"myo_dice_{name}"] = dice(pm[ks], myo[ks]) if ks else np.nan
    return row


def fmt(values: list[float]) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return "n/a" if v.size == 0 else f"{v.mean():.3f} ± {v.std():.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test", choices=("test", "val"))
    ap.add_argument("--runs", default=None, help="use <runs>/{roi,myocardium}/best.pt")
    ap.add_argument("--mc", type=int, default=4, help="MC-dropout samples (<=1: deterministic)")
    ap.add_argument("--no-flips", action="store_true", help="MC passes without flip TTA")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--max-side-ratio", type=float, default=None, help="override roi.MAX_SIDE_RATIO (0: none)"
    )
    ap.add_argument(
        "--net",
        default="factory",
        help="stage-2 network: factory (as the pipeline picks it), myocardium, scar_unet, "
        "or a checkpoint path",
    )
    args = ap.parse_args()
    if args.max_side_ratio is not None:
        from ScarSegmentationLib.stages import roi

        roi.MAX_SIDE_RATIO = args.max_side_ratio or None
    torch.set_num_threads(args.threads)
    roi_net, myo_net = load_models(args.runs, args.net)
    options = PipelineOptions(mc_samples=args.mc, threads=args.threads)
    pipe = Pipeline(
        [
            StandardizeStage(),
            LVROIStage(roi_net),
            IntensityHarmonizeStage(),
            MyocardiumStage(myo_net, flips=not args.no_flips),
        ],
        options,
    )
    items = studies(args.split)
    pipe.run(items[0][2])  # warm-up (first-call allocations), not timed
    rows = []
    for centre, pid, study, lab in items:
        try:
            res = pipe.run(study)
            row = evaluate(res.masks, lab, study.spacing)
            row.update({s: res.seconds[s] for s in STAGES})
            row["crop_offsets"], row["crop_ratios"] = crop_agreement(res.slice_info, lab)
            note = "; ".join(res.notes)
        except NoHeartFoundError as e:
            row, note = {"myo_dice": 0.0, "bp_dice": 0.0}, str(e)
        row.update(centre=centre, patient=pid, slices=study.num_slices, note=note)
        rows.append(row)
        print(f"{centre:12s} {pid:20s} slices {study.num_slices:2d} myo {row['myo_dice']:.3f} "
              f"bp {row['bp_dice']:.3f} hd {row.get('myo_hd', np.nan):.1f} {note}", flush=True)  # fmt: skip
    peak = res.peak_memory_mb
    print(
        f"\n### Stages 1-2 on {args.split} patients (mc_samples={args.mc}, threads={args.threads})\n"
    )
    print("| centre | n | myo Dice | blood pool Dice | myo HD | bp HD | myo Dice apex / mid / base "
          "| s/study standardize + ROI + myo | slices/study |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for centre in ("EMIDEC PNG", "EMIDEC NIfTI", "MyoPS"):
        rs = [r for r in rows if r["centre"] == centre]
        if not rs:
            continue
        unit = "px" if centre == "EMIDEC PNG" else "mm"
        reg = " / ".join(
            fmt([r.get(f"myo_dice_{n}", np.nan) for r in rs]) for n in ("apex", "mid", "base")
        )
        secs = " + ".join(f"{np.mean([r.get(s, np.nan) for r in rs]):.2f}" for s in STAGES)
        print(
            f"| {centre} | {len(rs)} | {fmt([r['myo_dice'] for r in rs])} | {fmt([r['bp_dice'] for r in rs])} "
            f"| {fmt([r.get('myo_hd', np.nan) for r in rs])} {unit} | {fmt([r.get('bp_hd', np.nan) for r in rs])} {unit} "
            f"| {reg} | {secs} | {np.mean([r['slices'] for r in rs]):.1f} |"
        )  # fmt: skip
    crop_table(rows)
    print(
        f"\nPeak RSS of the bench process: {peak:.0f} MB (models, all studies and labels loaded)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
