"""Slice order apex -> base for a segmentation given without a Study (Slicer's quantification).

Same rules as the segmentation pipeline (ScarSegmentationLib.io.slice_order, which this package may
not import): the stack geometry decides when the stack is oblique and its normal points along the
LV long axis; otherwise the LV cross-section, which narrows towards the apex, decides.
"""

from __future__ import annotations

import numpy as np

# Base -> apex in LPS (left, anterior, inferior), normalised; a population-average direction.
APEX_DIRECTION_LPS = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)
MIN_ALIGNMENT = 0.3  # |cos| below this: the normal is too close to perpendicular to decide


def geometric_order(direction: np.ndarray, num_slices: int) -> np.ndarray | None:
    """Apex-to-base slice indices from the LPS direction matrix, None when geometry cannot tell.

    An axis-aligned stack has lost its scanner orientation (short-axis planes are double-oblique).
    """
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    if np.all((np.abs(d) < 1e-3) | (np.abs(d) > 1.0 - 1e-3)):
        return None
    normal = d[:, 2] / np.linalg.norm(d[:, 2])
    cos = float(normal @ APEX_DIRECTION_LPS)
    if abs(cos) < MIN_ALIGNMENT:
        return None
    k = np.arange(num_slices)
    return k[::-1] if cos > 0 else k  # cos > 0: k grows towards the apex


def anatomical_order(lv_mask: np.ndarray) -> np.ndarray:
    """Apex-to-base order from a (k, j, i) LV mask: the apex is the end farther from the widest
    cross-section (ties: the end with the smaller area). Input order without two LV slices."""
    area = np.asarray(lv_mask, dtype=bool).reshape(lv_mask.shape[0], -1).sum(axis=1)
    k = np.arange(lv_mask.shape[0])
    present = np.flatnonzero(area)
    if present.size < 2:
        return k
    first, last = int(present[0]), int(present[-1])
    widest = int(np.argmax(area))
    apex_first = (widest - first) > (last - widest) or (
        (widest - first) == (last - widest) and area[first] <= area[last]
    )
    return k if apex_first else k[::-1]


def apex_to_base_order(direction: np.ndarray, lv_mask: np.ndarray) -> tuple[np.ndarray, str]:
    """(order, basis): geometry first, anatomy when geometry cannot tell."""
    order = geometric_order(direction, lv_mask.shape[0])
    if order is not None:
        return order, "geometry"
    return anatomical_order(lv_mask), "anatomy (LV cross-section narrows towards the apex)"
