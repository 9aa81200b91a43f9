"""Per-slice table, regions, apex cap and chord transmurality on the ring phantom."""

from __future__ import annotations

import numpy as np
import pytest
from quant_phantom import CENTRE, R_IN, R_OUT, SHAPE, SPACING, ring, sector
from ScarQuantificationLib.slices import slice_geometry, slice_regions, slice_table
from ScarQuantificationLib.transmurality import (
    chord_fractions,
    chord_samples,
    chord_summary,
    lv_centre,
)

PIXEL = (SPACING[1], SPACING[0])


def test_full_thickness_sector_transmurality_one():
    myo = ring()[0][0]
    s = chord_samples(myo, CENTRE, PIXEL, 100)
    f = chord_fractions(s, myo, sector(0, 90))
    summary = chord_summary(f)
    assert summary["transmurality_max"] == 1.0
    assert summary["transmurality_mean"] > 0.95  # the two border chords may be cut by a pixel
    assert summary["scar_extent_pct"] == pytest.approx(25.0, abs=2.0)
    # Wall length along each chord ~ R_OUT - R_IN pixels.
    wall = s.lengths(myo)
    assert np.median(wall) == pytest.approx((R_OUT - R_IN) * PIXEL[0], abs=PIXEL[0])


def test_subendocardial_half_transmurality():
    myo = ring()[0][0]
    half = sector(0, 360, R_IN, (R_IN + R_OUT) / 2)
    f = chord_fractions(chord_samples(myo, CENTRE, PIXEL, 100), myo, half)
    assert np.nanmean(f) == pytest.approx(0.5, abs=0.05)
    assert np.nanmin(f) > 0.4 and np.nanmax(f) < 0.6
    assert chord_summary(f)["scar_extent_pct"] == 100.0


def test_no_scar_and_open_ring():
    myo = ring()[0][0]
    f = chord_fractions(chord_samples(myo, CENTRE, PIXEL, 100), myo, np.zeros_like(myo))
    assert chord_summary(f) == {
        "transmurality_mean": 0.0,
        "transmurality_max": 0.0,
        "scar_extent_pct": 0.0,
    }
    # Remove a quarter of the wall: those chords miss the wall and are ignored (NaN).
    open_ring = myo & ~sector(90, 180)
    f = chord_fractions(chord_samples(open_ring, CENTRE, PIXEL, 100), open_ring, sector(0, 90))
    assert np.isnan(f).sum() == pytest.approx(25, abs=2)
    assert chord_summary(f)["scar_extent_pct"] == pytest.approx(100 / 3, abs=3)


def test_lv_centre():
    myo, bp = ring()
    assert lv_centre(myo[0], bp[0]) == pytest.approx(CENTRE)
    assert lv_centre(myo[0]) == pytest.approx(CENTRE)  # from the enclosed area
    assert lv_centre(np.zeros_like(myo[0])) is None


def test_regions_thirds_of_the_covered_axis():
    n = 6
    covered = np.ones(n, bool)
    cap = np.zeros(n, bool)
    pos = np.arange(n) * 10.0
    slab = np.full(n, 10.0)
    assert (
        slice_regions(covered, cap, np.arange(n), pos, slab)
        == ["apex"] * 2 + ["mid"] * 2 + ["base"] * 2
    )
    assert (
        slice_regions(covered, cap, np.arange(n)[::-1], pos, slab)
        == ["base"] * 2 + ["mid"] * 2 + ["apex"] * 2
    )
    covered[0] = False  # uncovered slices get no region and the thirds shrink to 5 slices
    regions = slice_regions(covered, cap, np.arange(n), pos, slab)
    assert regions[0] is None and regions[1:] == ["apex", "apex", "mid", "base", "base"]


def test_apex_cap_slice_detected():
    myo, bp = ring()
    myo[0] = sector(0, 360, 0, R_OUT)  # solid disc: myocardium beyond the cavity
    bp[0] = False
    g = slice_geometry({"Myocardium": myo, "Blood pool": bp}, SPACING)
    assert g.cap.tolist() == [True, False, False, False, False]
    assert g.regions[0] == "apex"
    assert g.regions[1:] == ["apex", "mid", "mid", "base"]  # thirds of the 4 cavity slices


def test_slice_table_rows():
    myo, bp = ring()
    scar = np.zeros_like(myo)
    scar[1] = sector(0, 90)
    scar[3] = sector(0, 360, R_IN, (R_IN + R_OUT) / 2)
    order = [4, 3, 2, 1, 0]
    t = slice_table(
        {"Myocardium": myo, "Blood pool": bp, "Scar": scar}, SPACING, apex_to_base=order
    )
    assert t.values("slice_index") == order
    assert t.values("position_mm") == [k * SPACING[2] for k in order]
    assert t.values("region") == ["apex", "apex", "mid", "base", "base"]
    rows = {r["slice_index"]: r for r in t.rows}
    area = myo[0].sum() * SPACING[0] * SPACING[1]
    assert rows[0]["myocardium_area_mm2"] == pytest.approx(area)
    assert rows[1]["scar_pct"] == pytest.approx(25.0, abs=0.5)
    assert rows[1]["transmurality_max"] == 1.0
    assert rows[3]["transmurality_mean"] == pytest.approx(0.5, abs=0.05)
    assert rows[0]["scar_pct"] == 0.0 and rows[0]["transmurality_max"] == 0.0
    assert rows[2]["wall_thickness_mean_mm"] == pytest.approx((R_OUT - R_IN) * SPACING[0], abs=0.5)


def test_slice_table_without_scar_has_no_scar_columns():
    myo, bp = ring()
    t = slice_table({"Myocardium": myo, "Blood pool": bp}, SPACING)
    names = [c.name for c in t.columns]
    assert "myocardium_area_mm2" in names
    assert not [n for n in names if "scar" in n or "transmural" in n]
    assert len(t.rows) == SHAPE[0]


def test_bad_apex_to_base_rejected():
    myo, _ = ring()
    with pytest.raises(ValueError):
        slice_table({"Myocardium": myo}, SPACING, apex_to_base=[0, 1, 2])
