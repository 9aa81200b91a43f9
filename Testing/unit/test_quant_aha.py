"""AHA segment assignment on a synthetic ring with a known enhanced sector, and the bullseye."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread
from quant_phantom import CENTRE, R_OUT, SPACING, ring, sector
from ScarQuantificationLib.aha import SEPTUM_FROM_ANTERIOR_DEG, aha_table, point_to_ijk, segment_of
from ScarQuantificationLib.bullseye import bullseye_from_table, bullseye_png, segment_wedge

# Three cavity slices -> apex / mid / base thirds; the phantom has 5, keep 3.
SHAPE3 = (3, 96, 96)


def _masks(scar2d: np.ndarray, n: int = 3):
    myo, bp = ring((n, 96, 96))
    scar = np.broadcast_to(scar2d, myo.shape).copy()
    return {"Myocardium": myo, "Blood pool": bp, "Scar": scar}


def _pct(table) -> dict[int, float]:
    return dict(zip(table.values("segment"), table.values("scar_pct"), strict=True))


def test_segment_of_boundaries():
    deg = np.radians
    assert segment_of(
        deg(np.array([0, 59, 60, 119, 120, 179, 180, 239, 240, 299, 300, 359])), "basal"
    ).tolist() == [
        2,
        2,
        3,
        3,
        4,
        4,
        5,
        5,
        6,
        6,
        1,
        1,
    ]
    assert segment_of(deg(np.array([10, 70, 130])), "mid").tolist() == [8, 9, 10]
    # Apical: septal (14) centred on the septum at 60 degrees.
    assert segment_of(deg(np.array([16, 104, 106, 194, 196, 284, 286, 14])), "apical").tolist() == [
        14,
        14,
        15,
        15,
        16,
        16,
        13,
        13,
    ]
    assert segment_of(deg(np.array([5.0])), "apex").tolist() == [17]


def _sector_aha(theta0: float, theta1: float, insertion: float, sense: int) -> np.ndarray:
    """Ring pixels whose AHA angle is in [theta0, theta1), for a reference (insertion atan2 angle,
    sense) in degrees."""
    a0, a1 = insertion + sense * theta0, insertion + sense * theta1
    lo, hi = (a0, a1) if sense > 0 else (a1, a0)
    return sector(lo % 360, hi % 360)


# Identity geometry: anterior = -j (atan2 -90), patient right = -i, so the AHA angle turns
# clockwise in atan2 terms (sense -1) and the insertion is 60 - 25 = 35 degrees lateral of anterior.
IDENTITY = (-90.0 + (60.0 - SEPTUM_FROM_ANTERIOR_DEG), -1)
# i flipped to the patient's right: the septum is on +i, the sense turns.
FLIPPED = (-90.0 - (60.0 - SEPTUM_FROM_ANTERIOR_DEG), 1)


def test_inferior_sector_estimated_from_identity_geometry():
    """Identity direction: the AHA inferior segments (120-180 degrees) land where expected."""
    t = aha_table(_masks(_sector_aha(120, 180, *IDENTITY)), SPACING)
    pct = _pct(t)
    # Border pixel lines may change sides (the test sector and the segments are half-open
    # on opposite sides): ~10 of ~210 pixels.
    assert pct[4] == pytest.approx(100, abs=6) and pct[10] == pytest.approx(100, abs=6)
    assert pct[15] == pytest.approx(100 * 60 / 90, abs=4)
    others = [s for s in range(1, 17) if s not in (4, 10, 15)]
    assert max(pct[s] for s in others) < 6
    assert 17 not in pct  # no apex cap covered
    assert "estimated" in t.rows[0]["angle_reference"]
    rows = {r["segment"]: r for r in t.rows}
    assert rows[4]["transmurality_max"] == 1.0 and rows[4]["scar_extent_pct"] > 90
    assert rows[1]["transmurality_max"] == 0.0
    assert rows[4]["n_slices"] == 1 and rows[4]["myocardium_ml"] > 0


def test_septum_follows_the_patient_right():
    """The septum centre sits 25 degrees from anterior towards the patient's right, whichever way
    the i axis points."""
    flip = np.diag([-1.0, 1.0, 1.0])
    # Identity: anterior -j (up), right -i (left): septum centre at atan2 -115 degrees.
    septum = sector(-115 - 30 + 360, -115 + 30 + 360)
    pct = _pct(aha_table(_masks(septum), SPACING))
    assert pct[2] == pytest.approx(50, abs=4) and pct[3] == pytest.approx(50, abs=4)
    assert pct[14] == pytest.approx(100 * 60 / 90, abs=4) and pct[16] < 1
    # Flipped: right is +i, septum centre at atan2 -65 degrees.
    septum = sector(-65 - 30 + 360, -65 + 30 + 360)
    pct = _pct(aha_table(_masks(septum), SPACING, direction=flip))
    assert pct[2] == pytest.approx(50, abs=4) and pct[3] == pytest.approx(50, abs=4)
    # And the lateral wall (AHA 240) of the flipped frame.
    pct = _pct(aha_table(_masks(_sector_aha(210, 270, *FLIPPED)), SPACING, direction=flip))
    assert pct[5] == pytest.approx(50, abs=4) and pct[6] == pytest.approx(50, abs=4)
    assert pct[16] == pytest.approx(100 * 60 / 90, abs=4) and pct[14] < 1


def test_user_rv_insertion_point():
    """Point on +i from the LV centre: the anteroseptal segment starts there and turns towards -j
    (identity geometry: counterclockwise on screen)."""
    point = (CENTRE[1] + R_OUT + 5, CENTRE[0], 1)  # (i, j, k)
    t = aha_table(_masks(sector(300, 360)), SPACING, rv_insertion=point)
    pct = _pct(t)
    # The sector is half-open the other way round from the segments: one radial line of pixels
    # (~10 of ~210) changes sides at each border.
    assert pct[2] == pytest.approx(100, abs=6) and pct[8] == pytest.approx(100, abs=6)
    assert max(pct[s] for s in (1, 3, 4, 5, 6)) < 6
    assert "RV insertion point (user" in t.rows[0]["angle_reference"]
    # The same point in LPS mm with an origin.
    origin = (10.0, -20.0, 5.0)
    lps = np.array(point) * np.array(SPACING) + np.array(origin)
    np.testing.assert_allclose(point_to_ijk(lps, "lps", SPACING, origin), point)
    t2 = aha_table(
        _masks(sector(300, 360)), SPACING, rv_insertion=lps, rv_insertion_space="lps", origin=origin
    )
    assert _pct(t2) == pct


def test_apex_cap_is_segment_17():
    masks = _masks(_sector_aha(120, 180, *IDENTITY), n=4)
    masks["Myocardium"][0] = sector(0, 360, 0, R_OUT)
    masks["Blood pool"][0] = False
    masks["Scar"][0] = masks["Myocardium"][0] & sector(60, 120, 0, R_OUT)
    pct = _pct(aha_table(masks, SPACING))
    assert pct[17] == pytest.approx(100 * 60 / 360, abs=3)
    assert pct[4] == pytest.approx(100, abs=6)


def test_bullseye_layout_and_png(tmp_path):
    # Anterior (1) on top, septal (14) on the left, lateral (16) on the right.
    assert np.mean(segment_wedge(1)[2:]) == 90
    assert np.mean(segment_wedge(2)[2:]) == 150
    assert np.mean(segment_wedge(14)[2:]) == 180
    assert np.mean(segment_wedge(16)[2:]) % 360 == 0
    assert segment_wedge(7)[:2] == (2.0, 3.0) and segment_wedge(17)[:2] == (0.0, 1.0)
    with pytest.raises(ValueError):
        segment_wedge(18)
    t = aha_table(_masks(_sector_aha(120, 180, *IDENTITY)), SPACING)
    out = bullseye_from_table(t, "scar_pct", tmp_path / "bullseye.png", title="Scar %")
    img = imread(out)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    assert len(np.unique(img.reshape(-1, img.shape[2]), axis=0)) > 20
    path = bullseye_png({1: 10.0, 2: None, 17: 5.0}, tmp_path / "partial.png")
    assert path.stat().st_size > 1000
