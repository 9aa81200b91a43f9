"""Image-file input (NIfTI, NRRD, MetaImage): geometry round trip, folders, headers without spacing."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from ScarSegmentationLib.errors import InputError
from ScarSegmentationLib.io import load_study, read_image_file, write_volume
from ScarSegmentationLib.study import Study


def _oblique_direction():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    return q * np.sign(np.linalg.det(q))  # a proper rotation, far from axis-aligned


def _study(shape=(6, 40, 48)):
    rng = np.random.default_rng(0)
    return Study(
        image=rng.random(shape).astype(np.float32) * 1000,
        spacing=(1.25, 1.4, 8.0),
        origin=(-12.5, 30.25, 101.0),
        direction=_oblique_direction(),
    )


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"])
def test_geometry_round_trip(tmp_path, suffix):
    study = _study()
    path = write_volume(tmp_path / f"vol{suffix}", study.image, study)
    back = load_study(path)
    np.testing.assert_allclose(back.image, study.image, rtol=1e-6)
    np.testing.assert_allclose(back.spacing, study.spacing, atol=1e-5)
    np.testing.assert_allclose(back.origin, study.origin, atol=1e-4)
    np.testing.assert_allclose(back.direction, study.direction, atol=1e-5)
    assert back.image.dtype == np.float32 and back.name == "vol"


def test_integer_image_becomes_float32(tmp_path):
    img = sitk.GetImageFromArray(np.arange(4 * 32 * 32, dtype=np.int16).reshape(4, 32, 32))
    img.SetSpacing((0.75, 0.75, 12.0))
    sitk.WriteImage(img, str(tmp_path / "a.nii.gz"))
    study = load_study(tmp_path / "a.nii.gz")
    assert study.image.dtype == np.float32 and study.image[1, 0, 0] == 1024.0


def test_emidec_case_folder(tmp_path):
    study = _study()
    case = tmp_path / "Case_X001"
    (case / "Images").mkdir(parents=True)
    (case / "Contours").mkdir()
    write_volume(case / "Images" / "Case_X001.nii.gz", study.image, study)
    write_volume(
        case / "Contours" / "Case_X001.nii.gz", (study.image > 500).astype(np.uint8), study
    )
    back = load_study(case)
    np.testing.assert_allclose(back.image, study.image)
    assert back.source.endswith("Images/Case_X001.nii.gz")


def test_folder_prefers_image_over_label_file(tmp_path):
    study = _study()
    write_volume(tmp_path / "Case1_LGE.nii.gz", study.image, study)
    write_volume(tmp_path / "Case1_gd.nii.gz", (study.image > 500).astype(np.uint8) * 200, study)
    assert load_study(tmp_path).name == "Case1_LGE"


def test_folder_with_two_images_asks_for_the_file(tmp_path):
    study = _study()
    write_volume(tmp_path / "a.nii.gz", study.image, study)
    write_volume(tmp_path / "b.nii.gz", study.image, study)
    with pytest.raises(InputError, match="several images"):
        load_study(tmp_path)


def test_unit_scale_sform_noted_and_spacing_kept(tmp_path):
    """EMIDEC-like header: sform = diag(-1, -1, 1) with the spacing only in pixdim."""
    study = _study()
    study.direction = np.eye(3)
    path = write_volume(tmp_path / "e.nii", study.image, study)
    raw = bytearray(path.read_bytes())
    # NIfTI-1 header: qform_code (252), sform_code (254), srow_x/y/z (280..327)
    raw[252:256] = np.array([0, 2], "<i2").tobytes()
    srows = np.array([[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]], "<f4")
    raw[280:328] = srows.tobytes()
    path.write_bytes(bytes(raw))
    back = read_image_file(path)
    np.testing.assert_allclose(back.spacing, study.spacing, atol=1e-5)
    assert "unit scales" in back.metadata["geometry_note"]


def test_nrrd_without_spacing_refused(tmp_path):
    data = np.random.default_rng(0).random((3, 24, 24)).astype("<f4")
    data.tofile(tmp_path / "v.raw")
    (tmp_path / "v.nhdr").write_text(
        "NRRD0004\ntype: float\ndimension: 3\nsizes: 24 24 3\nendian: little\n"
        "encoding: raw\ndata file: v.raw\n\n"
    )
    with pytest.raises(InputError, match="missing voxel spacing"):
        load_study(tmp_path / "v.nhdr")


def test_metaimage_without_spacing_refused(tmp_path):
    np.random.default_rng(0).random((3, 24, 24)).astype("<f4").tofile(tmp_path / "v.raw")
    (tmp_path / "v.mhd").write_text(
        "ObjectType = Image\nNDims = 3\nDimSize = 24 24 3\nElementType = MET_FLOAT\n"
        "ElementDataFile = v.raw\n"
    )
    with pytest.raises(InputError, match="missing voxel spacing"):
        load_study(tmp_path / "v.mhd")


def test_nifti_zero_pixdim_refused(tmp_path):
    study = _study()
    path = write_volume(tmp_path / "z.nii", study.image, study)
    raw = bytearray(path.read_bytes())
    raw[80:92] = np.zeros(3, "<f4").tobytes()  # pixdim[1..3]
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="spacing"):
        load_study(path)
