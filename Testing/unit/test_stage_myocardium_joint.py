"""Stage 2 run by the joint myocardium + scar net (the scar head): its scar class folded into the
myocardium, and the scar head stage reusing stage 2's passes instead of running the net again."""

from __future__ import annotations

import numpy as np
import torch
from ScarSegmentationLib.crop import CropBox
from ScarSegmentationLib.pipeline import NetPasses, PipelineContext
from ScarSegmentationLib.stages.myocardium import MyocardiumStage, fold_to_myocardium
from ScarSegmentationLib.stages.scar_unet import ScarUNetStage
from ScarSegmentationLib.training.torch_net import TorchNet
from ScarSegmentationLib.training.unet import ResUNet
from test_stage_myocardium import ctx_with_boxes

torch.set_num_threads(1)
SHAPE = (3, 80, 100)  # ctx_with_boxes' study


class ConstantHead(torch.nn.Module):
    """Every pixel gets the softmax of fixed logits; counts its calls."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        n, _, h, w = x.shape
        return self.logits[None, :, None, None].expand(n, len(self.logits), h, w)


def softmax(logits: list[float]) -> np.ndarray:
    e = np.exp(logits)
    return e / e.sum()


def test_fold_sums_myocardium_and_later_classes_and_keeps_three_class_input():
    p = np.array([0.1, 0.2, 0.3, 0.4], np.float32)[None, :, None, None]
    np.testing.assert_allclose(fold_to_myocardium(p)[0, :, 0, 0], [0.1, 0.2, 0.7], atol=1e-6)
    three = np.random.default_rng(1).random((2, 3, 4, 4))
    assert fold_to_myocardium(three) is three


def test_joint_net_myocardium_is_its_myocardium_plus_scar_probability():
    logits = [0.0, 1.0, 0.5, 2.0]
    ctx = ctx_with_boxes(1)
    MyocardiumStage(TorchNet(ConstantHead(logits))).run(ctx, lambda f, m: None)
    p = softmax(logits)
    np.testing.assert_allclose(ctx.crop_probs[0][:, 5, 7], [p[0], p[1], p[2] + p[3]], atol=1e-5)
    assert ctx.masks["Myocardium"][0].any()  # myocardium + scar wins over blood pool
    kept = ctx.net_passes["myocardium"]
    assert kept.ks == [0, 2] and kept.probs.shape[:3] == (1, 2, 4)


def test_scar_head_reuses_stage_2_passes_of_the_same_net_without_running_it_again():
    head = TorchNet(ConstantHead([0.0, 0.0, 0.0, 4.0]))
    ctx = ctx_with_boxes(1)
    MyocardiumStage(head).run(ctx, lambda f, m: None)
    calls = head.module.calls
    ScarUNetStage(head).run(ctx, lambda f, m: None)
    assert head.module.calls == calls  # no second run
    myo = ctx.masks["Myocardium"]
    assert myo[0].any() and np.array_equal(ctx.masks["Scar"][0], myo[0])


def test_scar_head_runs_its_own_net_after_a_different_stage_2_net():
    head = TorchNet(ConstantHead([0.0, 0.0, 0.0, 4.0]))
    ctx = ctx_with_boxes(1)
    MyocardiumStage(TorchNet(ConstantHead([0.0, 0.0, 4.0]))).run(ctx, lambda f, m: None)
    ScarUNetStage(head).run(ctx, lambda f, m: None)
    assert head.module.calls == 1 and ctx.masks["Scar"][0].any()


def test_scar_head_runs_its_own_net_when_the_crops_moved_since_stage_2():
    head = TorchNet(ConstantHead([0.0, 0.0, 0.0, 4.0]))
    ctx = ctx_with_boxes(1)
    MyocardiumStage(head).run(ctx, lambda f, m: None)
    ctx.crop_boxes[0] = CropBox(41, 50, 60)
    calls = head.module.calls
    ScarUNetStage(head).run(ctx, lambda f, m: None)
    assert head.module.calls == calls + 1


def test_net_passes_refuse_moved_crops_and_unknown_slices():
    net = object()
    boxes = {0: CropBox(40, 50, 60), 2: CropBox(38, 52, 56)}
    cached = NetPasses(net, [0, 2], boxes, np.zeros((1, 2, 4, 8, 8)))
    assert cached.rows_for(net, [2], boxes) == [1]
    assert cached.rows_for(object(), [2], boxes) is None
    assert cached.rows_for(net, [2], {2: CropBox(38, 53, 56)}) is None
    assert cached.rows_for(net, [1], {1: CropBox(38, 52, 56)}) is None


def test_reused_mc_passes_match_a_fresh_run_of_the_scar_head():
    def ctx_and_net() -> tuple[PipelineContext, ResUNet]:
        torch.manual_seed(0)
        net = TorchNet(ResUNet(n_classes=4, base_filters=2, dropout=0.5).eval())
        ctx = ctx_with_boxes(mc_samples=4)
        MyocardiumStage(net).run(ctx, lambda f, m: None)
        return ctx, net

    reused, net = ctx_and_net()
    ScarUNetStage(net).run(reused, lambda f, m: None)
    fresh, net2 = ctx_and_net()
    fresh.net_passes.clear()  # forces the scar head to run (same seed: same dropout masks)
    ScarUNetStage(net2).run(fresh, lambda f, m: None)
    for name in ("Scar probability", "Scar uncertainty"):
        np.testing.assert_allclose(reused.maps[name], fresh.maps[name], atol=1e-6)
