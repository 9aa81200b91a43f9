"""Scar segmentation from the detector's boxes: LiteMedSAM in each slice's scar frame.

Reads `ctx.boxes` (dicts k, x0, y0, x1, y1 in scar-frame pixels, score) and the stage-2 crop of
each slice (`ctx.crop_boxes`, which is also the scar frame's box). Slices without boxes get no
scar. The frame's probability is pasted back onto the slice and clipped to the myocardium.
"""

from __future__ import annotations

import numpy as np

from ..pipeline import PipelineContext, ProgressCallback
from ..scar.frame import scar_frame, to_slice
from ..scar.segmenter import ScarSegmenter
from .standardize import ensure_standardized


def boxes_by_slice(boxes: list[dict]) -> dict[int, np.ndarray]:
    """ctx.boxes -> slice k -> (N, 4) x0, y0, x1, y1."""
    out: dict[int, list[list[float]]] = {}
    for b in boxes:
        out.setdefault(int(b["k"]), []).append([b["x0"], b["y0"], b["x1"], b["y1"]])
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


class ScarSegmentStage:
    name = "scar_segment"

    def __init__(self, segmenter: ScarSegmenter) -> None:
        self.segmenter = segmenter

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        std = ensure_standardized(ctx)
        shape = std.shape
        myo = ctx.masks.get("Myocardium")
        if myo is None:
            ctx.notes.append("scar not clipped to the myocardium (no myocardium mask)")
        per_slice = boxes_by_slice(ctx.boxes)
        ks = sorted(k for k in per_slice if k in ctx.crop_boxes)
        if len(ks) < len(per_slice):
            ctx.notes.append("scar boxes on slices without an LV crop were ignored")
        progress(0.05, f"segmenting scar on {len(ks)} slices")
        frames = [scar_frame(std[k], ctx.crop_boxes[k]) for k in ks]
        results = self.segmenter.segment(frames, [per_slice[k] for k in ks])
        progress(0.9, "mapping scar back to the study grid")

        prob = np.zeros(shape, dtype=np.float32)
        var = np.zeros(shape, dtype=np.float32)
        for k, r in zip(ks, results, strict=True):
            box = ctx.crop_boxes[k]
            prob[k] = to_slice(r.probability, box, shape[1:])
            if r.uncertainty is not None:
                var[k] = to_slice(r.uncertainty, box, shape[1:])
        if myo is not None:
            prob[~myo] = 0.0
            var[~myo] = 0.0
        prob = np.clip(prob, 0.0, 1.0)
        scar = prob >= self.segmenter.threshold
        for k in ks:
            ctx.info(k)["scar_px"] = int(scar[k].sum())  # "scar_boxes" is the detector's
        ctx.masks["Scar"] = scar
        ctx.scar_source = "network"
        ctx.maps["Scar probability"] = prob
        if self.segmenter.has_uncertainty:
            ctx.maps["Scar uncertainty"] = np.clip(var, 0.0, None)
        else:
            ctx.notes.append("scar uncertainty not computed (one segmentation pass)")
        progress(1.0, "scar done")
