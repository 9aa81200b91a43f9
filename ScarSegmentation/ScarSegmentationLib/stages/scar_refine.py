"""The wall refiner: a second look at the myocardium boundary before the scar is decided.

A small network (scar_refiner.md) takes the scar net's mean softmax, the pipeline's labels (its
myocardium, blood pool and the scar the U-Net head and the presence rule would give) and the
standardised image of each slice and its neighbours (scar/wall_refiner.py), and corrects the
softmax. Only its wall is kept: the myocardium and blood pool become the refiner's (cleaned per
slice as stage 2 cleans its own); the scar stages that follow then decide the scar inside that
wall on the scar net's own passes. The labels it needs as input come from running those scar
stages on a scratch copy of the context (cheap: they reuse stage 2's passes). The refiner's own
scar was measured too and over-called the second centre's scar, so the scar stays the head's.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from ..crop import paste
from ..outputs import labels_from_masks
from ..pipeline import PipelineContext, ProgressCallback
from ..runtime.unet import SegNet
from ..scar import wall_refiner as wr
from .scar_presence import ScarPresenceStage
from .scar_unet import ScarUNetStage
from .standardize import ensure_standardized

STAGE2 = "myocardium"  # the stage whose network passes the refiner reads


def study_softmax(ctx: PipelineContext) -> np.ndarray | None:
    """The mean of stage 2's softmax passes on the study grid (C, K, H, W); background 1
    outside the crops. None when stage 2 kept no passes."""
    passes = ctx.net_passes.get(STAGE2)
    if passes is None or len(passes.ks) == 0:
        return None
    mean = passes.probs.mean(0)  # (N, C, S, S)
    shape = ensure_standardized(ctx).shape
    out = np.zeros((mean.shape[1], *shape), dtype=np.float32)
    out[0] = 1.0
    for n, k in enumerate(passes.ks):
        for c in range(mean.shape[1]):
            out[c, k] = paste(mean[n, c], passes.boxes[k], shape[1:])
        out[0, k] += 1.0 - out[:, k].sum(0)  # paste leaves zeros outside the crop
    return out


class ScarRefineStage:
    name = "scar_refine"

    def __init__(
        self, refiner: SegNet, scar: ScarUNetStage, presence: ScarPresenceStage | None = None
    ) -> None:
        self.refiner = refiner
        self.context = wr.context_of(int(refiner.config["in_channels"]))
        self.crop_factor = wr.crop_factor_of(refiner.config)
        self.scar = scar
        self.presence = presence

    def scar_labels(self, ctx: PipelineContext) -> np.ndarray:
        """The label map the pipeline would give without the refiner (scar stages run on a
        scratch copy of the context; `ctx` is left as it is)."""
        scratch = dataclasses.replace(
            ctx,
            masks=dict(ctx.masks),
            maps=dict(ctx.maps),
            slice_info=copy.deepcopy(ctx.slice_info),
            notes=list(ctx.notes),
        )
        self.scar.run(scratch, lambda f, m: None)
        if self.presence is not None:
            self.presence.run(scratch, lambda f, m: None)
        return labels_from_masks(scratch.masks, ensure_standardized(ctx).shape)

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        probs = study_softmax(ctx)
        if probs is None or "Myocardium" not in ctx.masks:
            ctx.notes.append("wall refiner skipped: no myocardium segmentation")
            return
        if len(probs) != wr.N_CLASSES:
            ctx.notes.append(f"wall refiner skipped: stage 2 gives {len(probs)} classes, not 5")
            return
        std = ensure_standardized(ctx)
        labels = self.scar_labels(ctx)
        order = np.asarray(ctx.study.apex_to_base)
        apex_first = len(order) < 2 or bool(order[0] < order[-1])
        x, ks, boxes = wr.refiner_inputs(
            probs, labels, std, self.context, apex_first, self.crop_factor
        )
        if not ks:
            return
        progress(0.1, f"refining the wall on {len(ks)} slices")
        crops = wr.refined_softmax(self.refiner.logits, x, wr.RUN_ORIENTATIONS)
        wall, pool = wr.refined_wall(labels, ks, boxes, crops)
        changed = int(np.count_nonzero(wall != ctx.masks["Myocardium"]))
        ctx.masks["Myocardium"], ctx.masks["Blood pool"] = wall, pool
        for k in ks:
            ctx.info(k)["myocardium_px"] = int(wall[k].sum())
            ctx.info(k)["blood_pool_px"] = int(pool[k].sum())
        ctx.notes.append(
            f"myocardium boundary refined by the wall refiner ({changed} voxels changed)"
        )
        progress(1.0, "wall refined")
