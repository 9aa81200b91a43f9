"""Scar boxes in the scar frame: ground-truth boxes from labels, merging, myocardium filter,
and the component-level match rule used to score the detector.

Coordinates are frame pixels, x = column, y = row, pixel edges: a box (x0, y0, x1, y1) covers
columns x0 <= x < x1 (a single pixel at column 3 is x0=3, x1=4), as YOLO's xyxy boxes do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import ndimage

MIN_COMPONENT_PX = 8  # frame pixels (about 1-2 slice pixels): smaller label specks get no box
TOUCH_GAP = 1.0  # boxes closer than this (pixels) are one scar
MATCH_IOU = 0.1  # a detection matches a scar when box IoU >= MATCH_IOU ...
MATCH_COVER = 0.5  # ... or when it covers >= MATCH_COVER of the scar's pixels


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0

    @property
    def area(self) -> float:
        return max(self.x1 - self.x0, 0.0) * max(self.y1 - self.y0, 0.0)

    def as_dict(self, **extra: Any) -> dict[str, Any]:
        return {
            **extra,
            "x0": self.x0,
            "y0": self.y0,
            "x1": self.x1,
            "y1": self.y1,
            "score": self.score,
        }

    def pixel_slices(self, shape: tuple[int, int]) -> tuple[slice, slice]:
        """(rows, cols) of the pixels whose centres lie inside the box, clipped to `shape`."""
        r0, r1 = int(np.ceil(self.y0 - 0.5)), int(np.ceil(self.y1 - 0.5))
        c0, c1 = int(np.ceil(self.x0 - 0.5)), int(np.ceil(self.x1 - 0.5))
        return slice(max(r0, 0), min(r1, shape[0])), slice(max(c0, 0), min(c1, shape[1]))


def iou(a: Box, b: Box) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    inter = max(w, 0.0) * max(h, 0.0)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def touching(a: Box, b: Box, gap: float = TOUCH_GAP) -> bool:
    """Boxes overlap or are within `gap` pixels of each other on both axes."""
    return a.x0 <= b.x1 + gap and b.x0 <= a.x1 + gap and a.y0 <= b.y1 + gap and b.y0 <= a.y1 + gap


def merge_touching(boxes: list[Box], gap: float = TOUCH_GAP) -> list[Box]:
    """Union of boxes that touch, repeated until none do (a merged box may reach a third);
    the merged score is the highest."""
    out = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                if touching(out[i], out[j], gap):
                    a, b = out[i], out.pop(j)
                    out[i] = Box(
                        min(a.x0, b.x0),
                        min(a.y0, b.y0),
                        max(a.x1, b.x1),
                        max(a.y1, b.y1),
                        max(a.score, b.score),
                    )
                    merged = True
                    break
            if merged:
                break
    return sorted(out, key=lambda b: (b.y0, b.x0))


def component_boxes(scar: np.ndarray, min_pixels: int = MIN_COMPONENT_PX) -> list[Box]:
    """One box per 8-connected scar component (specks below `min_pixels` dropped), merged when
    they touch or overlap."""
    lab, n = ndimage.label(np.asarray(scar, bool), structure=np.ones((3, 3)))
    boxes = []
    for i, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None or np.count_nonzero(lab[sl] == i) < min_pixels:
            continue
        rows, cols = sl
        boxes.append(Box(float(cols.start), float(rows.start), float(cols.stop), float(rows.stop)))
    return merge_touching(boxes)


def overlaps_mask(box: Box, mask: np.ndarray) -> bool:
    rows, cols = box.pixel_slices(mask.shape)
    return bool(np.any(mask[rows, cols]))


def keep_on_myocardium(boxes: list[Box], myocardium: np.ndarray) -> list[Box]:
    """Boxes containing at least one myocardium pixel (scar is myocardium; the rest is noise)."""
    return [b for b in boxes if overlaps_mask(b, myocardium)]


def gt_boxes(label_frame: np.ndarray, min_pixels: int = MIN_COMPONENT_PX) -> list[Box]:
    """Training targets from an EMIDEC label frame: scar + no-reflow (3, 4) components."""
    return component_boxes(label_frame >= 3, min_pixels)


def covered_fraction(box: Box, target: np.ndarray) -> float:
    """Fraction of the target's pixels inside the box."""
    total = np.count_nonzero(target)
    if total == 0:
        return 0.0
    rows, cols = box.pixel_slices(target.shape)
    return float(np.count_nonzero(target[rows, cols])) / total


def matches(pred: Box, truth: Box, scar: np.ndarray, min_iou: float | None = None) -> bool:
    """The detector-scoring rule: IoU >= 0.1 with the true box, or the detection covers >= 50 %
    of the scar pixels inside the true box. With `min_iou`, box IoU >= min_iou only (stricter:
    a frame-sized box covers every scar but has a low IoU)."""
    if min_iou is not None:
        return iou(pred, truth) >= min_iou
    if iou(pred, truth) >= MATCH_IOU:
        return True
    inside = np.zeros_like(scar, dtype=bool)
    rows, cols = truth.pixel_slices(scar.shape)
    inside[rows, cols] = scar[rows, cols]
    return covered_fraction(pred, inside) >= MATCH_COVER


def with_score(box: Box, score: float) -> Box:
    return replace(box, score=float(score))


def score_frame(
    pred: list[Box], label_frame: np.ndarray, min_iou: float | None = None
) -> dict[str, int]:
    """Component-level counts on one frame (rule: `matches`): true scars (merged GT boxes),
    those found by some prediction, predictions, and predictions matching some true scar."""
    scar = label_frame >= 3
    truth = gt_boxes(label_frame)
    found = sum(any(matches(p, t, scar, min_iou) for p in pred) for t in truth)
    correct = sum(any(matches(p, t, scar, min_iou) for t in truth) for p in pred)
    return {"true": len(truth), "found": found, "pred": len(pred), "pred_ok": correct}
