"""Outputs that never destroy: OUTDIR checked before any work, --overwrite replaces only what
scarseg wrote, the user's usual permissions, and a typed summary for `scarseg batch`.

Fast: the output writer runs on a tiny made-up result, and the command-line checks must stop
before a study is even loaded (load_study is replaced by a function that fails the test).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from ScarSegmentationLib import io as scar_io
from ScarSegmentationLib import outputs
from ScarSegmentationLib.cli import main
from ScarSegmentationLib.commands.batch import _write_summary, check_batch_folder
from ScarSegmentationLib.errors import InputError
from ScarSegmentationLib.outputs import check_output_folder, write_outputs
from ScarSegmentationLib.pipeline import PipelineResult
from ScarSegmentationLib.study import Study

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


def _result(note: str = "first") -> PipelineResult:
    shape = (4, 32, 32)
    _, j, i = np.indices(shape)
    r = np.hypot(j - 16, i - 16)
    image = np.random.default_rng(0).random(shape).astype(np.float32) * 100
    study = Study(image=image, spacing=(1.5, 1.5, 8.0), name="tiny")
    return PipelineResult(
        study=study,
        masks={"Myocardium": (r >= 5) & (r < 9), "Blood pool": r < 5},
        maps={},
        tables={},
        slice_info={},
        boxes=[],
        notes=[note],
        stages=[],
        seconds={"total": 0.0},
        peak_memory_mb=1.0,
    )


@pytest.fixture
def no_work(monkeypatch):
    """Any attempt to load a study fails the test: the output checks come first."""

    def fail(*args, **kwargs):
        raise AssertionError("the study was loaded before the output folder was checked")

    monkeypatch.setattr(scar_io, "load_study", fail)


@pytest.fixture
def image(tmp_path) -> Path:
    (tmp_path / "studies").mkdir()
    path = tmp_path / "studies" / "study.nii.gz"
    a = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(a), str(path))
    return path


def _input(command: str, image: Path) -> str:
    """run takes the image, batch the folder of studies it is in."""
    return str(image if command == "run" else image.parent)


def _fails(capsys, argv, *words) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    return err


def _read_only(folder: Path) -> None:
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root ignores permission bits
        folder.chmod(0o755)
        pytest.skip("running as a user whom chmod does not stop (root)")


@posix_only
@pytest.mark.parametrize("command", ["run", "batch"])
def test_read_only_parent_refused_before_work(tmp_path, capsys, image, no_work, command):
    parent = tmp_path / "ro"
    parent.mkdir()
    _read_only(parent)
    try:
        _fails(
            capsys, [command, _input(command, image), "-o", str(parent / "out"), "-q"], "permission"
        )
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)


@pytest.mark.parametrize("command", ["run", "batch"])
def test_unwritable_parent_refused_before_work(
    tmp_path, capsys, image, no_work, monkeypatch, command
):
    """The same check where chmod cannot stop the user (root): os.access says no."""
    parent = tmp_path / "ro"
    parent.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        outputs.os,
        "access",
        lambda p, mode: False if Path(p) == parent else real_access(p, mode),
    )
    err = _fails(capsys, [command, _input(command, image), "-o", str(parent / "a" / "out"), "-q"])
    assert "no permission to write in" in err and str(parent) in err
    assert list(parent.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "batch"])
def test_outdir_that_is_a_file_refused(tmp_path, capsys, image, no_work, command):
    target = tmp_path / "out"
    target.write_text("a file, not a folder")
    _fails(capsys, [command, _input(command, image), "-o", str(target), "-q"], "is a file")
    assert target.read_text() == "a file, not a folder"


def test_outdir_below_a_file_refused(tmp_path, capsys, image, no_work):
    (tmp_path / "f").write_text("x")
    _fails(capsys, ["run", str(image), "-o", str(tmp_path / "f" / "out"), "-q"], "is a file")


def test_existing_outdir_without_marker_refused_even_with_overwrite(
    tmp_path, capsys, image, no_work
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    err = _fails(capsys, ["run", str(image), "-o", str(out), "-q", "--overwrite"], str(out))
    assert "run.json" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_overwrite_keeps_files_scarseg_did_not_write(tmp_path):
    out = tmp_path / "out"
    write_outputs(_result("first"), out, overview=False)
    first = json.loads((out / "run.json").read_text())
    assert first["written_by"] == "scarseg run"
    assert set(first["files"]) == {p.name for p in out.iterdir()}
    (out / "notes.txt").write_text("the user's notes")
    (out / "extra").mkdir()

    with pytest.raises(InputError, match="--overwrite"):
        check_output_folder(out, overwrite=False)
    write_outputs(_result("second"), out, overwrite=True, overview=False)

    assert (out / "notes.txt").read_text() == "the user's notes"
    assert (out / "extra").is_dir()
    second = json.loads((out / "run.json").read_text())
    assert second["notes"] == ["second"]
    assert set(second["files"]) == {p.name for p in out.iterdir()} - {"notes.txt", "extra"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")], "temporary left"


def test_overwrite_never_replaces_a_user_file_of_an_output_name(tmp_path):
    out = tmp_path / "out"
    write_outputs(_result(), out, overview=False)
    (out / "overview.png").write_bytes(b"the user's own picture")  # not in run.json
    with pytest.raises(InputError, match="overview.png"):
        check_output_folder(out, overwrite=True)
    with pytest.raises(InputError, match="overview.png"):
        write_outputs(_result(), out, overwrite=True, overview=False)
    assert (out / "overview.png").read_bytes() == b"the user's own picture"


def test_empty_existing_outdir_is_used(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    write_outputs(_result(), out, overview=False)
    assert (out / "labels.nii.gz").is_file()


@posix_only
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        out = write_outputs(_result(), tmp_path / "a" / "out", overview=False)
    finally:
        os.umask(old)
    folders = [tmp_path / "a", out]
    files = list(out.iterdir())
    assert {oct(p.stat().st_mode & 0o777) for p in folders} == {oct(0o777 & ~umask)}
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o666 & ~umask)}


def test_batch_summary_has_a_schema_and_sensible_precision(tmp_path):
    rows = [
        {
            "name": "a",
            "input": "/x/a.nii.gz",
            "status": "ok",
            "error": "",
            "myocardium_mass_g": np.float64(104.12345678912345),
            "scar_burden_pct": 12.3456789,
            "seconds": 3.14159,
        },
        {"name": "b", "input": "/x/b", "status": "failed", "error": "bad\tfile\nhere"},
    ]
    _write_summary(rows, tmp_path)
    with open(tmp_path / "summary.tsv") as f:
        table = list(csv.DictReader(f, delimiter="\t"))
    assert table[0]["myocardium_mass_g"] == "104.123"
    assert table[0]["scar_burden_pct"] == "12.3457"
    assert table[0]["scar_volume_ml"] == ""
    assert table[1]["error"] == "bad file here"
    with open(tmp_path / "summary.schema.tsv") as f:
        schema = {r["columnName"]: r for r in csv.DictReader(f, delimiter="\t")}
    assert list(schema) == list(table[0])
    assert schema["myocardium_mass_g"]["type"] == "double"
    assert schema["myocardium_mass_g"]["unitLabel"] == "g"
    assert schema["scar_burden_pct"]["unitLabel"] == "%"
    assert schema["seconds"]["unitLabel"] == "s"
    assert schema["status"]["type"] == "string"
    marker = json.loads((tmp_path / "batch.json").read_text())
    assert set(marker["files"]) == {"summary.tsv", "summary.schema.tsv", "batch.json"}


def test_batch_summary_replaced_only_with_overwrite_and_marker(tmp_path, capsys, image, no_work):
    out = tmp_path / "cohort"
    out.mkdir()
    (out / "summary.tsv").write_text("someone else's table")
    _fails(capsys, ["batch", str(image.parent), "-o", str(out), "-q"], "--overwrite")
    _fails(capsys, ["batch", str(image.parent), "-o", str(out), "-q", "--overwrite"], "summary.tsv")
    assert (out / "summary.tsv").read_text() == "someone else's table"
    (out / "summary.tsv").unlink()
    _write_summary([{"name": "a", "input": "a", "status": "ok", "error": ""}], out)
    check_batch_folder(out, overwrite=True)  # our own summary: may be replaced
    with pytest.raises(InputError, match="--overwrite"):
        check_batch_folder(out, overwrite=False)


def test_batch_study_folder_checked_before_its_work(tmp_path, capsys, image, no_work):
    out = tmp_path / "cohort"
    (out / "study").mkdir(parents=True)
    (out / "study" / "notes.txt").write_text("mine")
    _fails(capsys, ["batch", str(image.parent), "-o", str(out), "-q"], "FAILED study")
    with open(out / "summary.tsv") as f:
        (row,) = list(csv.DictReader(f, delimiter="\t"))
    assert row["status"] == "failed" and "pass --overwrite" in row["error"], row["error"]
    assert sorted(p.name for p in (out / "study").iterdir()) == ["notes.txt"]
