"""LiteMedSAM speed and agreement on real scar frames: torch eager vs ONNX Runtime (batch size,
graph optimisation level) and the dynamic-int8 encoder.

    .venv/bin/python bench/bench_sam_onnx.py [--models DIR] [--frames 30] [--threads 2]

Frames: slices with scar of the TEST split patients (EMIDEC PNG + MyoPS, at most 3 slices per
patient), each in its ground-truth LV scar frame, prompted with its reference scar boxes
(scar.sam_augment.make_frame_sample, no augmentation). DIR must hold sam_encoder.onnx,
scar_segmenter.onnx and scar_segmenter.pt (export them with training.export_sam_onnx); the int8
encoders are made here in a temporary folder (quantize_dynamic, MatMul/Gemm weights only).
Timing: the variants run in rotation frame by frame (the machine is shared and noisy), seconds
per frame as median and minimum. Agreement: max abs difference of the embeddings and of the
decoder probabilities (sigmoid of the logits), and Dice of the thresholded (>= 0.5) union masks
of each frame's boxes vs the float32 ONNX chain (per-frame minimum and mean, and pooled).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "ScarSegmentation")]

import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from ScarSegmentationLib import weights  # noqa: E402
from ScarSegmentationLib.data import load_emidec_png, load_myops, load_split  # noqa: E402
from ScarSegmentationLib.intensity import standardize_slice  # noqa: E402
from ScarSegmentationLib.runtime import sam as runtime_sam  # noqa: E402
from ScarSegmentationLib.scar.sam_augment import as_array, make_frame_sample  # noqa: E402
from ScarSegmentationLib.scar.segmenter import sigmoid  # noqa: E402
from ScarSegmentationLib.training import sam_model  # noqa: E402

LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def real_frames(n: int, data: Path | None = None, per_patient: int = 3) -> list:
    """(patient id, slice, frame (256, 256), boxes (M, 4)) of test-split slices with scar."""
    patients = load_emidec_png(data) | load_myops(data)
    out = []
    for pid in load_split()["test"]:
        p = patients[pid]
        taken = 0
        for k, (img, lab) in enumerate(zip(p.images, p.labels, strict=True)):
            if taken >= per_patient or not np.any(lab >= 3):
                continue
            s = make_frame_sample(standardize_slice(img), lab, strength="none")
            if s is None or not s.boxes:
                continue
            out.append((pid, k, s.image, as_array(s.boxes)))
            taken += 1
    rng = np.random.default_rng(0)
    keep = sorted(rng.choice(len(out), size=min(n, len(out)), replace=False))
    return [out[i] for i in keep]


def session(path: Path, level: str, threads: int) -> ort.InferenceSession:
    """As runtime.session.create, with the given graph optimisation level."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = LEVELS[level]
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def quantized(source: Path, folder: Path, per_channel: bool) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = folder / f"enc_int8{'_pc' if per_channel else ''}.onnx"
    quantize_dynamic(
        str(source), str(out), op_types_to_quantize=["MatMul", "Gemm"],
        weight_type=QuantType.QInt8, per_channel=per_channel,
    )  # fmt: skip
    return out


def dice(a: np.ndarray, b: np.ndarray) -> float:
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else 2.0 * float((a & b).sum()) / float(s)


