"""Ablation (not shipped): denoise noisy slices before CLAHE, then score like bench_cv.py.

    NLM_H=0.8 .venv/bin/python bench/ablation_denoise.py --models 'runs/cv4n/fold{k}' \
        --folds 0,1 --threads 1 --variant noise --out runs/cv4n/noise_dn_f01.tsv

Every argument goes to bench_cv.py. The pipeline's standardisation is patched: a slice whose
noise (Immerkaer's fast estimate on the robust-scaled slice) exceeds NOISE_LIMIT gets
scikit-image's non-local means (h = NLM_H x the estimate) before CLAHE; with RICIAN_BIAS=1 the
Rician noise floor is then subtracted (E[M^2] = A^2 + 2 sigma^2). Clean development studies lie
below the limit, so only the noisy variant changes. Results: docs/CROSS_VALIDATION.md (ablations).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import exposure
from skimage.restoration import denoise_nl_means

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "ScarSegmentation"))

import ScarSegmentationLib.stages.standardize as standardize  # noqa: E402
from ScarSegmentationLib.intensity import robust_scale  # noqa: E402

LAPLACIAN_DIFFERENCE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=float)
NOISE_LIMIT = float(os.environ.get("NOISE_LIMIT", "0.012"))
NLM_H = float(os.environ.get("NLM_H", "0.8"))
RICIAN_BIAS = bool(os.environ.get("RICIAN_BIAS"))


def noise_sigma(img: np.ndarray) -> float:
    """Immerkaer (1996): Gaussian noise sigma from the Laplacian-difference response
    (skimage's estimate_sigma would need PyWavelets, which neither environment installs)."""
    response = np.abs(ndimage.convolve(img.astype(float), LAPLACIAN_DIFFERENCE))[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * response.mean() / 6)


def denoised_standardize(slice2d: np.ndarray, clahe: bool = True) -> np.ndarray:
    img = robust_scale(slice2d)
    sigma = noise_sigma(img)
    if sigma > NOISE_LIMIT:
        den = denoise_nl_means(
            img.astype(float), h=NLM_H * sigma, sigma=sigma, fast_mode=True, patch_size=5,
            patch_distance=6,
        )  # fmt: skip
        if RICIAN_BIAS:
            den = robust_scale(np.sqrt(np.maximum(den**2 - 2 * sigma**2, 0.0)))
        img = den.astype(np.float32)
    if clahe and img.max() > 0:
        img = exposure.equalize_adapthist(img, clip_limit=0.01).astype(np.float32)
    return img


if __name__ == "__main__":
    standardize.standardize_slice = denoised_standardize
    import bench_cv

    sys.argv = ["bench_cv.py", *sys.argv[1:]]
    raise SystemExit(bench_cv.main())
