"""Scar presence after the scar networks: drop specks, call small totals scar-free (scar/presence.py).

A rule is calibrated for the scar model it filters (bench/calibrate_presence.py chooses it by
nested cross-validation from bench/bench_cv.py's rows of the fold models). RULES holds the rule
of each scar method that has one: the `unet` head of the cross-validation ensemble
(scar_unet.md). Methods without a calibrated rule (`fused`, `network`: their detector and SAM
have no fold models) keep every lesion. No-reflow follows the scar it lies in; the scar
probability map is left as the networks gave it.
"""

from __future__ import annotations

import numpy as np

from ..pipeline import PipelineContext, ProgressCallback
from ..scar.presence import PresenceRule, apply_presence

INACTIVE = PresenceRule()
# chosen by calibrate_presence.py on the shipped (round 5, deep supervision) members'
# cross-validated rows, checkpoints/cv340ds/rows-clean.tsv (docs/CROSS_VALIDATION.md)
RULES = {"unet": PresenceRule(min_lesion_percent=0.25, min_burden_percent=3.0)}


def rule_for(scar_method: str) -> PresenceRule:
    return RULES.get(scar_method, INACTIVE)


class ScarPresenceStage:
    name = "scar_presence"

    def __init__(self, rule: PresenceRule = INACTIVE) -> None:
        self.rule = rule

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        scar, myo = ctx.masks.get("Scar"), ctx.masks.get("Myocardium")
        if scar is None or myo is None or not scar.any():
            return
        res = apply_presence(scar, myo, self.rule, ctx.maps.get("Scar probability"))
        if res.lesions_dropped == 0:
            return
        ctx.masks["Scar"] = res.scar
        if "No-reflow" in ctx.masks:
            ctx.masks["No-reflow"] = ctx.masks["No-reflow"] & res.scar
        for k in ctx.crop_boxes:
            ctx.info(k)["scar_px"] = int(np.count_nonzero(res.scar[k]))
        if res.scar_free:
            ctx.notes.append(
                f"scar presence: the predicted scar is below {self.rule.name}: reported as no "
                "scar (scar probability map kept)"
            )
        else:
            ctx.notes.append(
                f"scar presence: {res.lesions_dropped} lesion(s) below {self.rule.name} dropped "
                "(scar probability map kept)"
            )
        progress(1.0, "scar presence checked")
