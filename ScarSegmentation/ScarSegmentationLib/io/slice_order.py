"""Slice order apex -> base, from the stack geometry (or from anatomy when geometry cannot tell).

The LV long axis points from base to apex towards the patient's left, anterior and inferior:
in LPS that is roughly +x, -y, -z. The sign of the stack normal (direction column k) along that
vector says whether k grows towards the apex or towards the base. The rule is skipped when the
normal is nearly perpendicular to it, or when the direction is axis-aligned: short-axis planes
are double-oblique, so an axis-aligned stack has lost its scanner orientation (e.g. EMIDEC's
NIfTI sform, a unit-scale flip), and its geometry says nothing about where the apex is.
"""

from __future__ import annotations

import numpy as np

from ..study import Study

# Base -> apex in LPS (left, anterior, inferior), normalised; a population-average direction.
APEX_DIRECTION_LPS = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)
MIN_ALIGNMENT = 0.3  # |cos| below this: the normal is too close to perpendicular to decide


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


def order_slices(study: Study) -> Study:
    """Set study.apex_to_base and study.slice_order_basis from geometry (in place; returns it)."""
    order, basis = geometric_order(study.direction, study.num_slices)
    study.apex_to_base = order if order is not None else np.arange(study.num_slices)
    study.slice_order_basis = basis
    return study


def order_by_lv_area(study: Study, lv_mask: np.ndarray) -> Study:
    """Anatomical fallback: the apex is the end farther from the largest LV cross-section.

    lv_mask: bool (k, j, i), blood pool + myocardium. Ties go to the end with the smaller LV
    area. Use only when geometry could not decide (check study.slice_order_basis).
    """
    area = np.asarray(lv_mask, dtype=bool).reshape(study.num_slices, -1).sum(axis=1)
    present = np.flatnonzero(area)
    k = np.arange(study.num_slices)
    if present.size < 2:
        return study  # nothing to compare: keep the current order
    first, last = int(present[0]), int(present[-1])
    widest = int(np.argmax(area))
    apex_first = (widest - first) > (last - widest) or (
        (widest - first) == (last - widest) and area[first] <= area[last]
    )
    study.apex_to_base = k if apex_first else k[::-1]
    study.slice_order_basis = "anatomy (LV cross-section narrows towards the apex)"
    return study
