"""Which stages the factory builds for each scar method."""

from __future__ import annotations

import pytest
import torch
from ScarSegmentationLib import factory, weights
from ScarSegmentationLib.anatomy import model as anatomy_model
from ScarSegmentationLib.errors import ModelError
from ScarSegmentationLib.pipeline import PipelineOptions
from ScarSegmentationLib.training.torch_net import TorchNet
from ScarSegmentationLib.training.unet import ResUNet


def _names(options):
    return [s.name for s in factory.build_pipeline(options).stages]


# the wall refiner runs before the U-Net head when installed
REFINER = ["scar_refine"] if weights.available(factory.REFINER) else []
# scar method -> (weights files it needs, stages it adds); "threshold"/"none" add no stage
SCAR_METHODS = {
    "unet": (("scar_unet",), [*REFINER, "scar_unet", "scar_presence"]),
    "network": (
        ("scar_detector", "sam_encoder", "scar_segmenter"),
        ["scar_detect", "scar_segment", "scar_presence"],
    ),
    "fused": (
        ("scar_detector", "sam_encoder", "scar_segmenter", "scar_unet"),
        ["scar_detect", "scar_head_boxes", "scar_segment", "scar_fuse", "scar_presence"],
    ),
    "threshold": ((), []),
}


def _auto_scar_stages() -> list[str]:
    """The scar stages "auto" should add: those of AUTO_SCAR_METHOD when its weights are all
    installed, none otherwise (the FWHM threshold then runs inside quantification)."""
    needs, stages = SCAR_METHODS[factory.AUTO_SCAR_METHOD]
    return stages if all(weights.available(n) for n in needs) else []


def test_default_pipeline_runs_stages_1_to_3_then_quantification():
    names = _names(PipelineOptions())
    anatomy = ["anatomy"] if anatomy_model.available() else []
    expected = ["standardize", "lv_roi", "harmonize", "myocardium", *anatomy, *_auto_scar_stages()]
    assert names == [*expected, "quantification"]


def _install(monkeypatch, model: TorchNet, name: str, missing: tuple[str, ...] = ()):
    """Pretend `<name>.onnx` is installed as `model` (and the `missing` ones are not)."""
    real_available, real_load = weights.available, weights.load_model

    def available(n, *a, **k):
        return n == name or (n not in missing and real_available(n, *a, **k))

    monkeypatch.setattr(weights, "available", available)
    monkeypatch.setattr(
        weights, "load_model", lambda n, *a, **k: model if n == name else real_load(n, *a, **k)
    )
    return model


@pytest.fixture
def scar_unet_installed(monkeypatch):
    """Pretend scar_unet.onnx is installed: a tiny 4-class ResUNet stands in for it."""
    torch.manual_seed(0)
    return _install(monkeypatch, TorchNet(ResUNet(n_classes=4, base_filters=2)), "scar_unet")


def test_unet_scar_method_needs_scar_unet_weights(monkeypatch):
    real = weights.available
    monkeypatch.setattr(
        weights, "available", lambda n, *a, **k: False if n == "scar_unet" else real(n, *a, **k)
    )
    with pytest.raises(ModelError, match=r"scar_unet\.onnx"):
        factory.build_pipeline(PipelineOptions(scar_method="unet"))


def test_unet_scar_method_adds_the_scar_head_before_quantification(scar_unet_installed):
    pipeline = factory.build_pipeline(PipelineOptions(scar_method="unet"))
    names = [s.name for s in pipeline.stages]
    assert names.index("myocardium") < names.index("scar_unet") < names.index("quantification")
    assert names[-1] == "quantification"
    assert not {"scar_detect", "scar_segment"} & set(names)  # only the requested method
    head = pipeline.stages[names.index("scar_unet")]
    assert head.model is scar_unet_installed


def test_stage_2_runs_the_joint_net_when_installed_and_the_scar_head_shares_it(
    scar_unet_installed,
):
    pipeline = factory.build_pipeline(PipelineOptions(scar_method="unet"))
    by_name = {s.name: s for s in pipeline.stages}
    assert by_name["myocardium"].model is scar_unet_installed
    assert by_name["scar_unet"].model is by_name["myocardium"].model  # passes can be reused


