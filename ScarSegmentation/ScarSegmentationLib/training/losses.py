"""Segmentation losses: class-balanced cross-entropy + Tversky, and the Monte-Carlo-dropout
uncertainty loss (mean per-pixel variance of the softmax over dropout samples)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def class_weights(counts: np.ndarray) -> torch.Tensor:
    """Inverse-square-root frequency weights, mean 1 (plain inverse frequency over-weights the
    small classes so much that training becomes unstable)."""
    freq = np.asarray(counts, dtype=np.float64) / max(float(np.sum(counts)), 1.0)
    w = 1.0 / np.sqrt(np.maximum(freq, 1e-6))
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def tversky_loss(
    logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.5, beta: float = 0.5
) -> torch.Tensor:
    """1 - mean over foreground classes of TP / (TP + alpha FP + beta FN), over the batch."""
    probs = torch.softmax(logits, dim=1)
    onehot = F.one_hot(target, probs.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    tp = (probs * onehot).sum(dims)
    fp = (probs * (1 - onehot)).sum(dims)
    fn = ((1 - probs) * onehot).sum(dims)
    t = (tp + 1.0) / (tp + alpha * fp + beta * fn + 1.0)
    return 1.0 - t[1:].mean()


def segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, beta: float = 0.5
) -> torch.Tensor:
    return F.cross_entropy(logits, target, weight=weights) + tversky_loss(
        logits, target, alpha=1.0 - beta, beta=beta
    )


def wall_dice_loss(logits: torch.Tensor, target: torch.Tensor, first: int = 2) -> torch.Tensor:
    """1 - Dice of the whole wall (classes `first` and above: myocardium, scar, no-reflow, and
    the "scar or no-reflow" label value) over the batch: scored on the summed probabilities, so
    enhanced wall called scar or myocardium costs nothing here and only wall lost to the blood
    pool or the background does."""
    probs = torch.softmax(logits.float(), dim=1)
    wall = probs[:, first:].sum(1)
    t = (target >= first).to(wall.dtype)
    tp = (wall * t).sum()
    return 1.0 - (2.0 * tp + 1.0) / (wall.sum() + t.sum() + 1.0)


def mc_variance_loss(logits: torch.Tensor, samples: int) -> torch.Tensor:
    """Logits (samples * B, C, H, W) of the same B images under `samples` dropout masks ->
    the mean over pixels and classes of the softmax variance across the samples (1/N, not
    1/(N-1)): the image-level uncertainty the MC-dropout uncertainty loss adds to the
    segmentation loss (weight about 3)."""
    if samples < 2 or logits.shape[0] % samples:
        raise ValueError(f"{logits.shape[0]} logits do not split into {samples} >= 2 samples")
    probs = torch.softmax(logits, dim=1)
    probs = probs.reshape(samples, logits.shape[0] // samples, *probs.shape[1:])
    return probs.var(dim=0, unbiased=False).mean()


def _tversky(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor, alpha: float, beta: float):
    return 1.0 - (tp + 1.0) / (tp + alpha * fp + beta * fn + 1.0)


def partial_segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, beta: float = 0.5
) -> torch.Tensor:
    """Cross-entropy + Tversky for a net whose last two classes (scar, no-reflow) are not told
    apart in some labels: target value C (= number of classes) means "one of the last two", and
    those pixels are scored on the sum of the two probabilities (a centre that labels no
    no-reflow still teaches scar without teaching "never no-reflow").

    Tversky: the foreground classes with the last two merged, over the whole batch, plus the
    last class alone over the samples whose labels are complete (no merged pixel), averaged
    like the plain loss's per-class terms."""
    n = logits.shape[1]
    logp = F.log_softmax(logits, dim=1)
    unknown = target == n
    known = target.clamp(max=n - 1)
    lp = logp.gather(1, known[:, None])[:, 0]
    lp = torch.where(unknown, torch.logsumexp(logp[:, n - 2 :], dim=1), lp)
    w = torch.where(unknown, weights[n - 2], weights[known])
    ce = -(w * lp).sum() / w.sum()

    probs = logp.exp()
    merged = torch.cat([probs[:, : n - 2], probs[:, n - 2 :].sum(1, keepdim=True)], dim=1)
    tm = torch.where(target >= n - 2, n - 2, target)
    onehot = F.one_hot(tm, n - 1).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    alpha = 1.0 - beta
    terms = _tversky(
        (merged * onehot).sum(dims), (merged * (1 - onehot)).sum(dims),
        ((1 - merged) * onehot).sum(dims), alpha, beta,
    )[1:]  # fmt: skip
    complete = ~unknown.flatten(1).any(1)
    if bool(complete.any()):
        p = probs[complete, n - 1]
        t = (target[complete] == n - 1).to(p.dtype)
        last = _tversky((p * t).sum(), (p * (1 - t)).sum(), ((1 - p) * t).sum(), alpha, beta)
        terms = torch.cat([terms, last[None]])
    return ce + terms.mean()
