"""DICOM folder input on synthetic series written with pydicom: choice, order, rescale, errors."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from ScarSegmentationLib.errors import InputError
from ScarSegmentationLib.io import find_dicom_series, load_study

# A double-oblique short-axis orientation (row and column direction cosines, LPS).
ROW = np.array([0.78, 0.36, 0.51]) / np.linalg.norm([0.78, 0.36, 0.51])
_col = np.array([0.0, 0.82, -0.58])
COL = (_col - (_col @ ROW) * ROW) / np.linalg.norm(_col - (_col @ ROW) * ROW)
NORMAL = np.cross(ROW, COL)
ORIGIN = np.array([-40.0, 10.0, 30.0])
STUDY_UID = generate_uid()


def write_series(
    folder,
    volume,
    *,
    number=7,
    description="LGE PSIR SAX",
    step=8.0,
    pixel=(1.25, 1.5),
    slope=1.0,
    intercept=0.0,
    frames=1,
    order=None,
    uid=None,
):
    """Write volume (k, rows, cols) as one file per slice (and per frame); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = uid or generate_uid()
    paths = []
    ks = list(range(volume.shape[0])) if order is None else order
    for n, k in enumerate(ks):
        for t in range(frames):
            stored = np.round((volume[k] - intercept) / slope).astype(np.int16)
            ds = _dataset(stored, ORIGIN + k * step * NORMAL, pixel, uid, number, description)
            ds.InstanceNumber = n * frames + t + 1
            ds.RescaleSlope, ds.RescaleIntercept = f"{slope:g}", f"{intercept:g}"
            path = folder / f"s{number}_{n:03d}_{t:02d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    return paths


def _dataset(pixels, position, pixel, uid, number, description):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = "MR", "PHANTOM01"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY_UID, uid
    ds.SeriesNumber, ds.SeriesDescription = number, description
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M"]
    ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*ROW, *COL)]
    ds.PixelSpacing = [f"{pixel[0]:g}", f"{pixel[1]:g}"]
    ds.SliceThickness = "8"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = pixels.astype("<i2").tobytes()
    return ds


