"""Cheap seeded augmentations (numpy/scipy): spatial parameters for `sample_box`, intensity ops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..crop import CropBox


@dataclass
class Spatial:
    box: CropBox
    rotation_deg: float
    flip: bool
    displacement: np.ndarray | None
    aspect: float


def jitter_box(
    box: CropBox,
    rng: np.random.Generator,
    shift: float = 0.10,
    scale: tuple[float, float] = (0.8, 1.25),
) -> CropBox:
    """Centre moved by up to +-shift x side, side scaled log-uniformly within `scale`."""
    dy, dx = rng.uniform(-shift, shift, 2) * box.side
    s = float(np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1]))))
    return CropBox(box.center_y + dy, box.center_x + dx, box.side * s)


def elastic_field(
    rng: np.random.Generator, size: int, alpha: float = 3.0, grid: int = 5
) -> np.ndarray:
    """Smooth random displacement (2, size, size) in output pixels: coarse Gaussian noise
    (grid x grid, std alpha) upsampled with cubic splines."""
    coarse = rng.normal(0.0, alpha, (2, grid, grid))
    return np.stack([ndimage.zoom(c, size / grid, order=3) for c in coarse])[:, :size, :size]


def random_spatial(
    box: CropBox,
    rng: np.random.Generator,
    size: int,
    shift: float,
    scale: tuple[float, float],
    p_elastic: float = 0.5,
) -> Spatial:
    return Spatial(
        box=jitter_box(box, rng, shift, scale),
        rotation_deg=float(rng.uniform(0.0, 360.0)),  # orientation differs across centres
        flip=bool(rng.random() < 0.5),
        displacement=elastic_field(rng, size) if rng.random() < p_elastic else None,
        aspect=float(np.exp(rng.uniform(-np.log(1.5), np.log(1.5)))),
    )


LOG_GAMMA = 0.4  # gamma drawn from exp(U(-LOG_GAMMA, LOG_GAMMA)): 0.67-1.49
NOISE_P, NOISE_MAX = 0.3, 0.04  # Rayleigh noise on 30 % of the draws, scale up to 0.04


def random_intensity(
    image: np.ndarray,
    rng: np.random.Generator,
    log_gamma: float = LOG_GAMMA,
    noise_p: float = NOISE_P,
    noise_max: float = NOISE_MAX,
) -> np.ndarray:
    """Gamma, contrast/brightness and Rayleigh (magnitude-MRI-like) noise on a [0, 1] image."""
    img = np.clip(image, 0.0, 1.0) ** float(np.exp(rng.uniform(-log_gamma, log_gamma)))
    img = img * rng.uniform(0.85, 1.15) + rng.uniform(-0.08, 0.08)
    if rng.random() < noise_p:
        img = img + rng.rayleigh(rng.uniform(0.005, noise_max), img.shape)
    return img.astype(np.float32)


RAW_NOISE_MAX = 0.05  # Rician sigma up to 5 % of the slice's 99th percentile


def rician_noise(image: np.ndarray, sigma_rel: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude-MRI noise on a stored (not yet standardised) image: |image + n1 + i n2| with
    n1, n2 ~ N(0, sigma), sigma = sigma_rel x the image's 99th percentile."""
    x = np.asarray(image, dtype=np.float64)
    sigma = sigma_rel * float(np.percentile(x, 99))
    return np.hypot(x + rng.normal(0, sigma, x.shape), rng.normal(0, sigma, x.shape))
