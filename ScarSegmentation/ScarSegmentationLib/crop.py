"""The LV-centred crop used between stage 1 (ROI) and stage 2 (myocardium), and its inverse.

The crop is relative to the heart's size, not to the pixel spacing: a square of side
CROP_FACTOR x the LV diameter, centred on the ROI's centre of mass and resampled to
CROP_SIZE x CROP_SIZE. This makes the myocardium network see hearts at one scale whatever the
centre's field of view or pixel size (EMIDEC PNG slices carry no spacing at all).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

CROP_SIZE = 128
CROP_FACTOR = 2.0  # crop side / LV (blood pool + myocardium) equivalent diameter
MIN_SIDE = 24.0  # pixels; guards against a tiny spurious ROI


@dataclass(frozen=True)
class CropBox:
    """Square crop in slice pixel coordinates: centre (row, col) and side length (pixels)."""

    center_y: float
    center_x: float
    side: float

    @property
    def scale(self) -> float:
        """Slice pixels per crop pixel."""
        return self.side / CROP_SIZE


def lv_diameter(area_pixels: float) -> float:
    """Equivalent circle diameter of an LV region of the given area."""
    return 2.0 * float(np.sqrt(max(area_pixels, 0.0) / np.pi))


def box_for(
    center_yx: tuple[float, float], lv_area_pixels: float, factor: float = CROP_FACTOR
) -> CropBox:
    side = max(factor * lv_diameter(lv_area_pixels), MIN_SIDE)
    return CropBox(float(center_yx[0]), float(center_yx[1]), side)


def _grid(box: CropBox, size: int) -> np.ndarray:
    # Pixel centres of the crop mapped into slice coordinates.
    t = (np.arange(size) + 0.5) * (box.side / size) - box.side / 2.0
    yy, xx = np.meshgrid(box.center_y + t - 0.5, box.center_x + t - 0.5, indexing="ij")
    return np.stack([yy, xx])


def extract(image2d: np.ndarray, box: CropBox, size: int = CROP_SIZE, order: int = 1) -> np.ndarray:
    """Resample the crop from a slice (zeros outside). order=0 for label maps."""
    out = ndimage.map_coordinates(
        np.asarray(image2d, dtype=np.float32), _grid(box, size), order=order, mode="constant"
    )
    return out.astype(image2d.dtype if order == 0 else np.float32)


def paste(crop: np.ndarray, box: CropBox, shape: tuple[int, int], order: int = 1) -> np.ndarray:
    """Map a crop-frame map (size x size) back onto a slice of the given shape (zeros outside)."""
    size = crop.shape[-1]
    yy, xx = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    s = size / box.side
    cy = (yy + 0.5 - box.center_y + box.side / 2.0) * s - 0.5
    cx = (xx + 0.5 - box.center_x + box.side / 2.0) * s - 0.5
    out = ndimage.map_coordinates(
        np.asarray(crop, dtype=np.float32), np.stack([cy, cx]), order=order, mode="constant"
    )
    return out
