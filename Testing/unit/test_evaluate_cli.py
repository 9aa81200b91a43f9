"""`scarseg evaluate` from the command line: outputs, and a clear error on a grid mismatch."""

from __future__ import annotations

from ScarSegmentationLib.cli import main
from test_evaluate import heart, write


def test_evaluate_cli_writes_report(tmp_path, capsys):
    write(tmp_path / "out" / "Case_P001" / "labels.nii.gz", heart(scar_shift=1))
    write(tmp_path / "ref" / "Case_P001" / "Contours" / "Case_P001.nii.gz", heart())
    code = main(
        ["evaluate", str(tmp_path / "out"), str(tmp_path / "ref"), "-o", str(tmp_path / "ev")]
    )
    assert code == 0
    assert "Scar: mean Dice" in capsys.readouterr().out
    for name in ("patients.tsv", "slices.schema.tsv", "summary.html", "scar_burden.png"):
        assert (tmp_path / "ev" / name).is_file()


def test_evaluate_cli_grid_mismatch_exit_1(tmp_path, capsys):
    write(tmp_path / "p.nii.gz", heart())
    write(tmp_path / "r.nii.gz", heart(), spacing=(1.5, 1.5, 8.0))
    code = main(
        [
            "evaluate",
            str(tmp_path / "p.nii.gz"),
            str(tmp_path / "r.nii.gz"),
            "-o",
            str(tmp_path / "ev"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "same grid" in err and "spacing" in err
    assert not (tmp_path / "ev").exists()


def test_evaluate_cli_bad_mapping_exit_1(tmp_path, capsys):
    write(tmp_path / "p.nii.gz", heart())
    code = main(
        [
            "evaluate",
            str(tmp_path / "p.nii.gz"),
            str(tmp_path / "p.nii.gz"),
            "--ref-labels",
            "scar=x",
        ]
    )
    assert code == 1 and "integers" in capsys.readouterr().err
