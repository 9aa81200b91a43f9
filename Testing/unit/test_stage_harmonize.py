"""Intensity harmonisation: only a study outside the training patients' LV range is changed."""

from __future__ import annotations

import numpy as np
import pytest
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions
from ScarSegmentationLib.stages.harmonize import (
    LV_MEDIAN_RANGE,
    IntensityHarmonizeStage,
    harmonizing_gamma,
)
from ScarSegmentationLib.study import Study


def ctx_with_lv_median(median: float) -> PipelineContext:
    rng = np.random.default_rng(0)
    std = rng.uniform(0.0, 1.0, (2, 20, 20)).astype(np.float32)
    roi = np.zeros(std.shape, bool)
    roi[:, 5:15, 5:15] = True
    std[roi] = np.clip(rng.normal(median, 0.02, roi.sum()), 0.001, 0.999)
    ctx = PipelineContext(Study(image=std * 1000, spacing=(1, 1, 8)), PipelineOptions())
    ctx.standardized, ctx.roi_mask = std, roi
    return ctx


def run(ctx: PipelineContext) -> PipelineContext:
    IntensityHarmonizeStage().run(ctx, lambda f, m: None)
    return ctx


def test_a_study_inside_the_training_range_is_left_exactly_as_it_is():
    ctx = ctx_with_lv_median(0.5)
    before = ctx.standardized.copy()
    run(ctx)
    np.testing.assert_array_equal(ctx.standardized, before)
    assert not ctx.notes


@pytest.mark.parametrize(("median", "bound"), [(0.1, 0), (0.9, 1)])
def test_a_darker_or_brighter_heart_is_brought_to_the_nearer_bound(median, bound):
    ctx = ctx_with_lv_median(median)
    raw = ctx.study.image.copy()
    run(ctx)
    got = float(np.median(ctx.standardized[ctx.roi_mask]))
    assert got == pytest.approx(LV_MEDIAN_RANGE[bound], abs=0.01)
    assert ctx.standardized.dtype == np.float32 and ctx.standardized.max() <= 1.0
    np.testing.assert_array_equal(ctx.study.image, raw)  # measurements keep the original image
    assert len(ctx.notes) == 1 and "gamma" in ctx.notes[0]


def test_gamma_is_one_inside_the_range_and_for_degenerate_medians():
    lo, hi = LV_MEDIAN_RANGE
    assert harmonizing_gamma((lo + hi) / 2) == 1.0
    assert harmonizing_gamma(0.0) == 1.0 and harmonizing_gamma(1.0) == 1.0
    assert 0.1 ** harmonizing_gamma(0.1) == pytest.approx(lo)
    assert 0.95 ** harmonizing_gamma(0.95) == pytest.approx(hi)


def test_no_lv_region_leaves_the_study_alone():
    ctx = ctx_with_lv_median(0.1)
    ctx.roi_mask = np.zeros_like(ctx.roi_mask)
    before = ctx.standardized.copy()
    run(ctx)
    np.testing.assert_array_equal(ctx.standardized, before)
