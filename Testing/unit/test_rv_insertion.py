"""RV insertion points detected on a synthetic LGE stack: an LV ring, a bright RV crescent on one
side, a thin very bright fat band and dark lung elsewhere; the AHA table built on them."""

from __future__ import annotations

import numpy as np
import pytest
from ScarQuantificationLib import rv_insertion as rvi
from ScarQuantificationLib.aha import aha_table
from ScarQuantificationLib.bullseye import UNCERTAIN, bullseye_from_table
from ScarQuantificationLib.slices import slice_geometry

N, SIZE = 4, 160
SPACING = (1.0, 1.0, 8.0)  # (i, j, k) mm
CENTRE = (80.0, 80.0)
R_IN, R_OUT, R_RV = 20.0, 30.0, 50.0
SEPTUM_DEG, RV_WIDTH_DEG = 200.0, 110.0  # atan2 degrees (rows down)


def _polar():
    rows, cols = np.mgrid[:SIZE, :SIZE].astype(float)
    dy, dx = rows - CENTRE[0], cols - CENTRE[1]
    return np.hypot(dx, dy), np.mod(np.degrees(np.arctan2(dy, dx)), 360.0)


def _within(a, centre, width):
    return np.abs(np.mod(a - centre + 180.0, 360.0) - 180.0) < width / 2


def phantom(seed: int = 0, rv: bool = True, offset: float = 0.0):
    """(image, myocardium, blood pool, scar) with k = 0 the apex (smallest LV)."""
    r, a = _polar()
    rng = np.random.default_rng(seed)
    image = np.full((N, SIZE, SIZE), 30.0)
    myo = np.zeros(image.shape, bool)
    bp = np.zeros(image.shape, bool)
    for k in range(N):
        grow = 1.0 + 0.1 * k  # LV area grows towards the base
        myo[k] = (r >= R_IN * grow) & (r < R_OUT * grow)
        bp[k] = r < R_IN * grow
        image[k][myo[k]] = 100.0
        image[k][bp[k]] = 400.0
        fat = (r >= R_OUT * grow) & (r < R_OUT * grow + 2.5) & _within(a, 0.0, 60.0)
        image[k][fat] = 900.0
        if rv:
            crescent = (
                (r >= R_OUT * grow) & (r < R_RV * grow) & _within(a, SEPTUM_DEG, RV_WIDTH_DEG)
            )
            image[k][crescent] = 380.0
    image += rng.normal(0.0, 12.0, image.shape) + offset
    scar = myo & _within(_polar()[1], 20.0, 40.0)[None]
    return image, myo, bp, scar


def _geometry(myo, bp):
    return slice_geometry({"Myocardium": myo, "Blood pool": bp}, SPACING, np.arange(N))


def _deg(x):
    return np.degrees(x) % 360.0


def _err(a, b):
    return abs((a - b + 180.0) % 360.0 - 180.0)


def test_detects_the_septum_and_both_insertion_points():
    image, myo, bp, scar = phantom()
    det = rvi.detect_rv_insertion(image, myo, _geometry(myo, bp), scar)
    assert det.confident and det.doubts() == []
    assert _err(_deg(det.septum), SEPTUM_DEG) <= 10
    for arc in det.arcs.values():
        assert arc.detected
        assert _err(_deg(arc.start), SEPTUM_DEG - RV_WIDTH_DEG / 2) <= 15
        assert _err(_deg(arc.end), SEPTUM_DEG + RV_WIDTH_DEG / 2) <= 15
    assert det.remote_to_blood == pytest.approx(0.25, abs=0.05)


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_rotating_the_pixels_rotates_the_arcs(turns):
    image, myo, bp, scar = phantom()
    det = rvi.detect_rv_insertion(image, myo, _geometry(myo, bp), scar)
    rot = [np.rot90(x, turns, axes=(1, 2)).copy() for x in (image, myo, bp, scar)]
    det_r = rvi.detect_rv_insertion(rot[0], rot[1], _geometry(rot[1], rot[2]), rot[3])
    # np.rot90 turns the content counterclockwise on screen: -90 degrees per turn in atan2 terms
    # with rows pointing down.
    assert _err(_deg(det_r.septum), _deg(det.septum) - 90 * turns) < 1e-6
    for k, arc in det.arcs.items():
        assert _err(_deg(det_r.arcs[k].centre), _deg(arc.centre) - 90 * turns) < 1e-6


def test_no_rv_blood_pool_is_not_confident():
    image, myo, bp, scar = phantom(rv=False)
    det = rvi.detect_rv_insertion(image, myo, _geometry(myo, bp), scar)
    assert not det.confident and "show the RV blood pool" in det.doubts()[0]


def test_phase_sensitive_like_offset_is_flagged():
    """An additive offset leaves the detection itself unchanged (relative intensities) but the
    contrast is not the validated kind: flagged, with the reason."""
    image, myo, bp, scar = phantom(offset=2000.0)
    det = rvi.detect_rv_insertion(image, myo, _geometry(myo, bp), scar)
    assert _err(_deg(det.septum), SEPTUM_DEG) <= 10
    assert det.supported and not det.confident
    assert "phase-sensitive-like" in det.doubts()[0]


def test_aha_table_uses_the_detection_and_says_so(tmp_path):
    image, myo, bp, _ = phantom()
    # Scar on the detected septum: AHA 0-120 (anteroseptal + inferoseptal), whichever the sense.
    scar = myo & _within(_polar()[1], SEPTUM_DEG, 100.0)[None]
    masks = {"Myocardium": myo, "Blood pool": bp, "Scar": scar}
    t = aha_table(masks, SPACING, apex_to_base=np.arange(N), image=image)
    rows = {r["segment"]: r for r in t.rows}
    assert "detected on the LGE image" in rows[1]["angle_reference"]
    assert rows[1]["orientation_confident"] == 1
    for septal in (2, 3, 8, 9):
        assert rows[septal]["scar_pct"] > 60, septal
    for free_wall in (5, 6, 11, 12):
        assert rows[free_wall]["scar_pct"] < 5, free_wall
    # without the image: the patient-axes estimate, flagged
    t2 = aha_table(masks, SPACING, apex_to_base=np.arange(N))
    assert t2.rows[0]["orientation_confident"] == 0
    assert "estimated from the patient coordinate system" in t2.rows[0]["angle_reference"]


def test_bullseye_title_warns_when_not_confident(tmp_path, monkeypatch):
    image, myo, bp, scar = phantom(offset=2000.0)
    masks = {"Myocardium": myo, "Blood pool": bp, "Scar": scar}
    t = aha_table(masks, SPACING, apex_to_base=np.arange(N), image=image)
    assert t.rows[0]["orientation_confident"] == 0
    titles = []
    import ScarQuantificationLib.bullseye as be

    real = be.bullseye_png

    def spy(values, path, **kwargs):
        titles.append((kwargs.get("title"), kwargs.get("orientation")))
        return real(values, path, **kwargs)

    monkeypatch.setattr(be, "bullseye_png", spy)
    path = bullseye_from_table(t, "scar_pct", tmp_path / "b.png", title="case: scar %")
    assert path.is_file()
    title, orientation = titles[0]
    assert title.startswith("case: scar %") and UNCERTAIN in title
    assert "NOT CONFIDENT" in orientation and "phase-sensitive-like" in orientation
