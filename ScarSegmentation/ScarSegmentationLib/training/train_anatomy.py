"""Train the stage-3 anatomical model: mask autoencoder, latent Gaussian mixture, plausible bank.

    python -m ScarSegmentationLib.training.train_anatomy [--steps N] [--resume]

1. Autoencoder (denoising) on ground-truth myocardium masks (EMIDEC labels 2+3+4, MyoPS mapped)
   of the TRAIN split, in the stage-2 crop frame, with rotation/flip/scale/shift jitter; half the
   inputs corrupted (gaps, blobs, holes, speckle), the target always the clean mask. Loss: BCE +
   soft Dice. Checkpoint <out>/last.pt every eval, resumable; log <out>/train.log.
2. Latents of the training masks (8 orientations each) -> 5-component Gaussian mixture.
3. Rejection sampling: GMM samples whose decodings pass the checks join the bank.
4. Metrics on the test patients' ground truth -> <out>/metrics.json; bundle -> --model.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..anatomy.augment import augmented_crop, corrupt
from ..anatomy.checks import CheckThresholds, check_myocardium
from ..anatomy.gmm import fit_gmm
from ..anatomy.gtcrops import gt_box, gt_myocardium_crop
from ..anatomy.latent import build_bank
from ..anatomy.model import AnatomyModel
from ..crop import CropBox
from .anatomy_bundle import save_anatomy_model
from .autoencoder import DEFAULT_CONFIG, MaskAutoencoder
from .common import setup_logging

log = logging.getLogger("scarseg.train.anatomy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", default=None, help="data dir (default: SCARSEG_DATA or ../shared/data)"
    )
    parser.add_argument("--out", default="runs/anatomy", help="run dir (checkpoints, log, metrics)")
    parser.add_argument(
        "--model", default=None, help="bundle path (default: Resources/Models/anatomy.pt)"
    )
    parser.add_argument("--split", default=None, help="split.json (default: Resources/Models)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--corrupt", type=float, default=0.5, help="fraction of corrupted inputs")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument(
        "--samples", type=int, default=10000, help="accepted GMM samples in the bank"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")


def _slices(patients: dict, ids: list[str]) -> list[tuple[str, np.ndarray, CropBox]]:
    """(patient id, slice myocardium mask, stage-2 crop box) of every labelled slice."""
    out = []
    for pid in ids:
        for lab in patients[pid].labels:
            box = gt_box(lab)
            if box is not None and (lab >= 2).any():
                out.append((pid, lab >= 2, box))
    return out


def _gt_crops(patients: dict, ids: list[str]) -> tuple[list[str], np.ndarray]:
    pids, crops = [], []
    for pid in ids:
        for lab in patients[pid].labels:
            c = gt_myocardium_crop(lab)
            if c is not None and c.any():
                pids.append(pid)
                crops.append(c)
    return pids, np.stack(crops)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    s = int(a.sum()) + int(b.sum())
    return 1.0 if s == 0 else 2.0 * int((a & b).sum()) / s


def _loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(logits)
    inter = (p * target).sum((1, 2, 3))
    soft_dice = 1 - (2 * inter + 1) / (p.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1)
    return F.binary_cross_entropy_with_logits(logits, target) + soft_dice.mean()


@torch.no_grad()
def reconstruct(model: MaskAutoencoder, masks: np.ndarray, batch: int = 64) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(masks), batch):
        x = torch.from_numpy(masks[i : i + batch, None].astype(np.float32))
        out.append((model(x)[:, 0] > 0).numpy())
    return np.concatenate(out)


def _per_patient_dice(pids: list[str], a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Per-slice Dice averaged per slice and per patient (patient = mean of its slices)."""
    d = np.array([dice(x, y) for x, y in zip(a, b, strict=True)])
    per_patient = [d[[p == q for q in pids]].mean() for p in sorted(set(pids))]
    return {"slice_mean": float(d.mean()), "slice_min": float(d.min()),
            "patient_mean": float(np.mean(per_patient))}  # fmt: skip


def train_autoencoder(
    args: argparse.Namespace, train: list, val_masks: np.ndarray, out: Path
) -> MaskAutoencoder:
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    model = MaskAutoencoder(**DEFAULT_CONFIG)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps, eta_min=args.lr / 50)
    step = 0
    ckpt = out / "last.pt"
    if args.resume and ckpt.is_file():
        blob = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(blob["model"])
        opt.load_state_dict(blob["opt"])
        sched.load_state_dict(blob["sched"])
        step = int(blob["step"])
        rng.bit_generator.state = blob["rng"]
        torch.set_rng_state(blob["torch_rng"])
        log.info("resumed at step %d", step)
    t0 = time.perf_counter()
    losses: list[float] = []
    while step < args.steps:
        model.train()
        idx = rng.integers(len(train), size=args.batch_size)
        clean = np.stack([augmented_crop(train[i][1], train[i][2], rng) for i in idx])
        noisy = np.stack([corrupt(m, rng) if rng.random() < args.corrupt else m for m in clean])
        x = torch.from_numpy(noisy[:, None].astype(np.float32))
        y = torch.from_numpy(clean[:, None].astype(np.float32))
        loss = _loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        losses.append(loss.item())
        if step % args.eval_every == 0 or step == args.steps:
            rec = reconstruct(model, val_masks)
            d = np.mean([dice(a, b) for a, b in zip(rec, val_masks, strict=True)])
            log.info("step %d loss %.4f val reconstruction Dice %.4f (%.2f s/step)", step,
                     np.mean(losses), d, (time.perf_counter() - t0) / len(losses))  # fmt: skip
            losses = []
            t0 = time.perf_counter()
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "step": step, "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()},
                       ckpt)  # fmt: skip
    model.eval()
    return model


