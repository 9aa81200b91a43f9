"""No-reflow as a class of its own (scar_nr): targets, the partial-label loss, the stage."""

from __future__ import annotations

import math

import numpy as np
import torch
from ScarSegmentationLib.data.datasets import N_CLASSES, SCAR_OR_NO_REFLOW, target
from ScarSegmentationLib.stages.scar_unet import (
    NO_REFLOW_PROBABILITY,
    ScarUNetStage,
    has_no_reflow_class,
    no_reflow_given_scar,
    scar_given_myocardium,
)
from ScarSegmentationLib.training.losses import partial_segmentation_loss
from ScarSegmentationLib.training.torch_net import TorchNet
from ScarSegmentationLib.training.unet import ResUNet
from test_stage_scar_unet import ring_ctx

torch.set_num_threads(1)
LABEL = np.array([[0, 1, 2], [3, 4, 2]], dtype=np.uint8)


def test_target_keeps_no_reflow_where_labelled_and_merges_it_where_not():
    np.testing.assert_array_equal(target(LABEL, "scar_nr", "emidec"), [[0, 1, 2], [3, 4, 2]])
    # MyoPS labels scar without telling no-reflow apart: "scar or no-reflow"
    merged = SCAR_OR_NO_REFLOW
    np.testing.assert_array_equal(
        target(LABEL, "scar_nr", "myops"), [[0, 1, 2], [merged] * 2 + [2]]
    )
    assert N_CLASSES["scar_nr"] == 5 == SCAR_OR_NO_REFLOW
    # the other kinds do not depend on the centre
    np.testing.assert_array_equal(target(LABEL, "scar_unet", "myops"), target(LABEL, "scar_unet"))


def _logits(split: tuple[float, float]) -> torch.Tensor:
    """Constant logits with p(scar) + p(no-reflow) fixed and the split between them given."""
    lg = torch.zeros(2, 5, 4, 4)
    lg[:, 3] = math.log(split[0])
    lg[:, 4] = math.log(split[1])
    return lg


def test_partial_loss_scores_merged_pixels_on_the_sum_of_scar_and_no_reflow():
    y = torch.zeros(2, 4, 4, dtype=torch.int64)
    y[:, 1:3, 1:3] = SCAR_OR_NO_REFLOW
    y[:, 0] = 1
    w = torch.tensor([0.5, 1.0, 1.0, 2.0, 3.0])
    a = partial_segmentation_loss(_logits((1.0, 1.0)), y, w)
    b = partial_segmentation_loss(_logits((1.9, 0.1)), y, w)
    torch.testing.assert_close(a, b)  # the split between the two is not taught
    # with no-reflow labelled, the split matters and the right one scores better
    y_nr = torch.where(y == SCAR_OR_NO_REFLOW, 4, y)
    assert partial_segmentation_loss(_logits((0.1, 1.9)), y_nr, w) < partial_segmentation_loss(
        _logits((1.9, 0.1)), y_nr, w
    )


def test_partial_loss_gradient_flows():
    lg = torch.randn(2, 5, 8, 8, requires_grad=True)
    y = torch.randint(0, 6, (2, 8, 8))
    y[1][y[1] == SCAR_OR_NO_REFLOW] = 4  # one sample with complete labels
    partial_segmentation_loss(lg, y, torch.ones(5)).backward()
    assert lg.grad is not None and torch.isfinite(lg.grad).all() and lg.grad.abs().sum() > 0


def five_class_net(head_bias: list[float]) -> TorchNet:
    torch.manual_seed(0)
    net = ResUNet(n_classes=5, base_filters=2, dropout=0.5).eval()
    net.config["class_names"] = ["background", "blood_pool", "myocardium", "scar", "no_reflow"]
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.copy_(torch.tensor(head_bias))
    return TorchNet(net)


def test_conditionals_count_no_reflow_as_scar():
    p = np.array([0.1, 0.1, 0.2, 0.3, 0.3])[:, None, None]
    np.testing.assert_allclose(scar_given_myocardium(p), 0.6 / 0.8)
    np.testing.assert_allclose(no_reflow_given_scar(p), 0.5)
    np.testing.assert_allclose(scar_given_myocardium(p[:4]), 0.3 / 0.5)  # a 4-class net


def test_stage_splits_no_reflow_off_the_scar_with_its_own_class():
    # P(scar | myo) = (e^1 + e^2) / (1 + e^1 + e^2) > 0.5; P(no-reflow | scar) = e^2 / (e^1 + e^2)
    ctx = ring_ctx(mc_samples=2)
    net = five_class_net([0.0, 0.0, 0.0, 1.0, 2.0])
    assert has_no_reflow_class(net)
    ScarUNetStage(net).run(ctx, lambda f, m: None)
    scar, nr = ctx.masks["Scar"], ctx.masks["No-reflow"]
    assert scar[0].any() and nr[0].any()
    assert not (nr & ~scar).any(), "no-reflow lies inside the scar"
    np.testing.assert_array_equal(nr, scar)
    prob = ctx.maps[NO_REFLOW_PROBABILITY]
    np.testing.assert_allclose(prob[scar], math.exp(2) / (math.exp(1) + math.exp(2)), rtol=1e-4)
    assert not prob[~scar].any()
    # scar darker in the net's view than no-reflow is likely: no no-reflow
    ctx2 = ring_ctx(mc_samples=2)
    ScarUNetStage(five_class_net([0.0, 0.0, 0.0, 2.0, 1.0])).run(ctx2, lambda f, m: None)
    assert ctx2.masks["Scar"].any() and not ctx2.masks["No-reflow"].any()


def test_four_class_net_leaves_no_reflow_to_the_quantification():
    torch.manual_seed(0)
    net = ResUNet(n_classes=4, base_filters=2).eval()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 1.0]))
    ctx = ring_ctx()
    ScarUNetStage(TorchNet(net)).run(ctx, lambda f, m: None)
    assert ctx.masks["Scar"].any() and "No-reflow" not in ctx.masks
    assert NO_REFLOW_PROBABILITY not in ctx.maps
