"""quantify(): masks and tables end to end on the ring phantom; nothing faked without a scar."""

from __future__ import annotations

import numpy as np
import pytest
from quant_phantom import SHAPE, SPACING, ring, sector
from ScarQuantificationLib.quantify import quantify


def _case(seed: int = 0):
    rng = np.random.default_rng(seed)
    myo, bp = ring()
    scar = np.broadcast_to(sector(0, 90), SHAPE).copy()
    core = np.broadcast_to(sector(0, 45), SHAPE).copy()
    img = np.where(bp, 250.0, 20.0) + np.where(myo, 80.0, 0.0) + rng.normal(0, 3, SHAPE)
    img[scar] += 60.0
    img[core] += 140.0
    return img, {"Myocardium": myo, "Blood pool": bp, "Scar": scar}, core


def test_full_quantification():
    img, masks, core = _case()
    res = quantify(img, masks, SPACING)
    assert list(res.tables) == ["measurements", "slices", "lesions", "aha"]
    np.testing.assert_array_equal(res.masks["Core scar"], core)
    np.testing.assert_array_equal(res.masks["Core scar"] | res.masks["Gray zone"], masks["Scar"])
    m = res.tables["measurements"].rows[0]
    assert m["scar_burden_pct"] == pytest.approx(
        100 * masks["Scar"].sum() / masks["Myocardium"].sum()
    )
    assert m["core_scar_burden_pct"] + m["gray_zone_burden_pct"] == pytest.approx(
        m["scar_burden_pct"]
    )
    assert m["core_method"] == "fwhm-remote" and m["core_remote_reference"] == pytest.approx(
        100, abs=1
    )
    assert m["lesions_3d"] == 1 and m["lesions_2d"] == SHAPE[0]
    assert len(res.tables["slices"].rows) == SHAPE[0]
    assert len(res.tables["aha"].rows) == 16
    assert res.thresholds["core"].threshold == pytest.approx(m["core_threshold"])


def test_without_scar_no_scar_outputs():
    img, masks, _ = _case()
    del masks["Scar"]
    res = quantify(img, masks, SPACING)
    assert list(res.tables) == ["measurements", "slices"]
    assert "Core scar" not in res.masks and "Gray zone" not in res.masks
    for t in res.tables.values():
        assert not [c.name for c in t.columns if "scar" in c.name or "core" in c.name]


def test_threshold_scar_when_no_network_scar():
    img, masks, _ = _case(1)
    del masks["Scar"]
    res = quantify(img, masks, SPACING, scar_method="3sd", core_method="fwhm-remote")
    truth = np.broadcast_to(sector(0, 90), SHAPE)
    dice = 2 * np.count_nonzero(res.masks["Scar"] & truth) / (res.masks["Scar"].sum() + truth.sum())
    assert dice > 0.97
    m = res.tables["measurements"].rows[0]
    assert m["scar_method"] == "3sd" and m["core_method"] == "fwhm-remote"
    assert "No-reflow" in res.masks and "lesions" in res.tables


def test_core_method_nsd_and_none():
    img, masks, _ = _case()
    res = quantify(img, masks, SPACING, core_method="2sd")
    assert res.tables["measurements"].rows[0]["core_method"] == "2sd"
    res = quantify(img, masks, SPACING, core_method=None)
    assert "Core scar" not in res.masks
    assert "core_scar_volume_ml" not in {c.name for c in res.tables["measurements"].columns}


def test_hand_made_masks_kept_and_checked():
    img, masks, core = _case()
    masks["Core scar"] = core & sector(0, 20)
    masks["Gray zone"] = masks["Scar"] & ~masks["Core scar"]
    res = quantify(img, masks, SPACING)
    np.testing.assert_array_equal(res.masks["Core scar"], masks["Core scar"])
    assert any("taken from the input" in n for n in res.notes)
    overflow = dict(masks)
    overflow["Scar"] = masks["Scar"].copy()
    overflow["Scar"][:, 10, 10] = True  # outside the ring
    res = quantify(img, overflow, SPACING)
    assert res.masks["Myocardium"][:, 10, 10].all() and res.notes
    with pytest.raises(ValueError, match="unknown segment"):
        quantify(img, {**masks, "LV": masks["Scar"]}, SPACING)
    with pytest.raises(ValueError, match="shape"):
        quantify(img, {"Myocardium": masks["Myocardium"][:2]}, SPACING)
    with pytest.raises(ValueError, match="Myocardium"):
        quantify(img, {"Scar": masks["Scar"]}, SPACING)


def test_whole_myocardium_enhanced_skips_core_with_a_note():
    img, masks, _ = _case()
    masks["Scar"] = masks["Myocardium"].copy()
    res = quantify(img, masks, SPACING)
    assert "Core scar" not in res.masks
    assert any("no core scar split" in n for n in res.notes)
    assert res.tables["measurements"].rows[0]["scar_burden_pct"] == pytest.approx(100.0)


def test_scar_source_is_reported_once_as_scar_method():
    img, masks, _ = _case()
    m = quantify(img, masks, SPACING, scar_source="unet").tables["measurements"]
    assert m.rows[0]["scar_method"] == "unet"
    assert [c.name for c in m.columns].count("scar_method") == 1
    no_scar = {k: v for k, v in masks.items() if k != "Scar"}
    t = quantify(img, no_scar, SPACING, scar_method="3sd", scar_source="unet")
    m = t.tables["measurements"]  # thresholded here: the threshold's own method wins
    assert m.rows[0]["scar_method"] == "3sd"
    assert [c.name for c in m.columns].count("scar_method") == 1


def test_auto_slice_order_is_decided_once_and_returned():
    """apex_to_base="auto": the LV area decides (no geometry here), every table uses it."""
    img, masks, _ = _case()
    grow = np.arange(SHAPE[0])[:, None, None]
    masks = {n: m.copy() for n, m in masks.items()}
    masks["Blood pool"] = masks["Blood pool"] & (np.indices(SHAPE)[1] < 40 + 3 * grow)
    res = quantify(img, masks, SPACING, apex_to_base="auto")
    order = res.apex_to_base.tolist()
    assert order == list(range(SHAPE[0])) == res.slice_order.order.tolist()
    assert res.tables["slices"].values("slice_index") == order
    assert any(n.startswith("slice order") for n in res.notes)
    with pytest.raises(ValueError, match="auto"):
        quantify(img, masks, SPACING, apex_to_base="geometry")
