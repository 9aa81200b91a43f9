"""dark_core_no_reflow: the dark core enclosed by scar, not the scar's edges or healthy wall."""

from __future__ import annotations

import numpy as np
from quant_phantom import R_IN, R_OUT, SHAPE, ring, sector
from ScarQuantificationLib.no_reflow import dark_core_no_reflow

MID = (R_IN + R_OUT) / 2


def _image(myo, bp, scar, dark, rng):
    img = np.where(bp, 250.0, 20.0) + np.where(myo, 80.0, 0.0) + rng.normal(0, 3, SHAPE)
    img[scar] += 200.0
    img[dark] -= 200.0  # back to remote-like intensity: no contrast uptake
    return img


def test_subendocardial_core_enclosed_by_scar_is_found():
    rng = np.random.default_rng(0)
    myo, bp = ring()
    scar = np.broadcast_to(sector(0, 90), SHAPE).copy()
    # dark core: inner half of the wall, middle of the scar (bounded by blood pool and scar)
    core = np.broadcast_to(sector(30, 60, R_IN, MID), SHAPE).copy()
    nr = dark_core_no_reflow(_image(myo, bp, scar, core, rng), myo, scar)
    assert not (nr & ~scar).any(), "no-reflow stays inside the scar"
    assert 2 * (nr & core).sum() / (nr.sum() + core.sum()) > 0.9


def test_dark_edge_next_to_healthy_myocardium_is_not_no_reflow():
    rng = np.random.default_rng(1)
    myo, bp = ring()
    scar = np.broadcast_to(sector(0, 90), SHAPE).copy()
    # a dark full-thickness band at the scar's lateral edge: partial volume / over-segmented scar
    edge = np.broadcast_to(sector(80, 90), SHAPE).copy()
    nr = dark_core_no_reflow(_image(myo, bp, scar, edge, rng), myo, scar)
    assert not nr.any()


def test_dark_subepicardial_strip_touching_the_outside_is_not_no_reflow():
    rng = np.random.default_rng(2)
    myo, bp = ring()
    scar = np.broadcast_to(sector(0, 90), SHAPE).copy()
    outer = np.broadcast_to(sector(10, 80, MID + 2, R_OUT), SHAPE).copy()
    nr = dark_core_no_reflow(_image(myo, bp, scar, outer, rng), myo, scar)
    assert not nr.any()


def test_no_scar_or_no_healthy_wall_gives_nothing():
    rng = np.random.default_rng(3)
    myo, bp = ring()
    none = np.zeros(SHAPE, bool)
    img = _image(myo, bp, none, none, rng)
    assert not dark_core_no_reflow(img, myo, none).any()
    assert not dark_core_no_reflow(img, myo, myo).any(), "no remote myocardium, no baseline"
