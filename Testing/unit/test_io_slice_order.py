"""Apex -> base slice order from geometry, its fallbacks, and the anatomical refinement."""

from __future__ import annotations

import numpy as np
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
    order_by_lv_area(study, mask)
    assert study.apex_to_base.tolist() == [4, 3, 2, 1, 0]
    assert study.slice_order_basis.startswith("anatomy")
    order_by_lv_area(study, mask[::-1])
    assert study.apex_to_base.tolist() == [0, 1, 2, 3, 4]
