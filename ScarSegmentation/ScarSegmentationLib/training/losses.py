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
