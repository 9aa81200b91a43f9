"""Scar by YOLO + SAM fused with the U-Net scar head ("fused" scar method).

Runs after ScarSegmentStage, whose boxes are the detector's plus the head's own scar components
the detector had no box on (ScarHeadBoxesStage). The SAM scar probability (zero outside the
boxes) and the head's P(scar | myocardium) (stage 2's passes reused) are averaged, and scar is
where that mean is >= THRESHOLD inside the myocardium. Outside the boxes the SAM term is zero,
so there the head alone cannot reach it: the boxes gate the scar, the two networks share the
pixel decision. Uncertainty: the variance of the mean of the two (independent) estimates,
(var_sam + var_head) / 4.

THRESHOLD 0.6, chosen on the val patients (bench/bench_scar.py --split val, three MC-dropout
seeds): the most Dice with at most 1 ml of false scar on the normal hearts (the issue's target).
Mean of the two centres' scar Dice / false scar on the val normals: 0.5 gave 0.553 / 2.3 ml*,
0.6 0.538 / 0.7 ml*, 0.7 0.518 / 0.4 ml*; the head alone 0.526 / 0.6 ml*, YOLO + SAM alone
0.520 / 2.9 ml* (* nominal voxel of the EMIDEC PNG slices).
"""

from __future__ import annotations

import numpy as np

from ..pipeline import PipelineContext, ProgressCallback
from ..runtime.unet import SegNet
from .scar_unet import ScarUNetStage

PROBABILITY, UNCERTAINTY = "Scar probability", "Scar uncertainty"
THRESHOLD = 0.6


class ScarFuseStage:
    name = "scar_fuse"

    def __init__(self, head: SegNet, threshold: float = THRESHOLD) -> None:
        self.head = ScarUNetStage(head)
        self.threshold = threshold

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        sam_prob = ctx.maps.get(PROBABILITY)
        myo = ctx.masks.get("Myocardium")
        if sam_prob is None or myo is None or ctx.scar_source != "network":
            ctx.notes.append("scar fusion skipped: no network scar probability to fuse")
            return
        head_prob, head_var, _ = self.head.maps(ctx, lambda f, m: progress(0.8 * f, m))
        prob = 0.5 * (sam_prob + head_prob)
        prob[~myo] = 0.0
        scar = myo & (prob >= self.threshold)
        sam_var = ctx.maps.get(UNCERTAINTY)
        ctx.maps[PROBABILITY] = prob.astype(np.float32)
        if sam_var is not None and int(ctx.options.mc_samples) > 1:
            ctx.maps[UNCERTAINTY] = (0.25 * (sam_var + head_var)).astype(np.float32)
        else:
            ctx.maps.pop(UNCERTAINTY, None)
        for k in ctx.crop_boxes:
            ctx.info(k)["scar_px"] = int(scar[k].sum())
        ctx.masks["Scar"] = scar
        self.head.add_no_reflow(ctx, scar)
        ctx.scar_source = "fused"
        progress(1.0, "scar fused")
