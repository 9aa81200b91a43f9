"""The README's fallback main job without real data: `scarseg phantom`, then `scarseg run` on it."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from ScarSegmentationLib import weights
from ScarSegmentationLib.cli import main
from ScarSegmentationLib.factory import AUTO_SCAR_METHOD, SCAR_WEIGHTS


def test_phantom_then_run_finds_the_synthetic_heart(tmp_path, capsys):
    assert main(["phantom", "-o", str(tmp_path / "ph")]) == 0
    out = tmp_path / "run"
    code = main(["run", str(tmp_path / "ph" / "phantom.nii.gz"), "-o", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    pred = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "labels.nii.gz")))
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "ph" / "phantom_labels.nii.gz")))
    myo, ref = pred >= 2, truth >= 2
    dice = 2 * (myo & ref).sum() / (myo.sum() + ref.sum())
    assert dice > 0.5, f"myocardium Dice on the phantom {dice:.2f}"
    assert (out / "overview.png").is_file() and (out / "scene.mrb").is_file()
    # only methods with the scar detector (network, fused) write it; auto is one of them or not
    auto = SCAR_WEIGHTS.get(AUTO_SCAR_METHOD, ())
    detector_ran = "scar_detector" in auto and all(weights.available(n) for n in auto)
    assert (out / "scar_boxes.tsv").exists() == detector_ran
    assert np.isin(np.unique(pred), [0, 1, 2, 3, 4]).all()
