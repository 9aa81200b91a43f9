"""Network inputs from a standardised slice: the ROI view (whole slice) and the LV crop.

`sample_box` reproduces `crop.extract` exactly when no transform is given and adds rotation,
flip and an elastic displacement on the sampling grid (one interpolation, no empty corners),
so training augmentation and inference share the same geometry.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..crop import CROP_SIZE, CropBox, box_for, extract

LV_LABELS = (1, 2, 3, 4)  # blood pool + myocardium (EMIDEC labels)


def context_indices(k: int, context: int, n: int) -> list[int]:
    """Slices k - context .. k + context of a stack of n, clamped at its ends: a 2.5D net's
    input channels, the same in training (data.datasets) and at run time (stages.myocardium)."""
    return [min(max(k + o, 0), n - 1) for o in range(-context, context + 1)]


def roi_box(shape: tuple[int, int]) -> CropBox:
    """The whole slice, zero-padded (centred) to a square."""
    return CropBox(shape[0] / 2.0, shape[1] / 2.0, float(max(shape)))


def antialias(image: np.ndarray, scale: float) -> np.ndarray:
    """Gaussian pre-filter before down-sampling by `scale` (as skimage.transform.resize does)."""
    sigma = max(0.0, (scale - 1.0) / 2.0)
    return ndimage.gaussian_filter(image, sigma) if sigma > 0 else image


def roi_input(std_slice: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Stage-1 input: whole standardised slice padded to square, anti-aliased, size x size."""
    box = roi_box(std_slice.shape)
    return extract(antialias(std_slice, box.side / size), box, size)


def lv_box_from_mask(lv_mask: np.ndarray) -> CropBox | None:
    """The stage-2 crop for an LV mask (centre of mass, area), or None when empty."""
    area = float(np.count_nonzero(lv_mask))
    if area == 0:
        return None
    cy, cx = ndimage.center_of_mass(lv_mask)
    # center_of_mass is in index coordinates; the crop uses pixel-centre coordinates (+0.5).
    return box_for((cy + 0.5, cx + 0.5), area)


def sample_box(
    image: np.ndarray,
    box: CropBox,
    size: int = CROP_SIZE,
    order: int = 1,
    rotation_deg: float = 0.0,
    flip: bool = False,
    displacement: np.ndarray | None = None,
    aspect: float = 1.0,
) -> np.ndarray:
    """Resample `box` of `image` to size x size with an optional rotation about the box centre,
    a left-right flip and a (2, size, size) displacement in crop pixels and an anisotropic stretch (rows x aspect**0.5,
    columns / aspect**0.5: EMIDEC PNG slices were resized anisotropically to 256x256)."""
    t = (np.arange(size) + 0.5) * (box.side / size) - box.side / 2.0
    v, u = np.meshgrid(t, t, indexing="ij")  # offsets from the centre, slice pixels
    if flip:
        u = -u
    if aspect != 1.0:
        v, u = v * aspect**0.5, u / aspect**0.5
    if rotation_deg:
        a = np.deg2rad(rotation_deg)
        v, u = np.cos(a) * v - np.sin(a) * u, np.sin(a) * v + np.cos(a) * u
    if displacement is not None:
        v = v + displacement[0] * box.scale
        u = u + displacement[1] * box.scale
    grid = np.stack([box.center_y + v - 0.5, box.center_x + u - 0.5])
    out = ndimage.map_coordinates(
        np.asarray(image, dtype=np.float32), grid, order=order, mode="constant"
    )
    return out.astype(image.dtype) if order == 0 else out.astype(np.float32)
