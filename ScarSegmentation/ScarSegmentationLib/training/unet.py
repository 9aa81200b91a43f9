"""Residual U-Net with Monte-Carlo dropout, used by stage 1 (LV ROI) and stage 2 (myocardium).

Encoder: a residual block per level, then max-pool + Dropout2d before the next level (depth
down-samplings). Decoder: transposed-conv up-sampling, concatenation with the skip, residual
block. MC dropout at inference = dropout layers in train mode while batch norm stays in eval mode.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ResBlock(nn.Module):
    """Two 3x3 conv + BN (+ReLU) with an identity (or 1x1 projection) shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.skip = (
            nn.Identity()
            if cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class ResUNet(nn.Module):
    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 2,
        base_filters: int = 8,
        depth: int = 4,
        dropout: float = 0.2,
        input_size: int = 128,
    ) -> None:
        super().__init__()
        self.config: dict[str, Any] = {
            "in_channels": in_channels,
            "n_classes": n_classes,
            "base_filters": base_filters,
            "depth": depth,
            "dropout": dropout,
            "input_size": input_size,
        }
        widths = [base_filters * 2**d for d in range(depth + 1)]
        self.stem = ResBlock(in_channels, widths[0])
        self.down = nn.ModuleList(
            nn.Sequential(
                nn.MaxPool2d(2), nn.Dropout2d(dropout), ResBlock(widths[d], widths[d + 1])
            )
            for d in range(depth)
        )
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[d + 1], widths[d], 2, stride=2)
            for d in reversed(range(depth))
        )
        self.dec = nn.ModuleList(ResBlock(2 * widths[d], widths[d]) for d in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], n_classes, 1)

    def decoder_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each decoder stage's output, coarsest first; the last is at the input's resolution."""
        skips = [self.stem(x)]
        for layer in self.down:
            skips.append(layer(skips[-1]))
        h = skips.pop()
        features = []
        for up, dec in zip(self.up, self.dec, strict=True):
            h = dec(torch.cat([up(h), skips.pop()], dim=1))
            features.append(h)
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> logits (N, n_classes, H, W); H and W divisible by 2**depth."""
        return self.head(self.decoder_features(x)[-1])


def enable_mc_dropout(model: nn.Module, enabled: bool = True) -> None:
    """Eval mode everywhere, then dropout layers back to train mode when enabled."""
    model.eval()
    if enabled:
        for m in model.modules():
            if isinstance(m, nn.Dropout | nn.Dropout2d):
                m.train()


@torch.no_grad()
def mc_predict(model: nn.Module, x: torch.Tensor, samples: int) -> torch.Tensor:
    """Softmax probabilities (S, N, C, H, W): S = samples MC-dropout passes, or 1 deterministic
    pass when samples <= 1. Leaves the model in eval mode."""
    if samples <= 1:
        enable_mc_dropout(model, False)
        return torch.softmax(model(x), dim=1)[None]
    enable_mc_dropout(model, True)
    try:
        # One batched pass over the repeated input: dropout masks differ per item.
        n = x.shape[0]
        probs = torch.softmax(model(x.repeat(samples, 1, 1, 1)), dim=1)
        return probs.reshape(samples, n, *probs.shape[1:])
    finally:
        enable_mc_dropout(model, False)


def dropout_channels(model: ResUNet) -> list[int]:
    """Channels entering each encoder level's Dropout2d (one mask input per level in ONNX)."""
    return [int(layer[2].body[0].in_channels) for layer in model.down]


def forward_with_masks(model: ResUNet, x: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
    """The forward pass with each Dropout2d replaced by a given (N, C, 1, 1) multiplicative
    mask (ones: eval mode). This is the graph exported to ONNX; the masks come from the caller."""
    skips = [model.stem(x)]
    for layer, mask in zip(model.down, masks, strict=True):
        pool, _dropout, block = layer
        skips.append(block(pool(skips[-1]) * mask))
    h = skips.pop()
    for up, dec in zip(model.up, model.dec, strict=True):
        h = dec(torch.cat([up(h), skips.pop()], dim=1))
    return model.head(h)


class MaskedUNet(nn.Module):
    """ResUNet with explicit dropout masks as inputs (for export and for exact comparisons)."""

    def __init__(self, model: ResUNet) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, x: torch.Tensor, *masks: torch.Tensor) -> torch.Tensor:
        return forward_with_masks(self.model, x, list(masks))
