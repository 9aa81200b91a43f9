"""`scarseg features` then `scarseg classify` from the command line."""

from __future__ import annotations

import csv

import numpy as np
from ScarSegmentationLib.cli import main
from test_evaluate import heart, write


def test_features_then_classify(tmp_path, capsys):
    # 12 synthetic patients: the larger-scar half is labelled "acute".
    for i in range(12):
        write(tmp_path / "out" / f"Case_{i:02d}" / "labels.nii.gz", heart(scar_rows=2 + i))
    assert main(["features", str(tmp_path / "out"), "-o", str(tmp_path / "f.csv")]) == 0
    with (tmp_path / "f.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12
    burden = np.array([float(r["scar_burden_pct"]) for r in rows])
    assert np.all(np.diff(burden) > 0)  # more scar rows, more burden
    with (tmp_path / "labelled.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, [*rows[0], "group"])
        w.writeheader()
        for i, r in enumerate(rows):
            w.writerow({**r, "group": "acute" if i >= 6 else "chronic"})
    out = tmp_path / "cls"
    code = main(
        [
            "classify",
            str(tmp_path / "labelled.csv"),
            "--label",
            "group",
            "-o",
            str(out),
            "--folds",
            "3",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "AUC per fold" in capsys.readouterr().out
    assert (out / "model.json").is_file() and (out / "shap_summary.png").is_file()
    assert (
        main(["classify", str(tmp_path / "labelled.csv"), "--label", "nope", "-o", str(out)]) == 1
    )
