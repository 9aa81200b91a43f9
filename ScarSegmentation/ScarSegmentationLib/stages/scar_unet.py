"""Scar by the U-Net scar head: the myocardium net's architecture with the myocardium split
into healthy and enhanced, run on the same LV crops (baseline a of the scar issue).

Inside the final myocardium (after the anatomical constraints) a pixel is scar where the net
gives scar more probability than healthy myocardium: P(scar | myocardium) = p3 / (p2 + p3)
>= 0.5. That conditional probability is the "Scar probability" map; its variance over the
Monte-Carlo dropout / flip passes is the "Scar uncertainty" map.
"""

from __future__ import annotations

import numpy as np
import torch

from ..crop import CROP_SIZE, extract, paste
from ..pipeline import PipelineContext, ProgressCallback
from .myocardium import predict_crops
from .standardize import ensure_standardized

MYOCARDIUM, SCAR = 2, 3


def scar_given_myocardium(probs: np.ndarray) -> np.ndarray:
    """softmax (..., 4, H, W) -> P(scar | myocardium) (..., H, W)."""
    p_myo, p_scar = probs[..., MYOCARDIUM, :, :], probs[..., SCAR, :, :]
    return p_scar / np.maximum(p_myo + p_scar, 1e-6)


class ScarUNetStage:
    name = "scar_unet"

    def __init__(self, model: torch.nn.Module, threshold: float = 0.5) -> None:
        self.model = model
        self.threshold = threshold

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        std = ensure_standardized(ctx)
        shape = std.shape
        myo = ctx.masks.get("Myocardium")
        if myo is None:
            ctx.notes.append("scar head skipped: no myocardium segmentation")
            return
        ks = [k for k in sorted(ctx.crop_boxes) if myo[k].any()]
        prob = np.zeros(shape, dtype=np.float32)
        var = np.zeros(shape, dtype=np.float32)
        samples = int(ctx.options.mc_samples)
        if ks:
            if samples > 1:
                torch.manual_seed(ctx.options.seed)
            progress(0.05, f"segmenting scar on {len(ks)} slices")
            crops = np.stack([extract(std[k], ctx.crop_boxes[k], CROP_SIZE) for k in ks])
            cond = scar_given_myocardium(predict_crops(self.model, crops, samples))
            for n, k in enumerate(ks):
                prob[k] = paste(cond[:, n].mean(0), ctx.crop_boxes[k], shape[1:])
                var[k] = paste(cond[:, n].var(0), ctx.crop_boxes[k], shape[1:])
        prob[~myo] = 0.0
        var[~myo] = 0.0
        scar = prob >= self.threshold
        for k in ks:
            ctx.info(k)["scar_px"] = int(scar[k].sum())
        ctx.masks["Scar"] = scar
        ctx.maps["Scar probability"] = np.clip(prob, 0.0, 1.0)
        if samples > 1:
            ctx.maps["Scar uncertainty"] = np.clip(var, 0.0, None)
        progress(1.0, "scar done")
