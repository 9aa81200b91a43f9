"""Scar methods side by side on the TEST patients, in the PREDICTED myocardium (issue 4 table).

    .venv/bin/python bench/bench_scar.py [--split test] [--methods fwhm,2sd,5sd,unet,sam_gt,
        unet_sam,yolo_sam,yolo_sam_nokl] [--unet runs/scar_unet/best.pt] [--nokl runs/segmenter_nokl/best.pt]
        [--threads 2] [--out runs/bench_scar.tsv]

Every study of the split (bench_myocardium.studies: EMIDEC PNG slices, EMIDEC NIfTI P100/N006
with real geometry, MyoPS volumes) goes once through stages 1-3 with the installed weights (the
pipeline's own StandardizeStage, LVROIStage, MyocardiumStage, AnatomyStage). Each scar method
then segments the scar inside that predicted myocardium with the same code the pipeline runs:
- fwhm / Nsd: ScarQuantificationLib.core_scar.threshold_scar (baseline c);
- unet: stages.scar_unet.ScarUNetStage, the U-Net scar head (baseline a); unet_gN: the same
  with grow_px N (scar next to the myocardium where the head says scar; myocardium grows);
  unet_tNN: threshold 0.NN on P(scar | myocardium) instead of 0.5;
- sam_gt: ScarSegmentStage prompted with the REFERENCE scar boxes in the predicted crops
  (baseline b, the upper bound of the detector);
- yolo_sam: ScarDetectStage + ScarSegmentStage with the installed weights (e, as shipped);
- yolo_sam_nokl: the same detector boxes, segmenter fine-tuned without the KL term (d);
- unet_sam: the U-Net head's scar components as box prompts for the segmenter (a hybrid);
- fused: as `--scar-method fused`: the detector's boxes plus the U-Net head's scar components
  it has no box on (stages.scar_head_boxes), SAM on all of them, its probability averaged with
  the head's (stages.scar_fuse); its "detector" columns count all these boxes.
SAM variants decode as the pipeline does (segmenter defaults: mean of segmenter.BOX_PASSES
box-jitter passes; --sam-passes N for another count).
Per patient: scar Dice, Hausdorff (mm; pixels for EMIDEC PNG), area and perimeter similarity on
pathological (P) patients; burden error (predicted scar / predicted myocardium vs reference scar
/ reference myocardium, percentage points); predicted scar on normal (N) patients as burden and
volume (ml; EMIDEC PNG has lost its spacing, so its ml use a NOMINAL 1.43 x 1.43 x 11.5 mm
voxel, the mean of P100 and N006). Detector counts (yolo variants): reference scar components
in the predicted crop's frame found by a kept box (scar.boxes.matches) and kept boxes that find
one. Seconds: the method's own stages per study (stages 1-3 excluded), first method to encode a
frame pays its SAM encoding; later SAM variants reuse the cached embedding, so their times are
reported for the decoder only (marked *).
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(REPO / "bench"),
    str(REPO / "ScarSegmentation"),
    str(REPO / "ScarQuantification"),
]

import torch  # noqa: E402
from bench_myocardium import load_checkpoint, studies  # noqa: E402
from ScarQuantificationLib.core_scar import threshold_scar  # noqa: E402
from ScarQuantificationLib.metrics import (  # noqa: E402
    area_similarity,
    dice,
    hausdorff,
    perimeter_similarity,
)
from ScarSegmentationLib import weights  # noqa: E402
from ScarSegmentationLib.errors import NoHeartFoundError  # noqa: E402
from ScarSegmentationLib.factory import MYOCARDIUM_NETS, build_pipeline  # noqa: E402
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions  # noqa: E402
from ScarSegmentationLib.runtime.detector import OnnxScarDetector  # noqa: E402
from ScarSegmentationLib.scar.boxes import Box, gt_boxes, score_frame  # noqa: E402
from ScarSegmentationLib.scar.frame import label_frame  # noqa: E402
from ScarSegmentationLib.scar.segmenter import ScarSegmenter, load_segmenter  # noqa: E402
from ScarSegmentationLib.stages.myocardium import MyocardiumStage  # noqa: E402
from ScarSegmentationLib.stages.scar_detect import ScarDetectStage  # noqa: E402
from ScarSegmentationLib.stages.scar_fuse import ScarFuseStage  # noqa: E402
from ScarSegmentationLib.stages.scar_head_boxes import ScarHeadBoxesStage  # noqa: E402
from ScarSegmentationLib.stages.scar_segment import ScarSegmentStage  # noqa: E402
from ScarSegmentationLib.stages.scar_unet import ScarUNetStage  # noqa: E402
from ScarSegmentationLib.training import sam_model  # noqa: E402

NOMINAL_PNG_VOXEL_ML = 1.43 * 1.43 * 11.5 / 1000.0
CENTRES = ("EMIDEC PNG", "EMIDEC NIfTI", "MyoPS")
DEFAULT_METHODS = "fwhm,2sd,5sd,unet,sam_gt,unet_sam,yolo_sam,yolo_sam_nokl"
SAM_METHODS = ("sam_gt", "unet_sam", "yolo_sam", "yolo_sam_nokl", "fused")


class EmbeddingCache:
    """Bench-only: SAM variants prompted differently on the same frame reuse its embedding. A
    segmenter backend (encode/decode) around another, frames looked up one by one in a store
    shared by all the variants (their encoder is the same package's weights)."""

    def __init__(self, sam, store: dict[str, np.ndarray]) -> None:
        self.sam = sam
        self.store = store

    def encode(self, frames: np.ndarray) -> np.ndarray:
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        keys = [hashlib.sha1(f.tobytes()).hexdigest() for f in frames]
        todo = [i for i, k in enumerate(keys) if k not in self.store]
        if todo:
            for i, e in zip(todo, self.sam.encode(frames[todo]), strict=True):
                self.store[keys[i]] = e
        return np.stack([self.store[k] for k in keys])

    def decode(self, embedding: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return self.sam.decode(embedding, boxes)


def load_unet(path: str | None) -> torch.nn.Module | None:
    if path and Path(path).is_file():
        return load_checkpoint(path, "scar_unet")
    return weights.load_model("scar_unet") if weights.available("scar_unet") else None


def load_nokl(path: str | None) -> sam_model.TorchSam | None:
    """The no-KL checkpoint on the torch backend (a checkpoint, not a shipped ONNX model)."""
    if not path or not Path(path).is_file():
        return None
    net = sam_model.build_base()
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    sam_model.load_fine_tuned(net, state)
    return sam_model.TorchSam(net)


def fresh(base: PipelineContext) -> PipelineContext:
    """A copy of the stage 1-3 context that a scar method may write into."""
    ctx = copy.copy(base)
    ctx.masks = dict(base.masks)
    ctx.maps = dict(base.maps)
    ctx.boxes = []
    ctx.notes = []
    ctx.slice_info = copy.deepcopy(base.slice_info)
    return ctx


def reference_boxes(ctx: PipelineContext, lab: np.ndarray) -> list[dict]:
    """Reference scar components as boxes in each predicted crop's scar frame."""
    out = []
    for k, box in ctx.crop_boxes.items():
        for b in gt_boxes(label_frame(lab[k], box)):
            out.append(b.as_dict(k=int(k)))
    return out


def detector_counts(ctx: PipelineContext, lab: np.ndarray) -> dict[str, int]:
    total = {"true": 0, "found": 0, "pred": 0, "pred_ok": 0}
    by_k: dict[int, list[Box]] = {}
    for b in ctx.boxes:
        by_k.setdefault(int(b["k"]), []).append(Box(b["x0"], b["y0"], b["x1"], b["y1"]))
    for k, box in ctx.crop_boxes.items():
        if not ctx.masks["Myocardium"][k].any():
            continue
        for key, v in score_frame(by_k.get(int(k), []), label_frame(lab[k], box)).items():
            total[key] += v
    return total


def run_method(method: str, base: PipelineContext, lab: np.ndarray, models: dict) -> tuple:
    """-> (scar mask, myocardium mask after the method, seconds, detector counts or None)."""
    ctx = fresh(base)
    t0 = time.perf_counter()
    counts = None
    noop = lambda *_: None  # noqa: E731
    if method in ("fwhm",) or method.endswith("sd"):
        scar = threshold_scar(ctx.study.image, ctx.masks["Myocardium"], method).scar
    elif method == "unet" or method[:6] in ("unet_g", "unet_t"):
        # unet_g2: grow_px 2; unet_t40: probability threshold 0.40
        grow = int(method[6:]) if method.startswith("unet_g") else 0
        thr = int(method[6:]) / 100 if method.startswith("unet_t") else 0.5
        ScarUNetStage(models["unet"], threshold=thr, grow_px=grow).run(ctx, noop)
        scar = ctx.masks["Scar"]
    else:
        if method == "sam_gt":
            ctx.boxes = reference_boxes(ctx, lab)
        elif method == "unet_sam":  # the head's scar components alone as prompts
            ScarHeadBoxesStage(models["unet"]).run(ctx, noop)
        elif "boxes" in models:  # yolo_sam_nokl reuses yolo_sam's boxes (same detector)
            ctx.boxes = list(models["boxes"])
        else:
            ScarDetectStage(models["detector"]).run(ctx, noop)
        if method not in ("sam_gt", "unet_sam"):
            models["boxes"] = list(ctx.boxes)
            if method == "fused":  # the scar head's components the detector missed
                ScarHeadBoxesStage(models["unet"]).run(ctx, noop)
            counts = detector_counts(ctx, lab)
        seg = models["nokl"] if method == "yolo_sam_nokl" else models["sam"]
        ScarSegmentStage(seg).run(ctx, noop)
        scar = ctx.masks["Scar"]
        if method == "fused":
            ScarFuseStage(models["unet"]).run(ctx, noop)
            scar = ctx.masks["Scar"]
    return scar, ctx.masks["Myocardium"], time.perf_counter() - t0, counts


def measure(scar, myo, lab, spacing, centre) -> dict[str, float]:  # noqa: ANN001
    ref_myo, ref = lab >= 2, lab >= 3
    voxel_ml = NOMINAL_PNG_VOXEL_ML if centre == "EMIDEC PNG" else float(np.prod(spacing)) / 1000
    row = {
        "pred_burden": 100.0 * scar.sum() / max(myo.sum(), 1),
        "ref_burden": 100.0 * ref.sum() / max(ref_myo.sum(), 1),
        "pred_ml": float(scar.sum()) * voxel_ml,
        "ref_ml": float(ref.sum()) * voxel_ml,
    }
    if ref.any():
        row |= {
            "dice": dice(scar, ref),
            "hd": hausdorff(scar, ref, spacing) if scar.any() else np.nan,
            "as": area_similarity(scar, ref),
            "ps": perimeter_similarity(scar, ref),
        }
    return row


def summary(rows: list[dict], methods: list[str]) -> None:
    print(
        "| centre | method | P | scar Dice | HD | AS | PS | burden abs. error median (pp) "
        "| N | scar on N (% / ml) | detector recall / precision | s per 10 slices |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")

    def ms(v: list[float]) -> str:
        v = [x for x in v if np.isfinite(x)]
        return f"{np.mean(v):.3f} +- {np.std(v):.3f}" if v else "n/a"

    for centre in CENTRES:
        for m in methods:
            sel = [r for r in rows if r["centre"] == centre and r["method"] == m]
            if not sel:
                continue
            p = [r for r in sel if r["ref_burden"] > 0]
            n = [r for r in sel if r["ref_burden"] == 0]
            err = [abs(r["pred_burden"] - r["ref_burden"]) for r in p]
            hd_unit = "px" if centre == "EMIDEC PNG" else "mm"
            det = "-"
            if "det_true" in sel[0]:
                t, f = sum(r["det_true"] for r in sel), sum(r["det_found"] for r in sel)
                pr, ok = sum(r["det_pred"] for r in sel), sum(r["det_pred_ok"] for r in sel)
                det = f"{f / max(t, 1):.2f} / {ok / max(pr, 1):.2f}"
            fp = (
                f"{np.mean([r['pred_burden'] for r in n]):.1f} / "
                f"{np.mean([r['pred_ml'] for r in n]):.2f}"
                if n
                else "-"
            )
            secs = np.mean([r["seconds"] * 10 / r["slices"] for r in sel])
            star = "*" if decoder_time_only(m, methods) else ""
            print(
                f"| {centre} | {m} | {len(p)} | {ms([r['dice'] for r in p])} "
                f"| {ms([r['hd'] for r in p])} {hd_unit} | {ms([r['as'] for r in p])} "
                f"| {ms([r['ps'] for r in p])} | {np.median(err) if err else float('nan'):.2f} "
                f"| {len(n)} | {fp} | {det} | {secs:.2f}{star} |"
            )


def decoder_time_only(method: str, methods: list[str]) -> bool:
    """Whether this SAM variant ran after another one (embeddings cached: decoder time only)."""
    sams = [m for m in methods if m in SAM_METHODS]
    return method in sams and sams.index(method) > 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test")
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--unet", default=None, help="scar U-Net checkpoint (default: installed)")
    ap.add_argument("--nokl", default=str(REPO / "runs" / "segmenter_nokl" / "best.pt"))
    ap.add_argument("--mc", type=int, default=PipelineOptions.mc_samples)
    ap.add_argument("--threads", type=int, default=PipelineOptions.threads)
    ap.add_argument("--seed", type=int, default=PipelineOptions.seed, help="MC-dropout seed")
    ap.add_argument("--out", default=str(REPO / "runs" / "bench_scar.tsv"))
    ap.add_argument("--limit", type=int, default=0, help="smoke test: first N studies")
    ap.add_argument(
        "--sam-passes", type=int, default=0, help="box-jitter decoder passes (0: as shipped)"
    )
    ap.add_argument(
        "--sam-threshold", type=float, default=0.0, help="SAM probability threshold (0: as shipped)"
    )
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    # the yolo_sam boxes are reused by yolo_sam_nokl: run it first
    methods.sort(key=lambda m: (m in SAM_METHODS, m != "yolo_sam"))

    options = PipelineOptions(
        mc_samples=args.mc, threads=args.threads, seed=args.seed, scar_method="none"
    )
    stages = build_pipeline(options).stages[:-1]  # stages 1-3, no quantification
    models: dict = {}
    if args.unet and MYOCARDIUM_NETS[0] == "scar_unet":  # the candidate is stage 2 too
        models["unet"] = load_unet(args.unet)
        stages = [MyocardiumStage(models["unet"]) if s.name == "myocardium" else s for s in stages]
    if any(m.startswith("unet") or m == "fused" for m in methods):
        models.setdefault("unet", load_unet(args.unet))
        if models["unet"] is None:
            methods = [m for m in methods if not (m.startswith("unet") or m == "fused")]
            print("unet, fused: no weights (--unet or Resources/Models/scar_unet.pt); skipped")
    if any(m in SAM_METHODS for m in methods):
        # as the pipeline (box-jitter passes), unless --sam-passes asks for another count
        sam_options = {"passes": args.sam_passes, "threshold": args.sam_threshold}
        models["sam"] = load_segmenter(**{k: v for k, v in sam_options.items() if v})
        models["detector"] = OnnxScarDetector.load(weights.model_path("scar_detector"))
        models["cache"] = {}  # embeddings shared by the SAM variants (one study at a time)
        models["sam"].sam = EmbeddingCache(models["sam"].sam, models["cache"])
    if "yolo_sam_nokl" in methods:
        nokl = load_nokl(args.nokl)
        if nokl is None:
            methods.remove("yolo_sam_nokl")
            print(f"yolo_sam_nokl: {args.nokl} missing; skipped")
        else:  # same passes as the shipped one
            models["nokl"] = ScarSegmenter(EmbeddingCache(nokl, models["cache"]))

    rows = []
    items = studies(args.split)
    for centre, pid, study, lab in items[: args.limit or len(items)]:
        base = PipelineContext(study=study, options=options)
        try:
            for stage in stages:
                stage.run(base, lambda *_: None)
        except NoHeartFoundError as exc:
            print(f"{pid}: {exc}", file=sys.stderr)
            continue
        models.pop("boxes", None)
        if "cache" in models:
            models["cache"].clear()
        for m in methods:
            scar, myo, seconds, counts = run_method(m, base, lab, models)
            row = {"centre": centre, "patient": pid, "method": m, "seconds": seconds}
            row |= {"slices": study.num_slices, **measure(scar, myo, lab, study.spacing, centre)}
            row["myo_dice"] = dice(myo, lab >= 2)
            if counts is not None:
                row |= {f"det_{k}": v for k, v in counts.items()}
            rows.append(row)
        print(f"{pid} ({centre}) done", file=sys.stderr, flush=True)

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, keys, delimiter="\t", restval="")
        w.writeheader()
        w.writerows(rows)
    print(f"split {args.split}: {len({r['patient'] + r['centre'] for r in rows})} studies; "
          f"stages 1-3 as installed, MC {args.mc}, {args.threads} thread(s); rows: {args.out}\n")  # fmt: skip
    summary(rows, methods)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
