"""Slice order apex -> base: the one home of the rules (ScarSegmentationLib.io.slice_order and
evaluate call these).

Geometry first: the LV long axis points from base to apex towards the patient's left, anterior and
inferior, in LPS roughly +x, -y, -z. The sign of the stack normal (direction column k) along that
vector says whether k grows towards the apex or towards the base. The rule is skipped when the
normal is nearly perpendicular to it, or when the direction is axis-aligned: short-axis planes are
double-oblique, so an axis-aligned stack has lost its scanner orientation (e.g. EMIDEC's NIfTI
sform, a unit-scale flip), and its geometry says nothing about where the apex is.

Anatomy when geometry cannot tell: the LV cross-section narrows towards the apex, so the sign of
the fitted LV-area slope over the covered slices gives the order (`area_trend_order`; the
mask-based `anatomical_order` wraps it for the segmentation pipeline and Slicer quantification).
"""

from __future__ import annotations

import numpy as np

# Base -> apex in LPS (left, anterior, inferior), normalised; a population-average direction.
APEX_DIRECTION_LPS = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)
MIN_ALIGNMENT = 0.3  # |cos| below this: the normal is too close to perpendicular to decide
ANATOMY_BASIS = "anatomy (LV cross-section narrows towards the apex)"


def is_axis_aligned(direction: np.ndarray, tol: float = 1e-3) -> bool:
    """True when every index axis lies along a patient axis (no oblique orientation)."""
    d = np.abs(np.asarray(direction, dtype=float).reshape(3, 3))
    return bool(np.all((d < tol) | (d > 1.0 - tol)))


def apex_alignment(direction: np.ndarray) -> float:
    """cos(angle) between the stack normal (column k) and the base -> apex direction."""
    normal = np.asarray(direction, dtype=float).reshape(3, 3)[:, 2]
    return float(normal @ APEX_DIRECTION_LPS / np.linalg.norm(normal))


def geometric_order(direction: np.ndarray, num_slices: int) -> tuple[np.ndarray | None, str]:
    """(apex_to_base, basis) from geometry; apex_to_base is None when geometry cannot tell."""
    if is_axis_aligned(direction):
        return None, "input order (axis-aligned geometry carries no cardiac orientation)"
    cos = apex_alignment(direction)
    if abs(cos) < MIN_ALIGNMENT:
        return None, (
            f"input order (stack normal nearly perpendicular to the expected long axis, cos={cos:+.2f})"
        )
    k = np.arange(num_slices)
    towards = "apex" if cos > 0 else "base"
    order = k[::-1] if cos > 0 else k
    return order, f"geometry (slice index increases towards the {towards}, cos={cos:+.2f})"


def anatomical_order(lv_mask: np.ndarray) -> np.ndarray | None:
    """Apex-to-base order from a (k, j, i) LV mask (blood pool + myocardium): the LV area grows
    toward the base (`area_trend_order`). The slope of all covered slices is more robust than
    "the end farther from the widest slice", which put the apex at the base of EMIDEC Case_P053
    (areas 1324 ... 4433 ... 3900). None with fewer than two LV slices."""
    lv_mask = np.asarray(lv_mask, dtype=bool)
    return area_trend_order(lv_mask.reshape(lv_mask.shape[0], -1).sum(axis=1))


def area_trend_order(lv_area: np.ndarray) -> np.ndarray | None:
    """Apex-to-base order from the LV area per slice: the sign of its least-squares slope over the
    covered slices (the area grows toward the base). None with fewer than two covered slices or a
    flat fit."""
    lv_area = np.asarray(lv_area)
    covered = np.nonzero(lv_area > 0)[0]
    if len(covered) < 2:
        return None
    slope = np.polyfit(covered.astype(float), lv_area[covered].astype(float), 1)[0]
    if slope == 0:
        return None
    k = np.arange(len(lv_area))
    return k if slope > 0 else k[::-1]


def apex_to_base_order(direction: np.ndarray, lv_mask: np.ndarray) -> tuple[np.ndarray, str]:
    """(order, basis): geometry first, anatomy (`anatomical_order`) when geometry cannot tell.

    Without two LV slices the input order is returned, still under the anatomy basis.
    """
    order, _ = geometric_order(direction, lv_mask.shape[0])
    if order is not None:
        return order, "geometry"
    order = anatomical_order(lv_mask)
    return (np.arange(lv_mask.shape[0]) if order is None else order), ANATOMY_BASIS
