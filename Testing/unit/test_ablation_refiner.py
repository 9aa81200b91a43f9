"""ablation_refiner: an untrained refiner gives the softmax back, the crop decision reproduces
the argmax inside the crop and the pipeline's labels outside it, and augmentation moves the
input and the labels together."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from ablation_refiner import (  # noqa: E402
    IN_CHANNELS,
    N_CLASSES,
    SIZE,
    augment,
    boxes_for,
    decide,
)
from ScarSegmentationLib.crop import extract  # noqa: E402


def _study() -> tuple[np.ndarray, np.ndarray]:
    """Two 64 x 64 slices: a ring of wall (radius 8-12) around a pool, centred at (30, 34);
    scar in the ring's right half on slice 0; the second slice has no heart."""
    yy, xx = np.mgrid[:64, :64]
    r = np.hypot(yy - 30, xx - 34)
    pred = np.zeros((2, 64, 64), np.uint8)
    pred[0][r < 8] = 1
    pred[0][(r >= 8) & (r < 12)] = 2
    pred[0][(r >= 8) & (r < 12) & (xx > 34)] = 3
    probs = np.zeros((N_CLASSES, 2, 64, 64), np.float32)
    for c in range(N_CLASSES):
        probs[c][pred == c] = 0.9
    probs += 0.1 / N_CLASSES
    probs[:, 1] = 0.0
    probs[0, 1] = 1.0
    return pred, probs


def test_boxes_follow_the_heart_and_skip_slices_without_one():
    _, probs = _study()
    boxes = boxes_for(probs)
    assert list(boxes) == [0]
    assert abs(boxes[0].center_y - 30) < 1 and abs(boxes[0].center_x - 34) < 1
    assert boxes_for(np.stack([np.ones((1, 8, 8))] + [np.zeros((1, 8, 8))] * 4)) == {}


def test_crop_decision_reproduces_the_argmax_and_keeps_labels_outside():
    pred, probs = _study()
    boxes = boxes_for(probs)
    crops = np.stack([[extract(probs[c, 0], boxes[0], SIZE) for c in range(N_CLASSES)]])
    out = decide(pred, [0], [boxes[0]], crops)
    assert (out[1] == pred[1]).all()
    agree = (out[0] == pred[0]).mean()
    assert agree > 0.98  # resampling moves a few border pixels only
    assert (out[0, :2] == pred[0, :2]).all()  # rows outside the crop keep the pipeline's labels


def test_decision_applies_the_presence_rule():
    pred, probs = _study()
    probs[2, 0][pred[0] == 3] = 0.9  # the right half is healthy wall
    probs[3, 0] = 0.02
    probs[:, 0, 30, 45] = [0.0, 0.0, 0.03, 0.97, 0.0]  # one scar speck: below the shipped burden
    boxes = boxes_for(probs)
    crops = np.stack([[extract(probs[c, 0], boxes[0], SIZE) for c in range(N_CLASSES)]])
    assert (crops[0].argmax(0) == 3).any()
    out = decide(pred, [0], [boxes[0]], crops)
    assert not (out >= 3).any() and (out[0][pred[0] == 3] == 2).mean() > 0.9


def test_untrained_refiner_returns_the_softmax():
    torch = pytest.importorskip("torch")
    from ablation_refiner import build_net, refined_logits

    net = build_net(torch.nn).eval()
    x = torch.rand(2, IN_CHANNELS, SIZE, SIZE)
    x[:, :N_CLASSES] /= x[:, :N_CLASSES].sum(1, keepdim=True)
    with torch.no_grad():
        p = refined_logits(net, x).softmax(1)
    assert torch.allclose(p, x[:, :N_CLASSES], atol=1e-4)


def test_augmentation_moves_image_and_labels_together():
    rng = np.random.default_rng(0)
    x = np.zeros((IN_CHANNELS, SIZE, SIZE), np.float32)
    y = np.zeros((SIZE, SIZE), np.int64)
    x[:, 10:20, 60:70] = 1.0
    y[10:20, 60:70] = 3
    for _ in range(8):
        xa, ya = augment(x, y, rng)
        assert ((xa[0] > 0.5) == (ya == 3)).all()
        assert xa[-1].std() > 0  # the image is jittered, not erased


def test_neighbouring_slices_come_from_the_same_box_and_zeros_beyond_the_stack():
    from ablation_refiner import NEIGHBOUR_CHANNELS, crop_patient, in_channels

    pred, probs = _study()
    pred, probs = pred[[0, 0, 1]], probs[:, [0, 0, 1]]
    probs[3, 1] += probs[2, 1]  # slice 1: slice 0 with all its wall scar
    probs[2, 1] = 0.0
    lab = pred.copy()
    std = np.stack([np.full((64, 64), v, np.float32) for v in (1.0, 2.0, 3.0)])
    z = {"probs": probs, "pred": pred, "lab": lab, "std": std, "fold": np.array(0)}
    d = crop_patient(z, context=1)
    assert d["ks"] == [0, 1] and d["x"].shape[1] == in_channels(1)
    before = d["x"][0, IN_CHANNELS : IN_CHANNELS + NEIGHBOUR_CHANNELS]
    after = d["x"][0, IN_CHANNELS + NEIGHBOUR_CHANNELS :]
    assert not before.any()  # slice 0 has no slice before it
    assert np.allclose(after[3], d["x"][0, 2] + d["x"][0, 3]) and not after[2].any()
    assert np.allclose(after[-1][30:60, 30:60], 2.0)  # slice 1's image in slice 0's box
