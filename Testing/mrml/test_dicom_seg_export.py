"""The module's DICOM SEG export (mrml_dicom_seg.py) on a real slicer-core scene.

The volume node holds a DICOM series built from the shipped EMIDEC sample (double oblique, files
in reverse order) with the instance UIDs Slicer's DICOM loader records; the SEG is read back with
pydicom and compared with the reference labels, also with the volume and segmentation under a
rotating and translating parent transform, and with the segmentation on another grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicom_series import oblique_direction, read_seg_masks, write_mr_series
from ScarQuantificationLib.mrml_volumes import to_vtk_matrix
from ScarSegmentationLib.io import load_study
from ScarSegmentationLib.io.dicom_seg import DicomSegError
from ScarSegmentationLib.mrml_dicom_seg import (
    INSTANCE_UIDS_ATTRIBUTE,
    export_dicom_seg,
    source_files_of_volume,
)
from ScarSegmentationLib.mrml_scene import new_scene
from ScarSegmentationLib.mrml_segments import segmentation_node_from_masks
from ScarSegmentationLib.mrml_volumes import volume_node_from_study
from scipy.spatial.transform import Rotation

SAMPLE = Path(__file__).resolve().parents[2] / "Resources" / "SampleData"


def _masks(labels):
    return {
        "Myocardium": labels >= 2,
        "Blood pool": labels == 1,
        "Scar": labels >= 3,
        "No-reflow": labels == 4,
    }


@pytest.fixture
def dicom_scene(tmp_path):
    image = sitk.ReadImage(str(SAMPLE / "Case_P100.nii.gz"))
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(SAMPLE / "Case_P100_labels.nii.gz")))
    series = write_mr_series(
        image, tmp_path / "dicom", direction=oblique_direction(), reverse_files=True
    )
    study = load_study(series.folder)
    scene = new_scene()
    volume = volume_node_from_study(scene, study, "LGE")
    files = {
        str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID): str(f)
        for f in series.files
    }
    volume.SetAttribute(INSTANCE_UIDS_ATTRIBUTE, " ".join(files))  # as Slicer's DICOM loader
    segmentation = segmentation_node_from_masks(scene, _masks(labels), volume)
    return scene, volume, segmentation, series, labels, files


def _export(volume, segmentation, files, path):
    return export_dicom_seg(segmentation, volume, path, source_files_of_volume(volume, files.get))


def test_export_round_trip(dicom_scene, tmp_path):
    _, volume, segmentation, series, labels, files = dicom_scene
    path = _export(volume, segmentation, files, tmp_path / "seg.dcm")
    masks, ds = read_seg_masks(path, series.image)
    for name, mask in _masks(labels).items():
        np.testing.assert_array_equal(masks[name], mask, err_msg=name)
    assert ds.SeriesDescription == "MyocardialScar segmentation"


def test_a_parent_transform_does_not_move_the_dicom_seg(dicom_scene, tmp_path):
    scene, volume, segmentation, series, labels, files = dicom_scene
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "registration")
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_euler("xyz", (12, -20, 33), degrees=True).as_matrix()
    matrix[:3, 3] = (100.0, -40.0, 25.0)
    transform.SetMatrixTransformToParent(to_vtk_matrix(matrix))
    volume.SetAndObserveTransformNodeID(transform.GetID())
    segmentation.SetAndObserveTransformNodeID(transform.GetID())
    masks, _ = read_seg_masks(
        _export(volume, segmentation, files, tmp_path / "a.dcm"), series.image
    )
    for name, mask in _masks(labels).items():
        np.testing.assert_array_equal(masks[name], mask, err_msg=name)
    # only the volume moved: the segmentation stays where it was in the world, far from the
    # moved volume's voxels, onto which it is resampled through the transforms: nothing is left
    segmentation.SetAndObserveTransformNodeID(None)
    with pytest.raises(DicomSegError, match="empty"):
        _export(volume, segmentation, files, tmp_path / "b.dcm")


def test_a_volume_not_loaded_from_dicom_is_refused(dicom_scene, tmp_path):
    _, volume, segmentation, _, _, files = dicom_scene
    volume.RemoveAttribute(INSTANCE_UIDS_ATTRIBUTE)
    with pytest.raises(DicomSegError, match="not loaded from a DICOM series"):
        source_files_of_volume(volume, files.get)
    volume.SetAttribute(INSTANCE_UIDS_ATTRIBUTE, " ".join(files))
    with pytest.raises(DicomSegError, match="not in the DICOM database"):
        source_files_of_volume(volume, {}.get)


def test_a_segmentation_without_known_segments_is_refused(dicom_scene, tmp_path):
    scene, volume, _, _, labels, files = dicom_scene
    other = segmentation_node_from_masks(scene, {"Tumour": labels >= 2}, volume, name="other")
    with pytest.raises(DicomSegError, match="none of the segments"):
        _export(volume, other, files, tmp_path / "x.dcm")
