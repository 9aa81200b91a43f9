"""The wall refiner's input and output (scar/wall_refiner.py) and its training helpers: boxes
follow the heart, neighbours come from the slice's own box, an untrained (zero) refiner gives
the softmax back, the refined wall is cleaned as stage 2 cleans its own, and augmentation moves
the input and the labels together."""

from __future__ import annotations

import numpy as np
import pytest
from ScarSegmentationLib.crop import extract
from ScarSegmentationLib.scar import wall_refiner as wr


def _study() -> tuple[np.ndarray, np.ndarray]:
    """Two 64 x 64 slices: a ring of wall (radius 8-12) around a pool, centred at (30, 34);
    scar in the ring's right half on slice 0; the second slice has no heart."""
    yy, xx = np.mgrid[:64, :64]
    r = np.hypot(yy - 30, xx - 34)
    pred = np.zeros((2, 64, 64), np.uint8)
    pred[0][r < 8] = 1
    pred[0][(r >= 8) & (r < 12)] = 2
    pred[0][(r >= 8) & (r < 12) & (xx > 34)] = 3
    probs = np.zeros((wr.N_CLASSES, 2, 64, 64), np.float32)
    for c in range(wr.N_CLASSES):
        probs[c][pred == c] = 0.9
    probs += 0.1 / wr.N_CLASSES
    probs[:, 1] = 0.0
    probs[0, 1] = 1.0
    return pred, probs


def test_boxes_follow_the_heart_and_skip_slices_without_one():
    _, probs = _study()
    boxes = wr.boxes_for(probs)
    assert list(boxes) == [0]
    assert abs(boxes[0].center_y - 30) < 1 and abs(boxes[0].center_x - 34) < 1
    assert wr.boxes_for(np.stack([np.ones((1, 8, 8))] + [np.zeros((1, 8, 8))] * 4)) == {}


def test_crop_factor_scales_the_box_and_comes_from_the_config():
    _, probs = _study()
    default, tight = wr.boxes_for(probs)[0], wr.boxes_for(probs, 1.5)[0]
    heart_diameter = 2 * np.sqrt(np.count_nonzero(probs[0, 0] < 0.5) / np.pi)
    assert default.side == pytest.approx(2.0 * heart_diameter)
    assert tight.side == pytest.approx(1.5 * heart_diameter)
    assert (tight.center_y, tight.center_x) == (default.center_y, default.center_x)
    assert wr.crop_factor_of({}) == wr.CROP_FACTOR == 2.0  # refiners trained before the option
    assert wr.crop_factor_of({"refiner_crop_factor": 1.5}) == 1.5
    pred, _ = _study()
    x, _, boxes = wr.refiner_inputs(probs, pred, probs[1], 0, crop_factor=1.5)
    assert boxes[0] == tight and x.shape[-1] == wr.SIZE


def test_channel_layout_round_trips():
    for context in (0, 1, 2):
        n = wr.in_channels(context)
        assert wr.context_of(n) == context
        images = wr.image_channels(n)
        assert len(images) == 1 + 2 * context and images[0] == 2 * wr.N_CLASSES
    with pytest.raises(ValueError, match="not a refiner"):
        wr.context_of(wr.IN_CHANNELS + 1)


def test_refined_labels_reproduce_the_argmax_and_keep_labels_outside():
    pred, probs = _study()
    boxes = wr.boxes_for(probs)
    crops = np.stack([[extract(probs[c, 0], boxes[0], wr.SIZE) for c in range(wr.N_CLASSES)]])
    out = wr.refined_labels(pred, [0], [boxes[0]], crops)
    assert (out[1] == pred[1]).all()
    assert (out[0] == pred[0]).mean() > 0.98  # resampling moves a few border pixels only
    assert (out[0, :2] == pred[0, :2]).all()  # rows outside the crop keep the labels


