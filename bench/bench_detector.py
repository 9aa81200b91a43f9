"""YOLO scar detector on the TEST patients of Resources/Models/split.json, per centre.

    .venv/bin/python bench/bench_detector.py [--weights Resources/Models/scar_detector.pt |
        --weights Resources/Models/scar_detector.onnx | --run runs/detector] [--split test]
        [--jitter 0.1] [--conf 0.1,0.25] [--threads 1]

--weights *.pt runs the ultralytics model (training.yolo.ScarDetector), *.onnx the exported
graph the pipeline runs (runtime.detector.OnnxScarDetector); both checksum-verified.

Frames: every slice with a reference LV (EMIDEC PNG and MyoPS, as loaded for training), the
scar frame of the reference-LV box (`scar.frame.gt_box`); with --jitter s the box centre moves
by up to +-s x side and its side is scaled by 0.8-1.25 (seeded), as the stage-1 box differs
from the reference one. Boxes are kept where they overlap the REFERENCE myocardium (labels
2-4): this measures the detector alone, not stages 1-2.
Rule (scar.boxes.matches): a reference scar component (connected scar + no-reflow, merged when
touching, specks < 8 frame pixels ignored) is found when a kept box has IoU >= 0.1 with its box
or covers >= 50 % of its pixels; a kept box is correct when it finds some component.
Recall = found / components, precision = correct / kept boxes (pooled over slices). That rule
rewards oversized boxes (a frame-sized box covers every scar), so recall and precision with
box IoU >= 0.3 alone are reported too (the score threshold is chosen on the val split by
that stricter F1).
False positives: kept boxes per slice of normal (EMIDEC Case_N) patients, and per scar-free
slice of all patients. Time: detector.predict per patient (one batch of its slices), after a
warm-up, divided by the number of slices.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "ScarSegmentation"), str(REPO / "ScarQuantification")]

import torch  # noqa: E402
from ScarSegmentationLib.data import load_all, load_split  # noqa: E402
from ScarSegmentationLib.data.augment import jitter_box  # noqa: E402
from ScarSegmentationLib.intensity import standardize_slice  # noqa: E402
from ScarSegmentationLib.runtime.detector import OnnxScarDetector  # noqa: E402
from ScarSegmentationLib.scar.boxes import keep_on_myocardium, score_frame  # noqa: E402
from ScarSegmentationLib.scar.frame import gt_box, label_frame, scar_frame  # noqa: E402
from ScarSegmentationLib.training.detector_data import has_lv  # noqa: E402
from ScarSegmentationLib.training.yolo import ScarDetector  # noqa: E402

STRICT_IOU = 0.3
CENTRES = {"emidec": "EMIDEC PNG", "myops": "MyoPS", "all": "both centres"}


def patient_frames(p, rng: np.random.Generator | None, jitter: float):  # noqa: ANN001, ANN201
    frames, labels = [], []
    for img, lab in zip(p.images, p.labels, strict=True):
        if not has_lv(lab):
            continue
        box = gt_box(lab)
        if rng is not None and jitter > 0:
            box = jitter_box(box, rng, shift=jitter)
        frames.append(scar_frame(standardize_slice(img), box))
        labels.append(label_frame(lab, box))
    return frames, labels


KEYS = ("true", "found", "pred", "pred_ok", "found30", "pred_ok30", "slices", "seconds",
        "normal_slices", "normal_boxes", "clean_slices", "clean_boxes", "patients")  # fmt: skip


def add_scores(t: dict[str, float], kept: list, lab: np.ndarray, normal: bool) -> None:
    s = score_frame(kept, lab)
    for key in ("true", "found", "pred", "pred_ok"):
        t[key] += s[key]
    strict = score_frame(kept, lab, min_iou=STRICT_IOU)
    t["found30"] += strict["found"]
    t["pred_ok30"] += strict["pred_ok"]
    if normal:
        t["normal_slices"] += 1
        t["normal_boxes"] += len(kept)
    if s["true"] == 0:
        t["clean_slices"] += 1
        t["clean_boxes"] += len(kept)


def ratio(a: float, b: float) -> str:
    return "n/a" if b == 0 else f"{a / b:.3f} ({int(a)}/{int(b)})"


def f1(t: dict[str, float], suffix: str = "") -> float:
    r = t["found" + suffix] / t["true"] if t["true"] else 0.0
    p = t["pred_ok" + suffix] / t["pred"] if t["pred"] else 0.0
    return 2 * r * p / (r + p) if r + p else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=str(REPO / "Resources/Models/scar_detector.pt"))
    ap.add_argument("--run", default=None, help="use <run>/train/weights/best.pt (no checksum)")
    ap.add_argument("--split", default="test", choices=("test", "val"))
    ap.add_argument("--jitter", type=float, default=0.0, help="box centre shift, x side")
    ap.add_argument(
        "--conf", default=None, help="score threshold(s), comma-separated (default: stored one)"
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.run:
        det = ScarDetector.load(Path(args.run) / "train/weights/best.pt", verify=False)
    elif args.weights.endswith(".onnx"):
        det = OnnxScarDetector.load(args.weights, n_threads=args.threads)
    else:
        det = ScarDetector.load(args.weights)
    confs = [float(c) for c in args.conf.split(",")] if args.conf else [det.conf]
    det.conf = min(confs)  # predict once; higher thresholds filter (NMS result is the same)
    patients = load_all()
    ids = load_split()[args.split]
    rng = np.random.default_rng(args.seed) if args.jitter > 0 else None
    det.predict(np.zeros((2, 256, 256), np.float32))  # warm-up, not timed
    totals: dict[tuple[float, str], dict[str, float]] = {}
    for pid in ids:
        p = patients[pid]
        frames, labels = patient_frames(p, rng, args.jitter)
        if not frames:
            continue
        t0 = time.perf_counter()
        pred = det.predict(np.stack(frames))
        dt = time.perf_counter() - t0
        for conf in confs:
            for group in (p.centre, "all"):
                t = totals.setdefault((conf, group), dict.fromkeys(KEYS, 0.0))
                t["patients"] += 1
                t["slices"] += len(frames)
                t["seconds"] += dt
                for boxes, lab in zip(pred, labels, strict=True):
                    kept = keep_on_myocardium([b for b in boxes if b.score >= conf], lab >= 2)
                    add_scores(t, kept, lab, "Case_N" in pid)
        print(f"{pid:22s} slices {len(frames):2d} boxes {sum(len(b) for b in pred):3d} "
              f"{dt / len(frames) * 1000:.0f} ms/slice", flush=True)  # fmt: skip

    print(f"\n### Scar detector on {args.split} patients (box jitter {args.jitter}, "
          f"threads {args.threads})\n")  # fmt: skip
    print("| conf | centre | patients | slices | component recall | box precision | F1 "
          "| recall, precision, F1 at IoU >= 0.3 | FP boxes / normal-patient slice "
          "| FP boxes / scar-free slice | s / slice |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (conf, centre), t in sorted(totals.items(), key=lambda kv: (kv[0][1] == "all", kv[0])):
        print(
            f"| {conf:g} | {CENTRES.get(centre, centre)} | {int(t['patients'])} | {int(t['slices'])} "
            f"| {ratio(t['found'], t['true'])} | {ratio(t['pred_ok'], t['pred'])} | {f1(t):.3f} "
            f"| {ratio(t['found30'], t['true'])}, {ratio(t['pred_ok30'], t['pred'])}, "
            f"{f1(t, '30'):.3f} "
            f"| {ratio(t['normal_boxes'], t['normal_slices'])} "
            f"| {ratio(t['clean_boxes'], t['clean_slices'])} | {t['seconds'] / t['slices']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
