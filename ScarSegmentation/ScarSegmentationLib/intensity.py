"""Intensity standardisation shared by training and inference, so both centres look alike.

EMIDEC images carry a phase-sensitive-like offset (air near mid-range), MyoPS are magnitude
images with a black background; robust percentile scaling followed by CLAHE maps both to a
similar contrast in [0, 1].
"""

from __future__ import annotations

import numpy as np
from skimage import exposure

LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5


def robust_scale(image: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] between low/high percentiles, clipping outliers."""
    img = np.asarray(image, dtype=np.float32)
    lo, hi = np.percentile(img, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.zeros_like(img)
    return np.clip((img - lo) / (hi - lo), 0.0, 1.0)


def standardize_slice(slice2d: np.ndarray, clahe: bool = True) -> np.ndarray:
    """One 2D slice -> float32 in [0, 1]: robust scaling, then CLAHE (contrast-limited)."""
    img = robust_scale(slice2d)
    if clahe and img.max() > 0:
        img = exposure.equalize_adapthist(img, clip_limit=0.01).astype(np.float32)
    return img


def standardize_stack(stack: np.ndarray, clahe: bool = True) -> np.ndarray:
    """(k, j, i) stack -> standardised per slice (the training data is per-slice scaled)."""
    return np.stack([standardize_slice(s, clahe=clahe) for s in stack]).astype(np.float32)
