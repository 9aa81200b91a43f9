"""More box prompts for SAM: the U-Net scar head's scar components the detector has no box on.

Runs after ScarDetectStage in the "fused" scar method. The detector missed about a third of the
val EMIDEC scar components (recall 0.65 at its threshold); the head, a different network
with other errors, finds many of them. Each head component (P(scar | myocardium) >= 0.5 in the
myocardium, stage 2's passes reused) becomes a box in the slice's scar frame unless a detector
box on that slice already overlaps it; SAM then segments every box and ScarFuseStage averages
its probability with the head's. Head boxes carry source "scar head" and, as score, the head's
mean probability over the component; detector boxes keep source "detector".
"""

from __future__ import annotations

import numpy as np

from ..crop import extract
from ..pipeline import PipelineContext, ProgressCallback
from ..runtime.unet import SegNet
from ..scar.boxes import Box, component_boxes, iou, with_score
from ..scar.frame import SCAR_SIZE, frame_to_slice, label_frame
from .scar_detect import boxes_table
from .scar_unet import ScarUNetStage

HEAD = "scar head"


def head_component_boxes(scar_frame_mask: np.ndarray, prob_frame: np.ndarray) -> list[Box]:
    """The head's scar components in the frame as boxes (`component_boxes`: specks dropped,
    touching boxes merged), scored by the head's mean probability over the boxed scar."""
    out = []
    for b in component_boxes(scar_frame_mask):
        rows, cols = b.pixel_slices(scar_frame_mask.shape)
        inside = scar_frame_mask[rows, cols]
        out.append(with_score(b, prob_frame[rows, cols][inside].mean() if inside.any() else 0.0))
    return out


class ScarHeadBoxesStage:
    name = "scar_head_boxes"

    def __init__(self, head: SegNet, threshold: float = 0.5) -> None:
        self.head = ScarUNetStage(head)
        self.threshold = threshold

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        maps = self.head.maps(ctx)
        if maps is None:
            ctx.notes.append("scar head boxes skipped: no myocardium segmentation")
            return
        prob = maps[0]
        scar = ctx.masks["Myocardium"] & (prob >= self.threshold)
        added = 0
        for k in sorted(ctx.crop_boxes):
            if not scar[k].any():
                continue
            crop = ctx.crop_boxes[k]
            taken = [Box(b["x0"], b["y0"], b["x1"], b["y1"]) for b in ctx.boxes if b["k"] == k]
            frame_scar = label_frame(scar[k].astype(np.uint8), crop) > 0
            frame_prob = extract(prob[k], crop, size=SCAR_SIZE, order=0)  # as the mask: nearest
            for b in head_component_boxes(frame_scar, frame_prob):
                if any(iou(b, t) > 0 for t in taken):
                    continue  # the detector already prompts SAM on this scar
                i0, j0 = frame_to_slice(b.x0, b.y0, crop)
                i1, j1 = frame_to_slice(b.x1, b.y1, crop)
                corners = {"i0": i0, "j0": j0, "i1": i1, "j1": j1, "source": HEAD}
                box = b.as_dict(k=int(k)) | corners
                ctx.boxes.append(box)
                ctx.info(k).setdefault("scar_boxes", []).append(box)
                added += 1
        ctx.tables["scar_boxes"] = boxes_table(ctx.boxes, ctx.study)
        progress(1.0, f"{added} scar boxes added from the scar head")
