"""The scar frame: the stage-2 LV-centred crop box, sampled at 256x256.

Both scar models (YOLO detector and SAM segmenter) work in this frame. The box is the same as
stage 2's (centre of mass of the LV, side = 2 x LV diameter), but sampled at 256 pixels rather
than 128 so small scars keep their detail. Inputs are `intensity.standardize_slice` outputs, as
for the U-Nets.
"""

from __future__ import annotations

import numpy as np

from ..crop import CropBox, extract, paste
from ..data.geometry import LV_LABELS, lv_box_from_mask

SCAR_SIZE = 256
SCAR_LABELS = (3, 4)  # EMIDEC scar + no-reflow


def scar_frame(image2d_standardized: np.ndarray, box: CropBox) -> np.ndarray:
    """Standardised slice -> (256, 256) float32 frame (zeros outside the slice)."""
    return extract(image2d_standardized, box, size=SCAR_SIZE).astype(np.float32)


def label_frame(label2d: np.ndarray, box: CropBox) -> np.ndarray:
    """Label map -> (256, 256) uint8 frame, nearest neighbour (labels are not blended)."""
    return extract(np.asarray(label2d, dtype=np.uint8), box, size=SCAR_SIZE, order=0)


def to_slice(map256: np.ndarray, box: CropBox, shape: tuple[int, int]) -> np.ndarray:
    """A frame-sized map back onto the slice grid (zeros outside the box)."""
    return paste(map256, box, shape)


def frame_to_slice(
    x: float | np.ndarray, y: float | np.ndarray, box: CropBox, size: int = SCAR_SIZE
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Frame coordinates (x, y) -> slice pixel coordinates (column i, row j), as `extract` samples.

    Frame coordinates are pixel edges, as boxes use them (`scar.boxes`: frame pixel q spans
    q <= x < q + 1). Slice coordinates are continuous indices with pixel centres at whole numbers
    (the study's i, j; Slicer's IJK), so a box edge on a pixel boundary lands on a half pixel.
    """
    step = box.side / size  # slice pixels per frame pixel
    # extract samples frame pixel q (centre x = q + 0.5) at slice index cx - side/2 - 0.5 + x*step
    i = box.center_x - box.side / 2.0 - 0.5 + np.asarray(x, dtype=float) * step
    j = box.center_y - box.side / 2.0 - 0.5 + np.asarray(y, dtype=float) * step
    if np.ndim(i) == 0:
        return float(i), float(j)
    return i, j


def gt_box(label2d: np.ndarray) -> CropBox | None:
    """The frame box from ground-truth labels (LV = labels 1-4), None without an LV."""
    return lv_box_from_mask(np.isin(label2d, LV_LABELS))
