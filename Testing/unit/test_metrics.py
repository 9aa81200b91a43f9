"""Metric functions against hand-computed small cases, including the empty conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ScarQuantificationLib import metrics as m
from scipy import ndimage


def square(shape=(12, 12), top=2, left=2, size=4):
    a = np.zeros(shape, dtype=bool)
    a[top : top + size, left : left + size] = True
    return a


def test_dice_hand_computed():
    a = square(size=4)  # 16 pixels
    b = square(left=3, size=4)  # shifted one column: 12 in common
    assert m.dice(a, b) == pytest.approx(2 * 12 / 32)
    assert m.dice(a, a) == 1.0


def test_empty_conventions():
    e = np.zeros((8, 8), bool)
    f = square((8, 8))
    assert m.dice(e, e) == 1.0
    assert m.hausdorff(e, e) == 0.0
    assert m.hd95(e, e) == 0.0
    assert m.area_similarity(e, e) == 1.0
    assert m.perimeter_similarity(e, e) == 1.0
    for a, b in ((e, f), (f, e)):
        assert m.dice(a, b) == 0.0
        assert math.isnan(m.hausdorff(a, b))
        assert math.isnan(m.hd95(a, b))
        assert m.area_similarity(a, b) == 0.0
        assert m.perimeter_similarity(a, b) == 0.0
    with pytest.raises(ValueError):
        m.surface_distances(e, f)


def test_one_pixel_shift_hausdorff_uses_spacing_in_ijk_order():
    # spacing (i, j) = (0.5 mm columns, 2.0 mm rows)
    a = square()
    col_shift = square(left=3)
    row_shift = square(top=3)
    assert m.hausdorff(a, col_shift, (0.5, 2.0)) == pytest.approx(0.5)
    assert m.hausdorff(a, row_shift, (0.5, 2.0)) == pytest.approx(2.0)
    # Half the surface pixels of each side coincide, the other half are one pixel off.
    assert m.hd95(a, row_shift, (0.5, 2.0)) == pytest.approx(2.0)
    assert m.hausdorff(a, a, (0.5, 2.0)) == 0.0


def test_hausdorff_far_pixel_and_hd95_robustness():
    a = np.zeros((1, 40, 40), bool)
    a[0, 5:25, 5:25] = True
    b = a.copy()
    b[0, 35, 35] = True  # one stray pixel 10 px (diagonal) from the square's corner (24, 24)
    spacing = (1.0, 1.0, 8.0)
    assert m.hausdorff(a, b, spacing) == pytest.approx(math.hypot(11, 11))
    # The stray pixel is 1 of many surface pixels of b: HD95 ignores it.
    assert m.hd95(a, b, spacing) == pytest.approx(0.0)


def test_hausdorff_matches_brute_force_on_random_blobs():
    rng = np.random.default_rng(0)
    a = ndimage.gaussian_filter(rng.random((3, 20, 20)), 1.5) > 0.5
    b = ndimage.gaussian_filter(rng.random((3, 20, 20)), 1.5) > 0.5
    assert a.any() and b.any() and not np.array_equal(a, b)
    spacing = (0.7, 1.3, 5.0)
    scale = np.array(spacing[::-1])
    pa = np.argwhere(m.boundary(a)) * scale
    pb = np.argwhere(m.boundary(b)) * scale
    d = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=2)
    expected = max(d.min(axis=1).max(), d.min(axis=0).max())
    assert m.hausdorff(a, b, spacing) == pytest.approx(expected)


def test_area_and_perimeter_similarity_known_sizes():
    small, large = square(size=4), square(size=6)  # 16 / 36 pixels, 12 / 20 boundary pixels
    assert m.area_similarity(small, large) == pytest.approx(1 - 20 / 52)
    assert int(m.boundary(small, in_plane=True).sum()) == 12
    assert m.perimeter_similarity(small, large) == pytest.approx(1 - 8 / 32)
    # A shifted copy has the same area and perimeter: AS = PS = 1 although Dice < 1.
    shifted = square(left=5, size=4)
    assert m.area_similarity(small, shifted) == 1.0
    assert m.perimeter_similarity(small, shifted) == 1.0
    assert m.dice(small, shifted) < 1.0


def test_perimeter_of_stack_is_sum_of_slices():
    stack = np.stack([square(size=4), square(size=6), np.zeros((12, 12), bool)])
    assert int(m.boundary(stack, in_plane=True).sum()) == 12 + 20
    # The 3D surface also counts the top and bottom faces: every voxel of a 1-2 slice stack.
    assert int(m.boundary(stack).sum()) == 16 + 36


def test_balanced_accuracy_and_region():
    ref = np.array([1, 1, 0, 0, 0, 0], bool)
    pred = np.array([1, 0, 1, 0, 0, 0], bool)
    # sensitivity 1/2, specificity 3/4
    assert m.balanced_accuracy(pred, ref) == pytest.approx((0.5 + 0.75) / 2)
    region = np.array([1, 1, 1, 0, 0, 0], bool)
    assert m.balanced_accuracy(pred, ref, region) == pytest.approx((0.5 + 0.0) / 2)
    # No reference positives: specificity only; empty region: NaN.
    assert m.balanced_accuracy(pred, np.zeros(6, bool)) == pytest.approx(4 / 6)
    assert math.isnan(m.balanced_accuracy(pred, ref, np.zeros(6, bool)))


def test_brier_score():
    ref = np.array([1, 0, 1, 0], bool)
    prob = np.array([1.0, 0.0, 0.5, 0.25])
    assert m.brier_score(prob, ref) == pytest.approx((0 + 0 + 0.25 + 0.0625) / 4)
    assert m.brier_score(prob, ref, np.array([0, 0, 1, 0], bool)) == pytest.approx(0.25)
    assert math.isnan(m.brier_score(prob, ref, np.zeros(4, bool)))
    with pytest.raises(ValueError):
        m.brier_score(prob * 2, ref)


def test_volume_mass_burden():
    myo = np.zeros((2, 10, 10), bool)
    myo[:, 2:8, 2:8] = True  # 72 voxels
    scar = np.zeros_like(myo)
    scar[0, 2:5, 2:8] = True  # 18 voxels
    spacing = (1.5, 2.0, 10.0)  # 30 mm3 per voxel
    assert m.volume_ml(myo, spacing) == pytest.approx(72 * 30 / 1000)
    assert m.mass_g(scar, spacing) == pytest.approx(18 * 30 / 1000 * 1.05)
    assert m.burden_percent(scar, myo) == pytest.approx(25.0)
    assert math.isnan(m.burden_percent(scar, np.zeros_like(myo)))
    with pytest.raises(ValueError):
        m.volume_ml(myo, (1.0, 1.0))  # spacing must match the dimension


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        m.dice(np.zeros((3, 3)), np.zeros((3, 4)))