def timed(fn, *args):  # noqa: ANN202
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=str(weights.models_dir()))
    ap.add_argument("--data", default=None)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="4,8")
    args = ap.parse_args(argv)
    models = Path(args.models)
    torch.set_num_threads(args.threads)
    enc_path = weights.model_path(runtime_sam.ENCODER_NAME, models)
    dec_path = weights.model_path(runtime_sam.DECODER_NAME, models)

    frames = real_frames(args.frames, Path(args.data) if args.data else None)
    print(f"{len(frames)} frames from {len({f[0] for f in frames})} test patients, "
          f"{sum(len(f[3]) for f in frames)} boxes; {args.threads} threads", flush=True)  # fmt: skip

    blob = torch.load(dec_path.with_suffix(".pt"), map_location="cpu", weights_only=True)
    net = sam_model.build_base()
    sam_model.load_fine_tuned(net, blob["state_dict"])
    torch_sam = sam_model.TorchSam(net)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sam-"))
    enc = {f"onnx {lv}": session(enc_path, lv, args.threads) for lv in LEVELS}
    enc["int8"] = session(quantized(enc_path, tmp, False), "all", args.threads)
    enc["int8 per-channel"] = session(quantized(enc_path, tmp, True), "all", args.threads)
    shutil.rmtree(tmp)  # the sessions hold the models in memory
    dec = session(dec_path, "all", args.threads)

    def onnx_decode(emb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return dec.run(None, {"embedding": emb, "boxes": boxes})[0]

    times: dict[str, list[float]] = {k: [] for k in ["torch", *enc, "decoder torch",
                                                     "decoder onnx"]}  # fmt: skip
    diffs: dict[str, list[float]] = {}
    dices: dict[str, list[float]] = {}
    pooled: dict[str, list[int]] = {}
    x0 = runtime_sam.prepare(frames[0][2])
    for s in enc.values():  # warm-up (first runs allocate and pre-pack)
        s.run(None, {"x": x0})
    torch_sam.encode(frames[0][2][None])

    for i, (_pid, _k, frame, boxes) in enumerate(frames):
        x = runtime_sam.prepare(frame)
        e_torch, t = timed(torch_sam.encode, frame[None])
        times["torch"].append(t)
        embs = {}
        for name, s in enc.items():
            out, t = timed(s.run, None, {"x": x})
            embs[name] = out[0]
            times[name].append(t)
        l_torch, t = timed(torch_sam.decode, e_torch, boxes)
        times["decoder torch"].append(t)
        l_onnx, t = timed(onnx_decode, embs["onnx all"], boxes)
        times["decoder onnx"].append(t)
        p_torch, p_onnx = sigmoid(l_torch), sigmoid(l_onnx)
        ref = p_onnx.max(0) >= 0.5
        diffs.setdefault("embedding onnx vs torch", []).append(
            float(np.abs(embs["onnx all"] - e_torch).max())
        )
        for lv in ("disable", "basic", "extended"):
            diffs.setdefault(f"embedding onnx {lv} vs all", []).append(
                float(np.abs(embs[f"onnx {lv}"] - embs["onnx all"]).max())
            )
        diffs.setdefault("probability onnx vs torch", []).append(
            float(np.abs(p_onnx - p_torch).max())
        )
        diffs.setdefault("probability onnx decoder on torch embedding", []).append(
            float(np.abs(sigmoid(onnx_decode(e_torch, boxes)) - p_torch).max())
        )
        variants = {"torch": p_torch}
        for q in ("int8", "int8 per-channel"):
            variants[q] = sigmoid(onnx_decode(embs[q], boxes))
            diffs.setdefault(f"embedding {q} vs fp32", []).append(
                float(np.abs(embs[q] - embs["onnx all"]).max())
            )
        for name, p in variants.items():
            diffs.setdefault(f"probability {name} vs onnx fp32", []).append(
                float(np.abs(p - p_onnx).max())
            )
            m = p.max(0) >= 0.5
            dices.setdefault(name, []).append(dice(m, ref))
            acc = pooled.setdefault(name, [0, 0])
            acc[0] += int((m & ref).sum())
            acc[1] += int(m.sum() + ref.sum())
        print(f"frame {i + 1}/{len(frames)}: torch {times['torch'][-1]:.2f} s, onnx "
              f"{times['onnx all'][-1]:.2f} s, int8 {times['int8'][-1]:.2f} s", flush=True)  # fmt: skip

    # batches of b frames, each followed by the same b frames one at a time (same load)
    stack = np.stack([runtime_sam.prepare(f[2])[0] for f in frames])
    for b in [int(v) for v in args.batches.split(",") if v]:
        for name in ("onnx all", "int8"):
            batched, single = f"{name} batch {b}", f"{name} batch 1 (beside batch {b})"
            times[batched], times[single] = [], []
            for s0 in range(0, len(stack) - b + 1, b):
                _, t = timed(enc[name].run, None, {"x": stack[s0 : s0 + b]})
                times[batched].append(t / b)
                t = sum(timed(enc[name].run, None, {"x": stack[i : i + 1]})[1]
                        for i in range(s0, s0 + b))  # fmt: skip
                times[single].append(t / b)

    print(f"\nseconds per frame ({args.threads} threads, {len(frames)} frames; median / min)")
    print("| variant | median | min |\n|---|---|---|")
    for k, v in times.items():
        print(f"| {k} | {np.median(v):.3f} | {np.min(v):.3f} |")
    print("\n| difference (max abs over frames) | max | median |\n|---|---|---|")
    for k, v in diffs.items():
        print(f"| {k} | {np.max(v):.2e} | {np.median(v):.2e} |")
    print("\n| masks >= 0.5 vs onnx fp32 | Dice min | Dice mean | pooled Dice |\n|---|---|---|---|")
    for k, v in dices.items():
        print(
            f"| {k} | {np.min(v):.4f} | {np.mean(v):.4f} | {2 * pooled[k][0] / pooled[k][1]:.4f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
