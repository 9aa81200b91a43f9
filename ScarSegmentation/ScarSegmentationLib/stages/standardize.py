"""Stage 0: per-slice intensity standardisation shared by all networks."""

from __future__ import annotations

import numpy as np

from ..intensity import standardize_slice
from ..pipeline import PipelineContext, ProgressCallback


class StandardizeStage:
    name = "standardize"

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        image = ctx.study.image
        out = np.empty(image.shape, dtype=np.float32)
        for k in range(image.shape[0]):
            out[k] = standardize_slice(image[k])
            progress((k + 1) / image.shape[0], f"standardising slice {k + 1}/{image.shape[0]}")
        ctx.standardized = out


def ensure_standardized(ctx: PipelineContext) -> np.ndarray:
    """ctx.standardized, computed when an earlier stage did not."""
    if ctx.standardized is None:
        StandardizeStage().run(ctx, lambda fraction, message: None)
    assert ctx.standardized is not None
    return ctx.standardized
