"""The wall refiner on a real study (EMIDEC Case_P100, shipped models; marker `data`): it sees
exactly the labels the pipeline gives without it, its ONNX file matches its torch checkpoint on
those real inputs, its wall stays a wall the quantification can trust, and storing the study
reversed or rotated changes the result no more than it does without the refiner."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.special import softmax

pytestmark = pytest.mark.data


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / max(np.count_nonzero(a) + np.count_nonzero(b), 1)


@pytest.fixture(scope="module")
def runs(data_dir):
    """Case_P100 through the shipped `unet` pipeline with and without the refiner, keeping the
    refiner's inputs."""
    from ScarSegmentationLib import weights
    from ScarSegmentationLib.factory import REFINER, build_pipeline
    from ScarSegmentationLib.io import load_study
    from ScarSegmentationLib.pipeline import PipelineOptions
    from ScarSegmentationLib.scar import wall_refiner as wr

    path = data_dir / "emidec-nifti" / "Case_P100" / "Images" / "Case_P100.nii.gz"
    if not path.exists():
        pytest.skip(f"{path} not present")
    if not (weights.available(REFINER) and weights.available("scar_unet")):
        pytest.skip("scar_unet / scar_refiner not installed")
    captured = {}
    original = wr.refiner_inputs

    def spy(probs, labels, std, context, apex_first, crop_factor):
        out = original(probs, labels, std, context, apex_first, crop_factor)
        captured.update(labels=labels.copy(), x=out[0], crop_factor=crop_factor)
        return out

    study = load_study(path)
    off = build_pipeline(PipelineOptions(scar_method="unet", refine_wall=False)).run(study)
    with pytest.MonkeyPatch.context() as mp:  # the stage calls it as wr.refiner_inputs
        mp.setattr(wr, "refiner_inputs", spy)
        on = build_pipeline(PipelineOptions(scar_method="unet")).run(study)
    return study, off, on, captured


def test_the_refiner_sees_the_labels_of_the_pipeline_without_it(runs):
    from ScarSegmentationLib.outputs import labels_from_masks

    study, off, on, captured = runs
    assert "scar_refine" in on.stages and "scar_refine" not in off.stages
    assert (captured["labels"] == labels_from_masks(off.masks, study.image.shape)).all()
    assert any("wall refiner" in n for n in on.notes)
    from ScarSegmentationLib import weights
    from ScarSegmentationLib.factory import REFINER
    from ScarSegmentationLib.scar.wall_refiner import crop_factor_of

    assert captured["crop_factor"] == crop_factor_of(weights.load_model(REFINER).config)


def test_onnx_refiner_matches_its_torch_checkpoint_on_real_inputs(runs):
    pytest.importorskip("torch")
    from ScarSegmentationLib import weights
    from ScarSegmentationLib.factory import REFINER
    from ScarSegmentationLib.scar.wall_refiner import N_CLASSES, refined_softmax
    from ScarSegmentationLib.training.checkpoints import load_torch_model
    from ScarSegmentationLib.training.torch_net import TorchNet

    x = runs[3]["x"]
    assert len(x) >= 5
    onnx_net = weights.load_model(REFINER)
    torch_net = TorchNet(load_torch_model(REFINER))
    a = softmax(onnx_net.logits(x), axis=1)
    b = softmax(torch_net.logits(x), axis=1)
    assert np.abs(a - b).max() < 1e-4
    refined = refined_softmax(onnx_net.logits, x)
    assert refined.shape == (len(x), N_CLASSES, *x.shape[-2:])
    assert np.allclose(refined.sum(1), 1.0, atol=1e-5)


def test_the_refined_wall_is_a_clean_wall_close_to_the_unrefined_one(runs, data_dir):
    import SimpleITK as sitk

    study, off, on, _ = runs
    myo, pool, scar = on.masks["Myocardium"], on.masks["Blood pool"], on.masks["Scar"]
    assert not (myo & pool).any() and not (scar & ~myo).any()
    assert not (on.masks["No-reflow"] & ~scar).any()
    assert 0.85 < _dice(myo, off.masks["Myocardium"]) < 1.0  # it moves the border, not the heart
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(
        data_dir / "emidec-nifti" / "Case_P100" / "Contours" / "Case_P100.nii.gz")))  # fmt: skip
    assert _dice(myo, ref >= 2) > 0.8
    burden = [r.tables["measurements"].rows[0]["scar_burden_pct"] for r in (off, on)]
    assert abs(burden[1] - burden[0]) < 3.0


def test_reversed_and_rotated_storage_with_the_refiner(data_dir, runs):
    """As test_invariance's whole-pipeline check, with the refiner and the unet scar: reversed
    storage gives the same myocardium and scar (the refiner takes the neighbours apex side
    first); a rotation of the pixels within a few %."""
    from ScarSegmentationLib.factory import build_pipeline
    from ScarSegmentationLib.io import order_slices
    from ScarSegmentationLib.pipeline import PipelineOptions
    from test_invariance import Stored, reversed_slices, rotated

    study = runs[0]
    # one deterministic pass: Monte-Carlo dropout masks follow the stored slice order
    options = PipelineOptions(scar_method="unet", mc_samples=1, keep_probabilities=False)
    pipeline = build_pipeline(options)
    s = Stored(study.image, {}, np.array(study.spacing), np.array(study.origin), study.direction)
    m = []
    for f in (lambda x: x, reversed_slices, rotated):
        t = f(s)
        variant = replace(study, image=t.image, spacing=tuple(t.spacing), origin=tuple(t.origin),
                          direction=t.direction, apex_to_base=None)  # fmt: skip
        m.append(pipeline.run(order_slices(variant)).tables["measurements"].rows[0])
    for key in ("myocardium_volume_ml", "scar_volume_ml"):
        assert m[1][key] == pytest.approx(m[0][key], rel=1e-6), key
        assert m[2][key] == pytest.approx(m[0][key], rel=0.08), key
