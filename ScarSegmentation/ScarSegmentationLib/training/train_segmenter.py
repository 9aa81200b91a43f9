"""Fine-tune LiteMedSAM's mask decoder + prompt encoder for scar on cached encoder embeddings.

    python -m ScarSegmentationLib.training.train_segmenter [--steps N] [--copies 4] [--no-kl]
        [--resume] [--embed-deadline 2026-11-23T02:25:00] [--deadline 2026-11-23T02:45:00]

Data: slices with scar (EMIDEC labels 3+4, MyoPS 2221) of the train split of
Resources/Models/split.json, framed by the ground-truth LV box (scar.frame), embedded once per
augmented copy (training.sam_embeddings, cached under runs/segmenter/embeddings and shared by every run);
each step draws one ground-truth scar box per sample (centres equally likely), jitters it like
a detector error and trains on the scar inside the true box with the noisy-label loss
(training.sam_losses; --no-kl drops the KL term for the ablation). Validation: scar Dice per val
patient with ground-truth boxes, clipped to the reference myocardium, averaged per centre then
over centres. Saves <out>/last.pt (resumable: optimizer, RNG, step) and <out>/best.pt, logs to
<out>/train.log.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch

from ..data import load_all, load_split
from ..scar.boxes import Box
from ..scar.sam_augment import box_target, jitter_prompt
from . import sam_model
from .common import parse_deadline, setup_logging
from .sam_embeddings import Record, ensure_embeddings, load_records
from .sam_losses import scar_loss

log = logging.getLogger("scarseg.train")
DEFAULT_EMBEDDINGS = "runs/segmenter/embeddings"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", default=None, help="data dir (default: SCARSEG_DATA or ../shared/data)"
    )
    parser.add_argument(
        "--out", default=None, help="run dir (default: runs/segmenter, runs/segmenter_nokl)"
    )
    parser.add_argument("--embeddings", default=DEFAULT_EMBEDDINGS, help="embedding cache (shared)")
    parser.add_argument("--split", default=None, help="split.json (default: Resources/Models)")
    parser.add_argument("--copies", type=int, default=4, help="embedded copies per train slice")
    parser.add_argument("--steps", type=int, default=3000, help="total optimiser steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--eval-every", type=int, default=25, help="steps between val checks")
    parser.add_argument("--no-kl", action="store_true", help="ablation: 0.6 Dice + 0.2 BCE only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    parser.add_argument(
        "--embed-deadline",
        default=None,
        help="UTC ISO time: stop embedding (and start training) by then",
    )
    parser.add_argument("--deadline", default=None,
                        help="UTC ISO time: stop cleanly (after a final val check) by then")  # fmt: skip


def trainable(net: torch.nn.Module) -> list[torch.nn.Parameter]:
    """Mask decoder + prompt encoder parameters; the encoder is frozen (embeddings are cached)."""
    params = []
    for name, p in net.named_parameters():
        p.requires_grad_(name.split(".", 1)[0] in sam_model.FINE_TUNED_PARTS)
        if p.requires_grad:
            params.append(p)
    return params


def _sampling_probs(records: list[Record]) -> np.ndarray:
    """Each centre gets the same total probability (MyoPS has far fewer scar slices)."""
    centres = np.array([r.centre for r in records])
    p = np.zeros(len(records))
    for c in np.unique(centres):
        p[centres == c] = 1.0 / np.count_nonzero(centres == c)
    return p / p.sum()


def make_batch(
    records: list[Record], rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(embeddings (B, 256, 64, 64), jittered boxes (B, 1, 4), targets (B, 256, 256))."""
    emb, boxes, targets = [], [], []
    for r in records:
        x0, y0, x1, y1 = r.boxes[rng.integers(len(r.boxes))]
        true = Box(float(x0), float(y0), float(x1), float(y1))
        b = jitter_prompt(true, rng)
        emb.append(r.embedding.float())
        boxes.append([b.x0, b.y0, b.x1, b.y1])
        targets.append(box_target(r.labels, true))
    return (
        torch.stack(emb),
        sam_model.box_tensor(boxes),
        torch.from_numpy(np.stack(targets).astype(np.float32)),
    )


@torch.no_grad()
def frame_probabilities(
    net: torch.nn.Module, records: list[Record], chunk: int = 16
) -> list[np.ndarray]:
    """Union (max) over each record's ground-truth boxes of the scar probability, (256, 256)."""
    flat = [(n, b) for n, r in enumerate(records) for b in r.boxes]
    out = [np.zeros(r.labels.shape, dtype=np.float32) for r in records]
    for s in range(0, len(flat), chunk):
        part = flat[s : s + chunk]
        emb = torch.stack([records[n].embedding.float() for n, _ in part])
        prob = torch.sigmoid(sam_model.decode(net, emb, sam_model.box_tensor([b for _, b in part])))
        for (n, _), p in zip(part, prob.numpy(), strict=True):
            out[n] = np.maximum(out[n], p)
    return out


