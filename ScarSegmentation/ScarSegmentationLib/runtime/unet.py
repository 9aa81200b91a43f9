"""The residual U-Nets (LV ROI, myocardium, scar head) in ONNX Runtime, with Monte-Carlo dropout.

The exported graph takes the image and one channel-dropout mask per encoder level as inputs
(explicit masks instead of a random op inside the graph: a study's result then depends only on
the pipeline's seed, not on what the session ran before). Masks of ones give the deterministic
net; `draw_masks` gives what nn.Dropout2d in training mode would: whole channels zeroed with
probability p, the rest scaled by 1 / (1 - p).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import session as ort_session


class SegNet(Protocol):
    """What the stages need of a segmentation network (ONNX here; a torch adapter in tests)."""

    config: dict[str, Any]

    def logits(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """(N, C_in, H, W) float32 -> (N, n_classes, H, W); rng draws MC-dropout masks (None:
        deterministic)."""
        ...


def draw_masks(
    rng: np.random.Generator | None, n: int, channels: list[int], p: float
) -> list[np.ndarray]:
    """One (n, C, 1, 1) float32 channel-dropout mask per entry of `channels`."""
    if rng is None or p <= 0:
        return [np.ones((n, c, 1, 1), np.float32) for c in channels]
    keep = 1.0 - p
    return [((rng.random((n, c, 1, 1)) >= p) / keep).astype(np.float32) for c in channels]


class OnnxUNet:
    def __init__(self, path: Path | str, n_threads: int | None = None) -> None:
        self.path = Path(path)
        self.session = ort_session.create(path, n_threads)
        self.config: dict[str, Any] = ort_session.config(self.session)
        self.channels = [int(c) for c in self.config["dropout_channels"]]
        self.p = float(self.config.get("dropout", 0.0))
        self.mask_names = [f"mask{d}" for d in range(len(self.channels))]

    def logits(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        feeds = {"x": x}
        masks = draw_masks(rng, len(x), self.channels, self.p)
        feeds.update(zip(self.mask_names, masks, strict=True))
        return self.session.run(None, feeds, ort_session.run_options())[0]
