"""Ground-truth myocardium masks in the stage-2 crop frame (training and threshold setting)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .. import crop


def gt_box(label: np.ndarray) -> crop.CropBox | None:
    """The crop stage 2 would use for this slice: centred on the LV (labels 1-4), sized by its area."""
    lv = label >= 1
    if not lv.any():
        return None
    return crop.box_for(ndimage.center_of_mass(lv), float(lv.sum()))


def gt_myocardium_crop(label: np.ndarray) -> np.ndarray | None:
    """Myocardium (labels 2-4) of one EMIDEC-convention label slice, cropped like stage 2."""
    box = gt_box(label)
    if box is None:
        return None
    return crop.extract((label >= 2).astype(np.uint8), box, order=0).astype(bool)
