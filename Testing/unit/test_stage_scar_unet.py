"""The U-Net scar head stage: scar only inside the given myocardium, maps and notes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ScarSegmentationLib.crop import CropBox
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions
from ScarSegmentationLib.stages.scar_unet import ScarUNetStage, scar_given_myocardium
from ScarSegmentationLib.study import Study
from ScarSegmentationLib.training.torch_net import TorchNet
from ScarSegmentationLib.training.unet import ResUNet
from scipy import ndimage

torch.set_num_threads(1)
SHAPE = (3, 80, 100)


def ring_ctx(mc_samples: int = 1) -> PipelineContext:
    """Myocardium ring on slices 0 and 1; crop boxes on slices 0 and 2 (so only slice 0 has
    both). The boxes are much larger than the ring: pixels in the box but off the ring must
    stay scar-free."""
    img = np.random.default_rng(0).random(SHAPE).astype(np.float32)
    ctx = PipelineContext(
        Study(image=img, spacing=(1, 1, 8)), PipelineOptions(mc_samples=mc_samples)
    )
    ctx.standardized = img
    yy, xx = np.mgrid[: SHAPE[1], : SHAPE[2]]
    d = np.hypot(yy + 0.5 - 40, xx + 0.5 - 50)
    myo = np.zeros(SHAPE, bool)
    myo[0] = myo[1] = (d > 10) & (d < 16)
    ctx.masks["Myocardium"] = myo
    ctx.crop_boxes = {0: CropBox(40, 50, 64), 2: CropBox(40, 50, 64)}
    return ctx


def tiny_net(head_bias: list[float] | None = None, dropout: float = 0.5) -> TorchNet:
    """ResUNet with 4 classes; with head_bias, the head ignores the features so every pixel
    gets the softmax of that bias (whatever the dropout does upstream)."""
    torch.manual_seed(0)
    net = ResUNet(n_classes=4, base_filters=2, dropout=dropout).eval()
    if head_bias is not None:
        with torch.no_grad():
            net.head.weight.zero_()
            net.head.bias.copy_(torch.tensor(head_bias))
    return TorchNet(net)


def run(net: TorchNet, ctx: PipelineContext, **kw) -> PipelineContext:
    ScarUNetStage(net, **kw).run(ctx, lambda f, m: None)
    return ctx


def conditional(bias: list[float]) -> float:
    """P(scar | myocardium) of a constant-logit head, from the softmax definition."""
    e = [math.exp(b) for b in bias]
    return e[3] / (e[2] + e[3])


def test_scar_given_myocardium_on_a_hand_built_softmax():
    probs = np.zeros((2, 4, 1, 3), np.float32)  # (passes, classes, H, W)
    probs[0, :, 0, 0] = [0.1, 0.1, 0.2, 0.6]  # scar 3x myocardium -> 0.75
    probs[0, :, 0, 1] = [0.0, 0.0, 0.8, 0.2]  # -> 0.2
    probs[0, :, 0, 2] = [0.5, 0.5, 0.0, 0.0]  # no myocardium class at all -> 0, not NaN
    probs[1, :, 0, 0] = [0.7, 0.0, 0.15, 0.15]  # only the ratio counts -> 0.5
    probs[1, :, 0, 1] = [0.0, 0.0, 0.0, 1.0]  # -> 1
    probs[1, :, 0, 2] = [0.0, 0.0, 1.0, 0.0]  # -> 0
    out = scar_given_myocardium(probs)
    assert out.shape == (2, 1, 3)
    np.testing.assert_allclose(out[0, 0], [0.75, 0.2, 0.0], atol=1e-6)
    np.testing.assert_allclose(out[1, 0], [0.5, 1.0, 0.0], atol=1e-6)


def test_scar_wins_fills_the_myocardium_of_cropped_slices_only():
    bias = [0.0, 0.0, 0.0, 6.0]
    ctx = run(tiny_net(bias), ring_ctx())
    myo, scar = ctx.masks["Myocardium"], ctx.masks["Scar"]
    assert scar.shape == SHAPE and scar.dtype == bool
    np.testing.assert_array_equal(scar[0], myo[0])  # scar wins everywhere on the ring
    assert not scar[1].any()  # myocardium but no crop box
    assert not scar[2].any()  # crop box but no myocardium
    prob = ctx.maps["Scar probability"]
    np.testing.assert_allclose(prob[0][myo[0]], conditional(bias), atol=1e-4)
    assert prob[~myo].max() == 0.0  # also the box pixels off the ring
    assert prob.min() >= 0.0 and prob.max() <= 1.0
    assert ctx.info(0)["scar_px"] == int(myo[0].sum())
    assert "scar_px" not in ctx.info(2)
    assert ctx.masks["Myocardium"] is myo  # the given myocardium is not altered


def test_scar_loses_gives_no_scar_but_a_small_probability_on_the_ring():
    bias = [0.0, 0.0, 6.0, 0.0]
    ctx = run(tiny_net(bias), ring_ctx())
    myo = ctx.masks["Myocardium"]
    assert not ctx.masks["Scar"].any()
    assert ctx.info(0)["scar_px"] == 0
    prob = ctx.maps["Scar probability"]
    np.testing.assert_allclose(prob[0][myo[0]], conditional(bias), atol=1e-4)
    assert prob[~myo].max() == 0.0


def test_threshold_decides_on_the_conditional_probability():
    bias = [0.0, 0.0, 0.0, 1.0]  # P(scar | myo) ~ 0.73
    p = conditional(bias)
    above = run(tiny_net(bias), ring_ctx(), threshold=p - 0.05)
    below = run(tiny_net(bias), ring_ctx(), threshold=p + 0.05)
    np.testing.assert_array_equal(above.masks["Scar"][0], above.masks["Myocardium"][0])
    assert not below.masks["Scar"].any()


def test_without_its_own_threshold_the_stage_takes_the_pipeline_option():
    import dataclasses

    bias = [0.0, 0.0, 0.0, 1.0]  # P(scar | myo) ~ 0.73
    ctx = ring_ctx()
    ctx.options = dataclasses.replace(ctx.options, scar_threshold=conditional(bias) + 0.05)
    assert not run(tiny_net(bias), ctx).masks["Scar"].any()
    ctx = ring_ctx()
    ctx.options = dataclasses.replace(ctx.options, scar_threshold=conditional(bias) - 0.05)
    assert run(tiny_net(bias), ctx).masks["Scar"][0].any()


@pytest.mark.parametrize("samples", [1, 4])
def test_random_net_scar_stays_inside_myocardium_and_uncertainty_iff_mc(samples):
    ctx = run(tiny_net(), ring_ctx(samples))
    myo, scar = ctx.masks["Myocardium"], ctx.masks["Scar"]
    assert not (scar & ~myo).any()
    prob = ctx.maps["Scar probability"]
    assert prob.dtype == np.float32 and prob.shape == SHAPE
    assert prob.min() >= 0.0 and prob.max() <= 1.0 and prob[~myo].max() == 0.0
    assert prob[0][myo[0]].max() > 0.0  # the random net does give the ring some scar mass
    if samples > 1:
        unc = ctx.maps["Scar uncertainty"]
        assert unc.shape == SHAPE and unc.min() >= 0.0 and unc[~myo].max() == 0.0
        assert unc[0][myo[0]].max() > 0.0  # dropout 0.5 + flips: passes disagree
    else:
        assert "Scar uncertainty" not in ctx.maps


def test_mc_run_is_reproducible_with_the_seed():
    net = tiny_net()
    a, b = run(net, ring_ctx(4)), run(net, ring_ctx(4))
    np.testing.assert_array_equal(a.maps["Scar probability"], b.maps["Scar probability"])
    np.testing.assert_array_equal(a.maps["Scar uncertainty"], b.maps["Scar uncertainty"])


def test_without_myocardium_no_scar_output_and_a_note():
    ctx = ring_ctx(4)
    del ctx.masks["Myocardium"]
    run(tiny_net([0.0, 0.0, 0.0, 6.0]), ctx)
    assert "Scar" not in ctx.masks
    assert not any(name.startswith("Scar") for name in ctx.maps)
    assert any("no myocardium" in n for n in ctx.notes)


def test_grow_px_adds_scar_just_outside_the_myocardium_and_grows_it():
    ring = ring_ctx().masks["Myocardium"].copy()
    ctx = run(tiny_net([0.0, 0.0, 0.0, 6.0]), ring_ctx(), grow_px=2)
    scar, myo = ctx.masks["Scar"], ctx.masks["Myocardium"]
    reach = ndimage.binary_dilation(ring[0], iterations=2)
    np.testing.assert_array_equal(scar[0], reach)  # ring plus two pixels each side, no more
    np.testing.assert_array_equal(myo[0], ring[0] | scar[0])
    assert not scar[1].any() and not scar[2].any()  # no crop on 1, no myocardium on 2
    assert any("grown" in n for n in ctx.notes)


def test_grow_px_adds_nothing_where_the_head_says_myocardium():
    ring = ring_ctx().masks["Myocardium"].copy()
    ctx = run(tiny_net([0.0, 0.0, 6.0, 0.0]), ring_ctx(), grow_px=3)
    np.testing.assert_array_equal(ctx.masks["Myocardium"], ring)
    assert not ctx.masks["Scar"].any()


def test_the_stage_names_itself_as_the_scar_source():
    ctx = run(tiny_net([0.0, 0.0, 0.0, 6.0]), ring_ctx())
    assert ctx.scar_source == "unet"
