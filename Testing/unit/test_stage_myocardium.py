import numpy as np
import torch
from ScarSegmentationLib.crop import CROP_SIZE, CropBox
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions
from ScarSegmentationLib.stages.myocardium import (
    MyocardiumStage,
    clean_slice,
    refine_boxes,
    sample_dice,
)
from ScarSegmentationLib.study import Study
from ScarSegmentationLib.training.torch_net import TorchNet
from ScarSegmentationLib.training.unet import ResUNet

torch.set_num_threads(1)


def disk(shape, cy, cx, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


class Ring(torch.nn.Module):
    """Stand-in network: myocardium = ring around the crop centre, blood pool inside it."""

    def forward(self, x):
        n, _, h, w = x.shape
        ring = torch.from_numpy(
            disk((h, w), h / 2 - 0.5, w / 2 - 0.5, 32) & ~disk((h, w), h / 2 - 0.5, w / 2 - 0.5, 20)
        )
        inner = torch.from_numpy(disk((h, w), h / 2 - 0.5, w / 2 - 0.5, 20))
        logits = torch.stack([torch.ones(h, w), 10.0 * inner, 10.0 * ring]).float()
        return logits.expand(n, 3, h, w)


def ctx_with_boxes(mc_samples, shape=(3, 80, 100)):
    rng = np.random.default_rng(0)
    img = rng.random(shape).astype(np.float32)
    ctx = PipelineContext(
        Study(image=img, spacing=(1, 1, 8)), PipelineOptions(mc_samples=mc_samples)
    )
    ctx.standardized = img
    ctx.crop_boxes = {0: CropBox(40, 50, 60), 2: CropBox(38, 52, 56)}
    return ctx


def tiny_net():
    torch.manual_seed(0)
    return TorchNet(ResUNet(n_classes=3, base_filters=2, dropout=0.5).eval())


def test_shapes_and_mc_uncertainty():
    ctx = ctx_with_boxes(mc_samples=4)
    MyocardiumStage(tiny_net()).run(ctx, lambda f, m: None)
    assert sorted(ctx.crop_probs) == [0, 2]
    assert ctx.crop_probs[0].shape == (3, CROP_SIZE, CROP_SIZE)
    np.testing.assert_allclose(ctx.crop_probs[0].sum(0), 1.0, atol=1e-4)
    for name in ("Myocardium", "Blood pool"):
        assert ctx.masks[name].shape == (3, 80, 100) and ctx.masks[name].dtype == bool
        assert not ctx.masks[name][1].any()  # slice without a box
    unc = ctx.maps["Myocardium uncertainty"]
    assert unc.dtype == np.float32 and unc.shape == (3, 80, 100)
    assert unc.max() > 0 and unc[1].max() == 0
    assert 0.0 <= ctx.info(0)["mc_dice"] <= 1.0
    prob = ctx.maps["Myocardium probability"]
    assert prob.min() >= 0 and prob.max() <= 1


def test_deterministic_mode_repeats_and_has_no_uncertainty():
    a, b = ctx_with_boxes(1), ctx_with_boxes(1)
    net = tiny_net()
    MyocardiumStage(net).run(a, lambda f, m: None)
    MyocardiumStage(net).run(b, lambda f, m: None)
    np.testing.assert_array_equal(a.crop_probs[0], b.crop_probs[0])
    assert "Myocardium uncertainty" not in a.maps and "mc_dice" not in a.info(0)


def test_masks_land_at_the_crop_position():
    ctx = ctx_with_boxes(1)
    MyocardiumStage(TorchNet(Ring())).run(ctx, lambda f, m: None)
    myo, bp = ctx.masks["Myocardium"][0], ctx.masks["Blood pool"][0]
    box = ctx.crop_boxes[0]
    s = box.side / CROP_SIZE
    # ring radii 20..32 crop px -> 9.4..15 slice px around (40, 50)
    expected = disk(myo.shape, 39.5, 49.5, 32 * s) & ~disk(myo.shape, 39.5, 49.5, 20 * s)
    dice = 2 * (myo & expected).sum() / (myo.sum() + expected.sum())
    assert dice > 0.85
    assert bp[40, 50] and not (bp & myo).any()


def test_clean_slice_keeps_largest_and_fills_cavity():
    myo = disk((60, 60), 30, 30, 15) & ~disk((60, 60), 30, 30, 9)
    myo_noisy = myo | disk((60, 60), 5, 5, 2)
    bp = disk((60, 60), 30, 30, 5) | disk((60, 60), 55, 55, 3)  # under-segmented + stray
    m, b = clean_slice(myo_noisy, bp)
    np.testing.assert_array_equal(m, myo)
    assert b.sum() == (disk((60, 60), 30, 30, 15) & ~myo).sum()  # the whole enclosed cavity
    assert not b[55, 55]


def test_sample_dice():
    a = np.zeros((2, 10, 10), bool)
    a[0, :5] = True
    a[1, :5] = True
    assert sample_dice(a, a[0]) == 1.0
    b = a.copy()
    b[1] = False
    b[1, 5:] = True
    assert sample_dice(b, a[0]) == 0.5


def test_refine_boxes_recentres_on_first_pass_lv():
    box = CropBox(40, 50, 64)  # 0.5 slice px per crop px
    first = np.zeros((1, 3, CROP_SIZE, CROP_SIZE), np.float32)
    first[0, 0] = 1
    lv = disk((CROP_SIZE, CROP_SIZE), 84, 64, 20)  # 20 crop px below the crop centre
    first[0, 0][lv], first[0, 2][lv] = 0, 1
    new = refine_boxes({0: box, 1: box}, first, [0], (100, 120))[0]
    assert abs(new.center_y - (40 + 10)) < 1 and abs(new.center_x - 50) < 1
    expected_side = 2.0 * 2 * (20 * 0.5)  # CROP_FACTOR x diameter of a 10 px radius disk
    assert abs(new.side - expected_side) / expected_side < 0.1


def test_refine_boxes_keeps_roi_box_when_first_pass_is_empty():
    box = CropBox(40, 50, 64)
    first = np.zeros((1, 3, CROP_SIZE, CROP_SIZE), np.float32)
    first[0, 0] = 1
    assert refine_boxes({0: box}, first, [0], (100, 120))[0] == box


def test_flip_passes_are_mapped_back_to_the_crop_frame():
    # A pointwise model commutes with flips: every flipped pass, flipped back, must equal the
    # plain pass on an asymmetric crop (a missing or wrong un-flip would not).
    torch.manual_seed(0)
    pointwise = TorchNet(torch.nn.Conv2d(1, 3, kernel_size=1))
    crops = np.random.default_rng(1).random((2, 16, 16)).astype(np.float32)
    flipped = MyocardiumStage(pointwise, flips=True).predict_crops(crops, 4)
    plain = MyocardiumStage(pointwise, flips=False).predict_crops(crops, 1)[0]
    assert flipped.shape == (4, 2, 3, 16, 16)
    for s in range(4):
        np.testing.assert_allclose(flipped[s], plain, atol=1e-6)
