"""Analytic LV phantom for the quantification tests: a ring of myocardium around a blood pool.

Pixel (row j, col i) belongs to the ring when R_IN <= r < R_OUT, r = distance of the pixel centre
from the centre in pixels (square pixels). Angles are atan2(row offset, col offset) in degrees, the
in-plane angle convention of ScarQuantificationLib.transmurality.
"""

from __future__ import annotations

import numpy as np

SHAPE = (5, 96, 96)
SPACING = (1.5, 1.5, 8.0)  # (i, j, k) mm
CENTRE = (48.0, 48.0)
R_IN, R_OUT = 15.0, 25.0


def polar(shape: tuple[int, ...] = SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """Radius (pixels) and angle (degrees, [0, 360)) of every pixel of one slice."""
    rows, cols = np.mgrid[: shape[-2], : shape[-1]].astype(float)
    dy, dx = rows - CENTRE[0], cols - CENTRE[1]
    return np.hypot(dx, dy), np.mod(np.degrees(np.arctan2(dy, dx)), 360.0)


def ring(shape: tuple[int, ...] = SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """(myocardium, blood pool) 3D masks, identical in every slice."""
    r, _ = polar(shape)
    myo2 = (r >= R_IN) & (r < R_OUT)
    bp2 = r < R_IN
    return np.broadcast_to(myo2, shape).copy(), np.broadcast_to(bp2, shape).copy()


def sector(
    a0: float, a1: float, r0: float = R_IN, r1: float = R_OUT, shape: tuple[int, ...] = SHAPE
) -> np.ndarray:
    """2D mask of ring pixels with angle in [a0, a1) degrees and radius in [r0, r1)."""
    r, a = polar(shape)
    ang = (a >= a0) & (a < a1) if a0 <= a1 else (a >= a0) | (a < a1)
    return ang & (r >= r0) & (r < r1)
