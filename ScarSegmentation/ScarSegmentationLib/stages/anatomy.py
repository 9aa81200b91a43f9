"""Stage 3: anatomical constraints on the stage-2 myocardium, slice by slice and across the stack.

Per slice (crop frame): the argmax myocardium of the stage-2 probabilities is checked (an open
"C" allowed on the basal-most slices); a failing mask is corrected (clean-up, else through the
autoencoder's latent space) and pasted back, and its blood pool becomes the cavity the corrected
ring encloses. Passing slices keep stage 2's masks untouched. Across the stack (apex -> base):
only the longest run of plausible slices is kept; the others are emptied, with a note saying why.
"""

from __future__ import annotations

import numpy as np

from ..anatomy.checks import RING_OPEN, blood_pool_cavity
from ..anatomy.correct import METHOD_CLEANUP, METHOD_LATENT
from ..anatomy.model import AnatomyModel
from ..anatomy.volumetric import volumetric_check
from ..crop import paste
from ..pipeline import PipelineContext, ProgressCallback

MYOCARDIUM_CHANNEL = 2  # stage-2 crop_probs channels: background, blood pool, myocardium


class AnatomyStage:
    name = "anatomy"

    def __init__(self, model_bundle: AnatomyModel, n_base: int = 2) -> None:
        self.model = model_bundle
        self.n_base = n_base  # basal-most slices on which an open "C" ring is allowed

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        order = [int(k) for k in ctx.study.apex_to_base if int(k) in ctx.crop_boxes]
        if not order:
            ctx.notes.append("anatomical checks skipped: no slice with a myocardium crop")
            return
        shape = ctx.study.image.shape
        myo = ctx.masks.get("Myocardium", np.zeros(shape, dtype=bool)).copy()
        bp = ctx.masks.get("Blood pool", np.zeros(shape, dtype=bool)).copy()
        base = set(order[-self.n_base :]) if self.n_base > 0 else set()
        plausible, open_ring = [], []
        for n, k in enumerate(order):
            progress(n / (len(order) + 1), f"anatomical checks, slice {n + 1}/{len(order)}")
            crop_myo = ctx.crop_probs[k].argmax(0) == MYOCARDIUM_CHANNEL
            c = self.model.correct(crop_myo, allow_open=k in base)
            corrected = c.method in (METHOD_CLEANUP, METHOD_LATENT)
            info = ctx.info(k)
            info["anatomy_pass_before"] = bool(c.before.passes)
            info["anatomy_corrected"] = corrected
            info["anatomy_pass_after"] = bool(c.after.passes)
            info["anatomy_method"] = c.method
            info["anatomy_failed_checks"] = ",".join(c.before.failed())
            if corrected:
                box = ctx.crop_boxes[k]
                myo[k] = paste(c.mask.astype(np.float32), box, shape[1:], order=0) > 0.5
                cavity = blood_pool_cavity(c.mask).astype(np.float32)
                bp[k] = (paste(cavity, box, shape[1:], order=0) > 0.5) & ~myo[k]
            plausible.append(bool(c.after.passes))
            open_ring.append(c.after.ring == RING_OPEN)

        decision = volumetric_check(plausible, open_ring)
        ctx.masks["Myocardium"] = myo
        ctx.masks["Blood pool"] = bp
        for k, kept, reason in zip(order, decision.kept, decision.reasons, strict=True):
            ctx.info(k)["kept"] = kept
            if not kept:
                ctx.info(k)["drop_reason"] = reason
                for mask in ctx.masks.values():
                    mask[k] = False
                ctx.notes.append(f"slice {k} dropped by the anatomical checks: {reason}")
        n_fixed = sum(bool(ctx.info(k)["anatomy_corrected"]) for k in order)
        if n_fixed:
            ctx.notes.append(f"{n_fixed} of {len(order)} myocardium slices corrected to pass "
                             "the anatomical checks")  # fmt: skip
        progress(1.0, "anatomical checks done")
