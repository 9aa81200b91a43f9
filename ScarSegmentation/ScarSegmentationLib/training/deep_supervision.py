"""Deep supervision for the residual U-Net during training (nnU-Net's recipe): 1x1-conv heads on
the decoder stages below full resolution, each scored against the label map subsampled to its
resolution, with weights halving per stage and normalised to sum 1. The heads exist only while
training: the network that is saved, exported and shipped is the plain ResUNet."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .unet import ResUNet


class DeepSupervision(nn.Module):
    """Wraps a ResUNet; forward gives [full-resolution logits, 1/2, 1/4, ...] (`levels` maps)."""

    def __init__(self, net: ResUNet, levels: int = 3) -> None:
        super().__init__()
        depth = int(net.config["depth"])
        if not 1 <= levels <= depth:
            raise ValueError(f"{levels} supervised levels: 1 to the net's depth {depth} expected")
        self.net = net
        self.levels = levels
        n_classes = int(net.config["n_classes"])
        # decoder stage widths, finest first; heads for the stages just below full resolution
        widths = [int(dec.body[0].out_channels) for dec in reversed(net.dec)]
        self.heads = nn.ModuleList(nn.Conv2d(w, n_classes, 1) for w in widths[1:levels])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = self.net.decoder_features(x)[::-1]  # finest first
        return [self.net.head(features[0])] + [
            head(f) for head, f in zip(self.heads, features[1:], strict=False)
        ]

    def level_weights(self) -> list[float]:
        w = [0.5**i for i in range(self.levels)]
        return [v / sum(w) for v in w]


def deep_supervision_loss(
    outputs: list[torch.Tensor],
    target: torch.Tensor,
    weights: list[float],
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Weighted sum of `loss` over the resolutions; the (N, H, W) label map is subsampled by
    striding (nearest neighbour), which keeps every label value, "scar or no-reflow" included."""
    total = outputs[0].new_zeros(())
    for logits, w in zip(outputs, weights, strict=True):
        step = target.shape[-1] // logits.shape[-1]
        total = total + w * loss(logits.float(), target[:, ::step, ::step])
    return total
