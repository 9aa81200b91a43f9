"""Synthetic LGE-like scar on a ring phantom: where it goes, how bright, how big, how wired in."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from quant_phantom import R_IN, R_OUT, ring
from ScarSegmentationLib.data import synthetic_scar as ss
from ScarSegmentationLib.data.datasets import PreparedSlice, make_sample
from ScarSegmentationLib.data.geometry import lv_box_from_mask
from ScarSegmentationLib.data.synthetic_scar import ScarIntensityBank, add_synthetic_scar
from ScarSegmentationLib.training import train_unet
from scipy import ndimage

SHAPE = (96, 96)
SEEDS = range(12)
BG, BP, MYO, NOISE = 0.2, 0.75, 0.35, 0.03


def phantom(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standardised-like image (blood pool brighter than the wall, as in LGE) and EMIDEC labels."""
    myo, bp = ring(SHAPE)
    label = np.zeros(SHAPE, np.uint8)
    label[bp] = 1
    label[myo] = 2
    img = np.full(SHAPE, BG, np.float32)
    img[bp], img[myo] = BP, MYO
    img += np.random.default_rng(1000 + seed).normal(0, NOISE, SHAPE).astype(np.float32)
    return np.clip(img, 0, 1), label


def with_scar(img: np.ndarray, label: np.ndarray, value: float = 0.7) -> tuple:
    """The phantom with a real (labelled) scar patch in the wall."""
    lab, im = label.copy(), img.copy()
    patch = (label == 2) & (np.arange(SHAPE[1])[None, :] > 65)
    lab[patch] = 3
    im[patch] = value
    return im, lab


def prepared(img: np.ndarray, label: np.ndarray) -> PreparedSlice:
    box = lv_box_from_mask(label >= 1)
    return PreparedSlice("p", "emidec", 0, img, img, label, box)


@pytest.mark.parametrize("seed", SEEDS)
def test_scar_label_only_inside_the_myocardium(seed):
    img, label = phantom(seed)
    out_img, out_lab = add_synthetic_scar(img, label, np.random.default_rng(seed))
    assert out_lab.dtype == np.uint8 and out_img.dtype == np.float32
    assert out_img.shape == img.shape and out_lab.shape == label.shape
    assert set(np.unique(out_lab)) <= {0, 1, 2, 3, 4}
    new = out_lab >= 3
    assert new.any()
    assert not (new & (label != 2)).any()
    # everything else keeps its label
    np.testing.assert_array_equal(out_lab[~new], label[~new])


