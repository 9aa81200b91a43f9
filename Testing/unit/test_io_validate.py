"""Every bad input gets an InputError whose message names the problem."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from ScarSegmentationLib.errors import InputError
from ScarSegmentationLib.io import load_study, validate_study
from ScarSegmentationLib.study import Study


def _write(path, array, spacing=(1.5, 1.5, 10.0), vector=False):
    img = sitk.GetImageFromArray(array, isVector=vector)
    if img.GetDimension() == len(spacing):
        img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


def _noise(shape):
    return np.random.default_rng(0).random(shape).astype(np.float32)


def _fails(path, *words):
    with pytest.raises(InputError) as exc:
        load_study(path)
    msg = str(exc.value).lower()
    assert any(w in msg for w in words), msg
    return msg


def test_text_file_with_image_name(tmp_path):
    p = tmp_path / "notes.nii.gz"
    p.write_text("this is not an image\n")
    _fails(p, "cannot read image")


def test_text_file(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("this is not an image\n")
    _fails(p, "not an image file")


def test_missing_path(tmp_path):
    _fails(tmp_path / "absent.nii.gz", "does not exist")


def test_2d_image(tmp_path):
    _fails(_write(tmp_path / "flat.nii.gz", _noise((64, 64)), (1.5, 1.5)), "2d image")


def test_png_is_2d(tmp_path):
    p = tmp_path / "slice.png"
    sitk.WriteImage(sitk.GetImageFromArray((_noise((64, 64)) * 255).astype(np.uint8)), str(p))
    _fails(p, "2d image")


def test_4d_cine(tmp_path):
    msg = _fails(
        _write(tmp_path / "cine.nii.gz", _noise((5, 8, 32, 32)), (1.5, 1.5, 10.0, 1.0)), "4d"
    )
    assert "5 time frames" in msg and "one 3d lge stack" in msg


def test_rgb_pixels(tmp_path):
    _fails(_write(tmp_path / "rgb.nrrd", _noise((4, 32, 32, 3)), vector=True), "rgb")


def test_constant_image(tmp_path):
    _fails(_write(tmp_path / "c.nii.gz", np.full((8, 64, 64), 7.0, np.float32)), "constant")


def test_all_zero_image(tmp_path):
    _fails(_write(tmp_path / "z.nii.gz", np.zeros((8, 64, 64), np.float32)), "constant")


def test_nan_and_inf(tmp_path):
    a = _noise((8, 64, 64))
    a[3, 10, 10], a[4, 1, 1] = np.nan, np.inf
    assert "2 voxels" in _fails(_write(tmp_path / "n.nii.gz", a), "nan")


def test_empty_array():
    with pytest.raises(InputError, match="empty"):
        validate_study(Study(np.zeros((0, 64, 64), np.float32), (1.5, 1.5, 10.0)))


@pytest.mark.parametrize(
    ("spacing", "word"),
    [
        ((0.0, 1.5, 10.0), "zero"),
        ((1.5, -1.5, 10.0), "negative"),
        ((1.5, 1.5, float("nan")), "spacing"),
        ((80.0, 80.0, 10.0), "absurd in-plane"),
        ((0.0015, 0.0015, 0.01), "absurd in-plane"),
        ((1.5, 1.5, 400.0), "absurd slice"),
        (None, "missing"),
        ((1.5, 1.5), "missing"),
    ],
)
def test_bad_spacing(spacing, word):
    with pytest.raises(InputError) as exc:
        validate_study(Study(_noise((4, 64, 64)), spacing))  # type: ignore[arg-type]
    assert word in str(exc.value).lower()


def test_tiny_slices_refused():
    with pytest.raises(InputError, match="too small"):
        validate_study(Study(_noise((64, 64, 3)), (1.5, 1.5, 10.0)))


def test_broken_direction():
    with pytest.raises(InputError, match="orthonormal"):
        validate_study(
            Study(_noise((4, 64, 64)), (1.5, 1.5, 10.0), direction=np.diag([1.0, 2.0, 1.0]))
        )


def test_single_slice_accepted_with_note(tmp_path):
    study = load_study(_write(tmp_path / "one.nii.gz", _noise((1, 64, 64))))
    assert study.num_slices == 1
    assert "single slice" in study.metadata["warning"]


def test_good_study_passes():
    study = Study(_noise((6, 64, 64)), (1.5, 1.5, 10.0))
    validate_study(study)
    assert "warning" not in study.metadata
