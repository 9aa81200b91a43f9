"""Convolutional autoencoder of 128x128 binary myocardium masks with a 16-d latent.

Strided 3x3 convolutions halve the size five times (128 -> 4), a dense layer maps to the latent;
the decoder mirrors it with transposed convolutions. Leaky ReLU throughout (as in ACSNet), far
fewer channels than ACSNet so a batch of slices encodes and decodes in milliseconds on one CPU
thread. The decoder outputs logits; sigmoid > 0.5 gives the mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

DEFAULT_CONFIG: dict[str, Any] = {"size": 128, "latent": 16, "channels": [16, 32, 64, 96, 128]}


class MaskAutoencoder(nn.Module):
    def __init__(
        self, size: int = 128, latent: int = 16, channels: list[int] | None = None
    ) -> None:
        super().__init__()
        ch = list(channels or DEFAULT_CONFIG["channels"])
        self.config = {"size": size, "latent": latent, "channels": ch}
        self.bottom = size // 2 ** len(ch)
        enc: list[nn.Module] = []
        cin = 1
        for c in ch:
            enc += [nn.Conv2d(cin, c, 3, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            cin = c
        self.encoder = nn.Sequential(*enc)
        flat = ch[-1] * self.bottom**2
        self.to_latent = nn.Linear(flat, latent)
        self.from_latent = nn.Sequential(nn.Linear(latent, flat), nn.LeakyReLU(0.2, inplace=True))
        dec: list[nn.Module] = []
        rev = ch[::-1] + [ch[0]]
        for a, b in zip(rev[:-1], rev[1:], strict=True):
            dec += [
                nn.ConvTranspose2d(a, b, 3, stride=2, padding=1, output_padding=1),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        self.decoder = nn.Sequential(*dec, nn.Conv2d(ch[0], 1, 3, padding=1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, S, S) masks in [0, 1] -> (N, latent)."""
        return self.to_latent(self.encoder(x).flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent) -> (N, 1, S, S) logits."""
        h = self.from_latent(z).view(z.shape[0], -1, self.bottom, self.bottom)
        return self.decoder(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def encode_masks(self, masks: np.ndarray) -> np.ndarray:
        return encode_masks(self, masks)

    def decode_latents(self, z: np.ndarray) -> np.ndarray:
        return decode_latents(self, z)


@torch.no_grad()
def encode_masks(model: MaskAutoencoder, masks: np.ndarray) -> np.ndarray:
    """(N, S, S) bool masks -> (N, latent) float32 latents."""
    x = torch.from_numpy(np.asarray(masks, dtype=np.float32)[:, None])
    return model.encode(x).numpy()


@torch.no_grad()
def decode_latents(model: MaskAutoencoder, z: np.ndarray) -> np.ndarray:
    """(N, latent) latents -> (N, S, S) bool masks (sigmoid > 0.5, i.e. logit > 0)."""
    logits = model.decode(torch.from_numpy(np.asarray(z, dtype=np.float32)))
    return (logits[:, 0] > 0).numpy()
