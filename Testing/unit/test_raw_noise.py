"""Noise before standardisation: Rician noise at the requested level on the stored slice, drawn
only when asked for, and the training sample standardised after it (as a noisy scan is)."""

from __future__ import annotations

import numpy as np
import pytest
from ScarSegmentationLib.data.augment import rician_noise
from ScarSegmentationLib.data.datasets import PreparedSlice, make_sample
from ScarSegmentationLib.data.geometry import lv_box_from_mask
from ScarSegmentationLib.intensity import standardize_slice
from scipy import ndimage


def test_rician_noise_level_is_relative_to_the_99th_percentile():
    flat = np.full((200, 200), 100.0)
    out = rician_noise(flat, 0.1, np.random.default_rng(0))  # sigma 10
    assert out.min() >= 0 and out.std() == pytest.approx(10.0, rel=0.05)
    assert out.mean() == pytest.approx(np.sqrt(100.0**2 + 10.0**2), rel=0.01)  # Rician bias
    # in air (zero signal) it is Rayleigh: mean sigma * sqrt(pi / 2)
    air = np.zeros((200, 200))
    air[:3] = 100.0  # 1.5 % bright rows set the 99th percentile
    noisy = rician_noise(air, 0.1, np.random.default_rng(0))[3:]
    assert noisy.mean() == pytest.approx(10.0 * np.sqrt(np.pi / 2), rel=0.03)


def _slice() -> PreparedSlice:
    yy, xx = np.mgrid[:96, :96]
    r = np.hypot(yy - 48, xx - 48)
    label = np.where(r < 12, 1, np.where(r < 20, 2, 0)).astype(np.uint8)  # blood pool, wall
    raw = (200.0 + 400.0 * (label == 1) + 50.0 * (label == 2)).astype(np.float32)
    std = standardize_slice(raw)
    return PreparedSlice("p", "emidec", 0, std, std, label, lv_box_from_mask(label >= 1), raw)


def test_make_sample_draws_nothing_without_raw_noise_and_noisy_views_with_it():
    s = _slice()
    default = make_sample(s, "scar_nr", np.random.default_rng(3), size=64)
    off = make_sample(s, "scar_nr", np.random.default_rng(3), size=64, raw_noise=(0.0, 0.05))
    np.testing.assert_array_equal(default[0], off[0])  # P = 0 leaves the random stream alone
    quiet = dict(size=64, log_gamma=0.0, noise=(0.0, 0.04))  # no other intensity change
    clean = make_sample(s, "scar_nr", np.random.default_rng(4), **quiet)
    noisy = make_sample(s, "scar_nr", np.random.default_rng(4), raw_noise=(1.0, 0.05), **quiet)

    # the flat blood pool (away from its edge) gains texture only from the noise
    def pool(sample):
        return sample[0][ndimage.binary_erosion(sample[1] == 1, iterations=3)]

    assert pool(clean).std() < 0.01 < pool(noisy).std()
    assert 0.0 <= noisy[0].min() and noisy[0].max() <= 1.3  # standardised after the noise
    # the ROI net's views are left as they were
    roi = make_sample(s, "roi", np.random.default_rng(4), raw_noise=(1.0, 0.05), **quiet)
    np.testing.assert_array_equal(
        roi[0], make_sample(s, "roi", np.random.default_rng(4), **quiet)[0]
    )
