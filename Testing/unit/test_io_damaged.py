"""Damaged input is refused with a message naming the file and the problem, never read as black.

Image files cut short (gzip stream ending early, data shorter than the header says) in every
format scarseg reads; DICOM series with a missing or duplicate slice position, mixed orientations,
sizes or pixel spacings; and the command line on a real EMIDEC case cut short (exit 1, nothing
written).
"""

from __future__ import annotations

import gzip
import shutil

import nibabel
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import generate_uid
from ScarSegmentationLib.cli import main
from ScarSegmentationLib.errors import InputError
from ScarSegmentationLib.io import load_study
from ScarSegmentationLib.io.integrity import check_data_complete
from test_io_dicom import _volume, write_series

SHAPE = (6, 40, 48)


def _image(dtype=np.float32) -> sitk.Image:
    rng = np.random.default_rng(0)
    img = sitk.GetImageFromArray((rng.random(SHAPE) * 1000).astype(dtype))
    img.SetSpacing((1.25, 1.4, 8.0))
    return img


def _cut(path, keep):
    """Keep the first `keep` bytes (an int) or share (a float) of a file."""
    data = path.read_bytes()
    n = keep if isinstance(keep, int) else int(len(data) * keep)
    path.write_bytes(data[:n])
    return path


def _refused(path, *words):
    with pytest.raises(InputError) as exc:
        load_study(path)
    msg = str(exc.value)
    assert path.name in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


# --- image files -------------------------------------------------------------------------------

SINGLE_FILES = [
    (".nii.gz", True),
    (".nii", False),
    (".nrrd", True),
    (".nrrd", False),
    (".mha", True),
    (".mha", False),
]


@pytest.mark.parametrize(("suffix", "compress"), SINGLE_FILES)
@pytest.mark.parametrize("keep", [0.7, 1000])
def test_file_cut_short_is_refused(tmp_path, suffix, compress, keep):
    path = tmp_path / f"vol{suffix}"
    sitk.WriteImage(_image(), str(path), useCompression=compress)
    check_data_complete(path)  # intact: accepted
    _refused(_cut(path, keep), "damaged image file", "cut short")


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.float64])
def test_gzip_nifti_cut_short_of_any_type(tmp_path, dtype):
    """Integer NIfTIs are not read by nibabel's NaN check: ITK alone would fill zeros."""
    path = tmp_path / "vol.nii.gz"
    sitk.WriteImage(_image(dtype), str(path))
    _refused(_cut(path, 0.7), "compressed data is corrupt or ends early")


def test_gzip_nifti_whose_stream_is_complete_but_too_small(tmp_path):
    """A whole gzip stream that holds fewer voxels than the header's size."""
    path = tmp_path / "vol.nii.gz"
    sitk.WriteImage(_image(np.int16), str(path))
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[: len(raw) - 4000]))
    msg = _refused(path, "shorter than its header says", "after decompression")
    assert "4000 missing" in msg


def test_corrupt_gzip_data_is_refused(tmp_path):
    path = tmp_path / "vol.nii.gz"
    sitk.WriteImage(_image(), str(path))
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # a damaged block, length kept
    path.write_bytes(bytes(data))
    _refused(path, "damaged image file")


@pytest.mark.parametrize("header", ["vol.mhd", "vol.nhdr"])
@pytest.mark.parametrize("compress", [True, False])
def test_detached_data_file_cut_short(tmp_path, header, compress):
    path = tmp_path / header
    sitk.WriteImage(_image(), str(path), useCompression=compress)
    data = next(p for p in tmp_path.iterdir() if p != path)
    check_data_complete(path)
    _cut(data, 0.7)
    with pytest.raises(InputError, match="damaged image file") as exc:
        load_study(path)
    assert data.name in str(exc.value)


@pytest.mark.parametrize("kind", ["nifti2", "big-endian"])
def test_other_nifti_layouts(tmp_path, kind):
    data = (np.random.default_rng(1).random(SHAPE[::-1]) * 100).astype(np.int16)
    affine = np.diag([1.25, 1.4, 8.0, 1.0])
    if kind == "nifti2":
        img = nibabel.Nifti2Image(data, affine)
    else:
        img = nibabel.Nifti1Image(data, affine, nibabel.Nifti1Header(endianness=">"))
    path = tmp_path / "vol.nii"
    nibabel.save(img, path)
    check_data_complete(path)
    _cut(path, 0.7)
    with pytest.raises(InputError, match="shorter than its header says"):
        check_data_complete(path)  # (this SimpleITK does not read NIfTI-2 at all)


