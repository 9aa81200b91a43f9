"""Ablation (not shipped): a dense decoder on cached LiteMedSAM TinyViT embeddings against the
shipped scar U-Net member of the same fold, both on the reference-LV frame of held-out patients.

    .venv/bin/python bench/ablation_tinyvit_decoder.py cache --copies 0,2,4     # one core each,
    .venv/bin/python bench/ablation_tinyvit_decoder.py cache --copies 1,3,5     # resumable per copy
    .venv/bin/python bench/ablation_tinyvit_decoder.py train --fold 0 --epochs 30
    .venv/bin/python bench/ablation_tinyvit_decoder.py score --fold 0

cache: every development slice with an LV (>= 20 labelled pixels) as a 256x256 frame around its
reference LV (scar.frame, the box stage 2 crops), encoded once by the shipped ONNX TinyViT
(`sam_encoder.onnx`); copy 0 unaugmented, copies >= 1 with the scar segmenter's full spatial and
intensity augmentation (scar.sam_augment), seeded per (patient, slice, copy). One .npz per copy
under runs/tinyvit/cache (about 2 MB of float16 embedding per frame).
train: training/tinyvit_decoder.DenseDecoder on the other folds' patients (every cached copy),
the U-Nets' loss (class-weighted cross-entropy + Tversky, MyoPS scar as "scar or no-reflow"),
AdamW with a polynomial decay, each centre half of every epoch's draws; fixed schedule, last
epoch kept (runs/tinyvit/fold<k>/last.pt, resumable).
score: fold k's patients, copy 0 only. The decoder (one pass) and `Resources/Models/
scar_unet-fold<k>.onnx` (the shipped member that never saw them; 4 MC-dropout / flip passes, as
the pipeline runs it) predict on the same box (128x128 crop for the U-Net); both have their
class weighting undone, are pasted onto the slice and decided by the pipeline's rule
(myocardium = argmax over background / blood pool / all myocardium classes; scar = P(scar |
myocardium) >= 0.5; no-reflow = P(no-reflow | scar) >= 0.5). Per patient: Dice over its LV
slices, burden error. Stage 1, the anatomy stage and the presence rule are left out (the
reference LV box stands in for stage 1), so these numbers compare the two cores, not pipelines.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(REPO / "bench"),
    str(REPO / "ScarSegmentation"),
    str(REPO / "ScarQuantification"),
]

from bench_pipeline import burden  # noqa: E402
from ScarQuantificationLib.metrics import dice  # noqa: E402
from ScarSegmentationLib.crop import CROP_SIZE, CropBox, extract, paste  # noqa: E402
from ScarSegmentationLib.data.datasets import MIN_LV_PIXELS, target  # noqa: E402
from ScarSegmentationLib.data.folds import train_val_for  # noqa: E402
from ScarSegmentationLib.data.geometry import LV_LABELS  # noqa: E402
from ScarSegmentationLib.data.loaders import load_all  # noqa: E402
from ScarSegmentationLib.intensity import standardize_slice  # noqa: E402
from ScarSegmentationLib.scar.frame import gt_box  # noqa: E402
from ScarSegmentationLib.scar.sam_augment import make_frame_sample  # noqa: E402
from ScarSegmentationLib.stages.myocardium import fold_to_myocardium, predict_crops  # noqa: E402
from ScarSegmentationLib.stages.scar_unet import (  # noqa: E402
    no_reflow_given_scar,
    scar_given_myocardium,
)

ROOT = REPO / "runs" / "tinyvit"
N_CLASSES = 5


def lv_slices(patients: dict) -> list[tuple[str, int]]:
    return [
        (pid, i)
        for pid in sorted(patients)
        for i, lab in enumerate(patients[pid].labels)
        if np.count_nonzero(np.isin(lab, LV_LABELS)) >= MIN_LV_PIXELS
    ]


def cache(args: argparse.Namespace) -> None:
    from ScarSegmentationLib.runtime import sam as runtime_sam
    from ScarSegmentationLib.training.sam_embeddings import slice_rng

    patients = load_all()
    items = lv_slices(patients)
    encoder = runtime_sam.OnnxSam(*runtime_sam.paths(), n_threads=args.threads)
    std: dict[tuple[str, int], np.ndarray] = {}
    ROOT.joinpath("cache").mkdir(parents=True, exist_ok=True)
    for c in [int(c) for c in args.copies.split(",")]:
        path = ROOT / "cache" / f"c{c}.npz"
        if path.exists():
            continue
        emb, img, lab, boxes = [], [], [], []
        t0 = time.perf_counter()
        for pid, i in items:
            p = patients[pid]
            if (pid, i) not in std:
                std[(pid, i)] = standardize_slice(p.images[i])
            rng = slice_rng(args.seed, pid, i, c)
            s = make_frame_sample(std[(pid, i)], p.labels[i], rng, "none" if c == 0 else "full")
            assert s is not None  # lv_slices kept slices with an LV only
            emb.append(encoder.encode(s.image[None])[0].astype(np.float16))
            img.append(s.image.astype(np.float16))
            lab.append(s.labels)
            b = gt_box(p.labels[i])
            boxes.append((b.center_y, b.center_x, b.side))
            if len(emb) % 100 == 0:
                print(f"copy {c}: {len(emb)} frames, {time.perf_counter() - t0:.0f} s", flush=True)
        # the embeddings in a .npy of their own, so that training memory-maps them
        np.save(ROOT / "cache" / f"c{c}_emb.npy", np.stack(emb))
        tmp = path.with_suffix(".tmp.npz")
        np.savez(
            tmp, img=np.stack(img), lab=np.stack(lab),
            pid=np.array([p for p, _ in items]), index=np.array([i for _, i in items]),
            centre=np.array([patients[p].centre for p, _ in items]), box=np.array(boxes),
        )  # fmt: skip
        tmp.replace(path)
        print(f"copy {c}: {len(items)} frames, {time.perf_counter() - t0:.0f} s", flush=True)


def load_cache(copies: list[int] | None = None) -> list[dict]:
    out = []
    for path in sorted((ROOT / "cache").glob("c*.npz")):
        if ".tmp" in path.name:  # an interrupted copy
            continue
        c = int(path.stem[1:])
        if copies is None or c in copies:
            d = dict(np.load(path))
            d["emb"] = np.load(path.with_name(f"c{c}_emb.npy"), mmap_mode="r")
            d["copy"] = c
            out.append(d)
    return out


def poly_lr(base: float, step: int, total: int) -> float:
    return base * (1.0 - step / max(total, 1)) ** 0.9


def train(args: argparse.Namespace) -> None:
    import torch
    from ScarSegmentationLib.training.losses import class_weights, partial_segmentation_loss
    from ScarSegmentationLib.training.tinyvit_decoder import DenseDecoder

    torch.manual_seed(args.fold)
    torch.set_num_threads(args.threads)
    train_ids, _ = train_val_for(args.fold)
    keep = set(train_ids)
    img, tgt, centres, parts = [], [], [], []
    for d in load_cache():
        rows = [n for n, p in enumerate(d["pid"]) if p in keep]
        parts.append((d["emb"], rows))
        img.append(d["img"][rows])
        tgt.append(
            np.stack([target(d["lab"][n], "scar_nr", d["centre"][n]) for n in rows]).astype(
                np.uint8
            )
        )
        centres.append(d["centre"][rows])
    emb = np.empty((sum(len(r) for _, r in parts), *parts[0][0].shape[1:]), np.float16)
    at = 0
    for e, rows in parts:  # filled in place: the float16 embeddings are the bulk of the memory
        emb[at : at + len(rows)] = e[rows]
        at += len(rows)
    del parts  # drop the memory maps (their pages count against the process)
    emb_t = torch.from_numpy(emb)
    img_t = torch.from_numpy(np.concatenate(img))
    tgt_t = torch.from_numpy(np.concatenate(tgt))  # uint8: int64 per batch (memory)
    centre = np.concatenate(centres)
    counts = np.bincount(tgt_t.numpy().ravel(), minlength=N_CLASSES + 1)[:N_CLASSES]
    weights = class_weights(counts)
    prob = np.zeros(len(centre))
    for c in np.unique(centre):  # each centre the same share of the draws
        prob[centre == c] = 1.0 / np.count_nonzero(centre == c)
    prob /= prob.sum()

    net = DenseDecoder(N_CLASSES)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    out = ROOT / f"fold{args.fold}"
    out.mkdir(parents=True, exist_ok=True)
    start = 0
    if (out / "last.pt").exists():
        ck = torch.load(out / "last.pt", weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start = ck["epoch"]
    steps = args.draws // args.batch
    total = args.epochs * steps
    rng = np.random.default_rng([args.fold, start])
    log = (out / "train-log.txt").open("a")
    print(
        f"fold {args.fold}: {len(centre)} frames, weights {weights.tolist()}", file=log, flush=True
    )
    for epoch in range(start, args.epochs):
        net.train()
        t0, losses = time.perf_counter(), []
        for s in range(steps):
            for g in opt.param_groups:
                g["lr"] = poly_lr(args.lr, epoch * steps + s, total)
            idx = torch.from_numpy(rng.choice(len(centre), args.batch, p=prob))
            logits = net(emb_t[idx].float(), img_t[idx].float()[:, None])
            loss = partial_segmentation_loss(logits, tgt_t[idx].long(), weights)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        ck = {"model": net.state_dict(), "opt": opt.state_dict(), "epoch": epoch + 1,
              "class_weights": weights.tolist(), "args": vars(args)}  # fmt: skip
        torch.save(ck, out / "last.tmp")
        (out / "last.tmp").replace(out / "last.pt")
        print(f"epoch {epoch + 1}/{args.epochs} loss {np.mean(losses):.4f} "
              f"{time.perf_counter() - t0:.0f} s", file=log, flush=True)  # fmt: skip


def decide(probs: np.ndarray) -> np.ndarray:
    """(C, H, W) posterior -> EMIDEC-style labels 0-4 by the pipeline's rule."""
    out = fold_to_myocardium(probs).argmax(0).astype(np.uint8)
    scar = (out == 2) & (scar_given_myocardium(probs) >= 0.5)
    out[scar] = 3
    out[scar & (no_reflow_given_scar(probs) >= 0.5)] = 4
    return out


