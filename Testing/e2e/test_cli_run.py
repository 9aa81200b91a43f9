"""`scarseg run` end to end on real studies: every output file, .mrb reload, label-map geometry."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import SimpleITK as sitk
from ScarSegmentationLib.cli import main

pytestmark = pytest.mark.data

EXPECTED = [
    "segmentation.seg.nrrd",
    "labels.nii.gz",
    "measurements.tsv",
    "measurements.schema.tsv",
    "slices.tsv",
    "slices.schema.tsv",
    "lesions.tsv",
    "lesions.schema.tsv",
    "scene.mrb",
    "overview.png",
    "bullseye.png",
    "myocardium_uncertainty.nii.gz",
    "run.json",
]


def _geometry(path):
    img = sitk.ReadImage(str(path))
    return img.GetSize(), img.GetSpacing(), img.GetOrigin(), img.GetDirection()


def _assert_same_geometry(a, b):
    (sa, pa, oa, da), (sb, pb, ob, db) = a, b
    assert sa == sb
    np.testing.assert_allclose(pa, pb, rtol=1e-6)
    np.testing.assert_allclose(oa, ob, atol=1e-4)
    np.testing.assert_allclose(da, db, atol=1e-6)


def _run(study, out, capsys):
    code = main(["run", str(study), "-o", str(out), "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def _check_outputs(out, image_path):
    for name in EXPECTED:
        assert (out / name).is_file(), f"missing {name}"
    _assert_same_geometry(_geometry(out / "labels.nii.gz"), _geometry(image_path))
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "labels.nii.gz")))
    assert set(np.unique(labels)) <= {0, 1, 2, 3, 4}
    assert (labels == 2).sum() > 500, "expected a myocardium"
    with open(out / "measurements.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == 1
    myo_mass = float(rows[0]["myocardium_mass_g"])
    assert 30 < myo_mass < 400, myo_mass


def _check_mrb_reload(out):
    from ScarSegmentationLib import mrml

    scene = mrml.read_mrb(out / "scene.mrb")
    classes = [scene.GetNthNode(i).GetClassName() for i in range(scene.GetNumberOfNodes())]
    assert "vtkMRMLScalarVolumeNode" in classes
    assert "vtkMRMLSegmentationNode" in classes
    assert classes.count("vtkMRMLTableNode") >= 3
    seg = next(
        scene.GetNthNode(i)
        for i in range(scene.GetNumberOfNodes())
        if scene.GetNthNode(i).GetClassName() == "vtkMRMLSegmentationNode"
    )
    names = {
        seg.GetSegmentation().GetNthSegment(i).GetName()
        for i in range(seg.GetSegmentation().GetNumberOfSegments())
    }
    assert {"Myocardium", "Blood pool"} <= names


def test_run_emidec_case_p100(data_dir, tmp_path, capsys, require):
    case = require(data_dir / "emidec-nifti" / "Case_P100")
    out = tmp_path / "P100"
    text = _run(case, out, capsys)
    assert "Case_P100" in text
    _check_outputs(out, case / "Images" / "Case_P100.nii.gz")
    _check_mrb_reload(out)


def test_run_myops_case(data_dir, tmp_path, capsys, require):
    image = require(data_dir / "myops-train25" / "Case3001" / "Case3001_LGE.nii.gz")
    out = tmp_path / "myops"
    _run(image, out, capsys)
    _check_outputs(out, image)


def test_relative_output_folder(data_dir, tmp_path, capsys, require, monkeypatch):
    case = require(data_dir / "emidec-nifti" / "Case_N006")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(case), "-o", "out/N006", "-q", "--no-overview"]) == 0, (
        capsys.readouterr()
    )
    assert (tmp_path / "out" / "N006" / "scene.mrb").is_file()


def test_rerun_needs_overwrite_and_replaces(data_dir, tmp_path, capsys, require):
    case = require(data_dir / "emidec-nifti" / "Case_N006")
    out = tmp_path / "N006"
    _run(case, out, capsys)
    assert main(["run", str(case), "-o", str(out), "-q"]) == 1
    capsys.readouterr()
    code = main(["run", str(case), "-o", str(out), "-q", "--overwrite", "--no-overview"])
    assert code == 0
    assert not (out / "overview.png").exists(), "overwrite replaces the folder as a whole"
