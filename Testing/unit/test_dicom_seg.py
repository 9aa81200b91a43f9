"""DICOM SEG writer (io/dicom_seg.py) on DICOM MR series built from real NIfTI cases.

The series are written with pydicom by Testing/dicom_series.py from the shipped EMIDEC sample
(as it is, and with a double-oblique geometry and files in reverse order) and from a MyoPS case
(oblique as acquired). The SEG is read back with pydicom alone, each frame placed by its own
position, and compared with the reference label map; highdicom reads it too.
"""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
import SimpleITK as sitk
from dicom_series import (
    frame_sources,
    instance_positions,
    oblique_direction,
    read_seg_masks,
    write_mr_series,
)
from ScarQuantificationLib.terminology import LOCAL_SCHEME, SEGMENT_CODES
from ScarSegmentationLib.io import load_study
from ScarSegmentationLib.io.dicom_seg import (
    DicomSegError,
    frames_on_sources,
    read_sources,
    source_files_for_study,
    write_dicom_seg,
    write_study_seg,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "Resources" / "SampleData"


def emidec_masks(labels: np.ndarray) -> dict[str, np.ndarray]:
    """EMIDEC labels (1 blood pool, 2 myocardium, 3 scar, 4 no-reflow) -> overlapping masks."""
    return {
        "Myocardium": labels >= 2,
        "Blood pool": labels == 1,
        "Scar": labels >= 3,
        "No-reflow": labels == 4,
    }


@pytest.fixture(scope="module")
def sample():
    image = sitk.ReadImage(str(SAMPLE / "Case_P100.nii.gz"))
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(SAMPLE / "Case_P100_labels.nii.gz")))
    return image, labels


def _check_round_trip(series, labels, seg_path):
    expected = emidec_masks(labels)
    masks, ds = read_seg_masks(seg_path, series.image)
    assert list(masks) == list(expected)  # one segment per structure, in this order
    for name, mask in expected.items():
        assert mask.any(), name
        np.testing.assert_array_equal(masks[name], mask, err_msg=name)
    # every frame references the source instance at its own position
    positions = instance_positions(series.files)
    for uid, position in frame_sources(ds):
        np.testing.assert_allclose(positions[uid], position, atol=1e-4)
    assert ds.StudyInstanceUID == read_sources(series.files[:1])[0].StudyInstanceUID
    return ds


@pytest.mark.parametrize("geometry", ["as_acquired", "oblique_reversed_files"])
def test_seg_round_trip_on_the_shipped_sample(tmp_path, sample, geometry):
    image, labels = sample
    if geometry == "as_acquired":
        series = write_mr_series(image, tmp_path / "dicom")
    else:
        series = write_mr_series(
            image,
            tmp_path / "dicom",
            direction=oblique_direction(),
            origin=(-80.0, 20.5, 41.25),
            reverse_files=True,
        )
    study = load_study(series.folder)
    np.testing.assert_allclose(study.image, sitk.GetArrayFromImage(image))  # same grid
    assert [p.name for p in source_files_for_study(study)] == [p.name for p in series.files]
    path = write_study_seg(emidec_masks(labels), study, tmp_path / "segmentation.dcm")
    ds = _check_round_trip(series, labels, path)
    assert ds.Modality == "SEG" and ds.SeriesDescription
    assert int(ds.SeriesNumber) == 1012  # 1000 + the source series number


def test_masks_on_a_grid_running_the_other_way_give_the_same_frames(tmp_path, sample):
    """A volume whose k axis runs against the series (as a viewer may load it) is placed by
    position, not by index."""
    image, labels = sample
    series = write_mr_series(image, tmp_path / "dicom", direction=oblique_direction((10, 20, 30)))
    study = load_study(series.folder)
    masks = emidec_masks(labels)
    sources = read_sources(series.files)
    forward = frames_on_sources(masks, study.index_to_lps(), sources)
    flip = np.diag([1.0, 1.0, -1.0, 1.0])
    flip[2, 3] = labels.shape[0] - 1  # k' = K - 1 - k
    reversed_grid = {n: m[::-1] for n, m in masks.items()}
    backward = frames_on_sources(reversed_grid, study.index_to_lps() @ flip, sources)
    np.testing.assert_array_equal(forward, backward)
    assert forward.shape == (labels.shape[0], *labels.shape[1:], len(masks))