def patient_row(pid: str, centre: str, method: str, pred: np.ndarray, ref: np.ndarray) -> dict:
    """Scar / no-reflow Dice only where the reference has them (NaN elsewhere)."""
    has_scar, has_nr = bool((ref >= 3).any()), bool((ref == 4).any())
    burden_ref, burden_pred = burden(ref >= 3, ref >= 2), burden(pred >= 3, pred >= 2)
    return {
        "patient": pid, "centre": centre, "method": method,
        "myocardium": dice(pred >= 2, ref >= 2), "blood_pool": dice(pred == 1, ref == 1),
        "scar": dice(pred >= 3, ref >= 3) if has_scar else float("nan"),
        "no_reflow": dice(pred == 4, ref == 4) if has_nr and centre == "emidec" else float("nan"),
        "burden_ref": burden_ref, "burden_pred": burden_pred,
        "burden_error": abs(burden_pred - burden_ref),
        "scar_outside_myo": (100.0 * np.count_nonzero((ref >= 3) & (pred < 2))
                             / max(np.count_nonzero(ref >= 3), 1)) if has_scar else float("nan"),
    }  # fmt: skip


def score(args: argparse.Namespace) -> None:
    import torch
    import torch.nn.functional as F
    from ScarSegmentationLib.calibration import undo_class_weights
    from ScarSegmentationLib.runtime.unet import OnnxUNet
    from ScarSegmentationLib.training.tinyvit_decoder import DenseDecoder

    torch.set_num_threads(args.threads)
    _, held = train_val_for(args.fold)
    patients = load_all()
    ck = torch.load(ROOT / f"fold{args.fold}" / "last.pt", weights_only=False)
    net = DenseDecoder(N_CLASSES)
    net.load_state_dict(ck["model"])
    net.eval()
    unet = OnnxUNet(REPO / "Resources" / "Models" / f"scar_unet-fold{args.fold}.onnx", args.threads)
    (d,) = load_cache([0])
    rows = []
    for pid in sorted(held):
        p = patients[pid]
        sel = [n for n, q in enumerate(d["pid"]) if q == pid]
        ks = [int(d["index"][n]) for n in sel]
        boxes = [CropBox(*map(float, d["box"][n])) for n in sel]
        with torch.no_grad():
            logits = net(torch.from_numpy(d["emb"][sel]).float(),
                         torch.from_numpy(d["img"][sel]).float()[:, None])  # fmt: skip
        dec = undo_class_weights(torch.softmax(logits, 1).numpy(), ck["class_weights"], axis=1)
        crops = np.stack(
            [
                extract(standardize_slice(p.images[k]), b, CROP_SIZE)
                for k, b in zip(ks, boxes, strict=True)
            ]
        )
        un = predict_crops(unet, crops, 4, rng=np.random.default_rng(0)).mean(0)
        assert un.shape[1] == N_CLASSES
        ref = np.stack([p.labels[k] for k in ks])
        # the two posteriors averaged on the frame grid: does the encoder add anything?
        un256 = F.interpolate(torch.from_numpy(un), size=dec.shape[-2:], mode="bilinear")
        both = (dec + un256.numpy()) / 2.0
        for method, probs in (
            ("tinyvit_decoder", dec),
            ("unet_member", un),
            ("mean_of_both", both),
        ):
            pred = np.stack([
                decide(np.stack([paste(probs[n, c], boxes[n], ref.shape[1:]) for c in range(N_CLASSES)]))
                for n in range(len(ks))
            ])  # fmt: skip
            rows.append(patient_row(pid, p.centre, method, pred, ref))
    out = Path(args.out or ROOT / f"score_fold{args.fold}.tsv")
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    summarize([out])


