"""Which stages the factory builds for each scar method."""

from __future__ import annotations

import pytest
from ScarSegmentationLib import factory, weights
from ScarSegmentationLib.errors import ModelError
from ScarSegmentationLib.pipeline import PipelineOptions


def _names(options):
    return [s.name for s in factory.build_pipeline(options).stages]


def test_default_pipeline_runs_stages_1_to_3_then_quantification():
    names = _names(PipelineOptions())
    assert names[:3] == ["standardize", "lv_roi", "myocardium"]
    assert names[-1] == "quantification"
    assert ("anatomy" in names) == weights.available("anatomy")
    assert not any(n.startswith("scar") for n in names), "auto does not use an unvalidated net"


def test_network_scar_method_needs_its_weights(monkeypatch):
    real = weights.available
    monkeypatch.setattr(weights, "available", lambda n, *a: False if "scar" in n else real(n, *a))
    with pytest.raises(ModelError, match="scar_detector"):
        factory.build_pipeline(PipelineOptions(scar_method="network"))
