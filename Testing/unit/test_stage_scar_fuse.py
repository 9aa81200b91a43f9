"""The fused scar method: SAM probability averaged with the U-Net head's, gated by the boxes."""

from __future__ import annotations

import numpy as np
import torch
from ScarSegmentationLib.stages.scar_fuse import THRESHOLD, ScarFuseStage
from ScarSegmentationLib.training.torch_net import TorchNet
from test_stage_myocardium_joint import ConstantHead
from test_stage_scar_unet import SHAPE, conditional, ring_ctx

torch.set_num_threads(1)
HEAD_SCAR = [0.0, 0.0, 0.0, 1.0]  # P(scar | myocardium) ~ 0.73 everywhere


def network_ctx(sam_value: float, box_slice0_half: bool = True):
    """Ring context as after ScarSegmentStage: SAM probability `sam_value` on the left half of
    slice 0's ring (inside a box), 0 elsewhere, with its uncertainty."""
    ctx = ring_ctx(mc_samples=1)
    myo = ctx.masks["Myocardium"]
    sam = np.zeros(SHAPE, np.float32)
    half = np.zeros(SHAPE, bool)
    half[0, :, :50] = True
    sam[myo & half] = sam_value
    ctx.maps["Scar probability"] = sam
    ctx.maps["Scar uncertainty"] = np.full(SHAPE, 0.04, np.float32) * myo
    ctx.masks["Scar"] = sam >= 0.5
    ctx.scar_source = "network"
    return ctx, myo & half


def run(ctx):
    ScarFuseStage(TorchNet(ConstantHead(HEAD_SCAR))).run(ctx, lambda f, m: None)
    return ctx


def test_mean_of_sam_and_head_decides_inside_the_boxes_only():
    ctx, in_box = network_ctx(0.5)  # with the head's 0.73 the mean is 0.615 >= 0.6
    run(ctx)
    myo, scar = ctx.masks["Myocardium"], ctx.masks["Scar"]
    np.testing.assert_array_equal(scar, in_box)  # outside the box: (0 + 0.73) / 2 < 0.6
    prob = ctx.maps["Scar probability"]
    np.testing.assert_allclose(prob[in_box], (0.5 + conditional(HEAD_SCAR)) / 2, atol=1e-4)
    assert prob[~myo].max() == 0.0
    assert ctx.scar_source == "fused"
    assert ctx.info(0)["scar_px"] == int(in_box.sum())


def test_a_weak_sam_and_a_weak_head_give_no_scar():
    ctx, _ = network_ctx(0.4)  # (0.4 + 0.73) / 2 = 0.565 < THRESHOLD 0.6
    assert THRESHOLD == 0.6
    assert not run(ctx).masks["Scar"].any()


def test_uncertainty_is_the_variance_of_the_mean_of_two_estimates():
    ctx, _ = network_ctx(0.4)
    ctx.options.mc_samples = 1  # head: one pass, no uncertainty map -> fused has none
    run(ctx)
    assert "Scar uncertainty" not in ctx.maps
    ctx, _ = network_ctx(0.4)
    ctx.options.mc_samples = 4
    run(ctx)
    unc = ctx.maps["Scar uncertainty"]
    myo = ctx.masks["Myocardium"]
    # constant head: no spread across passes, so only the SAM term: 0.04 / 4
    np.testing.assert_allclose(unc[0][myo[0]], 0.01, atol=1e-6)


def test_without_a_network_scar_it_changes_nothing_and_says_so():
    ctx = ring_ctx()
    run(ctx)
    assert "Scar" not in ctx.masks
    assert any("fusion skipped" in n for n in ctx.notes)
