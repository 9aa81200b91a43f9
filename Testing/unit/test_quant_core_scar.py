"""FWHM (literature and remote-baseline) / n-SD core scar and threshold scar on analytic phantoms."""

from __future__ import annotations

import numpy as np
import pytest
from quant_phantom import R_IN, R_OUT, SHAPE, ring, sector
from ScarQuantificationLib.core_scar import (
    DEFAULT_METHOD,
    NoRemoteMyocardium,
    core_scar,
    enclosed_no_reflow,
    method_name,
    parse_method,
    robust_remote_stats,
    threshold_method,
    threshold_scar,
)
from ScarQuantificationLib.quantify import quantify


def _phantom(offset: float = 0.0):
    """Remote 100, gray zone 150/199, core 201/300 (+ offset), sector scar in every slice."""
    myo, bp = ring()
    scar = np.broadcast_to(sector(0, 90), SHAPE).copy()
    core = np.broadcast_to(sector(0, 40), SHAPE).copy()
    img = np.where(bp, 250.0, 0.0) + np.where(myo, 100.0, 0.0)
    img[scar] = 150.0
    img[:, sector(60, 90)] = 199.0
    img[core] = 300.0
    img[:, sector(38, 40)] = 201.0
    return img + offset, myo, scar, core


def test_parse_method():
    assert parse_method("fwhm") is None and parse_method("fwhm-remote") is None
    assert parse_method("3sd") == 3.0
    assert parse_method("2.5-SD") == 2.5
    with pytest.raises(ValueError, match="fwhm-remote"):
        parse_method("otsu")


def test_method_names_are_canonical():
    assert DEFAULT_METHOD == "fwhm-remote"
    for text, name in [
        ("fwhm", "fwhm"),
        (" FWHM ", "fwhm"),
        ("fwhm-remote", "fwhm-remote"),
        ("fwhm remote", "fwhm-remote"),
        ("FWHM_remote", "fwhm-remote"),
        ("5 SD", "5sd"),
        ("2.5-sd", "2.5sd"),
    ]:
        assert method_name(text) == name, text
    assert threshold_method("fwhm").kind == "fwhm"
    assert threshold_method("3sd").n_sd == 3.0


def test_literature_fwhm_is_half_the_maximum():
    """Amado 2004: 50 % of the maximum inside the enhanced region, no baseline."""
    img, myo, scar, _ = _phantom()
    t = core_scar(img, myo, scar, "fwhm").thresholds
    assert t.method == "fwhm"
    assert t.max_intensity == pytest.approx(300.0)
    assert t.threshold == pytest.approx(150.0)  # not 200: the remote (100) does not enter
    res = core_scar(img, myo, scar, "fwhm")
    np.testing.assert_array_equal(res.core, scar & (img >= 150.0))


def test_literature_fwhm_breaks_on_an_offset_and_the_notes_say_so():
    """PSIR-like offset (EMIDEC): half the maximum lies below the remote myocardium, so every
    scar voxel is core; fwhm-remote is unchanged by the offset."""
    img, myo, scar, core = _phantom(offset=2048.0)
    lit = core_scar(img, myo, scar, "fwhm")
    assert lit.thresholds.threshold < lit.thresholds.remote.reference
    np.testing.assert_array_equal(lit.core, scar)
    np.testing.assert_array_equal(core_scar(img, myo, scar, "fwhm-remote").core, core)
    masks = {"Myocardium": myo, "Scar": scar}
    res = quantify(img, masks, (1.5, 1.5, 8.0), core_method="fwhm", detect_rv_insertion=False)
    assert res.tables["measurements"].rows[0]["core_method"] == "fwhm"
    assert any("use fwhm-remote" in n for n in res.notes)
    res = quantify(img, masks, (1.5, 1.5, 8.0), detect_rv_insertion=False)
    assert res.tables["measurements"].rows[0]["core_method"] == "fwhm-remote"
    assert not any("use fwhm-remote" in n for n in res.notes)


def test_fwhm_remote_core_formula_and_known_core():
    img, myo, scar, core = _phantom()
    res = core_scar(img, myo, scar)
    t = res.thresholds
    # Formula: remote median + 0.5 (95th percentile of scar - remote median).
    remote = np.median(img[myo & ~scar])
    imax = np.percentile(img[scar], 95)
    assert t.remote.reference == pytest.approx(100.0) == pytest.approx(remote)
    assert t.max_intensity == pytest.approx(imax) == pytest.approx(300.0)
    assert t.threshold == pytest.approx(remote + 0.5 * (imax - remote)) == pytest.approx(200.0)
    # 199 falls just below, 201 just above: the core is exactly the phantom core.
    np.testing.assert_array_equal(res.core, core)
    np.testing.assert_array_equal(res.gray_zone, scar & ~core)


def test_fwhm_remote_core_ignores_an_intensity_offset():
    """EMIDEC's PSIR-like offset: the baseline makes the split offset-invariant."""
    img, myo, scar, core = _phantom()
    a = core_scar(img, myo, scar)
    b = core_scar(img + 2048.0, myo, scar)
    np.testing.assert_array_equal(a.core, b.core)
    assert b.thresholds.threshold == pytest.approx(a.thresholds.threshold + 2048.0)