def _orientations(masks: np.ndarray) -> np.ndarray:
    """The 8 rotations/flips of each mask (exact, no interpolation)."""
    outs = []
    for flip in (False, True):
        m = masks[:, :, ::-1] if flip else masks
        outs += [np.rot90(m, r, axes=(1, 2)) for r in range(4)]
    return np.ascontiguousarray(np.concatenate(outs))


def _pass_rate(masks: np.ndarray, base: list[bool], th: CheckThresholds) -> float:
    return float(
        np.mean([check_myocardium(m, b, th).passes for m, b in zip(masks, base, strict=True)])
    )


def _base_flags(patients: dict, ids: list[str]) -> list[bool]:
    """True for each patient's last (basal-most: stacks run apex -> base) labelled slice."""
    flags = []
    for pid in ids:
        n = sum(1 for lab in patients[pid].labels if (lab >= 2).any())
        flags += [i == n - 1 for i in range(n)]
    return flags


def _correction_trial(model: AnatomyModel, masks: np.ndarray, rng: np.random.Generator) -> dict:
    """Corrupt ground-truth masks until they fail, correct them, report success, Dice, time."""
    n_fail = n_ok = 0
    d_broken, d_fixed, secs, methods = [], [], [], {}
    for m in masks:
        broken = corrupt(m, rng)
        if check_myocardium(broken, False, model.thresholds).passes:
            continue
        n_fail += 1
        t = time.perf_counter()
        c = model.correct(broken, allow_open=False)
        secs.append(time.perf_counter() - t)
        methods[c.method] = methods.get(c.method, 0) + 1
        n_ok += int(c.after.passes)
        d_broken.append(dice(broken, m))
        d_fixed.append(dice(c.mask, m))
    return {"failing_inputs": n_fail, "corrected_passing": n_ok, "methods": methods,
            "dice_broken_vs_gt": float(np.mean(d_broken)), "dice_corrected_vs_gt": float(np.mean(d_fixed)),
            "seconds_per_corrected_slice_mean": float(np.mean(secs)),
            "seconds_per_corrected_slice_max": float(np.max(secs))}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..data import load_all, load_split
    from ..weights import model_path

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    setup_logging(log, out)
    patients = load_all(args.data)
    split = load_split(args.split)
    th = CheckThresholds()
    train = _slices(patients, split["train"])
    _, val_masks = _gt_crops(patients, split["val"])
    train_pids, train_masks = _gt_crops(patients, split["train"])
    test_pids, test_masks = _gt_crops(patients, split["test"])
    log.info("train %d slices (%d patients), val %d, test %d", len(train), len(split["train"]),
             len(val_masks), len(test_masks))  # fmt: skip

    model = train_autoencoder(args, train, val_masks, out)
    metrics: dict = {"steps": args.steps, "batch_size": args.batch_size}
    rec = reconstruct(model, test_masks)
    metrics["test_reconstruction_dice"] = _per_patient_dice(test_pids, rec, test_masks)
    metrics["val_reconstruction_dice"] = _per_patient_dice(
        _gt_crops(patients, split["val"])[0], reconstruct(model, val_masks), val_masks)  # fmt: skip
    metrics["gt_pass_rate"] = {
        name: _pass_rate(m, _base_flags(patients, split[name]), th)
        for name, m in (("train", train_masks), ("val", val_masks), ("test", test_masks))
    }
    metrics["test_reconstruction_pass_rate"] = _pass_rate(
        rec, _base_flags(patients, split["test"]), th
    )
    log.info("reconstruction %s", metrics["test_reconstruction_dice"])

    rng = np.random.default_rng(args.seed + 1)
    enc = lambda m: model.encode(torch.from_numpy(m[:, None].astype(np.float32))).detach().numpy()  # noqa: E731
    with torch.no_grad():
        z_train = np.concatenate([enc(c) for c in np.array_split(_orientations(train_masks), 40)])
    gmm, ll = fit_gmm(z_train, 5, seed=args.seed)
    log.info("GMM fitted on %d latents, mean log-likelihood %.3f", len(z_train), ll)
    from .autoencoder import decode_latents

    t = time.perf_counter()
    bank, bank_stats = build_bank(
        z_train, lambda z: decode_latents(model, z), gmm, args.samples, rng, th
    )
    bank_stats["seconds"] = time.perf_counter() - t
    metrics["bank"] = bank_stats
    log.info("bank %s", bank_stats)

    info = {"data": "EMIDEC PNG + MyoPS 2020 ground truth, train split", "split_seed": split["seed"],
            "train_patients": len(split["train"]), "train_slices": len(train), "steps": args.steps,
            "gmm_log_likelihood": ll}  # fmt: skip
    anatomy = AnatomyModel(model, gmm, bank, th, info)
    metrics["correction_test"] = _correction_trial(anatomy, test_masks, np.random.default_rng(7))
    log.info("correction %s", metrics["correction_test"])
    path = save_anatomy_model(anatomy, args.model or model_path("anatomy", suffix=".pt"))
    from ..weights import sha256

    metrics["sha256"] = sha256(path)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    log.info("saved %s sha256 %s", path, metrics["sha256"])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
