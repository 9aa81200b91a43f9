"""Clinical measures on the ring phantom: volumes, masses, burden, slab rule, absent columns."""

from __future__ import annotations

import numpy as np
import pytest
from quant_phantom import R_IN, R_OUT, SHAPE, SPACING, ring, sector
from ScarQuantificationLib.measures import DENSITY_G_PER_ML, clinical_measures
from ScarQuantificationLib.slices import slab_thickness_mm

VOXEL_ML = SPACING[0] * SPACING[1] * SPACING[2] / 1000.0


def _masks():
    myo, bp = ring()
    scar = np.broadcast_to(sector(0, 90), SHAPE).copy()
    nr = np.broadcast_to(sector(30, 60, R_IN, 18), SHAPE).copy()
    return {"Myocardium": myo, "Blood pool": bp, "Scar": scar, "No-reflow": nr}


def _row(table):
    assert len(table.rows) == 1
    return table.rows[0]


def test_volumes_masses_burden_known_to_the_voxel():
    m = _masks()
    row = _row(clinical_measures(m, SPACING))
    n_myo = m["Myocardium"].sum()
    n_scar = m["Scar"].sum()
    assert row["myocardium_volume_ml"] == pytest.approx(n_myo * VOXEL_ML)
    assert row["myocardium_mass_g"] == pytest.approx(n_myo * VOXEL_ML * DENSITY_G_PER_ML)
    assert row["scar_volume_ml"] == pytest.approx(n_scar * VOXEL_ML)
    assert row["scar_mass_g"] == pytest.approx(n_scar * VOXEL_ML * 1.05)
    assert row["scar_burden_pct"] == pytest.approx(100.0 * n_scar / n_myo)
    assert row["no_reflow_volume_ml"] == pytest.approx(m["No-reflow"].sum() * VOXEL_ML)
    assert row["blood_pool_volume_ml"] == pytest.approx(m["Blood pool"].sum() * VOXEL_ML)
    assert row["slices_used"] == SHAPE[0]
    # Against the continuous geometry: ring area pi (R_OUT^2 - R_IN^2) px, quarter sector scar.
    analytic = np.pi * (R_OUT**2 - R_IN**2) * SHAPE[0] * VOXEL_ML
    assert row["myocardium_volume_ml"] == pytest.approx(analytic, rel=0.02)
    assert row["scar_burden_pct"] == pytest.approx(25.0, abs=0.5)
    # LV cavity = the area enclosed by the ring = blood pool here.
    assert row["lv_cavity_volume_ml"] == pytest.approx(row["blood_pool_volume_ml"])


def test_cavity_includes_unlabelled_papillary_muscle():
    m = _masks()
    bp = m["Blood pool"].copy()
    bp[:, 45:50, 45:50] = False  # a papillary muscle left out of the blood pool
    m["Blood pool"] = bp
    row = _row(clinical_measures(m, SPACING))
    assert row["lv_cavity_volume_ml"] - row["blood_pool_volume_ml"] == pytest.approx(
        25 * SHAPE[0] * VOXEL_ML
    )


def test_slab_rule_with_gaps():
    pos = np.array([0.0, 10.0, 20.0, 40.0, 50.0])
    np.testing.assert_allclose(slab_thickness_mm(pos, 8.0), [10, 10, 15, 15, 10])
    # Unsorted positions (k order need not follow position order).
    np.testing.assert_allclose(slab_thickness_mm(pos[::-1], 8.0), [10, 15, 15, 10, 10])
    np.testing.assert_allclose(slab_thickness_mm(np.array([3.0]), 8.0), [8.0])
    m = _masks()
    row = _row(clinical_measures(m, SPACING, positions_mm=pos, slice_thickness_mm=6.0))
    area_ml = m["Myocardium"][0].sum() * SPACING[0] * SPACING[1] / 1000.0
    assert row["myocardium_volume_ml"] == pytest.approx(area_ml * 60.0)
    assert row["slice_thickness_mm"] == 6.0
    assert row["slice_spacing_mm"] == pytest.approx(10.0)


def test_no_scar_means_no_scar_columns():
    myo, bp = ring()
    table = clinical_measures({"Myocardium": myo, "Blood pool": bp}, SPACING)
    names = {c.name for c in table.columns}
    assert "myocardium_mass_g" in names
    assert not any("scar" in n or "reflow" in n or "gray" in n for n in names)


def test_columns_have_units_and_descriptions():
    table = clinical_measures(_masks(), SPACING)
    for c in table.columns:
        assert c.description
        if c.name.endswith("_ml"):
            assert c.unit == "ml" and "spacing" in c.description
        if c.name.endswith("_g"):
            assert c.unit == "g"


def test_empty_slices_are_not_used():
    m = _masks()
    for name in m:
        m[name] = m[name].copy()
        m[name][0] = False
    row = _row(clinical_measures(m, SPACING))
    assert row["slices_used"] == SHAPE[0] - 1