def test_stage_2_falls_back_to_the_myocardium_net_without_the_joint_net(monkeypatch):
    torch.manual_seed(0)
    tiny = TorchNet(ResUNet(n_classes=3, base_filters=2))
    _install(monkeypatch, tiny, "myocardium", missing=("scar_unet",))
    pipeline = factory.build_pipeline(PipelineOptions(scar_method="threshold"))
    assert {s.name: s for s in pipeline.stages}["myocardium"].model is tiny


def test_without_any_stage_2_net_the_error_names_the_myocardium_net(monkeypatch):
    real = weights.available
    monkeypatch.setattr(
        weights,
        "available",
        lambda n, *a, **k: False if n in factory.MYOCARDIUM_NETS else real(n, *a, **k),
    )
    with pytest.raises(ModelError, match="'myocardium' is not installed"):
        factory.build_pipeline(PipelineOptions(scar_method="threshold"))


def test_threshold_scar_method_ignores_an_installed_scar_head(scar_unet_installed):
    names = _names(PipelineOptions(scar_method="threshold"))
    assert not any(n.startswith("scar") for n in names)


def test_auto_uses_the_scar_head_when_it_is_the_auto_method(monkeypatch, scar_unet_installed):
    monkeypatch.setattr(factory, "AUTO_SCAR_METHOD", "unet")
    names = _names(PipelineOptions(scar_method="auto"))
    assert [n for n in names if n.startswith("scar")] == [*REFINER, "scar_unet", "scar_presence"]
    assert names.index("scar_unet") < names.index("quantification")
    # the presence check can be switched off (bench_cv scores its rules itself)
    off = _names(PipelineOptions(scar_method="auto", scar_presence=False))
    assert [n for n in off if n.startswith("scar")] == [*REFINER, "scar_unet"]


def test_auto_falls_back_to_the_threshold_without_the_scar_head(monkeypatch):
    monkeypatch.setattr(factory, "AUTO_SCAR_METHOD", "unet")
    real = weights.available
    monkeypatch.setattr(
        weights, "available", lambda n, *a, **k: False if n == "scar_unet" else real(n, *a, **k)
    )
    names = _names(PipelineOptions(scar_method="auto"))  # no ModelError: auto falls back
    assert not any(n.startswith("scar") for n in names)
    assert names[-1] == "quantification"


def test_network_scar_method_needs_its_weights(monkeypatch):
    real = weights.available
    monkeypatch.setattr(weights, "available", lambda n, *a: False if "scar" in n else real(n, *a))
    with pytest.raises(ModelError, match="scar_detector"):
        factory.build_pipeline(PipelineOptions(scar_method="network"))


@pytest.fixture
def refiner_installed(monkeypatch, scar_unet_installed):
    """Pretend scar_refiner.onnx is installed too: a tiny refiner-shaped ResUNet."""
    from ScarSegmentationLib.scar.wall_refiner import N_CLASSES, in_channels

    torch.manual_seed(0)
    tiny = TorchNet(ResUNet(in_channels(1), N_CLASSES, base_filters=2, input_size=96))
    return _install(monkeypatch, tiny, factory.REFINER)


def test_the_wall_refiner_runs_before_the_unet_head_and_hands_it_the_scar_stages(
    refiner_installed,
):
    pipeline = factory.build_pipeline(PipelineOptions(scar_method="unet"))
    by_name = {s.name: s for s in pipeline.stages}
    names = [s.name for s in pipeline.stages]
    assert names.index("myocardium") < names.index("scar_refine") < names.index("scar_unet")
    refine = by_name["scar_refine"]
    assert refine.refiner is refiner_installed and refine.context == 1
    assert refine.scar is by_name["scar_unet"] and refine.presence is by_name["scar_presence"]
    off = _names(PipelineOptions(scar_method="unet", refine_wall=False))
    assert "scar_refine" not in off and "scar_unet" in off
    assert "scar_refine" not in _names(PipelineOptions(scar_method="threshold"))
    no_presence = factory.build_pipeline(PipelineOptions(scar_method="unet", scar_presence=False))
    assert {s.name: s for s in no_presence.stages}["scar_refine"].presence is None


def test_the_command_line_switches_the_wall_refiner_off():
    import argparse

    from ScarSegmentationLib.commands.options import add_pipeline_arguments, pipeline_options

    ap = argparse.ArgumentParser()
    add_pipeline_arguments(ap)
    assert pipeline_options(ap.parse_args([])).refine_wall
    assert not pipeline_options(ap.parse_args(["--no-wall-refiner"])).refine_wall
