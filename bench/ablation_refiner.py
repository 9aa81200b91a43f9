"""A learned refinement of the fold models' output (stacking), scored by nested cross-validation.

    .venv/bin/python bench/ablation_refiner.py train --probs runs/probs --out runs/refiner \
        --fold 0 [--epochs 40] [--threads 1] [--context 1] [--balanced]
    .venv/bin/python bench/ablation_refiner.py report --probs runs/probs --out runs/refiner

The decision rules of bench/ablation_postprocess.py are hand-made; this asks whether a small
network can learn one. Its input is what bench/dump_cv_probs.py kept for a patient: the scar
net's mean softmax (5 classes), the pipeline's labels (after the anatomical constraints and the
presence rule, one-hot) and the standardised image, in an LV-centred crop (crop.box_for: twice
the heart's diameter) resampled to 96 x 96. It predicts the 5 classes as a correction of the
softmax (log-softmax + its output; the last layer starts at zero, so an untrained refiner gives
the softmax back). For held-out fold f it trains on the patients of the other folds only, whose
probabilities came from fold models that never saw them either (out-of-fold stacking), for a
fixed number of epochs (no choice is made on fold f). `--context c` adds the softmax and image
of c neighbouring slices each side (cut by the slice's own box); `--balanced` draws each centre
for half of every epoch.

Decision on the study grid, for the refined and for the unrefined softmax alike: the argmax class
inside the crop (pipeline labels outside it), the shipped presence rule on the scar. Rows: scar
Dice (patients with scar), myocardium Dice, burden absolute error, normal hearts below 1 %,
no-reflow Dice (patients with no-reflow); paired Wilcoxon against the pipeline's labels.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.stats import wilcoxon

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(REPO / "bench"),
    str(REPO / "ScarSegmentation"),
    str(REPO / "ScarQuantification"),
]

from bench_pipeline import burden  # noqa: E402
from ScarQuantificationLib.metrics import dice  # noqa: E402
from ScarSegmentationLib.crop import CropBox, box_for, extract, paste  # noqa: E402
from ScarSegmentationLib.scar.presence import apply_presence  # noqa: E402
from ScarSegmentationLib.stages.scar_presence import RULES  # noqa: E402

SIZE = 96
N_CLASSES = 5
SCAR, NO_REFLOW = 3, 4
IN_CHANNELS = 2 * N_CLASSES + 1  # softmax, pipeline labels one-hot, image
NEIGHBOUR_CHANNELS = N_CLASSES + 1  # softmax and image of a neighbouring slice


def in_channels(context: int) -> int:
    return IN_CHANNELS + 2 * context * NEIGHBOUR_CHANNELS


def boxes_for(probs: np.ndarray) -> dict[int, CropBox]:
    """Per slice: centred on the heart the net found (P(background) < 0.5), side from the
    study's largest heart section (one scale for the study)."""
    heart = probs[0].astype(np.float32) < 0.5
    areas = heart.reshape(len(heart), -1).sum(1)
    if areas.max() == 0:
        return {}
    side = box_for((0.0, 0.0), float(areas.max())).side
    out = {}
    for k in np.flatnonzero(areas > 0):
        cy, cx = ndimage.center_of_mass(heart[k])
        out[int(k)] = CropBox(float(cy), float(cx), side)
    return out


def crop_patient(z: np.lib.npyio.NpzFile, context: int = 0) -> dict:
    probs, pred, lab = z["probs"].astype(np.float32), z["pred"], z["lab"]
    std = z["std"].astype(np.float32)
    boxes = boxes_for(probs)
    xs, ys = [], []
    for k, box in boxes.items():
        p = np.stack([extract(probs[c, k], box, SIZE) for c in range(N_CLASSES)])
        p[0] += np.clip(1.0 - p.sum(0), 0, None)  # outside the slice: background
        onehot = np.stack([extract((pred[k] == c).astype(np.float32), box, SIZE, 0)
                           for c in range(N_CLASSES)])  # fmt: skip
        onehot[0] += 1.0 - onehot.sum(0)
        parts = [p, onehot, extract(std[k], box, SIZE)[None]]
        for dk in [d for d in range(-context, context + 1) if d]:
            kk = k + dk  # the neighbour in slice k's box; zeros beyond the stack
            if 0 <= kk < len(std):
                parts += [np.stack([extract(probs[c, kk], box, SIZE) for c in range(N_CLASSES)]),
                          extract(std[kk], box, SIZE)[None]]  # fmt: skip
            else:
                parts.append(np.zeros((NEIGHBOUR_CHANNELS, SIZE, SIZE), np.float32))
        xs.append(np.concatenate(parts))
        ys.append(extract(lab[k], box, SIZE, order=0))
    return {"x": np.array(xs, np.float32), "y": np.array(ys, np.int64), "ks": list(boxes),
            "boxes": list(boxes.values()), "fold": int(z["fold"])}  # fmt: skip