def test_a_zero_refiner_gives_the_softmax_back_in_every_orientation():
    rng = np.random.default_rng(0)
    x = rng.random((3, wr.in_channels(1), wr.SIZE, wr.SIZE)).astype(np.float32)
    x[:, : wr.N_CLASSES] /= x[:, : wr.N_CLASSES].sum(1, keepdims=True)
    out = wr.refined_softmax(lambda a: np.zeros((len(a), wr.N_CLASSES, *a.shape[-2:])), x)
    assert np.allclose(out, x[:, : wr.N_CLASSES], atol=1e-4)

    # a residual that favours one pixel's class lands on that pixel whatever the orientation
    def bump(a: np.ndarray) -> np.ndarray:
        r = np.zeros((len(a), wr.N_CLASSES, *a.shape[-2:]), np.float32)
        r[:, 3] = 20.0 * (a[:, -1] > 5)  # where the last image channel is marked
        return r

    x[:, -1] = 0.0
    x[:, -1, 10, 70] = 10.0
    out = wr.refined_softmax(bump, x)
    elsewhere = np.ones((wr.SIZE, wr.SIZE), bool)
    elsewhere[10, 70] = False
    assert (out[:, 3, 10, 70] > 0.99).all()
    assert np.allclose(out[:, :, elsewhere], x[:, : wr.N_CLASSES, elsewhere], atol=1e-4)


def test_refined_wall_keeps_the_largest_component_and_the_pool_it_encloses():
    pred, probs = _study()
    boxes = wr.boxes_for(probs)
    crops = np.stack([[extract(probs[c, 0], boxes[0], wr.SIZE) for c in range(wr.N_CLASSES)]])
    crops[0, :, 5:8, 5:8] = 0.0
    crops[0, 2, 5:8, 5:8] = 1.0  # a wall speck far from the ring
    wall, pool = wr.refined_wall(pred, [0], [boxes[0]], crops)
    ring = pred[0] >= 2
    assert (wall[0] == ring).mean() > 0.98 and not (wall[0] & pool[0]).any()
    assert wall[0].sum() < ring.sum() + 20  # the speck is gone
    assert not wall[1].any() and not pool[1].any()


def test_neighbouring_slices_come_from_the_same_box_and_zeros_beyond_the_stack():
    pred, probs = _study()
    pred, probs = pred[[0, 0, 1]], probs[:, [0, 0, 1]]
    probs[3, 1] += probs[2, 1]  # slice 1: slice 0 with all its wall scar
    probs[2, 1] = 0.0
    std = np.stack([np.full((64, 64), v, np.float32) for v in (1.0, 2.0, 3.0)])
    z = {"probs": probs, "pred": pred, "lab": pred.copy(), "std": std, "fold": np.array(0)}
    d = wr.training_crops(z, context=1)
    assert d["ks"] == [0, 1] and d["x"].shape[1] == wr.in_channels(1)
    assert d["y"].shape == (2, wr.SIZE, wr.SIZE)
    before = d["x"][0, wr.IN_CHANNELS : wr.IN_CHANNELS + wr.NEIGHBOUR_CHANNELS]
    after = d["x"][0, wr.IN_CHANNELS + wr.NEIGHBOUR_CHANNELS :]
    assert not before.any()  # slice 0 has no slice before it
    assert np.allclose(after[3], d["x"][0, 2] + d["x"][0, 3]) and not after[2].any()
    assert np.allclose(after[-1][30:60, 30:60], 2.0)  # slice 1's image in slice 0's box


def test_untrained_refiner_returns_the_softmax_and_augmentation_moves_labels_along():
    torch = pytest.importorskip("torch")
    from ScarSegmentationLib.training.train_refiner import augment, build_net, predict

    net = build_net(1).eval()
    assert net.config["in_channels"] == wr.in_channels(1) and net.config["role"] == "refiner"
    x = torch.rand(2, wr.in_channels(1), wr.SIZE, wr.SIZE)
    x[:, : wr.N_CLASSES] /= x[:, : wr.N_CLASSES].sum(1, keepdim=True)
    assert np.allclose(predict(net, x.numpy()), x[:, : wr.N_CLASSES].numpy(), atol=1e-4)
    rng = np.random.default_rng(0)
    xs = np.zeros((wr.in_channels(1), wr.SIZE, wr.SIZE), np.float32)
    y = np.zeros((wr.SIZE, wr.SIZE), np.int64)
    xs[:, 10:20, 60:70] = 1.0
    y[10:20, 60:70] = 3
    for _ in range(8):
        xa, ya = augment(xs, y, rng)
        assert ((xa[0] > 0.5) == (ya == 3)).all()
        assert all(xa[c].std() > 0 for c in wr.image_channels(len(xa)))  # jittered, not erased