@pytest.mark.parametrize("seed", SEEDS)
def test_image_changes_only_in_or_next_to_the_myocardium(seed):
    img, label = phantom(seed)
    before = img.copy()
    out_img, _ = add_synthetic_scar(img, label, np.random.default_rng(seed))
    np.testing.assert_array_equal(img, before)  # input untouched
    dist = ndimage.distance_transform_edt(label != 2)  # px to the nearest myocardium pixel
    changed = out_img != img
    assert changed[dist == 0].any()
    assert not changed[dist > ss.GATE_PX].any()
    # the blur's spill outside the wall is small next to the enhancement inside
    delta = np.abs(out_img - img)
    assert delta[dist > 0].sum() < 0.2 * delta[dist == 0].sum()
    assert np.all((out_img >= 0) & (out_img <= 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_scar_is_brighter_than_the_remaining_myocardium(seed):
    img, label = phantom(seed)
    out_img, out_lab = add_synthetic_scar(img, label, np.random.default_rng(seed))
    scar, remote = out_lab == 3, out_lab == 2
    # the weakest real scar (5th percentile) sits ~0.5 of the way to the blood pool
    assert out_img[scar].mean() > out_img[remote].mean() + 0.2 * (BP - MYO)


def test_lesion_median_matches_the_bank_contrast():
    # a bank holding one real slice's contrast: the synthetic lesion reproduces it
    img, label = phantom()
    for ratio in (0.6, 1.2):
        bank = ScarIntensityBank(np.array([ratio]), np.array([1.0]), np.array([-0.5]))
        for seed in range(4):
            out_img, out_lab = add_synthetic_scar(img, label, np.random.default_rng(seed), bank)
            remote = np.median(out_img[out_lab == 2])
            measured = (np.median(out_img[out_lab == 3]) - remote) / (BP - remote)
            assert measured == pytest.approx(ratio, abs=0.12), (ratio, seed)


def test_deterministic_for_a_seeded_rng():
    img, label = phantom()
    a = add_synthetic_scar(img, label, np.random.default_rng(7))
    b = add_synthetic_scar(img, label, np.random.default_rng(7))
    c = add_synthetic_scar(img, label, np.random.default_rng(8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_lesion_size_within_the_stated_range():
    img, label = phantom()
    myo = np.count_nonzero(label == 2)
    fractions = []
    for seed in range(60):
        _, lab = add_synthetic_scar(img, label, np.random.default_rng(seed))
        fractions.append(np.count_nonzero(lab >= 3) / myo)
    lo, hi = 0.05, 0.40  # the documented range (not read from the module)
    assert min(fractions) > 0.6 * lo and max(fractions) < 1.15 * hi, fractions
    assert np.ptp(fractions) > 0.15  # sizes vary across the range, not one size


@pytest.mark.parametrize("seed", SEEDS)
def test_lesions_grow_from_the_endocardium(seed):
    img, label = phantom(seed)
    _, lab = add_synthetic_scar(img, label, np.random.default_rng(seed))
    comps, n = ndimage.label(lab >= 3)
    touching = np.unique(comps[ndimage.binary_dilation(label == 1) & (comps > 0)])
    # (almost) all scar pixels belong to lesions reaching the blood pool: subendocardial
    assert np.isin(comps[comps > 0], touching).mean() > 0.9
    # and scar is denser at the endocardium than at the epicardium
    r = np.hypot(*(np.mgrid[: SHAPE[0], : SHAPE[1]] - 48.0))
    inner, outer = (label == 2) & (r < R_IN + 2), (label == 2) & (r >= R_OUT - 2)
    assert (lab[inner] >= 3).mean() >= (lab[outer] >= 3).mean()


def test_no_reflow_core_lies_inside_a_scar_and_is_darker(monkeypatch):
    monkeypatch.setattr(ss, "P_NO_REFLOW", 1.0)
    img, label = phantom()
    found = 0
    for seed in range(10):
        out_img, lab = add_synthetic_scar(img, label, np.random.default_rng(seed))
        core = lab == 4
        if not core.any():
            continue
        found += 1
        # each core touches scar of its lesion, and is darker than that scar
        assert (ndimage.binary_dilation(core) & (lab == 3)).any()
        assert np.median(out_img[core]) < np.median(out_img[lab == 3])
    assert found >= 3


def test_slice_with_scar_is_returned_unchanged():
    img, label = with_scar(*phantom())
    out_img, out_lab = add_synthetic_scar(img, label, np.random.default_rng(0))
    np.testing.assert_array_equal(out_img, img)
    np.testing.assert_array_equal(out_lab, label)


def test_bank_from_slices_measures_relative_contrast_and_texture():
    img, label = phantom()
    rng = np.random.default_rng(3)
    lab = label.copy()
    scar = (label == 2) & (np.arange(SHAPE[1])[None, :] > 70)
    lab[scar] = 3
    im = img.copy()
    im[scar] = MYO + 0.8 * (BP - MYO) + rng.normal(0, 2 * NOISE, scar.sum())
    bank = ScarIntensityBank.from_slices([(im, lab), phantom(1)])  # the normal slice is skipped
    assert len(bank) == 1
    assert bank.contrast[0] == pytest.approx(0.8, abs=0.05)
    assert bank.texture[0] == pytest.approx(2.0, rel=0.2)
    # no slice with no-reflow, none with scar: the documented defaults
    np.testing.assert_array_equal(bank.no_reflow, ScarIntensityBank.default().no_reflow)
    empty = ScarIntensityBank.from_slices([phantom(1)])
    np.testing.assert_array_equal(empty.contrast, ScarIntensityBank.default().contrast)


def test_make_sample_adds_scar_only_when_asked():
    s = prepared(*phantom())
    with_p1 = make_sample(s, "scar_unet", np.random.default_rng(0), synthetic_scar=1.0)[1]
    with_p0 = make_sample(s, "scar_unet", np.random.default_rng(0), synthetic_scar=0.0)[1]
    assert (with_p1 == 3).any()
    assert not (with_p0 == 3).any()
    # only for the scar head: the myocardium net's sample ignores the option
    a = make_sample(s, "myocardium", np.random.default_rng(0), synthetic_scar=1.0)
    b = make_sample(s, "myocardium", np.random.default_rng(0))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    # no augmentation (rng None, e.g. validation): never synthetic
    assert not (make_sample(s, "scar_unet", None, synthetic_scar=1.0)[1] == 3).any()


def test_make_sample_leaves_slices_with_scar_alone():
    s = prepared(*with_scar(*phantom()))
    a = make_sample(s, "scar_unet", np.random.default_rng(0), synthetic_scar=1.0)
    b = make_sample(s, "scar_unet", np.random.default_rng(0))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_train_batch_passes_the_option_through():
    s = prepared(*phantom())
    bank = ScarIntensityBank.default()
    _, y = train_unet._batch([s, s], "scar_unet", np.random.default_rng(0), 1.0, bank)
    assert (y == 3).any(dim=(1, 2)).all()
    _, y = train_unet._batch([s, s], "scar_unet", np.random.default_rng(0))
    assert not (y == 3).any()


def test_cli_option_defaults_off_and_is_checked(tmp_path):
    parser = argparse.ArgumentParser()
    train_unet.add_arguments(parser)
    assert parser.parse_args([]).synthetic_scar == 0.0
    args = parser.parse_args(["--synthetic-scar", "0.5", "--out", str(tmp_path / "run")])
    args.kind = "roi"
    with pytest.raises(ValueError, match="scar_unet"):
        train_unet.run(args)
    args.kind, args.synthetic_scar = "scar_unet", 1.5
    with pytest.raises(ValueError, match="probability"):
        train_unet.run(args)
    assert not (tmp_path / "run").exists()  # refused before anything is written
