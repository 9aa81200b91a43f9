"""A torch module behind the pipeline's network interface (runtime.unet.SegNet): for tests with
stand-in networks and for benchmarks of training checkpoints. The pipeline itself runs ONNX."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..runtime.unet import draw_masks
from .unet import ResUNet, dropout_channels, forward_with_masks


class TorchNet:
    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module.eval()
        self.config: dict[str, Any] = dict(getattr(module, "config", {}))

    @torch.no_grad()
    def logits(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if isinstance(self.module, ResUNet):
            p = float(self.module.config.get("dropout", 0.0))
            masks = draw_masks(rng, len(xt), dropout_channels(self.module), p)
            return forward_with_masks(self.module, xt, [torch.from_numpy(m) for m in masks]).numpy()
        return self.module(xt).numpy()
