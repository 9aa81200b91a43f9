"""`scarseg batch`: folders and CSV lists, one summary, failures reported and skipped."""

from __future__ import annotations

import csv

import pytest
from ScarSegmentationLib.cli import main
from ScarSegmentationLib.commands.batch import list_jobs
from ScarSegmentationLib.errors import InputError


def _summary(out):
    with open(out / "summary.tsv") as f:
        return {r["name"]: r for r in csv.DictReader(f, delimiter="\t")}


def test_list_jobs_from_folder_and_csv(tmp_path):
    (tmp_path / "a.nii.gz").write_bytes(b"")
    (tmp_path / "case_b").mkdir()
    (tmp_path / "notes.txt").write_text("ignored: not an image or folder")
    assert [(j.name, j.input) for j in list_jobs(str(tmp_path))] == [
        ("a", str(tmp_path / "a.nii.gz")),
        ("case_b", str(tmp_path / "case_b")),
    ]
    listing = tmp_path / "list.csv"
    listing.write_text("input,name,series\na.nii.gz,first,\ncase_b,,7\n")
    jobs = list_jobs(str(listing))
    assert [(j.name, j.series) for j in jobs] == [("first", None), ("case_b", "7")]
    assert jobs[0].input == str(tmp_path / "a.nii.gz")


def test_list_jobs_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("path\nx.nii\n")
    with pytest.raises(InputError, match="'input' column"):
        list_jobs(str(bad))
    dup = tmp_path / "dup.csv"
    dup.write_text("input,name\na.nii,x\nb.nii,x\n")
    with pytest.raises(InputError, match="unique"):
        list_jobs(str(dup))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no studies"):
        list_jobs(str(tmp_path / "empty"))


@pytest.mark.data
def test_batch_continues_past_a_failing_study(data_dir, tmp_path, capsys, require):
    p100 = require(data_dir / "emidec-nifti" / "Case_P100")
    bad = tmp_path / "broken.nii.gz"
    bad.write_text("not an image")
    listing = tmp_path / "studies.csv"
    listing.write_text(f"input,name\n{p100},P100\n{bad},broken\n")
    out = tmp_path / "cohort"
    code = main(["batch", str(listing), "-o", str(out), "-q", "--no-overview"])
    err = capsys.readouterr().err
    assert code == 1, "a failed study makes the exit status 1"
    assert "FAILED broken" in err
    rows = _summary(out)
    assert rows["P100"]["status"] == "ok" and float(rows["P100"]["myocardium_mass_g"]) > 30
    assert rows["broken"]["status"] == "failed" and rows["broken"]["error"]
    assert (out / "P100" / "labels.nii.gz").is_file()
    assert not (out / "broken").exists()
