"""Scar by YOLO + SAM fused with the U-Net scar head ("fused" scar method).

Runs after ScarSegmentStage: the SAM scar probability (zero outside the detector's boxes) and
the head's P(scar | myocardium) (stage 2's passes reused) are averaged, and scar is where that
mean is >= 0.5 inside the myocardium. Outside the boxes the SAM term is zero, so there the head
alone would need certainty: the detector's boxes gate the scar, the two networks share the
pixel decision. Uncertainty: the variance of the mean of the two (independent) estimates,
(var_sam + var_head) / 4. Measured on the val patients (bench/bench_scar.py --split val
--methods fused): scar Dice 0.419 EMIDEC / 0.667 MyoPS against the head's 0.443 / 0.596 and
YOLO + SAM's 0.406 / 0.631.
"""

from __future__ import annotations

import numpy as np
import torch

from ..pipeline import PipelineContext, ProgressCallback
from .scar_unet import ScarUNetStage

PROBABILITY, UNCERTAINTY = "Scar probability", "Scar uncertainty"


class ScarFuseStage:
    name = "scar_fuse"

    def __init__(self, head: torch.nn.Module, threshold: float = 0.5) -> None:
        self.head = ScarUNetStage(head)
        self.threshold = threshold

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        sam_prob = ctx.maps.get(PROBABILITY)
        myo = ctx.masks.get("Myocardium")
        if sam_prob is None or myo is None or ctx.scar_source != "network":
            ctx.notes.append("scar fusion skipped: no network scar probability to fuse")
            return
        sam_var = ctx.maps.pop(UNCERTAINTY, None)  # the head writes its own, or none
        self.head.run(ctx, lambda f, m: progress(0.8 * f, m))
        prob = 0.5 * (sam_prob + ctx.maps[PROBABILITY])
        prob[~myo] = 0.0
        scar = myo & (prob >= self.threshold)
        head_var = ctx.maps.get(UNCERTAINTY)
        ctx.maps[PROBABILITY] = prob.astype(np.float32)
        if sam_var is not None and head_var is not None:
            ctx.maps[UNCERTAINTY] = (0.25 * (sam_var + head_var)).astype(np.float32)
        else:
            ctx.maps.pop(UNCERTAINTY, None)
        for k in ctx.crop_boxes:
            ctx.info(k)["scar_px"] = int(scar[k].sum())
        ctx.masks["Scar"] = scar
        ctx.scar_source = "fused"
        progress(1.0, "scar fused")
