"""Ensembles of fold models: averaged calibrated softmax, one member per pass, manifests."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ScarSegmentationLib import weights
from ScarSegmentationLib.calibration import undo_class_weights
from ScarSegmentationLib.errors import ModelError
from ScarSegmentationLib.runtime.ensemble import EnsembleUNet, write_manifest
from ScarSegmentationLib.stages.myocardium import predict_crops
from ScarSegmentationLib.training.checkpoints import save_model
from ScarSegmentationLib.training.export import record_checksum
from ScarSegmentationLib.training.export_onnx import export_unet
from ScarSegmentationLib.training.torch_net import TorchNet
from ScarSegmentationLib.training.unet import ResUNet
from scipy.special import softmax

torch.set_num_threads(1)
CW = ([0.5, 1.0, 1.0, 2.0], [1.0, 1.0, 1.0, 1.0])


def member(seed: int, class_weights: list[float]) -> ResUNet:
    torch.manual_seed(seed)
    net = ResUNet(n_classes=4, base_filters=2, depth=2).eval()
    net.config.update(class_weights=class_weights, fold=seed,
                      class_names=["background", "blood_pool", "myocardium", "scar"])  # fmt: skip
    return net


class Counting(TorchNet):
    calls = 0

    def logits(self, x, rng=None):  # noqa: ANN001, ANN201
        Counting.calls += 1
        return super().logits(x, rng)


def test_logits_are_the_log_mean_of_calibrated_member_softmax():
    nets = [TorchNet(member(i, cw)) for i, cw in enumerate(CW)]
    ens = EnsembleUNet(nets)
    x = np.random.default_rng(0).random((3, 1, 16, 16)).astype(np.float32)
    expected = np.mean(
        [undo_class_weights(softmax(n.logits(x), axis=1), cw, axis=1) for n, cw in zip(nets, CW, strict=True)],
        axis=0,
    )  # fmt: skip
    np.testing.assert_allclose(softmax(ens.logits(x), axis=1), expected, atol=1e-5)
    assert "class_weights" not in ens.config and ens.config["folds"] == [0, 1]
    assert ens.config["class_names"][-1] == "scar"


def test_each_member_undoes_its_own_weights_to_the_given_power():
    nets = [TorchNet(member(i, cw)) for i, cw in enumerate(CW)]
    crops = np.random.default_rng(2).random((1, 16, 16)).astype(np.float32)
    probs = predict_crops(EnsembleUNet(nets), crops, samples=1, flips=False, prior_power=0.5)
    x = crops[:, None]
    for i, (n, cw) in enumerate(zip(nets, CW, strict=True)):
        expected = undo_class_weights(softmax(n.logits(x), axis=1), cw, axis=1, power=0.5)
        np.testing.assert_allclose(probs[i], expected, atol=1e-5)


def test_every_member_takes_a_pass_and_passes_cover_at_least_the_members():
    Counting.calls = 0
    ens = EnsembleUNet([Counting(member(i, [1.0] * 4)) for i in range(3)])
    crops = np.random.default_rng(1).random((2, 16, 16)).astype(np.float32)
    probs = predict_crops(ens, crops, samples=2, rng=np.random.default_rng(0))
    assert probs.shape == (3, 2, 4, 16, 16) and Counting.calls == 3  # max(2, 3) passes
    Counting.calls = 0
    probs = predict_crops(ens, crops, samples=5, rng=np.random.default_rng(0))
    assert probs.shape[0] == 5 and Counting.calls == 5
    np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-5)
    # deterministic: every member once, no dropout, reproducible
    a = predict_crops(ens, crops, samples=1)
    np.testing.assert_allclose(a, predict_crops(ens, crops, samples=1))


def test_members_must_predict_the_same_classes():
    other = member(2, [1.0] * 4)
    other.config["class_names"] = ["a", "b", "c", "d"]
    with pytest.raises(ModelError, match="different classes"):
        EnsembleUNet([TorchNet(member(0, CW[0])), TorchNet(other)])


def _install(tmp_path, n: int = 2) -> None:
    names = []
    for i in range(n):
        save_model(member(i, CW[i % 2]), tmp_path / f"net-fold{i}.pt")
        record_checksum(tmp_path / f"net-fold{i}.pt")
        export_unet(f"net-fold{i}", tmp_path)
        names.append(f"net-fold{i}.onnx")
    record_checksum(write_manifest(tmp_path / "net.ensemble.json", names))


def test_load_model_reads_a_manifest_and_checks_every_file(tmp_path):
    _install(tmp_path)
    weights.clear_cache()
    assert weights.available("net", tmp_path)
    ens = weights.load_model("net", tmp_path)
    assert isinstance(ens, EnsembleUNet) and len(ens.members) == 2
    assert ens.config["folds"] == [0, 1]
    x = np.zeros((1, 1, 128, 128), np.float32)  # the exported input size
    assert ens.logits(x).shape == (1, 4, 128, 128)
    # a changed member is refused, naming it
    (tmp_path / "net-fold1.onnx").write_bytes(b"broken")
    weights.clear_cache()
    with pytest.raises(ModelError, match="net-fold1.onnx"):
        weights.load_model("net", tmp_path)


def test_unreadable_manifest_is_a_model_error(tmp_path):
    (tmp_path / "net.ensemble.json").write_text(json.dumps({"members": []}))
    record_checksum(tmp_path / "net.ensemble.json")
    weights.clear_cache()
    with pytest.raises(ModelError, match="no members"):
        weights.load_model("net", tmp_path)
