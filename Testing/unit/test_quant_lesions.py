"""Lesion morphology: shape measures on known shapes, 2D/3D components and their sizes."""

from __future__ import annotations

import numpy as np
import pytest
from quant_phantom import R_IN, R_OUT, SHAPE, SPACING, ring, sector
from ScarQuantificationLib.lesions import label_2d, label_3d, lesion_counts, lesion_table, shape_2d
from skimage.draw import disk

VOXEL_ML = SPACING[0] * SPACING[1] * SPACING[2] / 1000.0


@pytest.mark.parametrize("radius", [4, 10, 25])
def test_disc_is_circular_and_solid(radius):
    img = np.zeros((80, 80), bool)
    img[disk((40, 40), radius)] = True
    s = shape_2d(img)
    assert s["circularity"] == pytest.approx(1.0, abs=0.08)
    assert s["solidity"] > 0.97  # a digital disc: its pixel-corner hull adds a thin rim
    rows, cols = np.nonzero(img)
    bbox = (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
    assert s["extent"] == pytest.approx(img.sum() / bbox)


def test_rectangle_and_l_shape():
    rect = np.zeros((40, 40), bool)
    rect[5:15, 5:35] = True
    s = shape_2d(rect)
    assert s["solidity"] == 1.0 and s["extent"] == 1.0
    # 10 x 30 box: 4 pi A / P^2 = 0.59 with the outer outline, 0.65 with the pixel-centre one.
    assert 0.55 < s["circularity"] < 0.7
    strip = np.zeros((40, 80), bool)
    strip[10:12, 5:75] = True
    assert shape_2d(strip)["circularity"] < 0.25
    ell = np.zeros((40, 40), bool)
    ell[5:25, 5:25] = True
    ell[15:25, 15:25] = False  # 20x20 square minus a 10x10 corner: area 300, hull ~ 350
    s = shape_2d(ell)
    assert 0.8 < s["solidity"] < 0.9
    assert s["extent"] == pytest.approx(0.75)


def test_labelling_connectivity():
    a = np.zeros((3, 10, 10), bool)
    a[0, 2, 2] = True
    a[1, 3, 3] = True  # touches the first only by a corner across slices: 26-connected
    a[2, 8, 6:9] = True  # separate, bigger
    lab, n = label_3d(a)
    assert n == 2
    assert lab[2, 8, 8] == 1 and lab[0, 2, 2] == lab[1, 3, 3] == 2  # numbered by size
    lab2, n2 = label_2d(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], bool))
    assert n2 == 1  # 8-connectivity in plane


def _masks():
    myo, bp = ring()
    scar = np.zeros_like(myo)
    scar[1:4] = sector(0, 60)  # one lesion over three slices
    scar[2] |= sector(180, 200, R_IN, (R_IN + R_OUT) / 2)  # a small subendocardial one
    return {"Myocardium": myo, "Blood pool": bp, "Scar": scar}


def test_lesion_table():
    m = _masks()
    t = lesion_table(m, SPACING)
    assert lesion_counts(t) == {"3D": 2, "2D": 4}
    rows3 = [r for r in t.rows if r["level"] == "3D"]
    rows2 = [r for r in t.rows if r["level"] == "2D"]
    big, small = rows3
    n_big = 3 * sector(0, 60).sum()
    assert big["pixels"] == n_big and big["n_slices"] == 3
    assert big["volume_ml"] == pytest.approx(n_big * VOXEL_ML)
    assert big["area_mm2"] == pytest.approx(n_big * SPACING[0] * SPACING[1])
    # Full-thickness sector: 1 on every chord but the two border chords, cut by a pixel or two.
    assert big["transmurality_mean"] > 0.9 and big["transmurality_max"] == 1.0
    assert big["circularity"] is None and 0 < big["solidity"] <= 1
    assert small["n_slices"] == 1 and small["solidity"] is None
    assert small["transmurality_mean"] == pytest.approx(0.5, abs=0.06)
    # 2D rows: apex to base, each pointing at its 3D parent; sizes add up.
    assert [r["slice_index"] for r in rows2] == [1, 2, 2, 3]
    assert sum(r["pixels"] for r in rows2 if r["parent_3d"] == 1) == big["pixels"]
    assert [r["parent_3d"] for r in rows2 if r["slice_index"] == 2] == [1, 2]
    for r in rows2:
        assert r["volume_ml"] == pytest.approx(r["pixels"] * VOXEL_ML)
        assert 0 < r["solidity"] <= 1 and r["circularity"] > 0


def test_lesion_table_empty_scar():
    m = _masks()
    m["Scar"] = np.zeros(SHAPE, bool)
    t = lesion_table(m, SPACING)
    assert t.rows == [] and lesion_counts(t) == {"3D": 0, "2D": 0}


def test_flat_3d_lesion_has_no_solidity_and_no_warning():
    import warnings

    from ScarQuantificationLib.lesions import shape_3d

    line = np.zeros((4, 6, 6), bool)
    line[:, 2, 2] = True  # one pixel through every slice: a flat hull
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = shape_3d(line)
    assert s["solidity"] is None and s["extent"] == 1.0
