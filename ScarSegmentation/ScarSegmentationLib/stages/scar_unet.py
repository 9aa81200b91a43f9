"""Scar by the U-Net scar head: the myocardium net's architecture with the myocardium split
into healthy and enhanced, run on the same LV crops (baseline a of the scar issue).

Inside the final myocardium (after the anatomical constraints) a pixel is scar where the net
gives scar more probability than healthy myocardium: P(scar | myocardium) = p3 / (p2 + p3)
>= 0.5. That conditional probability is the "Scar probability" map; its variance over the
Monte-Carlo dropout / flip passes is the "Scar uncertainty" map. With `grow_px` > 0, pixels
within that distance outside the myocardium where the head's argmax is scar are scar too, and the
myocardium grows by them (bright subendocardial scar is where myocardium nets fail).

A net with a no-reflow class of its own (class_names ending in "no_reflow", trained as
`train_unet scar_nr`) counts it as scar, and inside the scar a pixel is no-reflow where
P(no-reflow | scar) = p4 / (p3 + p4) >= 0.5 ("No-reflow probability" map); the quantification
then keeps that no-reflow instead of deriving it by the dark-core rule.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..crop import paste
from ..pipeline import PipelineContext, ProgressCallback
from ..runtime.unet import SegNet
from .myocardium import net_crops, predict_crops
from .standardize import ensure_standardized

MYOCARDIUM, SCAR, NO_REFLOW = 2, 3, 4
NO_REFLOW_PROBABILITY = "No-reflow probability"


def has_no_reflow_class(model: SegNet) -> bool:
    return "no_reflow" in list(model.config.get("class_names", []))


def scar_given_myocardium(probs: np.ndarray) -> np.ndarray:
    """softmax (..., C, H, W), C = 4 or 5 -> P(scar | myocardium) (..., H, W); a fifth class
    (no-reflow) is part of the scar."""
    p_myo, p_scar = probs[..., MYOCARDIUM, :, :], probs[..., SCAR:, :, :].sum(axis=-3)
    return p_scar / np.maximum(p_myo + p_scar, 1e-6)


def no_reflow_given_scar(probs: np.ndarray) -> np.ndarray:
    """softmax (..., 5, H, W) -> P(no-reflow | scar) (..., H, W)."""
    p_scar, p_nr = probs[..., SCAR, :, :], probs[..., NO_REFLOW, :, :]
    return p_nr / np.maximum(p_scar + p_nr, 1e-6)


class ScarUNetStage:
    name = "scar_unet"

    # threshold None: the pipeline's scar_threshold (PipelineOptions)
    def __init__(self, model: SegNet, threshold: float | None = None, grow_px: int = 0) -> None:
        self.model = model
        self.threshold = threshold
        self.grow_px = grow_px

    def passes(self, ctx: PipelineContext, std: np.ndarray, ks: list[int]) -> np.ndarray:
        """Softmax passes (M, N, 4, S, S) on the slices ks: reused from stage 2 when it ran this
        same network on the same crops (the joint net as stage 2), else computed here."""
        boxes = {k: ctx.crop_boxes[k] for k in ks}
        for cached in ctx.net_passes.values():
            rows = cached.rows_for(self.model, ks, boxes)
            if rows is not None:
                return cached.probs[:, rows]
        rng = np.random.default_rng(ctx.options.seed)
        crops = net_crops(self.model, std, boxes, ks)
        samples = int(ctx.options.mc_samples)
        return predict_crops(
            self.model, crops, samples, rng=rng, prior_power=float(ctx.options.prior_power)
        )

    def maps(
        self, ctx: PipelineContext, progress: ProgressCallback | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(P(scar | myocardium), its variance over the passes, scar next to the myocardium
        (grow_px)) on the study grid, or None without a myocardium segmentation."""
        std = ensure_standardized(ctx)
        shape = std.shape
        myo = ctx.masks.get("Myocardium")
        if myo is None:
            return None
        ks = [k for k in sorted(ctx.crop_boxes) if myo[k].any()]
        prob = np.zeros(shape, dtype=np.float32)
        var = np.zeros(shape, dtype=np.float32)
        extra = np.zeros(shape, dtype=bool)  # scar just outside the myocardium (grow_px)
        if ks:
            if progress is not None:
                progress(0.05, f"segmenting scar on {len(ks)} slices")
            probs = self.passes(ctx, std, ks)
            cond = scar_given_myocardium(probs)
            mean = probs.mean(0) if self.grow_px > 0 else None
            for n, k in enumerate(ks):
                box = ctx.crop_boxes[k]
                prob[k] = paste(cond[:, n].mean(0), box, shape[1:])
                var[k] = paste(cond[:, n].var(0), box, shape[1:])
                if mean is not None:
                    # bright scar the myocardium net called blood pool or background, next to
                    # the myocardium: where the scar head's own argmax is scar, it is scar
                    near = ndimage.binary_dilation(myo[k], iterations=self.grow_px) & ~myo[k]
                    won = paste((mean[n].argmax(0) >= SCAR).astype(np.float32), box, shape[1:])
                    extra[k] = near & (won > 0.5)
                    prob[k][extra[k]] = paste(mean[n, SCAR], box, shape[1:])[extra[k]]
        inside = myo | extra
        prob[~inside] = 0.0
        var[~inside] = 0.0
        return np.clip(prob, 0.0, 1.0), np.clip(var, 0.0, None), extra

    def add_no_reflow(self, ctx: PipelineContext, scar: np.ndarray) -> None:
        """With a no-reflow class: "No-reflow" = scar where P(no-reflow | scar) >= 0.5, and its
        probability map (mean over the passes, zero outside the scar). Without: nothing (the
        quantification derives no-reflow by its dark-core rule)."""
        if not has_no_reflow_class(self.model):
            return
        std = ensure_standardized(ctx)
        shape = std.shape
        nr_prob = np.zeros(shape, dtype=np.float32)
        ks = [k for k in sorted(ctx.crop_boxes) if scar[k].any()]
        if ks:
            cond = no_reflow_given_scar(self.passes(ctx, std, ks)).mean(0)
            for n, k in enumerate(ks):
                nr_prob[k] = paste(cond[n], ctx.crop_boxes[k], shape[1:])
        nr_prob[~scar] = 0.0
        ctx.masks["No-reflow"] = scar & (nr_prob >= 0.5)
        ctx.maps[NO_REFLOW_PROBABILITY] = np.clip(nr_prob, 0.0, 1.0)
        ctx.notes.append("no-reflow = the scar network's no-reflow class inside the scar")

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        maps = self.maps(ctx, progress)
        if maps is None:
            ctx.notes.append("scar head skipped: no myocardium segmentation")
            return
        prob, var, extra = maps
        myo = ctx.masks["Myocardium"]
        ks = [k for k in sorted(ctx.crop_boxes) if myo[k].any()]
        samples = int(ctx.options.mc_samples)
        threshold = ctx.options.scar_threshold if self.threshold is None else self.threshold
        scar = (myo & (prob >= threshold)) | extra
        if extra.any():
            ctx.masks["Myocardium"] = myo | extra  # scar is myocardium by convention
            ctx.notes.append(
                f"myocardium grown by {int(extra.sum())} scar voxels next to it that the "
                "myocardium network had missed (scar head)"
            )
        for k in ks:
            ctx.info(k)["scar_px"] = int(scar[k].sum())
        ctx.masks["Scar"] = scar
        self.add_no_reflow(ctx, scar)
        ctx.scar_source = "unet"
        ctx.maps["Scar probability"] = prob
        if samples > 1:
            ctx.maps["Scar uncertainty"] = var
        progress(1.0, "scar done")
