"""Morphological checks on synthetic myocardium shapes in the 128x128 crop frame."""

import numpy as np
import pytest
from ScarSegmentationLib.anatomy.checks import (
    RING_CLOSED,
    RING_NONE,
    RING_OPEN,
    check_myocardium,
)

S = 128


def disk(cy, cx, r, shape=(S, S)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


def annulus(outer=32.0, inner=22.0, cy=63.5, cx=63.5):
    return disk(cy, cx, outer) & ~disk(cy, cx, inner)


def wedge(a0, width, cy=63.5, cx=63.5):
    yy, xx = np.mgrid[:S, :S]
    ang = np.arctan2(yy - cy, xx - cx)
    return np.abs(np.angle(np.exp(1j * (ang - a0)))) < width / 2


def test_annulus_passes():
    r = check_myocardium(annulus())
    assert r.passes, r.failed()
    assert r.ring == RING_CLOSED and r.n_objects == 1 and r.n_wall_holes == 0
    assert r.circularity == pytest.approx(1.0, abs=0.03)
    assert r.lv_diameter == pytest.approx(64, abs=2)
    # wall 10 px thick on a 64 px LV
    assert r.thickness_low == pytest.approx(10 / 64, abs=0.04)


def test_hole_in_wall_fails_only_holes():
    m = annulus() & ~disk(63.5, 63.5 + 27, 2.5)  # a hole in the middle of the wall
    r = check_myocardium(m)
    assert not r.passes
    assert r.failed() == ["no_holes"]
    assert r.n_wall_holes == 1


def test_pinhole_is_ignored():
    m = annulus().copy()
    m[63, 63 + 27] = False  # one-pixel speckle, as in some MyoPS labels
    assert check_myocardium(m).passes


def test_gap_fails_ring_and_two_objects_fail():
    gap = annulus() & ~wedge(0.0, 0.3)
    r = check_myocardium(gap)
    assert not r.passes and not r.ring_ok and r.ring == RING_OPEN
    two = annulus() | disk(10, 10, 4)
    r2 = check_myocardium(two)
    assert r2.n_objects == 2 and "one_object" in r2.failed()


def test_spike_fails_convexity():
    m = annulus().copy()
    m[61:66, 63:118] = True  # a thin spur sticking out 22 px (a third of the diameter)
    r = check_myocardium(m)
    assert not r.convexity_ok and not r.passes


def test_flat_ellipse_fails_circularity():
    yy, xx = np.mgrid[:S, :S]
    outer = ((yy - 63.5) / 14) ** 2 + ((xx - 63.5) / 60) ** 2 <= 1
    inner = ((yy - 63.5) / 8) ** 2 + ((xx - 63.5) / 52) ** 2 <= 1
    r = check_myocardium(outer & ~inner)
    assert not r.circularity_ok


def test_thick_and_thin_walls_fail_thickness():
    thick = check_myocardium(annulus(32, 4))  # almost no cavity: wall 0.88 of the diameter
    assert not thick.thickness_ok
    thin = check_myocardium(annulus(32, 31))  # 1 px wall
    assert not thin.thickness_ok


def test_solid_disk_has_no_ring():
    r = check_myocardium(disk(63.5, 63.5, 30))
    assert r.ring == RING_NONE and not r.passes


def test_c_shape_passes_only_at_the_base():
    c = annulus() & ~wedge(np.pi / 2, 1.6)  # a ring open over about 90 degrees
    assert check_myocardium(c, allow_open=True).passes, check_myocardium(c, True).failed()
    r = check_myocardium(c, allow_open=False)
    assert not r.passes and r.failed() == ["ring_ok"]
    assert 0.6 < r.arc_coverage < 0.9


def test_small_arc_is_not_a_c():
    arc = annulus() & wedge(0.0, 1.5)  # a quarter ring
    r = check_myocardium(arc, allow_open=True)
    assert r.ring == RING_NONE and not r.passes


def test_empty_mask_fails():
    r = check_myocardium(np.zeros((S, S), bool))
    assert not r.passes and r.area == 0
