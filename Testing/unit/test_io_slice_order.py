"""Apex -> base slice order from geometry, its fallbacks, and the anatomical refinement."""

from __future__ import annotations

import numpy as np
import pytest
from ScarQuantificationLib.apex_base import ANATOMY_MIN_CHANGE, area_trend, decide_apex_to_base
from ScarSegmentationLib.io import load_study, order_by_lv_area, order_slices, write_volume
from ScarSegmentationLib.io.slice_order import geometric_order
from ScarSegmentationLib.phantom import make_phantom
from ScarSegmentationLib.study import Study


def _frame(normal):
    """A right-handed direction matrix whose column k is `normal`."""
    k = np.asarray(normal, float) / np.linalg.norm(normal)
    i = np.cross([0.0, 0.0, 1.0], k) if abs(k[2]) < 0.9 else np.cross([0.0, 1.0, 0.0], k)
    i /= np.linalg.norm(i)
    return np.column_stack([i, np.cross(k, i), k])


MYOPS_LIKE = _frame([-0.341, 0.864, 0.372])  # Case3001: k grows towards right/posterior/superior


def test_normal_towards_base_keeps_order():
    order, basis = geometric_order(MYOPS_LIKE, 5)
    assert order.tolist() == [0, 1, 2, 3, 4]
    assert basis.startswith("geometry") and "towards the base" in basis


def test_normal_towards_apex_reverses():
    order, basis = geometric_order(_frame([0.341, -0.864, -0.372]), 5)
    assert order.tolist() == [4, 3, 2, 1, 0]
    assert "towards the apex" in basis


def test_axis_aligned_falls_back_to_input_order():
    order, basis = geometric_order(np.diag([1.0, 1.0, 1.0]), 7)
    assert order is None and "axis-aligned" in basis
    study = order_slices(Study(np.zeros((7, 32, 32), np.float32), (1.4, 1.4, 13.0)))
    assert study.apex_to_base.tolist() == list(range(7))
    assert study.slice_order_basis.startswith("input order")


def test_normal_perpendicular_to_long_axis_is_ambiguous():
    # (1, 1, 0) is orthogonal to (1, -1, -1): a long-axis-like stack
    order, basis = geometric_order(_frame([1.0, 1.0, 0.0]), 4)
    assert order is None and "perpendicular" in basis


def test_phantom_order_recovered_either_way(tmp_path):
    for reverse in (False, True):
        study, labels = make_phantom(seed=1, size=96, num_slices=8, reverse_slices=reverse)
        truth = study.apex_to_base.copy()
        path = write_volume(tmp_path / f"p{reverse}.nii.gz", study.image, study)
        loaded = load_study(path)
        assert loaded.apex_to_base.tolist() == truth.tolist()
        assert loaded.slice_order_basis.startswith("geometry")
        lv_area = ((labels >= 1) & (labels <= 4)).sum(axis=(1, 2))
        assert lv_area[truth[0]] < lv_area[truth[-1]]  # the apex end really is the small one


def test_order_by_lv_area():
    study = Study(np.zeros((5, 32, 32), np.float32), (1.5, 1.5, 10.0))
    mask = np.zeros((5, 32, 32), bool)
    for k, radius in enumerate([12, 11, 9, 6, 3]):  # widest at k = 0: the base is first
        mask[k, 16 - radius : 16 + radius, 16 - radius : 16 + radius] = True
    decided = order_by_lv_area(study, mask)
    assert decided.basis == "anatomy" and study.apex_to_base.tolist() == [4, 3, 2, 1, 0]
    assert study.slice_order_basis == decided.note and "anatomy" in decided.note
    order_by_lv_area(study, mask[::-1])
    assert study.apex_to_base.tolist() == [0, 1, 2, 3, 4]


AREAS = [1000, 1500, 2200, 2600, 3000]  # grows with k: k = 0 is the apex


def test_decisive_anatomy_wins_over_disagreeing_geometry():
    # MYOPS_LIKE says k grows towards the base (order 0..4); the areas say the opposite here
    decided = decide_apex_to_base(MYOPS_LIKE, AREAS[::-1])
    assert decided.order.tolist() == [4, 3, 2, 1, 0]
    assert decided.basis == "anatomy" and decided.geometry_disagrees
    assert "anatomy wins" in decided.note and "direction matrix said the opposite" in decided.note
    agree = decide_apex_to_base(MYOPS_LIKE, AREAS)
    assert agree.order.tolist() == [0, 1, 2, 3, 4] and not agree.geometry_disagrees
    assert "agreeing" in agree.note


def test_weak_anatomy_defers_to_geometry_and_else_says_uncertain():
    flat = [2000, 2050, 1990]  # < ANATOMY_MIN_CHANGE: MyoPS Case3008-like
    assert abs(area_trend(flat).change) < ANATOMY_MIN_CHANGE
    by_geometry = decide_apex_to_base(_frame([0.341, -0.864, -0.372]), flat)
    assert by_geometry.order.tolist() == [2, 1, 0] and by_geometry.basis == "geometry"
    assert "anatomy undecided" in by_geometry.note
    guess = decide_apex_to_base(np.eye(3), flat)
    assert guess.basis == "anatomy (uncertain)" and "uncertain" in guess.note
    assert guess.order.tolist() == area_trend(flat).order.tolist()
    none = decide_apex_to_base(np.eye(3), [0, 2000, 0])
    assert none.basis == "input order" and none.order.tolist() == [0, 1, 2]


def test_positions_along_the_stack_set_the_sign():
    """The fit is against the slice position: a stack whose positions fall with k reads the
    same areas the other way round."""
    rising = area_trend(AREAS, positions_mm=[0, 10, 20, 30, 40])
    falling = area_trend(AREAS, positions_mm=[40, 30, 20, 10, 0])
    assert rising.order.tolist() == falling.order.tolist() == [0, 1, 2, 3, 4]
    assert rising.change == pytest.approx(falling.change) and rising.change > 0.5


def test_reversed_storage_gives_the_same_anatomy():
    """Array reversed and direction flipped: the same slices are the apex, whatever the basis."""
    for direction in (np.eye(3), MYOPS_LIKE):
        a = decide_apex_to_base(direction, AREAS)
        flipped = direction.copy()
        flipped[:, 2] *= -1
        b = decide_apex_to_base(flipped, AREAS[::-1])
        n = len(AREAS)
        assert [n - 1 - k for k in b.order] == a.order.tolist()
