"""The noisy-label loss for the scar segmenter: 0.6 Dice + 0.2 BCE + 0.2 KL.

Semi-automatic scar labels (FWHM/n-SD thresholds) have sharp, jagged borders that are partly
noise, so the KL term compares the prediction with a Gaussian-smoothed (sigma 2 px) copy of the
label. Following the seed paper, both maps are normalised over the pixels of each image into
probability distributions and the KL divergence KL(target || prediction) is taken between
them: it penalises confident predictions where the smoothed label is uncertain (its borders)
without asking the network to reproduce the jagged edge itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WEIGHTS = {"dice": 0.6, "bce": 0.2, "kl": 0.2}
WEIGHTS_NO_KL = {"dice": 0.6, "bce": 0.2}  # the ablation: KL term dropped (Adam is scale-free)
SIGMA = 2.0
EPS = 1e-6


def gaussian_smooth(masks: torch.Tensor, sigma: float = SIGMA) -> torch.Tensor:
    """(N, H, W) -> (N, H, W) Gaussian-blurred (separable, zero padding, radius 3 sigma)."""
    radius = max(1, int(round(3.0 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=masks.dtype, device=masks.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = masks[:, None]
    x = F.conv2d(x, k.view(1, 1, 1, -1), padding=(0, radius))
    x = F.conv2d(x, k.view(1, 1, -1, 1), padding=(radius, 0))
    return x[:, 0]


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per image, averaged; (N, H, W) logits and {0,1} (or soft) targets."""
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    return (1.0 - (2.0 * inter + smooth) / (p.sum(1) + t.sum(1) + smooth)).mean()


def spatial_kl(prob: torch.Tensor, soft_target: torch.Tensor) -> torch.Tensor:
    """KL(target || prediction) between per-image pixel distributions, averaged over images.

    prob and soft_target are (N, H, W) non-negative maps; each is divided by its sum. Zero for
    maps that are proportional to each other."""
    p = prob.flatten(1) + EPS
    q = soft_target.flatten(1) + EPS
    p = p / p.sum(1, keepdim=True)
    q = q / q.sum(1, keepdim=True)
    return (q * (torch.log(q) - torch.log(p))).sum(1).mean()


def scar_loss(
    logits: torch.Tensor, target: torch.Tensor, use_kl: bool = True, sigma: float = SIGMA
) -> dict[str, torch.Tensor]:
    """Weighted loss and its terms: {"loss", "dice", "bce", ["kl"]}; target (N, H, W) in {0,1}."""
    target = target.to(logits.dtype)
    terms = {
        "dice": dice_loss(logits, target),
        "bce": F.binary_cross_entropy_with_logits(logits, target),
    }
    weights = WEIGHTS_NO_KL
    if use_kl:
        terms["kl"] = spatial_kl(torch.sigmoid(logits), gaussian_smooth(target, sigma))
        weights = WEIGHTS
    terms["loss"] = sum(weights[k] * terms[k] for k in weights)
    return terms