def test_intact_files_load(tmp_path):
    for suffix, compress in SINGLE_FILES:
        path = tmp_path / f"ok{'c' if compress else ''}{suffix}"
        sitk.WriteImage(_image(), str(path), useCompression=compress)
        assert load_study(path).image.shape == SHAPE


# --- DICOM series ------------------------------------------------------------------------------


def _edit(path, **changes):
    ds = pydicom.dcmread(path)
    for key, value in changes.items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)


def test_missing_slice_position_named(tmp_path):
    paths = write_series(tmp_path / "d", _volume())
    paths[3].unlink()
    msg = _refused(tmp_path / "d", "gap (missing slice?)", "series 7")
    assert str(tmp_path / "d") in msg


def test_duplicate_slice_position_named(tmp_path):
    paths = write_series(tmp_path / "d", _volume())
    extra = paths[2].with_name("extra.dcm")
    shutil.copy(paths[2], extra)
    uid = generate_uid()
    _edit(extra, SOPInstanceUID=uid)  # another image at the same position
    ds = pydicom.dcmread(extra)
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.save_as(extra, enforce_file_format=True)
    msg = _refused(tmp_path / "d", "duplicate slice positions")
    assert "extra.dcm" in msg and paths[2].name in msg and "time series" not in msg


def test_same_image_twice_named(tmp_path):
    paths = write_series(tmp_path / "d", _volume())
    shutil.copy(paths[4], tmp_path / "d" / "copy.dcm")  # the very same instance again
    msg = _refused(tmp_path / "d", "the same image (SOPInstanceUID) in several files")
    assert "copy.dcm" in msg


def test_mixed_orientations_named(tmp_path):
    paths = write_series(tmp_path / "d", _volume())
    ds = pydicom.dcmread(paths[3])
    iop = [float(v) for v in ds.ImageOrientationPatient]
    _edit(paths[3], ImageOrientationPatient=[f"{v:.6f}" for v in (*iop[3:], *iop[:3])])
    msg = _refused(tmp_path / "d", "2 different orientations")
    assert paths[3].name in msg


def test_mixed_sizes_named(tmp_path):
    paths = write_series(tmp_path / "d", _volume())
    small = np.zeros((32, 48), np.int16)
    _edit(paths[1], Rows=32, PixelData=small.astype("<i2").tobytes())
    msg = _refused(tmp_path / "d", "2 different sizes", "32 x 48", "40 x 48")
    assert paths[1].name in msg


def test_mixed_pixel_spacing_named(tmp_path):
    paths = write_series(tmp_path / "d", _volume())
    _edit(paths[5], PixelSpacing=["0.9", "0.9"])
    msg = _refused(tmp_path / "d", "2 different pixel spacings", "0.9 x 0.9 mm")
    assert paths[5].name in msg


def test_damaged_series_named_when_chosen(tmp_path):
    paths = write_series(tmp_path / "d", _volume(), number=7)
    write_series(tmp_path / "d", _volume(seed=2), number=9, description="T2 SAX")
    _edit(paths[1], Rows=32, PixelData=np.zeros((32, 48), "<i2").tobytes())
    with pytest.raises(InputError) as exc:
        load_study(tmp_path / "d", series="7")
    assert "different sizes" in str(exc.value) and str(tmp_path / "d") in str(exc.value)


# --- a real case, through the command line -----------------------------------------------------


@pytest.fixture
def p100(data_dir, require):
    return require(data_dir / "emidec-nifti" / "Case_P100" / "Images" / "Case_P100.nii.gz")


@pytest.mark.data
@pytest.mark.parametrize("keep", [0.7, 1000])
def test_real_case_cut_short_fails_before_any_output(p100, tmp_path, capsys, keep):
    damaged = tmp_path / "Case_P100.nii.gz"
    damaged.write_bytes(p100.read_bytes())
    _cut(damaged, keep)
    out = tmp_path / "out"
    code = main(["run", str(damaged), "-o", str(out), "-q", "--no-overview"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "damaged image file" in err and str(damaged) in err and "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Case_P100.nii.gz"]


@pytest.mark.data
def test_real_case_uncompressed_and_short(p100, tmp_path):
    path = tmp_path / "Case_P100.nii"
    path.write_bytes(gzip.decompress(p100.read_bytes()))
    assert load_study(path).image.shape[0] > 1  # intact
    msg = _refused(_cut(path, 0.7), "shorter than its header says")
    assert str(path) in msg
