"""Slice order apex -> base on a Study, from the stack geometry (or from anatomy when geometry
cannot tell). The rules live in ScarQuantificationLib.apex_base (shared with the quantification
module); this module applies them to a Study and re-exports them for io's callers.
"""

from __future__ import annotations

import numpy as np
from ScarQuantificationLib.apex_base import (
    ANATOMY_BASIS,
    APEX_DIRECTION_LPS,
    MIN_ALIGNMENT,
    anatomical_order,
    apex_alignment,
    geometric_order,
    is_axis_aligned,
)

from ..study import Study

__all__ = [
    "APEX_DIRECTION_LPS",
    "MIN_ALIGNMENT",
    "apex_alignment",
    "geometric_order",
    "is_axis_aligned",
    "order_by_lv_area",
    "order_slices",
]


def order_slices(study: Study) -> Study:
    """Set study.apex_to_base and study.slice_order_basis from geometry (in place; returns it)."""
    order, basis = geometric_order(study.direction, study.num_slices)
    study.apex_to_base = order if order is not None else np.arange(study.num_slices)
    study.slice_order_basis = basis
    return study


def order_by_lv_area(study: Study, lv_mask: np.ndarray) -> Study:
    """Anatomical fallback: the apex is the end farther from the largest LV cross-section.

    lv_mask: bool (k, j, i), blood pool + myocardium. Ties go to the end with the smaller LV
    area. Use only when geometry could not decide (check study.slice_order_basis). Without two
    LV slices the study is left as it is.
    """
    order = anatomical_order(lv_mask)
    if order is not None:
        study.apex_to_base = order
        study.slice_order_basis = ANATOMY_BASIS
    return study