def test_a_grid_off_the_series_pixels_is_refused(tmp_path, sample):
    image, labels = sample
    series = write_mr_series(image, tmp_path / "dicom")
    study = load_study(series.folder)
    masks = emidec_masks(labels)
    shifted = study.index_to_lps()
    shifted[:3, 3] += 0.5 * study.spacing[0] * study.direction[:, 0]  # half a pixel
    with pytest.raises(DicomSegError, match="between"):
        write_dicom_seg(masks, shifted, series.files, tmp_path / "x.dcm")
    coarse = study.index_to_lps() @ np.diag([2.0, 2.0, 1.0, 1.0])  # other pixel spacing
    with pytest.raises(DicomSegError, match="not aligned"):
        write_dicom_seg(masks, coarse, series.files, tmp_path / "x.dcm")
    empty = {n: np.zeros_like(m) for n, m in masks.items()}
    with pytest.raises(DicomSegError, match="empty"):
        write_dicom_seg(empty, study.index_to_lps(), series.files, tmp_path / "x.dcm")
    assert not (tmp_path / "x.dcm").exists()


def test_a_study_not_read_from_dicom_has_no_seg(sample):
    study = load_study(SAMPLE / "Case_P100.nii.gz")
    with pytest.raises(DicomSegError, match="not read from a DICOM series"):
        source_files_for_study(study)


def test_segments_carry_the_terminology_codes(tmp_path, sample):
    image, labels = sample
    series = write_mr_series(image, tmp_path / "dicom")
    study = load_study(series.folder)
    masks = emidec_masks(labels)
    masks["Core scar"] = masks["Scar"] & (labels == 3)
    masks["Gray zone"] = np.zeros_like(masks["Scar"])  # empty segments are still described
    path = write_study_seg(masks, study, tmp_path / "segmentation.dcm")
    seg = hd.seg.segread(path)
    described = {d.segment_label: d for d in seg.SegmentSequence}
    assert list(described) == [
        "Myocardium",
        "Blood pool",
        "Scar",
        "Core scar",
        "Gray zone",
        "No-reflow",
    ]
    for name, item in described.items():
        codes = SEGMENT_CODES[name]
        category = item.SegmentedPropertyCategoryCodeSequence[0]
        kind = item.SegmentedPropertyTypeCodeSequence[0]
        assert (category.CodingSchemeDesignator, category.CodeValue) == (
            codes.category.scheme,
            codes.category.value,
        )
        assert (kind.CodingSchemeDesignator, kind.CodeValue, kind.CodeMeaning) == (
            codes.type.scheme,
            codes.type.value,
            codes.type.meaning,
        )
        assert item.SegmentAlgorithmType == "AUTOMATIC"
        assert "RecommendedDisplayCIELabValue" in item
    assert described["Scar"].SegmentedPropertyTypeCodeSequence[0].CodeValue == "12402003"
    assert described["Myocardium"].SegmentedPropertyTypeCodeSequence[0].CodeValue == "74281007"
    assert described["Blood pool"].SegmentedPropertyTypeCodeSequence[0].CodeValue == "87878005"
    schemes = {item.CodingSchemeDesignator for item in seg.CodingSchemeIdentificationSequence}
    assert LOCAL_SCHEME in schemes
    # highdicom's own reading gives the same pixels per source instance as pydicom's
    uid = str(read_sources(series.files[3:4])[0].SOPInstanceUID)
    pixels = seg.get_pixels_by_source_instance([uid], segment_numbers=[1, 3])
    np.testing.assert_array_equal(pixels[0, ..., 0] > 0, masks["Myocardium"][3])
    np.testing.assert_array_equal(pixels[0, ..., 1] > 0, masks["Scar"][3])


@pytest.mark.data
def test_seg_round_trip_on_an_oblique_myops_case(tmp_path, data_dir, require):
    """A real oblique acquisition (MyoPS 2020), int16 with its own geometry."""
    case = require(data_dir / "myops-train25" / "Case3001")
    image = sitk.ReadImage(str(case / "Case3001_LGE.nii.gz"))
    gd = sitk.GetArrayFromImage(sitk.ReadImage(str(case / "Case3001_gd.nii.gz")))
    assert abs(np.reshape(image.GetDirection(), (3, 3))[2, 2]) < 0.9  # really oblique
    labels = np.zeros(gd.shape, dtype=np.uint8)  # MyoPS -> EMIDEC convention
    labels[gd == 500] = 1
    labels[np.isin(gd, (200, 1220))] = 2
    labels[gd == 2221] = 3
    series = write_mr_series(image, tmp_path / "dicom", description="LGE SAX")
    study = load_study(series.folder)
    # Its direction matrix is left-handed: the DICOM reader's slice normal (row x column) runs
    # against the NIfTI's k, so the study holds the slices in the other order.
    assert np.linalg.det(np.reshape(image.GetDirection(), (3, 3))) < 0
    np.testing.assert_allclose(study.image, sitk.GetArrayFromImage(image)[::-1])
    on_study_grid = emidec_masks(labels[::-1])
    path = write_study_seg(on_study_grid, study, tmp_path / "segmentation.dcm")
    masks, _ = read_seg_masks(path, series.image)
    for name, mask in emidec_masks(labels).items():
        np.testing.assert_array_equal(masks[name], mask, err_msg=name)
