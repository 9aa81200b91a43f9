import numpy as np
import pytest
import torch
from ScarSegmentationLib.errors import NoHeartFoundError
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions
from ScarSegmentationLib.stages.roi import (
    LVROIStage,
    area_jumps,
    keep_nearest_component,
    postprocess,
)
from ScarSegmentationLib.study import Study
from ScarSegmentationLib.training.torch_net import TorchNet

torch.set_num_threads(1)


def disk(shape, cy, cx, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


class BrightIsLV(torch.nn.Module):
    """Stand-in network: LV logit high where the input is bright (tests the geometry)."""

    def forward(self, x):
        return torch.cat([torch.zeros_like(x), 20 * (x - 0.5)], dim=1)


def test_keep_nearest_component_picks_the_lv():
    m = disk((100, 100), 50, 50, 10) | disk((100, 100), 15, 80, 12)
    out = keep_nearest_component(m, (52.0, 48.0))
    assert out[50, 50] and not out[15, 80]
    assert out.sum() == disk((100, 100), 50, 50, 10).sum()


def test_keep_nearest_component_rejects_far_or_tiny():
    far = disk((100, 100), 90, 90, 8)
    assert not keep_nearest_component(far, (20.0, 20.0)).any()
    tiny = np.zeros((100, 100), bool)
    tiny[50, 50] = True
    assert not keep_nearest_component(tiny, (50.0, 50.0)).any()


def test_area_jumps_drop_basal_slices_only():
    order = np.arange(9)  # apex -> base
    areas = np.array([0, 100, 120, 130, 135, 140, 150, 400, 500])
    assert area_jumps(areas, order) == [7, 8]
    assert area_jumps(areas[::-1], order[::-1]) == [1, 0]  # base first in k order
    assert area_jumps(np.array([0, 100, 120, 130, 135, 140, 150, 160, 170]), order) == []
    # the LV widens towards the base: a steady growth is not a jump (EMIDEC Case_N083 areas)
    assert area_jumps(np.array([914, 1514, 2041, 2508, 2812, 3684, 2813]), np.arange(7)) == []
    # a large apical slice is not a basal jump
    assert area_jumps(np.array([400, 100, 120, 130, 135, 140, 150, 160, 170]), order) == []


def test_postprocess_keeps_consistent_component_per_slice():
    shape = (6, 80, 80)
    probs = np.zeros(shape, np.float32)
    for k in range(6):
        probs[k][disk(shape[1:], 40 + k, 40, 10)] = 0.97
    probs[2][disk(shape[1:], 10, 70, 6)] = 0.97  # a distractor on one slice
    roi, dropped = postprocess(probs, np.arange(6))
    assert dropped == []
    assert roi[2][40, 40] and not roi[2][10, 70]
    assert all(roi[k].any() for k in range(6))


def make_ctx(image, order=None):
    study = Study(image=image.astype(np.float32), spacing=(1.0, 1.0, 8.0), apex_to_base=order)
    ctx = PipelineContext(study=study, options=PipelineOptions())
    ctx.standardized = image.astype(np.float32)  # already in [0, 1]
    return ctx


def test_lvroi_stage_geometry_on_synthetic_stack():
    shape = (5, 90, 120)
    img = np.zeros(shape, np.float32)
    for k in range(4):  # slice 4 has no heart
        img[k][disk(shape[1:], 45, 70 + k, 14)] = 1.0
    ctx = make_ctx(img)
    LVROIStage(TorchNet(BrightIsLV())).run(ctx, lambda f, m: None)
    assert ctx.roi_mask.shape == shape and ctx.roi_mask.dtype == bool
    assert sorted(ctx.crop_boxes) == [0, 1, 2, 3]
    for k in range(4):
        truth = img[k] > 0.5
        dice = 2 * (ctx.roi_mask[k] & truth).sum() / (ctx.roi_mask[k].sum() + truth.sum())
        assert dice > 0.9
        box = ctx.crop_boxes[k]
        assert abs(box.center_y - 45.5) < 1.5 and abs(box.center_x - (70.5 + k)) < 1.5
        assert ctx.info(k)["roi_area_px"] == int(ctx.roi_mask[k].sum())
    assert ctx.info(4)["roi_area_px"] == 0


def test_lvroi_stage_raises_without_heart():
    ctx = make_ctx(np.zeros((3, 64, 64)))
    with pytest.raises(NoHeartFoundError, match="no left ventricle"):
        LVROIStage(TorchNet(BrightIsLV())).run(ctx, lambda f, m: None)


def test_lvroi_stage_notes_dropped_basal_slice():
    shape = (6, 100, 100)
    img = np.zeros(shape, np.float32)
    for k in range(5):
        img[k][disk(shape[1:], 50, 50, 10)] = 1.0
    img[5][disk(shape[1:], 50, 50, 22)] = 1.0  # basal slice (base = last in apex_to_base)
    ctx = make_ctx(img, order=np.arange(6))
    LVROIStage(TorchNet(BrightIsLV())).run(ctx, lambda f, m: None)
    assert 5 not in ctx.crop_boxes and not ctx.roi_mask[5].any()
    assert any("slice 5" in n for n in ctx.notes)


def test_cap_sides_shrinks_only_outlier_crops_about_their_centre():
    from ScarSegmentationLib.crop import CropBox
    from ScarSegmentationLib.stages.roi import cap_sides

    boxes = {k: CropBox(50.0 + k, 60.0, side) for k, side in enumerate([40, 42, 44, 80])}
    capped = cap_sides(boxes, 1.3)
    cap = 1.3 * 43.0  # median of 40, 42, 44, 80
    assert [capped[k].side for k in range(3)] == [40, 42, 44]
    assert capped[3].side == pytest.approx(cap)
    assert (capped[3].center_y, capped[3].center_x) == (53.0, 60.0)
    assert cap_sides(boxes, None) == boxes
    assert cap_sides({0: boxes[0], 3: boxes[3]}, 1.3) == {0: boxes[0], 3: boxes[3]}  # too few
