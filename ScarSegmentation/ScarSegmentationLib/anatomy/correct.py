"""Correction of an implausible myocardium mask through the autoencoder's latent space.

The mask is encoded to z; z* is the nearest latent of the plausible bank; the corrected mask is
the decoding of z + t (z* - z) for the smallest t in [0, 1] whose decoding passes the checks
(a coarse grid decoded in one batch, then bisection between the last failing and first passing
grid points). t = 1 decodes a bank latent, which passed when the bank was built, so a passing
mask always exists. Optionally a cheap clean-up (largest object, pinholes filled) is tried first,
because it keeps the prediction's own boundary where the network was right.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .checks import CheckResult, CheckThresholds, check_myocardium
from .latent import LatentBank

Encoder = Callable[[np.ndarray], np.ndarray]  # (N, S, S) bool -> (N, D)
Decoder = Callable[[np.ndarray], np.ndarray]  # (N, D) -> (N, S, S) bool

METHOD_NONE = "none"  # passed as predicted: left untouched
METHOD_CLEANUP = "cleanup"  # largest object + pinholes filled
METHOD_LATENT = "latent"  # decoding of the corrected latent
METHOD_FAILED = "failed"  # no passing mask found (should not happen with a valid bank)


@dataclass
class Correction:
    mask: np.ndarray  # the (possibly corrected) mask
    method: str
    t: float  # step toward the nearest plausible latent (latent method), else 0
    before: CheckResult
    after: CheckResult


def cleanup(mask: np.ndarray) -> np.ndarray:
    """Largest 8-connected object, with every enclosed background region but the largest (the
    blood-pool cavity) filled."""
    lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return mask.astype(bool)
    out = lab == 1 + int(np.argmax(ndimage.sum_labels(mask, lab, range(1, n + 1))))
    bg, m = ndimage.label(~out)
    border = set(np.unique(np.concatenate([bg[0], bg[-1], bg[:, 0], bg[:, -1]])).tolist())
    enclosed = [i for i in range(1, m + 1) if i not in border]
    if len(enclosed) > 1:
        sizes = ndimage.sum_labels(np.ones_like(out), bg, enclosed)
        cavity = enclosed[int(np.argmax(sizes))]
        out |= np.isin(bg, [i for i in enclosed if i != cavity])
    return out


def correct_mask(
    mask: np.ndarray,
    encode: Encoder,
    decode: Decoder,
    bank: LatentBank,
    allow_open: bool = False,
    thresholds: CheckThresholds | None = None,
    try_cleanup: bool = True,
    grid: int = 8,
    bisections: int = 4,
    neighbours: int = 3,
) -> Correction:
    """Return the mask unchanged if it passes, else the smallest latent correction that passes."""
    mask = np.asarray(mask, dtype=bool)

    def check(m: np.ndarray) -> CheckResult:
        return check_myocardium(m, allow_open=allow_open, thresholds=thresholds)

    before = check(mask)
    if before.passes:
        return Correction(mask, METHOD_NONE, 0.0, before, before)
    if try_cleanup:
        cleaned = cleanup(mask)
        after = check(cleaned)
        if after.passes:
            return Correction(cleaned, METHOD_CLEANUP, 0.0, before, after)
    if len(bank) == 0:
        return Correction(mask, METHOD_FAILED, 0.0, before, before)

    z = encode(mask[None])[0]
    ts = np.linspace(0.0, 1.0, grid + 1)
    for j in bank.nearest(z, allow_open, k=neighbours):
        direction = bank.latents[j] - z
        decoded = decode((z[None] + ts[:, None] * direction[None]).astype(np.float32))
        first = next((i for i in range(len(ts)) if check(decoded[i]).passes), None)
        if first is None:
            continue  # the endpoint failed (numerical edge case): try the next neighbour
        best_t, best = ts[first], decoded[first]
        lo = ts[first - 1] if first > 0 else None
        for _ in range(bisections if lo is not None else 0):
            mid = 0.5 * (lo + best_t)
            m = decode((z + mid * direction)[None].astype(np.float32))[0]
            if check(m).passes:
                best_t, best = mid, m
            else:
                lo = mid
        return Correction(best, METHOD_LATENT, float(best_t), before, check(best))
    return Correction(mask, METHOD_FAILED, 0.0, before, before)
