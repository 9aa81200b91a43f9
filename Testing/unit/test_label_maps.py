"""Label-map conventions (EMIDEC, MyoPS, user mappings) into canonical masks."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from ScarQuantificationLib import label_maps as lm

EMIDEC_ROW = np.array([0, 1, 2, 3, 4, 2])
MYOPS_ROW = np.array([0, 500, 200, 2221, 1220, 600])


def test_emidec_masks_nest_scar_and_no_reflow():
    masks = lm.to_masks(EMIDEC_ROW, "emidec")
    assert list(masks) == ["Myocardium", "Blood pool", "Scar", "No-reflow"]
    assert masks["Myocardium"].tolist() == [0, 0, 1, 1, 1, 1]
    assert masks["Blood pool"].tolist() == [0, 1, 0, 0, 0, 0]
    assert masks["Scar"].tolist() == [0, 0, 0, 1, 1, 0]
    assert masks["No-reflow"].tolist() == [0, 0, 0, 0, 1, 0]


def test_myops_masks_edema_is_myocardium_rv_is_not():
    masks = lm.to_masks(MYOPS_ROW, "myops")
    assert "No-reflow" not in masks  # MyoPS cannot express it
    assert masks["Myocardium"].tolist() == [0, 0, 1, 1, 1, 0]
    assert masks["Blood pool"].tolist() == [0, 1, 0, 0, 0, 0]
    assert masks["Scar"].tolist() == [0, 0, 0, 1, 0, 0]


def test_auto_detection():
    assert lm.detect_convention(np.unique(EMIDEC_ROW)) == "emidec"
    assert lm.detect_convention(np.unique(MYOPS_ROW)) == "myops"
    assert lm.detect_convention([0]) == "emidec"
    with pytest.raises(lm.LabelMapError, match="mapping"):
        lm.detect_convention([0, 7])
    auto = lm.to_masks(MYOPS_ROW)
    assert auto["Scar"].tolist() == lm.to_masks(MYOPS_ROW, "myops")["Scar"].tolist()


def test_user_mapping_text_and_nesting():
    mapping = lm.parse_mapping("scar=3,4; Myocardium=2 ;blood pool=1;MVO=4")
    assert mapping == {"Scar": (3, 4), "Myocardium": (2,), "Blood pool": (1,), "No-reflow": (4,)}
    masks = lm.to_masks(EMIDEC_ROW, "scar=3,4;myocardium=2;blood pool=1")
    # Myocardium given as 2 only: the scar is added to it (canonical Myocardium includes scar).
    assert masks["Myocardium"].tolist() == [0, 0, 1, 1, 1, 1]
    assert lm.to_masks(EMIDEC_ROW, {"scar": [4], "myocardium": [2]})["Scar"].tolist() == [
        0, 0, 0, 0, 1, 0,
    ]  # fmt: skip


@pytest.mark.parametrize("text", ["scar", "scar=a", "ventricle=1", "", "scar="])
def test_bad_mapping_text(text):
    with pytest.raises(lm.LabelMapError):
        lm.parse_mapping(text)


def test_round_trip_to_emidec():
    labels = np.array([[0, 1, 2], [3, 4, 2]])
    assert np.array_equal(lm.to_emidec(lm.to_masks(labels, "emidec"), labels.shape), labels)


def test_read_label_map_geometry_and_refusals(tmp_path):
    arr = np.zeros((3, 5, 6), np.uint16)
    arr[1, 2, 3] = 2221
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.75, 0.8, 12.0))
    img.SetOrigin((1.0, 2.0, 3.0))
    sitk.WriteImage(img, str(tmp_path / "a_gd.nii.gz"))
    lab = lm.read_label_map(tmp_path / "a_gd.nii.gz")
    assert lab.array.shape == (3, 5, 6)
    assert lab.spacing == pytest.approx((0.75, 0.8, 12.0))
    assert lab.origin == pytest.approx((1.0, 2.0, 3.0))
    assert lm.to_masks(lab.array)["Scar"].sum() == 1

    img = sitk.GetImageFromArray(np.full((2, 3, 3), 0.5, np.float32))
    sitk.WriteImage(img, str(tmp_path / "image.nii.gz"))
    with pytest.raises(lm.LabelMapError, match="non-integer"):
        lm.read_label_map(tmp_path / "image.nii.gz")
    with pytest.raises(lm.LabelMapError, match="not found"):
        lm.read_label_map(tmp_path / "missing.nii.gz")
