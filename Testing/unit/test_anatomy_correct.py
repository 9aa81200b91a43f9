"""Latent correction with a stub decoder whose latent opens a gap in a ring."""

import numpy as np
import pytest
from ScarSegmentationLib.anatomy.checks import blood_pool_cavity, check_myocardium
from ScarSegmentationLib.anatomy.correct import (
    METHOD_CLEANUP,
    METHOD_FAILED,
    METHOD_LATENT,
    METHOD_NONE,
    cleanup,
    correct_mask,
)
from ScarSegmentationLib.anatomy.gmm import GaussianMixture
from ScarSegmentationLib.anatomy.latent import LatentBank, build_bank

S = 128
YY, XX = np.mgrid[:S, :S]
ANG = np.arctan2(YY - 63.5, XX - 63.5)


def annulus(outer=32.0, inner=22.0):
    r2 = (YY - 63.5) ** 2 + (XX - 63.5) ** 2
    return (r2 <= outer**2) & (r2 > inner**2)


def decode(z):
    """Latent (gap, _) -> ring with a gap of max(0, gap - 0.3) radians at angle 0."""
    return np.stack([annulus() & ~(np.abs(ANG) < max(0.0, zz[0] - 0.3) / 2) for zz in z])


def encode(masks):
    """Measure the gap: the fraction of angles around the centre without myocardium."""
    out = []
    for m in masks:
        covered = np.unique((ANG[m] / (2 * np.pi) * 360).astype(int))
        out.append([2 * np.pi * (1 - len(covered) / 360) + 0.3, 0.0])
    return np.array(out, dtype=np.float32)


BANK = LatentBank(
    latents=np.array([[0.0, 0.0], [0.2, 5.0]], dtype=np.float32),
    closed=np.array([True, True]),
    source=np.zeros(2, dtype=np.int8),
)


def test_passing_mask_is_left_untouched():
    ring = annulus()
    c = correct_mask(ring, encode, decode, BANK)
    assert c.method == METHOD_NONE and c.mask is not None
    assert np.array_equal(c.mask, ring) and c.before.passes


def test_broken_ring_is_corrected_by_the_smallest_step():
    broken = decode(np.array([[1.3, 0.0]]))[0]  # a 1-radian gap
    assert not check_myocardium(broken).passes
    c = correct_mask(broken, encode, decode, BANK)
    assert c.method == METHOD_LATENT
    assert c.after.passes and check_myocardium(c.mask).passes
    # the smallest step: a step shorter by the bisection resolution (1/8/2^4) still fails
    z = encode(broken[None])[0]
    shorter = z + (c.t - 1 / 128) * (BANK.latents[0] - z)
    assert not check_myocardium(decode(shorter[None])[0]).passes
    # the gap closes (to below a pixel) near t = 1 - 0.3 / z0
    assert 0.6 < c.t <= 1 - 0.3 / z[0] + 1e-6


def test_cleanup_fixes_speckle_without_the_autoencoder():
    noisy = annulus().copy()
    noisy[5:8, 5:8] = True  # detached speck
    noisy[63:67, 63 + 25 : 63 + 29] = False  # a hole in the wall
    c = correct_mask(noisy, encode, decode, BANK)
    assert c.method == METHOD_CLEANUP and c.after.passes
    assert np.array_equal(c.mask, annulus())
    assert np.array_equal(cleanup(annulus()), annulus())


def test_empty_bank_fails_honestly():
    broken = decode(np.array([[1.3, 0.0]]))[0]
    empty = LatentBank(np.zeros((0, 2), np.float32), np.zeros(0, bool), np.zeros(0, np.int8))
    c = correct_mask(broken, encode, decode, empty)
    assert c.method == METHOD_FAILED and not c.after.passes


def test_blood_pool_cavity():
    cav = blood_pool_cavity(annulus())
    assert cav.sum() == pytest.approx(np.pi * 22**2, rel=0.03)
    c_shape = annulus() & ~(np.abs(ANG) < 0.8)
    mouth = blood_pool_cavity(c_shape)
    assert mouth.sum() > 0.8 * cav.sum() and not (mouth & c_shape).any()


def test_bank_keeps_only_plausible_latents():
    # closed ring, a "C" (1.2 rad gap: plausible at the base only), a 4.5 rad gap (implausible)
    train = np.array([[0.0, 0.0], [1.5, 0.0], [4.8, 0.0]], dtype=np.float32)
    gmm = GaussianMixture(np.array([1.0]), np.array([[2.5, 0.0]]), np.eye(2)[None] * 4.0)
    bank, stats = build_bank(train, decode, gmm, 20, np.random.default_rng(0), batch=16)
    assert bank.latents[bank.source == 0].tolist() == [[0.0, 0.0], [1.5, 0.0]]
    assert bank.closed[bank.source == 0].tolist() == [True, False]
    assert stats["samples_accepted"] == 20 and stats["acceptance_rate"] < 1.0
    for z, closed in zip(bank.latents, bank.closed, strict=True):
        r = check_myocardium(decode(z[None])[0], allow_open=True)
        assert r.passes and (r.ring == "closed") == closed
