"""Slice order apex -> base on a Study. The rules live in ScarQuantificationLib.apex_base (shared
with the quantification module); this module applies them to a Study and re-exports them.

At load (`order_slices`) only the geometry is known: the order is provisional. Once an LV mask
exists (the ROI of stage 1, the final masks of the quantification), `order_by_lv_area` applies
the one rule (decisive anatomy first, else an oblique geometry, else the weak trend) and stores
the decision on the study, so every later stage and table uses it.
"""

from __future__ import annotations

import numpy as np
from ScarQuantificationLib.apex_base import (
    ANATOMY_BASIS,
    APEX_DIRECTION_LPS,
    MIN_ALIGNMENT,
    SliceOrder,
    anatomical_order,
    apex_alignment,
    decide_from_masks,
    geometric_order,
    is_axis_aligned,
)

from ..study import Study

__all__ = [
    "ANATOMY_BASIS",
    "APEX_DIRECTION_LPS",
    "MIN_ALIGNMENT",
    "anatomical_order",
    "apex_alignment",
    "geometric_order",
    "is_axis_aligned",
    "order_by_lv_area",
    "order_slices",
    "set_order",
]


def order_slices(study: Study) -> Study:
    """Provisional order from geometry alone (in place; returns it): set at load, before any
    LV mask exists; `order_by_lv_area` settles it."""
    order, basis = geometric_order(study.direction, study.num_slices)
    study.apex_to_base = order if order is not None else np.arange(study.num_slices)
    study.slice_order_basis = basis
    return study


def order_by_lv_area(study: Study, lv_mask: np.ndarray) -> SliceOrder:
    """Settle the study's order from its geometry and an LV mask (bool (k, j, i), blood pool +
    myocardium) with apex_base.decide_from_masks; stores it on the study and returns it."""
    decided = decide_from_masks(study.direction, lv_mask, study.slice_positions_mm())
    set_order(study, decided)
    return decided


def set_order(study: Study, decided: SliceOrder) -> None:
    study.apex_to_base = np.asarray(decided.order, dtype=int)
    study.slice_order_basis = decided.note
