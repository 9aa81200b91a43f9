"""Scar detection stage: YOLO boxes in the scar frame of every slice with a myocardium.

Frames are the stage-2 crop boxes sampled at 256x256 (`scar.frame`). Boxes that contain no
predicted myocardium are dropped (scar lies in the myocardium; elsewhere a box is a false
alarm). ctx.boxes gets one dict per kept box: {k, x0, y0, x1, y1, score} in frame pixels plus
i0, j0, i1, j1, the same corners in slice pixel coordinates (`scar.frame.frame_to_slice`), and
source "detector"; ctx.info(k)["scar_boxes"] the slice's list of the same dicts.
ctx.tables["scar_boxes"] lists them for the user (written as scar_boxes.tsv); it exists,
possibly empty, whenever this stage ran, so "no boxes" is visible rather than a missing table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ScarQuantificationLib.table import Column, Table

from ..pipeline import PipelineContext, ProgressCallback
from ..scar.boxes import keep_on_myocardium
from ..scar.detector import BoxDetector
from ..scar.frame import frame_to_slice, label_frame, scar_frame
from ..study import Study
from .standardize import ensure_standardized

_PX = (
    "in slice pixels of the study grid (continuous index, pixel centres at whole numbers, as "
    "Slicer's IJK)"
)
_LPS = "box centre in patient coordinates, LPS (Slicer shows RAS: R = -L, A = -P)"
BOX_COLUMNS = [
    Column("slice_index", "int", "", "slice index k in the input volume"),
    Column(
        "score",
        "double",
        "",
        "confidence 0-1 for this box (the detector's score; for a scar-head box the head's "
        "mean scar probability over it); a box is a proposal of where scar may be, "
        "not a measurement (the Scar segment is what is quantified)",
    ),
    Column(
        "source",
        "string",
        "",
        "what proposed the box: 'detector' (YOLO) or 'scar head' (a U-Net scar component the "
        "detector had no box on, scar method fused)",
    ),
    Column("i_min", "double", "px", f"box edge at the lowest column i, {_PX}"),
    Column("j_min", "double", "px", f"box edge at the lowest row j, {_PX}"),
    Column("i_max", "double", "px", f"box edge at the highest column i, {_PX}"),
    Column("j_max", "double", "px", f"box edge at the highest row j, {_PX}"),
    Column("center_l", "double", "mm", f"{_LPS}: L"),
    Column("center_p", "double", "mm", f"{_LPS}: P"),
    Column("center_s", "double", "mm", f"{_LPS}: S"),
]


def boxes_table(boxes: list[dict[str, Any]], study: Study) -> Table:
    """One row per box (dicts with k, score, i0, j0, i1, j1), slices apex to base."""
    table = Table("scar_boxes", list(BOX_COLUMNS))
    rank = {int(k): r for r, k in enumerate(study.apex_to_base)}
    to_lps = study.index_to_lps()
    for b in sorted(boxes, key=lambda b: rank.get(int(b["k"]), len(rank))):  # stable in a slice
        centre = [(b["i0"] + b["i1"]) / 2, (b["j0"] + b["j1"]) / 2, float(b["k"]), 1.0]
        lps = to_lps @ np.asarray(centre)
        table.add_row(
            slice_index=int(b["k"]),
            score=float(b["score"]),
            source=str(b.get("source", "detector")),
            i_min=float(b["i0"]),
            j_min=float(b["j0"]),
            i_max=float(b["i1"]),
            j_max=float(b["j1"]),
            center_l=float(lps[0]),
            center_p=float(lps[1]),
            center_s=float(lps[2]),
        )
    return table


class ScarDetectStage:
    name = "scar_detect"

    def __init__(self, detector: BoxDetector) -> None:
        self.detector = detector

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        ctx.tables["scar_boxes"] = boxes_table([], ctx.study)  # refilled below if boxes are found
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
            crop = ctx.crop_boxes[k]
            myo_frame = label_frame(myo[k], crop) > 0
            kept = []
            for b in keep_on_myocardium(boxes, myo_frame):
                i0, j0 = frame_to_slice(b.x0, b.y0, crop)
                i1, j1 = frame_to_slice(b.x1, b.y1, crop)
                corners = {"i0": i0, "j0": j0, "i1": i1, "j1": j1, "source": "detector"}
                kept.append(b.as_dict(k=int(k)) | corners)
            ctx.info(k)["scar_boxes"] = kept
            ctx.boxes.extend(kept)
            total += len(kept)
        ctx.tables["scar_boxes"] = boxes_table(ctx.boxes, ctx.study)
        progress(1.0, f"{total} scar boxes on {len(ks)} slices")
