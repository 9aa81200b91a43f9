"""Undoing the loss's class weights: the posterior comes back from a weighted softmax."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ScarSegmentationLib.calibration import undo_class_weights
from ScarSegmentationLib.stages.myocardium import predict_crops
from ScarSegmentationLib.training.torch_net import TorchNet


def test_weighted_posterior_comes_back_to_the_posterior():
    posterior = np.array([0.6, 0.3, 0.1])
    w = np.array([0.5, 1.0, 3.0])
    weighted = posterior * w / (posterior * w).sum()  # what weighted cross-entropy learns
    assert weighted.argmax() == 2 or weighted[2] > posterior[2]  # the rare class inflated
    out = undo_class_weights(weighted[:, None, None], w)
    np.testing.assert_allclose(out[:, 0, 0], posterior, atol=1e-12)


def test_classes_along_the_given_axis_and_sums_to_one():
    rng = np.random.default_rng(0)
    p = rng.random((2, 5, 4, 3, 3)).astype(np.float32)
    p /= p.sum(2, keepdims=True)
    out = undo_class_weights(p, [0.3, 0.8, 0.8, 2.0], axis=2)
    assert out.dtype == np.float32 and out.shape == p.shape
    np.testing.assert_allclose(out.sum(2), 1.0, atol=1e-5)
    assert (out[:, :, 3] < p[:, :, 3]).all()  # the heaviest class loses everywhere


def test_no_weights_leaves_the_softmax_alone_and_bad_weights_are_refused():
    p = np.full((3, 2, 2), 1 / 3)
    assert undo_class_weights(p, None) is p
    with pytest.raises(ValueError, match="do not fit"):
        undo_class_weights(p, [1.0, 2.0])
    with pytest.raises(ValueError, match="do not fit"):
        undo_class_weights(p, [1.0, 0.0, 2.0])


class Constant(torch.nn.Module):
    def __init__(self, logits, config=None):
        super().__init__()
        self.logits = torch.tensor(logits)
        if config is not None:
            self.config = config

    def forward(self, x):
        n, _, h, w = x.shape
        return self.logits[None, :, None, None].expand(n, len(self.logits), h, w)


def test_predict_crops_undoes_the_weights_stored_in_the_model_config():
    logits = [0.0, 0.5, 1.0]
    crops = np.zeros((2, 8, 8), np.float32)
    plain = predict_crops(TorchNet(Constant(logits)), crops, 1)
    weighted = predict_crops(
        TorchNet(Constant(logits, {"class_weights": [0.5, 1.0, 4.0]})), crops, 1
    )
    np.testing.assert_allclose(
        weighted[0, 0, :, 0, 0], undo_class_weights(plain, [0.5, 1.0, 4.0])[0, 0, :, 0, 0]
    )
    assert weighted[0, 0, 2, 0, 0] < plain[0, 0, 2, 0, 0]


def test_power_undoes_the_weights_partly_and_zero_keeps_the_weighted_softmax():
    weighted = np.array([0.2, 0.3, 0.5])[:, None, None]
    w = [0.5, 1.0, 4.0]
    assert undo_class_weights(weighted, w, power=0.0) is weighted
    full = undo_class_weights(weighted, w)[:, 0, 0]
    half = undo_class_weights(weighted, w, power=0.5)[:, 0, 0]
    np.testing.assert_allclose(half.sum(), 1.0)
    # the rare (heaviest) class keeps more of its weighted share the less is undone
    assert full[2] < half[2] < weighted[2, 0, 0]
    np.testing.assert_allclose(
        half, (weighted[:, 0, 0] / np.sqrt(w)) / (weighted[:, 0, 0] / np.sqrt(w)).sum()
    )
    with pytest.raises(ValueError, match="prior power"):
        undo_class_weights(weighted, w, power=1.5)


def test_predict_crops_passes_the_power_on():
    crops = np.zeros((2, 8, 8), np.float32)
    net = TorchNet(Constant([0.0, 0.5, 1.0], {"class_weights": [0.5, 1.0, 4.0]}))
    plain = predict_crops(TorchNet(Constant([0.0, 0.5, 1.0])), crops, 1)
    half = predict_crops(net, crops, 1, prior_power=0.5)
    np.testing.assert_allclose(half, undo_class_weights(plain, [0.5, 1.0, 4.0], power=0.5))
    np.testing.assert_allclose(predict_crops(net, crops, 1, prior_power=0.0), plain)
