"""Train the wall refiner (out-of-fold stacking on the scar net's cross-validated softmax).

    python -m ScarSegmentationLib.training.train_refiner --probs runs/probs --out runs/refiner \
        --fold K [--context 1] [--epochs 40] [--threads 1] [--balanced] [--crop-factor 2]
    python -m ScarSegmentationLib.training.train_refiner --probs runs/probs --out runs/refiner \
        --fold all --context 1 [--install]

Input: bench/dump_cv_probs.py's per-patient files, whose softmax came from fold models that
never saw the patient. `--fold K` trains on the patients of the other folds and writes
`scar_refiner-fold{K}.pt` and the held-out patients' refined softmax `refined_fold{K}.npz` (scored by
bench/ablation_refiner.py); `--fold all` trains on every patient and writes `scar_refiner.pt`
(`--install`: into the models folder with its checksum, then export it with
`python -m ScarSegmentationLib.training.export_onnx scar_refiner`).

The network: a small ResUNet predicting the 5 classes as a correction of the log-softmax (its
last layer starts at zero, so an untrained refiner gives the softmax back). CE + soft Dice of
the wall and the scar, AdamW with a polynomial decay, the 8 orientations and a contrast jitter
of the images as augmentation; a fixed number of epochs (nothing chosen on held-out patients).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import weights
from ..scar import wall_refiner as ri
from .checkpoints import save_model
from .export import record_checksum
from .unet import ResUNet

NAME = "scar_refiner"
CLASS_NAMES = ["background", "blood_pool", "myocardium", "scar", "no_reflow"]


def load(probs_dir: Path, context: int = 0, crop_factor: float = ri.CROP_FACTOR) -> dict[str, dict]:
    files = sorted(Path(probs_dir).glob("*.npz"))
    if not files:
        raise SystemExit(f"no npz files in {probs_dir}: run bench/dump_cv_probs.py first")
    out = {}
    for f in files:
        with np.load(f) as z:
            out[f.stem] = ri.training_crops(z, context, crop_factor)
    return out


def build_net(context: int = 0, crop_factor: float = ri.CROP_FACTOR) -> ResUNet:
    net = ResUNet(
        ri.in_channels(context), ri.N_CLASSES, base_filters=16, depth=4, dropout=0.1,
        input_size=ri.SIZE,
    )  # fmt: skip
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)
    net.config.update({"class_names": CLASS_NAMES, "role": "refiner", "refiner_context": context,
                       "refiner_crop_factor": crop_factor})  # fmt: skip
    return net


def refined_logits(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.log(x[:, : ri.N_CLASSES].clamp_min(ri.MIN_PROB)) + net(x)


def augment(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Orientation (the 8 flips/rotations) and a contrast/brightness jitter of the images."""
    r, f = int(rng.integers(4)), bool(rng.integers(2))
    x, y = np.rot90(x, r, axes=(-2, -1)), np.rot90(y, r, axes=(-2, -1))
    if f:
        x, y = x[..., ::-1], y[..., ::-1]
    x = x.copy()
    images = ri.image_channels(len(x))
    x[images] = x[images] * rng.uniform(0.8, 1.25) + rng.normal(0, 0.1)
    return x, np.ascontiguousarray(y)


def fit(
    x: np.ndarray, y: np.ndarray, context: int, seed: int, epochs: int = 40, batch: int = 16,
    lr: float = 1e-3, weights_per_sample: np.ndarray | None = None, log=print,  # noqa: ANN001
    crop_factor: float = ri.CROP_FACTOR,
) -> ResUNet:  # fmt: skip
    """Train a refiner on crops x (N, C, S, S) and labels y (N, S, S); `weights_per_sample`
    draws the epoch's samples with those probabilities (else a permutation)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_net(context, crop_factor)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (1 - s / steps) ** 0.9)
    t0 = time.time()
    for epoch in range(epochs):
        net.train()
        if weights_per_sample is not None:
            p = weights_per_sample / weights_per_sample.sum()
            order = rng.choice(len(x), len(x), p=p)
        else:
            order = rng.permutation(len(x))
        losses = []
        for b in range(len(x) // batch):
            idx = order[b * batch : (b + 1) * batch]
            pairs = [augment(x[i], y[i], rng) for i in idx]
            xb = torch.from_numpy(np.stack([p[0] for p in pairs]))
            yb = torch.from_numpy(np.stack([p[1] for p in pairs]))
            logits = refined_logits(net, xb)
            prob = logits.softmax(1)
            loss = F.cross_entropy(logits, yb)
            for c in (2, 3):  # soft Dice of the wall (2-4) and the scar (3-4)
                pc, rc = prob[:, c:].sum(1), (yb >= c).float()
                loss = loss + 1 - (2 * (pc * rc).sum() + 1) / (pc.sum() + rc.sum() + 1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        log(f"epoch {epoch + 1} loss {np.mean(losses):.4f} {time.time() - t0:.0f} s")
    return net.eval()


def predict(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Refined softmax (N, 5, S, S), the 8 orientations averaged as the augmentation saw them."""

    def residual(a: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(a)).numpy()

    return ri.refined_softmax(residual, x)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probs", default="runs/probs", help="folder of dump_cv_probs.py's npz")
    ap.add_argument("--out", default="runs/refiner")
    ap.add_argument("--fold", default="all", help="held-out fold 0-4, or all")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--context", type=int, default=1, help="neighbouring slices each side")
    ap.add_argument(
        "--crop-factor",
        type=float,
        default=ri.CROP_FACTOR,
        help="box side / the largest heart section's equivalent diameter",
    )
    ap.add_argument("--balanced", action="store_true", help="half of the draws per centre")
    ap.add_argument("--install", action="store_true", help="--fold all: into the models folder")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    held_out = None if args.fold == "all" else int(args.fold)
    data = load(Path(args.probs), args.context, args.crop_factor)
    train_set = {n: d for n, d in data.items() if d["fold"] != held_out and len(d["x"])}
    x = np.concatenate([d["x"] for d in train_set.values()])
    y = np.concatenate([d["y"] for d in train_set.values()])
    myops = np.concatenate([[n.startswith("myops")] * len(d["x"]) for n, d in train_set.items()])
    balance = np.where(myops, 0.5 / myops.sum(), 0.5 / (~myops).sum()) if args.balanced else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seed = 5 if held_out is None else held_out
    tag = "all" if held_out is None else f"fold {held_out}"
    net = fit(x, y, args.context, seed, args.epochs, args.batch, args.lr, balance,
              log=lambda s: print(f"{tag} {s}", flush=True), crop_factor=args.crop_factor)  # fmt: skip
    extra = {"trained_on": f"{len(train_set)} patients, {len(x)} slices", "epochs": args.epochs}
    if held_out is None:
        dest = weights.models_dir() if args.install else out
        path = save_model(net, dest / f"{NAME}.pt", extra)
        if args.install:
            record_checksum(path)
        print(f"wrote {path}")
        return 0
    save_model(net, out / f"{NAME}-fold{held_out}.pt", {**extra, "fold": held_out})
    preds = {n: predict(net, d["x"]).astype(np.float16) for n, d in data.items()
             if d["fold"] == held_out and len(d["x"])}  # fmt: skip
    np.savez_compressed(out / f"refined_fold{held_out}.npz", **preds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