def evaluate(net: torch.nn.Module, records: list[Record]) -> dict[str, float]:
    """Scar Dice per patient (its frames pooled; prediction clipped to the reference
    myocardium, labels >= 2), averaged per centre."""
    net.eval()
    stats: dict[str, np.ndarray] = {}
    centre_of: dict[str, str] = {}
    for r, p in zip(records, frame_probabilities(net, records), strict=True):
        pred = (p >= 0.5) & (r.labels >= 2)
        truth = r.labels >= 3
        st = stats.setdefault(r.patient_id, np.zeros(3))
        st += [np.count_nonzero(pred & truth), np.count_nonzero(pred), np.count_nonzero(truth)]
        centre_of[r.patient_id] = r.centre
    out = {}
    for centre in sorted(set(centre_of.values())):
        d = [2 * s[0] / max(s[1] + s[2], 1) for pid, s in stats.items() if centre_of[pid] == centre]
        out[centre] = float(np.mean(d))
    return out


def _save(path: Path, **state: object) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _config(args: argparse.Namespace, n_train: int, n_val: int) -> dict:
    return {
        "architecture": "LiteMedSAM",
        "base_package": sam_model.PACKAGE,
        "base_package_version": sam_model.package_version(),
        "base_asset_sha256": sam_model.asset_sha256(),
        "fine_tuned": list(sam_model.FINE_TUNED_PARTS),
        "input_size": sam_model.SIZE,
        "loss": "0.6 Dice + 0.2 BCE" + ("" if args.no_kl else " + 0.2 KL (Gaussian sigma 2)"),
        "copies": args.copies,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "train_frames": n_train,
        "val_frames": n_val,
    }


def run(args: argparse.Namespace) -> int:
    out = Path(args.out or ("runs/segmenter_nokl" if args.no_kl else "runs/segmenter"))
    setup_logging(log, out)
    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    deadline = parse_deadline(args.deadline)
    embed_deadline = parse_deadline(args.embed_deadline) or deadline
    cache = Path(args.embeddings)

    t0 = time.perf_counter()
    net = sam_model.build_base()
    split = load_split(args.split)
    patients = load_all(args.data)
    new_val = ensure_embeddings(
        net, patients, split["val"], "val", cache, 1, args.seed, embed_deadline
    )
    new_train = ensure_embeddings(
        net, patients, split["train"], "train", cache, args.copies, args.seed, embed_deadline
    )
    del patients
    train = load_records(cache, "train", args.copies)
    val = load_records(cache, "val", 1)
    log.info(
        "%d train frames (%d new), %d val frames (%d new) in %s; %.0f s",
        len(train), new_train, len(val), new_val, cache, time.perf_counter() - t0,
    )  # fmt: skip
    if not train or not val:
        log.info("no train or val embeddings yet: run again to continue the precompute")
        return 1

    params = trainable(net)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    step, best = 0, -1.0
    last = out / "last.pt"
    if args.resume and last.exists():
        ck = torch.load(last, map_location="cpu", weights_only=False)
        sam_model.load_fine_tuned(net, ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        rng.bit_generator.state = ck["numpy_rng"]
        torch.set_rng_state(ck["torch_rng"])
        step, best = int(ck["step"]), float(ck["best"])
        log.info("resumed from %s at step %d (best %.4f)", last, step, best)
    config = _config(args, len(train), len(val))
    log.info("config %s", config)

    def checkpoint(v: dict[str, float]) -> None:
        nonlocal best
        score = float(np.mean(list(v.values())))
        is_best = score > best
        best = max(best, score)
        state = {"state_dict": sam_model.fine_tuned_state(net), "config": config,
                 "step": step, "val": v, "score": score}  # fmt: skip
        if is_best:
            _save(out / "best.pt", **state)
        _save(last, **state, optimizer=opt.state_dict(), numpy_rng=rng.bit_generator.state,
              torch_rng=torch.get_rng_state(), best=best)  # fmt: skip
        log.info("step %d val scar Dice %s score %.4f%s", step,
                 {c: round(x, 4) for c, x in v.items()}, score, " *best*" if is_best else "")  # fmt: skip

    te = time.perf_counter()
    if step == 0:
        checkpoint(evaluate(net, val))  # zero-shot reference
    eval_seconds = time.perf_counter() - te
    probs = _sampling_probs(train)
    step_seconds, losses, terms = 0.0, [], {}
    while step < args.steps:
        now = time.time()
        if deadline and now + step_seconds + eval_seconds > deadline.timestamp():
            log.info("deadline %s: stopping at step %d", deadline.isoformat(), step)
            break
        ts = time.perf_counter()
        net.mask_decoder.train()
        net.prompt_encoder.train()
        emb, boxes, target = make_batch(
            [train[i] for i in rng.choice(len(train), args.batch_size, p=probs)], rng
        )
        loss = scar_loss(sam_model.decode(net, emb, boxes), target, use_kl=not args.no_kl)
        opt.zero_grad()
        loss["loss"].backward()
        opt.step()
        step += 1
        losses.append(float(loss["loss"].detach()))
        for k, v in loss.items():
            terms[k] = terms.get(k, 0.0) + float(v.detach())
        step_seconds = time.perf_counter() - ts
        if step % args.eval_every == 0 or step == args.steps:
            log.info("step %d loss %.4f terms %s %.1f s/step", step, float(np.mean(losses)),
                     {k: round(v / len(losses), 4) for k, v in terms.items()}, step_seconds)  # fmt: skip
            losses, terms = [], {}
            te = time.perf_counter()
            checkpoint(evaluate(net, val))
            eval_seconds = time.perf_counter() - te
    if losses:  # steps since the last check
        checkpoint(evaluate(net, val))
    log.info("done at step %d; best val score %.4f", step, best)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