def test_nsd_core_threshold():
    rng = np.random.default_rng(0)
    img, myo, scar, _ = _phantom()
    img = img + rng.normal(0, 10, img.shape)
    remote = img[myo & ~scar]
    for n in (2, 3, 5, 6):
        res = core_scar(img, myo, scar, f"{n}sd")
        thr = remote.mean() + n * remote.std()
        assert res.thresholds.threshold == pytest.approx(thr)
        np.testing.assert_array_equal(res.core, scar & (img >= thr))
        assert not (res.core & res.gray_zone).any()
        np.testing.assert_array_equal(res.core | res.gray_zone, scar)


def test_per_slice_core_uses_each_slice_scale():
    """A slice scaled x2 (coil shading): per-slice FWHM still finds the core there."""
    img, myo, scar, core = _phantom()
    img[2] *= 2.0
    glob = core_scar(img, myo, scar)
    local = core_scar(img, myo, scar, per_slice=True)
    np.testing.assert_array_equal(local.core, core)
    assert glob.core[2].sum() > core[2].sum()  # volume threshold calls slice 2's gray zone core
    assert local.thresholds.slice_thresholds[2] == pytest.approx(400.0)


def test_no_reflow_goes_to_core():
    img, myo, scar, core = _phantom()
    nr = np.zeros_like(scar)
    nr[:, sector(70, 80, R_IN, 18)] = True
    img[nr] = 60.0  # dark
    res = core_scar(img, myo, scar, no_reflow=nr)
    assert res.core[nr].all() and not res.gray_zone[nr].any()
    assert res.thresholds.max_intensity == pytest.approx(300.0)


def test_no_remote_myocardium_raises():
    img, myo, _, _ = _phantom()
    with pytest.raises(NoRemoteMyocardium):
        core_scar(img, myo, myo)


def test_robust_remote_with_a_third_enhanced():
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.normal(100, 10, 7000), rng.normal(250, 30, 3000)])
    rs = robust_remote_stats(v)
    assert rs.reference == pytest.approx(100, abs=3)
    assert rs.sd == pytest.approx(10, rel=0.15)
    assert abs(v.mean() - 100) > 40  # the plain mean would be far off


def _noisy_scar_phantom(seed: int = 2):
    rng = np.random.default_rng(seed)
    myo, _ = ring()
    scar = np.broadcast_to(sector(0, 90), SHAPE).copy()
    img = np.where(myo, 100.0, 0.0) + rng.normal(0, 8, SHAPE)
    img[scar] = 300.0 + rng.normal(0, 15, np.count_nonzero(scar))
    return img, myo, scar


@pytest.mark.parametrize("method", ["fwhm-remote", "fwhm", "2sd", "3sd", "5sd", "6sd"])
def test_threshold_scar_recovers_the_sector(method):
    img, myo, scar = _noisy_scar_phantom()
    res = threshold_scar(img, myo, method)
    dice = 2 * np.count_nonzero(res.scar & scar) / (res.scar.sum() + scar.sum())
    assert dice > 0.97
    assert res.thresholds.remote.reference == pytest.approx(100, abs=3)


def test_threshold_scar_per_slice_and_offset():
    img, myo, scar = _noisy_scar_phantom(3)
    a = threshold_scar(img, myo, "fwhm-remote", per_slice=True)
    b = threshold_scar(img + 2048.0, myo, "fwhm-remote", per_slice=True)
    np.testing.assert_array_equal(a.scar, b.scar)
    assert set(a.thresholds.slice_thresholds) == set(range(SHAPE[0]))


def test_dark_no_reflow_enclosed_by_scar_is_filled():
    img, myo, scar = _noisy_scar_phantom(4)
    dark = np.zeros_like(scar)
    dark[:, sector(30, 60, R_IN, 20)] = True  # subendocardial core, scar on three sides
    img[dark] = 70.0
    res = threshold_scar(img, myo, "fwhm-remote")
    np.testing.assert_array_equal(res.no_reflow, dark)
    assert res.scar[dark].all()
    off = threshold_scar(img, myo, "fwhm-remote", fill_no_reflow=False)
    assert not off.scar[dark].any() and not off.no_reflow.any()


def test_remote_wall_between_two_scars_is_not_no_reflow():
    """The remote arc is bordered by scar at both ends but reaches the epicardium."""
    myo, _ = ring()
    scar2 = sector(0, 90) | sector(180, 270)
    assert not enclosed_no_reflow(scar2, myo[0]).any()
    # A non-enhanced island fully inside the wall (R_IN+3..R_OUT-3) surrounded by scar is.
    scar3 = sector(0, 90) & ~sector(30, 60, R_IN + 3, R_OUT - 3)
    hole = enclosed_no_reflow(scar3, myo[0])
    np.testing.assert_array_equal(hole, sector(30, 60, R_IN + 3, R_OUT - 3))


def test_user_remote_region():
    img, myo, scar = _noisy_scar_phantom(5)
    remote = np.zeros_like(myo)
    remote[:, sector(180, 270)] = True
    res = threshold_scar(img, myo, "3sd", remote=remote)
    vals = img[remote & myo]
    assert res.thresholds.remote.source == "user remote region"
    assert res.thresholds.threshold == pytest.approx(vals.mean() + 3 * vals.std())
