"""Transmurality along radial chords from the LV centre, in one short-axis slice.

A chord is a ray from the LV (blood-pool) centre, sampled every `step` mm out to the edge of the
myocardium. Per chord: wall length = length inside the myocardium, enhanced length = length inside
myocardium and the enhanced mask, transmurality = enhanced / wall (0..1). Chords that miss the wall
(e.g. the open outflow part of a basal ring) are NaN and ignored. Lengths are in mm, so anisotropic
pixels are handled; sampling is nearest-neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

N_CHORDS = 100


@dataclass
class ChordSamples:
    """Sample points of `n` chords: index arrays (n, m) and the in-plane chord angles."""

    rows: np.ndarray  # (n, m) int, -1 where outside the image
    cols: np.ndarray
    angles: np.ndarray  # (n,) radians, atan2(y_mm, x_mm) with x along i (columns), y along j (rows)
    step_mm: float

    def lengths(self, mask2d: np.ndarray) -> np.ndarray:
        """Length (mm) of each chord inside a 2D mask."""
        inside = self.rows >= 0
        hit = np.zeros(self.rows.shape, bool)
        hit[inside] = np.asarray(mask2d, bool)[self.rows[inside], self.cols[inside]]
        return hit.sum(axis=1) * self.step_mm


def lv_centre(
    myo2d: np.ndarray, blood_pool2d: np.ndarray | None = None
) -> tuple[float, float] | None:
    """(row, col) of the blood-pool centroid; else of the area enclosed by the myocardium; else of
    the myocardium itself (apex cap); None when the slice has no myocardium."""
    myo = np.asarray(myo2d, bool)
    if not myo.any():
        return None
    for cand in (
        np.asarray(blood_pool2d, bool) & ~myo if blood_pool2d is not None else None,
        ndimage.binary_fill_holes(myo) & ~myo,
        myo,
    ):
        if cand is not None and cand.any():
            r, c = ndimage.center_of_mass(cand)
            return float(r), float(c)
    return None


def chord_samples(
    myo2d: np.ndarray,
    centre: tuple[float, float],
    pixel_spacing: tuple[float, float],
    n_chords: int = N_CHORDS,
    step_mm: float | None = None,
) -> ChordSamples:
    """Chords at n equally spaced angles (physical in-plane angles), long enough to leave the
    myocardium. pixel_spacing = (row, col) mm = (spacing_j, spacing_i)."""
    sy, sx = (float(s) for s in pixel_spacing)
    step = float(step_mm) if step_mm else 0.25 * min(sx, sy)
    myo = np.asarray(myo2d, bool)
    rr, cc = np.nonzero(myo)
    r0, c0 = centre
    rmax = (
        float(np.hypot((rr - r0) * sy, (cc - c0) * sx).max()) + 2 * max(sx, sy) if rr.size else 0.0
    )
    t = np.arange(0.0, rmax + step, step)
    angles = np.linspace(0.0, 2 * np.pi, n_chords, endpoint=False)
    rows = np.rint(r0 + np.outer(np.sin(angles), t) / sy).astype(int)
    cols = np.rint(c0 + np.outer(np.cos(angles), t) / sx).astype(int)
    outside = (rows < 0) | (cols < 0) | (rows >= myo.shape[0]) | (cols >= myo.shape[1])
    rows[outside] = -1
    cols[outside] = -1
    return ChordSamples(rows, cols, angles, step)


def chord_fractions(samples: ChordSamples, myo2d: np.ndarray, enhanced2d: np.ndarray) -> np.ndarray:
    """Transmurality per chord (0..1), NaN where the chord does not cross the myocardium."""
    myo = np.asarray(myo2d, bool)
    wall = samples.lengths(myo)
    enh = samples.lengths(myo & np.asarray(enhanced2d, bool))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(wall > 0, enh / np.where(wall > 0, wall, 1.0), np.nan)


def chord_summary(fractions: np.ndarray) -> dict[str, float | None]:
    """Mean and max transmurality over the chords that cross the enhanced region (fraction > 0),
    and the circumferential extent: % of wall-crossing chords that cross it."""
    f = np.asarray(fractions, float)
    wall = f[np.isfinite(f)]
    enhanced = wall[wall > 0]
    if wall.size == 0:
        return {"transmurality_mean": None, "transmurality_max": None, "scar_extent_pct": None}
    if enhanced.size == 0:
        return {"transmurality_mean": 0.0, "transmurality_max": 0.0, "scar_extent_pct": 0.0}
    return {
        "transmurality_mean": float(enhanced.mean()),
        "transmurality_max": float(enhanced.max()),
        "scar_extent_pct": 100.0 * enhanced.size / wall.size,
    }
