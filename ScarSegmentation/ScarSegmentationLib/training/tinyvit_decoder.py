"""A dense decoder on LiteMedSAM's TinyViT image embeddings (issue 13's "pretrained medical
encoder as a shared backbone"), with a high-resolution path from the image itself.

The encoder stays frozen, so its embeddings of (augmented) scar frames are computed once and
cached (bench/ablation_tinyvit_decoder.py); only this decoder trains. Input: the (256, 64, 64)
embedding of a 256x256 frame and the frame itself; output: logits of the scar_nr classes
(background, blood pool, myocardium, scar, no-reflow) at 256x256. The embedding path is
upsampled to 128 and fused with two convolutions of the frame at 128 (the U-Nets' crop
resolution), where the thin wall's edges are that the 16-pixel ViT patches blur.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EMBED_CHANNELS = 256


def _block(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.GroupNorm(8, cout),
        nn.GELU(),
    )


class DenseDecoder(nn.Module):
    def __init__(
        self, n_classes: int = 5, width: int = 64, image_width: int = 16, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.reduce = _block(EMBED_CHANNELS, width, kernel=1)
        self.context = _block(width, width)
        self.image = nn.Sequential(
            _block(1, image_width, stride=2), _block(image_width, image_width)
        )
        self.fuse = nn.Sequential(_block(width + image_width, 32), _block(32, 32))
        self.drop = nn.Dropout2d(dropout)
        self.head = nn.Conv2d(32, n_classes, 1)

    def forward(self, embedding: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        """embedding (N, 256, 64, 64), frame (N, 1, 256, 256) -> logits (N, C, 256, 256)."""
        e = self.context(self.reduce(embedding))
        image = self.image(frame)
        e = F.interpolate(e, size=image.shape[-2:], mode="bilinear", align_corners=False)
        x = self.head(self.drop(self.fuse(torch.cat([e, image], dim=1))))
        return F.interpolate(x, size=frame.shape[-2:], mode="bilinear", align_corners=False)
