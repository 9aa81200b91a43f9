"""Scar detection stage: YOLO boxes in the scar frame of every slice with a myocardium.

Frames are the stage-2 crop boxes sampled at 256x256 (`scar.frame`). Boxes that contain no
predicted myocardium are dropped (scar lies in the myocardium; elsewhere a box is a false
alarm). Boxes are stored in frame pixels with the slice index: ctx.boxes gets
{k, x0, y0, x1, y1, score}; ctx.info(k)["scar_boxes"] the slice's list of the same dicts.
"""

from __future__ import annotations

import numpy as np

from ..pipeline import PipelineContext, ProgressCallback
from ..scar.boxes import keep_on_myocardium
from ..scar.detector import ScarDetector
from ..scar.frame import label_frame, scar_frame
from .standardize import ensure_standardized


class ScarDetectStage:
    name = "scar_detect"

    def __init__(self, detector: ScarDetector) -> None:
        self.detector = detector

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        std = ensure_standardized(ctx)
        myo = ctx.masks.get("Myocardium")
        if myo is None:
            ctx.notes.append("scar detection skipped: no myocardium segmentation")
            return
        ks = [k for k in sorted(ctx.crop_boxes) if myo[k].any()]
        if not ks:
            ctx.notes.append("scar detection skipped: no slice has a myocardium")
            return
        progress(0.05, f"detecting scar on {len(ks)} slices")
        frames = np.stack([scar_frame(std[k], ctx.crop_boxes[k]) for k in ks])
        predicted = self.detector.predict(frames)
        progress(0.9, "keeping boxes on the myocardium")
        total = 0
        for k, boxes in zip(ks, predicted, strict=True):
            myo_frame = label_frame(myo[k], ctx.crop_boxes[k]) > 0
            kept = [b.as_dict(k=int(k)) for b in keep_on_myocardium(boxes, myo_frame)]
            ctx.info(k)["scar_boxes"] = kept
            ctx.boxes.extend(kept)
            total += len(kept)
        progress(1.0, f"{total} scar boxes on {len(ks)} slices")
