"""Every bad input fails with a clear message, exit status 1, and no output folder."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from ScarSegmentationLib.cli import main


def _write(path, array, spacing=(1.5, 1.5, 10.0)):
    img = sitk.GetImageFromArray(array)
    if img.GetDimension() == len(spacing):
        img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


def _run_fails(tmp_path, capsys, input_path, *words):
    out = tmp_path / "out"
    code = main(["run", str(input_path), "-o", str(out), "-q", "--no-overview"])
    err = capsys.readouterr().err.lower()
    assert code == 1, err
    assert "error" in err
    assert any(w.lower() in err for w in words), err
    assert not out.exists(), "nothing may be written for a bad input"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")]
    assert not leftovers, leftovers


def test_text_file(tmp_path, capsys):
    p = tmp_path / "notes.nii.gz"
    p.write_text("this is not an image\n")
    _run_fails(tmp_path, capsys, p, "image", "read")


def test_missing_file(tmp_path, capsys):
    _run_fails(tmp_path, capsys, tmp_path / "nope.nii.gz", "not found", "does not exist", "no such")


def test_constant_image(tmp_path, capsys):
    p = _write(tmp_path / "c.nii.gz", np.full((8, 64, 64), 7.0, np.float32))
    _run_fails(tmp_path, capsys, p, "constant")


def test_empty_image(tmp_path, capsys):
    p = _write(tmp_path / "e.nii.gz", np.zeros((8, 64, 64), np.float32))
    _run_fails(tmp_path, capsys, p, "constant", "empty")


def test_nan_image(tmp_path, capsys):
    a = np.random.default_rng(0).random((8, 64, 64)).astype(np.float32)
    a[3, 10, 10] = np.nan
    p = _write(tmp_path / "n.nii.gz", a)
    _run_fails(tmp_path, capsys, p, "nan")


def test_2d_image(tmp_path, capsys):
    a = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    p = _write(tmp_path / "flat.nii.gz", a, spacing=(1.5, 1.5))
    _run_fails(tmp_path, capsys, p, "2d")


def test_4d_cine(tmp_path, capsys):
    a = np.random.default_rng(0).random((5, 8, 32, 32)).astype(np.float32)
    p = _write(tmp_path / "cine.nii.gz", a, spacing=(1.5, 1.5, 10.0, 1.0))
    _run_fails(tmp_path, capsys, p, "4d")


def test_folder_without_images(tmp_path, capsys):
    d = tmp_path / "dicom"
    d.mkdir()
    (d / "readme.txt").write_text("no images here")
    _run_fails(tmp_path, capsys, d, "no image", "no dicom", "found no")


def test_existing_output_folder_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    a = np.random.default_rng(0).random((8, 64, 64)).astype(np.float32)
    p = _write(tmp_path / "ok.nii.gz", a)
    code = main(["run", str(p), "-o", str(out), "-q"])
    assert code == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "user data"


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["batch", "--help"]])
def test_help_is_complete(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "usage: scarseg" in text
    if argv == ["run", "--help"]:
        for option in ("--output", "--overwrite", "--series", "--mc-samples", "--core-method"):
            assert option in text
