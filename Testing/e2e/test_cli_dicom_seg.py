"""`scarseg run` on a DICOM series writes segmentation.dcm, and its masks are labels.nii.gz's.

The series is the shipped EMIDEC sample written as a double-oblique MR series (files in reverse
order) by Testing/dicom_series.py; the fast threshold scar method keeps the run short.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from dicom_series import (
    frame_sources,
    instance_positions,
    oblique_direction,
    read_seg_masks,
    write_mr_series,
)
from ScarSegmentationLib.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "Resources" / "SampleData" / "Case_P100.nii.gz"
FAST = ["--scar-method", "threshold", "--mc-samples", "0", "--no-overview", "-q"]


def test_run_on_a_dicom_series_writes_a_matching_dicom_seg(tmp_path, capsys):
    series = write_mr_series(
        sitk.ReadImage(str(SAMPLE)),
        tmp_path / "dicom",
        direction=oblique_direction(),
        origin=(-75.0, 12.0, 33.5),
        reverse_files=True,
    )
    out = tmp_path / "out"
    assert main(["run", str(series.folder), "-o", str(out), *FAST]) == 0, capsys.readouterr().err
    assert "segmentation.dcm" in json.loads((out / "run.json").read_text())["files"]

    labels_image = sitk.ReadImage(str(out / "labels.nii.gz"))
    labels = sitk.GetArrayFromImage(labels_image)
    masks, ds = read_seg_masks(out / "segmentation.dcm", labels_image)
    expected = {
        "Myocardium": labels >= 2,
        "Blood pool": labels == 1,
        "Scar": labels >= 3,
        "No-reflow": labels == 4,
    }
    assert expected["Myocardium"].sum() > 500, "no myocardium found: nothing to compare"
    for name, mask in expected.items():
        np.testing.assert_array_equal(masks[name], mask, err_msg=name)
    for part in ("Core scar", "Gray zone"):  # not in labels.nii.gz: inside the scar
        assert not (masks[part] & ~masks["Scar"]).any(), part
    positions = instance_positions(series.files)
    for uid, position in frame_sources(ds):
        np.testing.assert_allclose(positions[uid], position, atol=1e-4)
    assert ds.PatientID == "SAMPLE01" and ds.FrameOfReferenceUID

    # --overwrite replaces it like every other file this run wrote
    assert main(["run", str(series.folder), "-o", str(out), "--overwrite", *FAST]) == 0
    assert (out / "segmentation.dcm").is_file()


def test_run_on_an_image_file_writes_no_dicom_seg(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(SAMPLE), "-o", str(out), *FAST]) == 0, capsys.readouterr().err
    assert not (out / "segmentation.dcm").exists()
    assert "segmentation.dcm" not in json.loads((out / "run.json").read_text())["files"]
