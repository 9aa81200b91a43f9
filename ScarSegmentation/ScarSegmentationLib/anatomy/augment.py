"""Augmented ground-truth myocardium crops and synthetic corruptions for autoencoder training.

Spatial: the stage-2 crop with rotation, flip, scale and shift jitter, resampled with linear
interpolation from the slice mask and thresholded (smoother than nearest-neighbour). Corruption
(denoising training): gaps, blobs, holes and speckle like failed network predictions, so that
broken masks encode close to the plausible ones they came from.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..crop import CROP_SIZE, CropBox


def augmented_crop(
    myo: np.ndarray,
    box: CropBox,
    rng: np.random.Generator,
    size: int = CROP_SIZE,
    scale: tuple[float, float] = (0.85, 1.18),
    shift: float = 0.05,
) -> np.ndarray:
    """The crop of a slice mask under a random rotation/flip/scale/shift; bool (size, size)."""
    theta = rng.uniform(0.0, 2.0 * np.pi)
    s = box.side * float(np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1]))))
    cy, cx = np.array([box.center_y, box.center_x]) + rng.uniform(-shift, shift, 2) * box.side
    t = (np.arange(size) + 0.5) * (s / size) - s / 2.0
    v, u = np.meshgrid(t, t, indexing="ij")
    if rng.random() < 0.5:
        u = -u
    c, sn = np.cos(theta), np.sin(theta)
    yy = cy + c * v - sn * u - 0.5
    xx = cx + sn * v + c * u - 0.5
    out = ndimage.map_coordinates(myo.astype(np.float32), [yy, xx], order=1, mode="constant")
    return out > 0.5


def _disk(size: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.ogrid[:size, :size]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


def corrupt(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One to three random defects of the kinds stage-2 predictions show."""
    out = mask.copy()
    size = mask.shape[0]
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return out
    cy, cx = ys.mean(), xs.mean()
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.integers(5)
        i = rng.integers(ys.size)
        py, px = ys[i], xs[i]
        if kind == 0:  # gap: a wedge of the ring removed
            ang = np.arctan2(*np.mgrid[:size, :size] - np.array([cy, cx])[:, None, None])
            a0 = rng.uniform(-np.pi, np.pi)
            width = rng.uniform(0.1, 0.6)
            out &= ~(np.abs(np.angle(np.exp(1j * (ang - a0)))) < width / 2)
        elif kind == 1:  # blob stuck to the outside or filling part of the cavity
            out |= _disk(size, py + rng.normal(0, 8), px + rng.normal(0, 8), rng.uniform(3, 10))
        elif kind == 2:  # holes in the wall
            out &= ~_disk(size, py, px, rng.uniform(1.5, 4))
        elif kind == 3:  # detached speckle
            out |= _disk(size, rng.uniform(0, size), rng.uniform(0, size), rng.uniform(1, 4))
        else:  # wall locally too thin or too thick
            region = _disk(size, py, px, rng.uniform(8, 20))
            op = ndimage.binary_erosion if rng.random() < 0.5 else ndimage.binary_dilation
            out = np.where(region, op(out, iterations=int(rng.integers(1, 4))), out)
    return out
