"""Per-patient morphology features on phantoms with a known answer."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import SimpleITK as sitk
from ScarQuantificationLib.features import FEATURES, features_for_inputs, scar_features, write_csv

SPACING = (1.25, 1.25, 8.0)


def annulus_masks(n_slices=3, size=64, inner=10, outer=16):
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(yy, xx)
    ring = (r >= inner) & (r < outer)
    myo = np.repeat(ring[None], n_slices, axis=0)
    bp = np.repeat((r < inner)[None], n_slices, axis=0)
    return myo, bp, yy, xx


def test_full_thickness_sector_known_values():
    myo, bp, yy, xx = annulus_masks()
    scar = np.zeros_like(myo)
    sector = (xx > 0) & (np.abs(yy) < xx * np.tan(np.pi / 8))  # 45 deg sector, full thickness
    scar[1:] = myo[1:] & sector
    masks = {"Myocardium": myo, "Blood pool": bp, "Scar": scar}
    f = scar_features(masks, SPACING)
    voxel_ml = 1.25 * 1.25 * 8.0 / 1000
    assert f["scar_volume_ml"] == pytest.approx(scar.sum() * voxel_ml)
    assert f["myocardium_volume_ml"] == pytest.approx(myo.sum() * voxel_ml)
    assert f["scar_burden_pct"] == pytest.approx(100 * scar.sum() / myo.sum())
    assert f["scar_burden_pct"] == pytest.approx(100 * 2 / 3 / 8, rel=0.1)  # 1/8 of 2 of 3 slices
    assert f["components_3d"] == 1 and f["components_2d"] == 2
    # Full thickness: every chord through the sector is (nearly) entirely scar.
    assert f["transmurality_max"] == pytest.approx(1.0)
    assert f["transmurality_mean"] > 0.9
    assert f["scar_extent_pct"] == pytest.approx(100 / 8, abs=3)
    assert 0.5 < f["solidity_mean"] <= 1.0
    assert math.isnan(f["enhancement_ratio"])  # no image given


def test_components_disc_shape_and_enhancement_ratio():
    myo = np.zeros((2, 60, 60), bool)
    myo[:, 5:55, 5:55] = True
    yy, xx = np.mgrid[:60, :60]
    disc_a = np.hypot(yy - 20, xx - 20) < 8
    disc_b = np.hypot(yy - 40, xx - 40) < 6
    scar = np.zeros_like(myo)
    scar[0] = disc_a | disc_b  # two blobs in one slice, nothing in the other
    image = np.where(scar, 300.0, 100.0)
    f = scar_features({"Myocardium": myo, "Scar": scar}, SPACING, image)
    assert f["components_3d"] == 2 and f["components_2d"] == 2
    assert f["solidity_mean"] > 0.95
    assert f["circularity_mean"] == pytest.approx(1.0, abs=0.1)
    assert f["enhancement_ratio"] == pytest.approx(3.0)


def test_no_scar_gives_zero_size_and_undefined_shape():
    myo, bp, _, _ = annulus_masks()
    f = scar_features({"Myocardium": myo, "Blood pool": bp, "Scar": np.zeros_like(myo)}, SPACING)
    assert f["scar_volume_ml"] == 0 and f["components_3d"] == 0 and f["scar_burden_pct"] == 0
    assert math.isnan(f["solidity_mean"]) and math.isnan(f["circularity_mean"])
    assert f["transmurality_max"] == 0.0


def test_features_csv_from_label_files(tmp_path):
    myo, bp, yy, xx = annulus_masks()
    labels = np.zeros(myo.shape, np.uint8)
    labels[bp] = 1
    labels[myo] = 2
    labels[myo & (xx > 8)] = 3
    img = sitk.GetImageFromArray(labels)
    img.SetSpacing(SPACING)
    for case in ("Case_A", "Case_B"):
        (tmp_path / "out" / case).mkdir(parents=True)
        sitk.WriteImage(img, str(tmp_path / "out" / case / "labels.nii.gz"))
    rows = features_for_inputs([tmp_path / "out"])
    assert [r["case"] for r in rows] == ["Case_A", "Case_B"]
    path = write_csv(rows, tmp_path / "features.csv")
    with path.open() as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == ["case", "source", *FEATURES]
    assert float(read[0]["scar_volume_ml"]) == pytest.approx(rows[0]["scar_volume_ml"], rel=1e-5)
    assert read[0]["enhancement_ratio"] == ""  # no image beside our labels: empty cell
    with pytest.raises(ValueError, match="twice"):
        features_for_inputs([tmp_path / "out", tmp_path / "out" / "Case_A"])
