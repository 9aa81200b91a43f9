"""Intensity harmonisation after stage 1: a study whose heart is darker or brighter, once
standardised, than any training patient's gets a gamma that brings it to the edge of that range.

Standardisation (robust percentiles + CLAHE) makes centres alike but not another contrast curve:
with a gamma of 1.6 applied to MyoPS test studies, the median standardised intensity of the LV
(blood pool + myocardium) fell from 0.29-0.48 to 0.08-0.29, below every training patient, and
the scar head lost most of the scar (Case3015: burden 15 % -> 1.7 %; bench/bench_robustness.py).
Here the median of the standardised stack inside the stage-1 LV region is compared with the
range of the same median over the training patients (LV_MEDIAN_RANGE;
`python -m ScarSegmentationLib.training.intensity_range` recomputes it); outside it, the
standardised stack (what stage 2, the detector and SAM see; not the raw image the thresholds and
measurements use) becomes x ** g with g such that the median lands on the nearer bound. Studies
inside the range are left exactly as they are (all training patients; one val and no test
patient lies outside, by 0.01). A partial remedy, measured on the val patients
(bench/bench_robustness.py --split val --scar-method unet): with gamma 2.2 the MyoPS myocardium
Dice fell by 0.117 without it and by 0.091 with it, the scar Dice by 0.066 and 0.047; the stage-1
region is larger than the LV, so its median moves less than the heart's.
"""

from __future__ import annotations

import math

import numpy as np

from ..pipeline import PipelineContext, ProgressCallback
from .standardize import ensure_standardized

# Per-patient median of the standardised stack inside stage 1's LV region, min and max over the
# 73 training patients of split.json (EMIDEC 0.506-0.791, MyoPS 0.255-0.650).
LV_MEDIAN_RANGE = (0.255, 0.791)


def harmonizing_gamma(median: float, bounds: tuple[float, float] = LV_MEDIAN_RANGE) -> float:
    """The gamma that maps `median` onto the nearer bound when outside them, else 1."""
    lo, hi = bounds
    if not 0.0 < median < 1.0 or lo <= median <= hi:
        return 1.0
    return math.log(lo if median < lo else hi) / math.log(median)


class IntensityHarmonizeStage:
    name = "harmonize"

    def __init__(self, bounds: tuple[float, float] = LV_MEDIAN_RANGE) -> None:
        self.bounds = bounds

    def run(self, ctx: PipelineContext, progress: ProgressCallback) -> None:
        std = ensure_standardized(ctx)
        roi = ctx.roi_mask
        if roi is None or not roi.any():
            return  # stage 1 found no LV; stage 2 reports that
        median = float(np.median(std[roi]))
        gamma = harmonizing_gamma(median, self.bounds)
        if gamma != 1.0:
            ctx.standardized = np.power(std, gamma, dtype=np.float32)
            lo, hi = self.bounds
            ctx.notes.append(
                f"intensities harmonised: the LV's median standardised intensity {median:.2f} "
                f"lay outside the training patients' {lo:.2f}-{hi:.2f}; gamma {gamma:.2f} "
                "applied to the networks' input (measurements use the original image)"
            )
        progress(1.0, "intensities checked")