def _volume(k=6, rows=40, cols=48, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(-500, 3000, size=(k, rows, cols)).astype(np.float64)


def test_series_geometry_and_values(tmp_path):
    vol = _volume()
    write_series(tmp_path / "d", vol)
    study = load_study(tmp_path / "d")
    assert study.image.dtype == np.float32 and study.image.shape == vol.shape
    np.testing.assert_allclose(study.image, vol)
    np.testing.assert_allclose(study.spacing, (1.5, 1.25, 8.0), atol=1e-4)
    np.testing.assert_allclose(study.origin, ORIGIN, atol=1e-3)
    np.testing.assert_allclose(study.direction, np.column_stack([ROW, COL, NORMAL]), atol=1e-5)
    # voxel (i, j, k) = (3, 2, 4) lies at the expected LPS point
    expected = ORIGIN + 3 * 1.5 * ROW + 2 * 1.25 * COL + 4 * 8.0 * NORMAL
    np.testing.assert_allclose(study.index_to_lps() @ [3, 2, 4, 1], [*expected, 1], atol=1e-3)
    assert study.metadata["format"] == "DICOM"
    assert study.metadata["contrast"].startswith("PSIR")  # negative values kept, signed
    assert study.image.min() < 0


def test_rescale_slope_intercept_applied(tmp_path):
    vol = _volume() * 0.5 + 1000.0  # stored = (value - 1000) / 0.5
    write_series(tmp_path / "d", vol, slope=0.5, intercept=1000.0)
    study = load_study(tmp_path / "d")
    np.testing.assert_allclose(study.image, vol, atol=1e-3)
    assert "slope=0.5" in study.metadata["rescale"]
    raw = pydicom.dcmread(sorted((tmp_path / "d").iterdir())[0]).pixel_array
    assert not np.allclose(raw, vol[0])  # the files really hold stored, not real, values


def test_unsorted_files_are_sorted_by_position(tmp_path):
    vol = _volume()
    write_series(tmp_path / "d", vol, order=[3, 0, 5, 1, 4, 2])  # file names in the wrong order
    study = load_study(tmp_path / "d")
    np.testing.assert_allclose(study.image, vol)
    np.testing.assert_allclose(study.origin, ORIGIN, atol=1e-3)


def test_spacing_from_positions_not_slice_thickness(tmp_path):
    write_series(tmp_path / "d", _volume(), step=10.0)  # SliceThickness says 8
    assert load_study(tmp_path / "d").spacing[2] == pytest.approx(10.0, abs=1e-3)


def test_two_series_listed_then_chosen(tmp_path):
    write_series(tmp_path / "d", _volume(seed=1), number=7, description="LGE PSIR")
    write_series(tmp_path / "d", _volume(seed=2), number=9, description="LGE magnitude")
    with pytest.raises(InputError) as exc:
        load_study(tmp_path / "d")
    msg = str(exc.value)
    assert "series 7" in msg and "series 9" in msg and "6 slices" in msg
    assert "series=" in msg and "--series" in msg
    np.testing.assert_allclose(load_study(tmp_path / "d", series="9").image, _volume(seed=2))
    np.testing.assert_allclose(load_study(tmp_path / "d", series="psir").image, _volume(seed=1))
    with pytest.raises(InputError, match="no series matches"):
        load_study(tmp_path / "d", series="42")


def test_lge_series_preferred_over_other_stack(tmp_path):
    write_series(tmp_path / "d", _volume(seed=1), number=3, description="cine retro SAX stack")
    write_series(tmp_path / "d", _volume(seed=2), number=12, description="DE_SAX_MAG")
    study = load_study(tmp_path / "d")
    assert study.metadata["series_number"] == "12"
    assert [s.number for s in find_dicom_series(tmp_path / "d")] == ["3", "12"]


def test_localizer_and_non_dicom_files_ignored(tmp_path):
    write_series(tmp_path / "d", _volume(k=3, seed=3), number=1, description="3-plane localizer")
    write_series(tmp_path / "d", _volume(seed=4), number=5, description="SAX stack")
    (tmp_path / "d" / "readme.txt").write_text("acquired on a phantom")
    (tmp_path / "d" / "DICOMDIR").write_bytes(b"\0" * 200)
    assert load_study(tmp_path / "d").metadata["series_number"] == "5"


def test_time_series_at_one_position_refused(tmp_path):
    write_series(tmp_path / "d", _volume(k=1), number=6, description="First Pass", frames=12)
    with pytest.raises(InputError) as exc:
        load_study(tmp_path / "d")
    msg = str(exc.value)
    assert "one slice position with 12 time frames" in msg and "time series" in msg


def test_cine_stack_refused(tmp_path):
    write_series(tmp_path / "d", _volume(k=4), description="cine SAX", frames=5)
    with pytest.raises(InputError, match="time series"):
        load_study(tmp_path / "d")


def test_gap_in_positions_reported(tmp_path):
    paths = write_series(tmp_path / "d", _volume())
    paths[2].unlink()  # a missing slice
    with pytest.raises(InputError) as exc:
        load_study(tmp_path / "d")
    assert "gap" in str(exc.value) and "16.0 mm" in str(exc.value)


def test_corrupt_file_in_series_named(tmp_path):
    paths = write_series(tmp_path / "d", _volume())
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[: len(data) - 1500])  # header intact, pixel data truncated
    with pytest.raises(InputError) as exc:
        load_study(tmp_path / "d")
    assert "corrupt" in str(exc.value) and paths[3].name in str(exc.value)


def test_garbage_dcm_skipped_with_warning(tmp_path, caplog):
    vol = _volume()
    write_series(tmp_path / "d", vol)
    (tmp_path / "d" / "broken.dcm").write_bytes(b"this is not DICOM at all" * 20)
    with caplog.at_level("WARNING"):
        study = load_study(tmp_path / "d")
    np.testing.assert_allclose(study.image, vol)
    assert "broken.dcm" in caplog.text
    assert "broken.dcm" in study.metadata["skipped_files"]


def test_garbage_slice_of_series_reported_as_gap(tmp_path):
    paths = write_series(tmp_path / "d", _volume())
    paths[2].write_bytes(b"garbage" * 100)  # unparseable: cannot tell its series -> skipped
    with pytest.raises(InputError) as exc:
        load_study(tmp_path / "d")
    assert "gap" in str(exc.value) and paths[2].name in str(exc.value)


def test_folder_without_image_series(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("nothing")
    with pytest.raises(InputError, match="found no DICOM image series"):
        load_study(tmp_path / "d")


def test_single_slice_series_needs_explicit_choice(tmp_path):
    write_series(tmp_path / "d", _volume(k=1), number=4, description="LGE 4ch")
    with pytest.raises(InputError, match="series="):
        load_study(tmp_path / "d")
    study = load_study(tmp_path / "d", series="4")
    assert study.num_slices == 1 and study.spacing[2] == pytest.approx(8.0)  # SliceThickness
    assert "single slice" in study.metadata["warning"]


def test_one_file_given_loads_its_series(tmp_path):
    write_series(tmp_path / "d", _volume(seed=1), number=7)
    paths = write_series(tmp_path / "d", _volume(seed=2), number=9)
    np.testing.assert_allclose(load_study(paths[0]).image, _volume(seed=2))