def load(probs_dir: Path, context: int = 0) -> dict[str, dict]:
    files = sorted(probs_dir.glob("*.npz"))
    if not files:
        raise SystemExit(f"no npz files in {probs_dir}: run bench/dump_cv_probs.py first")
    out = {}
    for f in files:
        with np.load(f) as z:
            out[f.stem] = crop_patient(z, context)
    return out


def build_net(torch_nn, context: int = 0):  # noqa: ANN001, ANN201
    from ScarSegmentationLib.training.unet import ResUNet

    net = ResUNet(
        in_channels(context), N_CLASSES, base_filters=16, depth=4, dropout=0.1, input_size=SIZE
    )
    torch_nn.init.zeros_(net.head.weight)
    torch_nn.init.zeros_(net.head.bias)
    return net


def refined_logits(net, x):  # noqa: ANN001, ANN201
    import torch

    return torch.log(x[:, :N_CLASSES].clamp_min(1e-4)) + net(x)


def augment(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Orientation (the 8 flips/rotations) and a contrast/brightness jitter of the image."""
    r, f = int(rng.integers(4)), bool(rng.integers(2))
    x, y = np.rot90(x, r, axes=(-2, -1)), np.rot90(y, r, axes=(-2, -1))
    if f:
        x, y = x[..., ::-1], y[..., ::-1]
    x = x.copy()
    neighbours = (len(x) - IN_CHANNELS) // NEIGHBOUR_CHANNELS
    images = [IN_CHANNELS - 1] + [
        IN_CHANNELS + (j + 1) * NEIGHBOUR_CHANNELS - 1 for j in range(neighbours)
    ]
    x[images] = x[images] * rng.uniform(0.8, 1.25) + rng.normal(0, 0.1)
    return x, np.ascontiguousarray(y)


def train(args: argparse.Namespace) -> None:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.fold)
    rng = np.random.default_rng(args.fold)
    data = load(Path(args.probs), args.context)
    train_set = {n: d for n, d in data.items() if d["fold"] != args.fold and len(d["x"])}
    x = np.concatenate([d["x"] for d in train_set.values()])
    y = np.concatenate([d["y"] for d in train_set.values()])
    myops = np.concatenate([[n.startswith("myops")] * len(d["x"]) for n, d in train_set.items()])
    # --balanced: each centre half of every epoch's draws, as the scar nets were trained
    weights = np.where(myops, 0.5 / myops.sum(), 0.5 / (~myops).sum())
    net = build_net(torch.nn, args.context)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * (len(x) // args.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (1 - s / steps) ** 0.9)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for epoch in range(args.epochs):
        net.train()
        if args.balanced:
            order = rng.choice(len(x), len(x), p=weights / weights.sum())
        else:
            order = rng.permutation(len(x))
        losses = []
        for b in range(len(x) // args.batch):
            idx = order[b * args.batch : (b + 1) * args.batch]
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
        print(f"fold {args.fold} epoch {epoch + 1} loss {np.mean(losses):.4f} "
              f"{time.time() - t0:.0f} s", flush=True)  # fmt: skip
    torch.save(net.state_dict(), out / f"fold{args.fold}.pt")
    net.eval()
    preds = {}
    with torch.no_grad():
        for name, d in data.items():
            if d["fold"] == args.fold and len(d["x"]):
                xt = torch.from_numpy(d["x"])
                # the 8 orientations averaged, as the augmentation saw them
                acc = torch.zeros(len(xt), N_CLASSES, SIZE, SIZE)
                for r in range(4):
                    for f in (False, True):
                        xa = torch.rot90(xt, r, (-2, -1))
                        xa = xa.flip(-1) if f else xa
                        pa = refined_logits(net, xa).softmax(1)
                        pa = pa.flip(-1) if f else pa
                        acc += torch.rot90(pa, -r, (-2, -1))
                preds[name] = (acc / 8).numpy().astype(np.float16)
    np.savez_compressed(out / f"refined_fold{args.fold}.npz", **preds)


def decide(pred: np.ndarray, ks: list[int], boxes: list[CropBox], crops: np.ndarray) -> np.ndarray:
    """Study-grid labels: argmax of the crop's classes inside the crop, `pred` outside."""
    out = pred.copy()
    shape = pred.shape[1:]
    for k, box, c in zip(ks, boxes, crops, strict=True):
        inside = paste(np.ones((SIZE, SIZE), np.float32), box, shape, order=0) > 0.5
        full = np.stack([paste(c[j], box, shape) for j in range(N_CLASSES)])
        out[k][inside] = full.argmax(0)[inside]
    scar = out >= SCAR
    kept = apply_presence(scar, out >= 2, RULES["unet"]).scar
    out[scar & ~kept] = 2
    return out


def scores(labels: np.ndarray, lab: np.ndarray) -> tuple[float, ...]:
    ref_scar, ref_wall = lab >= SCAR, lab >= 2
    scar, wall = labels >= SCAR, labels >= 2
    ref_nr = lab == NO_REFLOW
    predicted = burden(scar, wall)
    error = predicted - burden(ref_scar, ref_wall)
    return (
        dice(scar, ref_scar) if ref_scar.any() else np.nan,
        dice(wall, ref_wall),
        abs(error),
        predicted,
        dice(labels == NO_REFLOW, ref_nr) if ref_nr.any() else np.nan,
        float(ref_scar.any()),
        error,
    )


def report(args: argparse.Namespace) -> None:
    out = Path(args.out)
    refined: dict[str, np.ndarray] = {}
    for f in sorted(out.glob("refined_fold*.npz")):
        with np.load(f) as z:
            refined.update({k: z[k].astype(np.float32) for k in z.files})
    rows: dict[str, dict[str, tuple]] = {}
    for f in sorted(Path(args.probs).glob("*.npz")):
        if f.stem not in refined:
            continue
        with np.load(f) as z:
            d = crop_patient(z)
            pred, lab = z["pred"], z["lab"]
        raw = d["x"][:, :N_CLASSES]
        rows[f.stem] = {
            "pipeline": scores(pred, lab),
            "argmax, unrefined": scores(decide(pred, d["ks"], d["boxes"], raw), lab),
            "refined": scores(decide(pred, d["ks"], d["boxes"], refined[f.stem]), lab),
        }
    (out / "rows.json").write_text(json.dumps(rows))
    for centre in ("emidec", "myops"):
        names = [n for n in rows if n.startswith(centre)]
        if not names:
            continue
        print(f"\n{centre}: {len(names)} patients")
        print(
            f"  {'decision':20s} scar   wall   burden err (bias)  normals<1%  no-reflow   vs pipeline"
        )
        base = np.array([rows[n]["pipeline"] for n in names], float)
        for variant in ("pipeline", "argmax, unrefined", "refined"):
            v = np.array([rows[n][variant] for n in names], float)
            pos, neg = v[:, 5] > 0, v[:, 5] == 0
            tests = []
            for col, label in ((0, "scar"), (1, "wall"), (2, "burden")):
                m = ~np.isnan(v[:, col])
                diff = v[m, col] - base[m, col]
                p = wilcoxon(diff).pvalue if np.any(diff != 0) else 1.0
                tests.append(f"{label} {np.mean(diff):+.3f} (p {p:.3f})")
            normals = f"{np.mean(v[neg, 3] < 1):.2f}" if neg.any() else "-"
            nr = f"{np.nanmean(v[:, 4]):.3f}" if (~np.isnan(v[:, 4])).any() else "-"
            print(
                f"  {variant:20s} {np.nanmean(v[pos, 0]):.3f}  {v[:, 1].mean():.3f}  "
                f"{v[:, 2].mean():.2f} ({v[:, 6].mean():+.2f})      {normals:10s}  {nr:9s}   "
                + ", ".join(tests)
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("train", "report"))
    ap.add_argument("--probs", default="runs/probs", help="folder of dump_cv_probs.py's npz")
    ap.add_argument("--out", default="runs/refiner")
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--context", type=int, default=0, help="neighbouring slices each side")
    ap.add_argument("--balanced", action="store_true", help="half of the draws per centre")
    args = ap.parse_args()
    train(args) if args.mode == "train" else report(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
