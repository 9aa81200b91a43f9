"""The synthetic LGE phantom: deterministic, labels anatomically consistent, intensities LGE-like."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from ScarSegmentationLib.io import load_study
from ScarSegmentationLib.phantom import make_phantom, write_phantom
from scipy import ndimage


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=0)


def test_shape_geometry_and_name(phantom):
    study, labels = phantom
    assert study.image.shape == labels.shape == (10, 192, 192)
    assert study.image.dtype == np.float32 and labels.dtype == np.uint8
    assert study.spacing == (1.5, 1.5, 10.0)
    assert "synthetic phantom" in study.name
    np.testing.assert_allclose(study.direction.T @ study.direction, np.eye(3), atol=1e-9)
    assert np.linalg.det(study.direction) == pytest.approx(1.0)
    assert set(np.unique(labels)) == {0, 1, 2, 3, 4}


def test_deterministic_for_a_seed():
    small = {"size": 64, "num_slices": 4}
    first, labels = make_phantom(seed=5, **small)
    again, labels_again = make_phantom(seed=5, **small)
    np.testing.assert_array_equal(again.image, first.image)
    np.testing.assert_array_equal(labels_again, labels)
    other, other_labels = make_phantom(seed=6, **small)
    assert not np.array_equal(other.image, first.image)
    assert not np.array_equal(other_labels, labels)


def test_no_reflow_inside_scar(phantom):
    _, labels = phantom
    no_reflow = labels == 4
    assert no_reflow.any()
    for k in range(labels.shape[0]):
        ring = ndimage.binary_dilation(no_reflow[k]) & ~no_reflow[k]
        assert set(np.unique(labels[k][ring])) <= {1, 3}, k  # bordered by scar and blood only


def test_scar_inside_myocardium_ring(phantom):
    _, labels = phantom
    for k in range(labels.shape[0]):
        lv = ndimage.binary_fill_holes(labels[k] >= 2)  # filled epicardial contour
        scar = labels[k] >= 3
        assert not (scar & ~lv).any(), k
        # scar touches the blood pool (endocardium) where present: infarcts grow from inside
        if scar.any() and (labels[k] == 1).any():
            assert (ndimage.binary_dilation(labels[k] == 1) & scar).any(), k


def test_blood_pool_enclosed_by_myocardium(phantom):
    _, labels = phantom
    blood = labels == 1
    for k in range(labels.shape[0]):
        if blood[k].any():
            border = ndimage.binary_dilation(blood[k]) & ~blood[k]
            assert (labels[k][border] >= 2).all(), k
            assert ndimage.label(blood[k])[1] == 1


def test_ring_tapers_towards_apex(phantom):
    study, labels = phantom
    lv_area = (labels >= 1).sum(axis=(1, 2))
    apex, base = study.apex_to_base[0], study.apex_to_base[-1]
    assert lv_area[apex] < 0.3 * lv_area[base]
    assert np.all(np.diff(lv_area[:6]) > 0)  # widens from the apex to mid-ventricle


def test_transmural_and_subendocardial_scar_present(phantom):
    _, labels = phantom
    transmural = subendo = 0
    for k in range(labels.shape[0]):
        scar = labels[k] >= 3
        outside = ~ndimage.binary_fill_holes(labels[k] >= 1)
        touches_epi = ndimage.binary_dilation(outside) & scar
        transmural += int(touches_epi.any())
        for comp in range(1, ndimage.label(scar)[1] + 1):
            part = ndimage.label(scar)[0] == comp
            if not (ndimage.binary_dilation(outside) & part).any():
                subendo += 1
    assert transmural >= 3 and subendo >= 2


def test_lge_contrast(phantom):
    study, labels = phantom
    med = {lab: np.median(study.image[labels == lab]) for lab in range(5)}
    offset = 2048.0  # EMIDEC-like offset intensity
    assert med[3] > med[2] and med[1] > med[2]  # scar and blood bright, myocardium nulled
    assert med[4] < med[3]  # no-reflow dark inside the bright scar
    assert 1.05 < med[3] / med[2] < 1.4  # raw ratio in EMIDEC's range (offset included)
    assert (med[3] - offset) / (med[2] - offset) > 3


def test_magnitude_mode_rician_background():
    study, labels = make_phantom(seed=2, size=96, num_slices=6, intensity="magnitude")
    corner = study.image[:, :6, :6]
    assert corner.min() >= 0 and 5 < corner.mean() < 80  # Rayleigh noise floor, not zero
    myo, scar = np.median(study.image[labels == 2]), np.median(study.image[labels == 3])
    assert scar > 3 * myo


def test_partial_volume_blurs_edges(phantom):
    study, labels = phantom
    k = 6
    edge = ndimage.binary_dilation(labels[k] == 1) & (labels[k] == 2)
    inner_myo = ndimage.binary_erosion(labels[k] == 2, iterations=2)
    blood = ndimage.binary_erosion(labels[k] == 1, iterations=2)
    img = study.image[k]
    lo, hi = np.median(img[inner_myo]), np.median(img[blood])
    assert lo < np.median(img[edge]) < hi  # edge voxels mix myocardium and blood


def test_write_phantom(tmp_path):
    paths = write_phantom(tmp_path / "ph", seed=3, size=64, num_slices=4)
    assert [p.name for p in paths] == ["phantom.nii.gz", "phantom_labels.nii.gz"]
    study = load_study(paths[0])
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(paths[1])))
    expected, expected_labels = make_phantom(seed=3, size=64, num_slices=4)
    np.testing.assert_allclose(study.image, expected.image, rtol=1e-6)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(study.direction, expected.direction, atol=1e-5)
    assert study.apex_to_base.tolist() == expected.apex_to_base.tolist()