def summarize(paths: list[Path]) -> None:
    from scipy.stats import wilcoxon

    rows = [r for path in paths for r in csv.DictReader(path.open(), delimiter="\t")]
    metrics = ("myocardium", "blood_pool", "scar", "no_reflow", "burden_error", "scar_outside_myo")
    for centre in sorted({r["centre"] for r in rows}):
        print(f"\n{centre}: " + " | ".join(metrics))
        by = {}
        for method in ("tinyvit_decoder", "unet_member", "mean_of_both"):
            sel = {r["patient"]: r for r in rows if r["centre"] == centre and r["method"] == method}
            by[method] = sel
            vals = [np.nanmean([float(r[m]) for r in sel.values()]) for m in metrics]
            print(f"  {method:16s} " + " | ".join(f"{v:.3f}" for v in vals) + f"  (n={len(sel)})")
        for method in ("tinyvit_decoder", "mean_of_both"):
            for m in metrics:
                pairs = [(float(by[method][k][m]), float(by["unet_member"][k][m]))
                         for k in by["unet_member"] if k in by[method]]  # fmt: skip
                pairs = [(a, b) for a, b in pairs if not (math.isnan(a) or math.isnan(b))]
                if len(pairs) >= 5 and any(a != b for a, b in pairs):
                    diff = [a - b for a, b in pairs]
                    print(f"  {method} - unet_member, {m}: {np.mean(diff):+.3f} (n={len(pairs)}, "
                          f"Wilcoxon p={wilcoxon(diff).pvalue:.3f})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache")
    c.add_argument("--copies", default="0,1,2,3,4,5")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--threads", type=int, default=1)
    t = sub.add_parser("train")
    t.add_argument("--fold", type=int, required=True)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--draws", type=int, default=512)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--threads", type=int, default=1)
    s = sub.add_parser("score")
    s.add_argument("--fold", type=int, required=True)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out")
    m = sub.add_parser("summary")
    m.add_argument("tsv", nargs="+")
    args = ap.parse_args(argv)
    if args.cmd == "summary":
        summarize([Path(p) for p in args.tsv])
    else:
        {"cache": cache, "train": train, "score": score}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
