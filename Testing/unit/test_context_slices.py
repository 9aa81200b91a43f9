"""2.5D input: neighbouring slices as channels, cut and transformed like the slice itself, and a
one-channel net that warm-starts a context net with the same output."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ScarSegmentationLib.crop import CropBox
from ScarSegmentationLib.data.datasets import PreparedSlice, make_sample
from ScarSegmentationLib.training.train_unet import warm_start
from ScarSegmentationLib.training.unet import ResUNet

torch.set_num_threads(1)


def _stack(n: int = 3) -> list[PreparedSlice]:
    rng = np.random.default_rng(0)
    stack: list[PreparedSlice] = []
    for i in range(n):
        std = rng.random((64, 64)).astype(np.float32)
        label = np.zeros((64, 64), np.uint8)
        label[20:44, 20:44] = 2
        label[26:38, 26:38] = 1
        box = CropBox(32.0, 32.0, 40.0)
        stack.append(PreparedSlice("p", "emidec", i, std, std, label, box, std * 100, stack))
    return stack


def test_context_channels_are_the_neighbours_clamped_at_the_ends():
    stack = _stack()
    first = stack[0]
    img, lab = make_sample(first, "scar_nr", None, size=32, context=1)
    alone, lab0 = make_sample(first, "scar_nr", None, size=32)
    assert img.shape == (3, 32, 32) and alone.shape == (32, 32)
    np.testing.assert_array_equal(img[1], alone)
    np.testing.assert_array_equal(img[0], alone)  # no slice before the first: itself
    np.testing.assert_array_equal(img[2], make_sample(stack[1], "scar_nr", None, size=32)[0])
    np.testing.assert_array_equal(lab, lab0)
    with pytest.raises(ValueError, match="roi"):
        make_sample(first, "roi", None, context=1)


def test_augmented_context_moves_every_channel_alike():
    stack = _stack()
    # identical neighbours: every channel must come out identical after the same transform
    for s in stack:
        s.std = stack[1].std
        s.raw = stack[1].raw
    img, _ = make_sample(stack[1], "scar_nr", np.random.default_rng(5), size=32, context=1)
    assert img.shape == (3, 32, 32)
    np.testing.assert_allclose(img[0], img[1], atol=0.2)  # Rayleigh noise differs per pixel
    assert np.corrcoef(img[0].ravel(), img[2].ravel())[0, 1] > 0.5


def test_one_channel_weights_warm_start_a_context_net(tmp_path):
    torch.manual_seed(0)
    one = ResUNet(n_classes=5, base_filters=2, depth=2).eval()
    torch.save({"model": one.state_dict()}, tmp_path / "one.pt")
    three = ResUNet(n_classes=5, base_filters=2, depth=2, in_channels=3).eval()
    warm_start(three, str(tmp_path / "one.pt"))
    x = torch.rand(2, 1, 32, 32)
    both = torch.cat([torch.rand(2, 1, 32, 32), x, torch.rand(2, 1, 32, 32)], dim=1)
    torch.testing.assert_close(three(both), one(x))


def _context_net(tmp_path):
    """A tiny 3-channel net saved and exported to ONNX: the runtime's view of a context net."""
    from ScarSegmentationLib.training.checkpoints import save_model
    from ScarSegmentationLib.training.export import record_checksum
    from ScarSegmentationLib.training.export_onnx import export_unet

    torch.manual_seed(1)
    net = ResUNet(n_classes=5, base_filters=2, depth=2, in_channels=3, dropout=0.0)
    record_checksum(save_model(net, tmp_path / "ctx.pt", {"kind": "scar_nr"}))
    return net.eval(), export_unet("ctx", tmp_path)


def test_net_crops_take_the_neighbours_in_storage_order(tmp_path):
    from ScarSegmentationLib.runtime.unet import OnnxUNet
    from ScarSegmentationLib.stages.myocardium import context_of, net_crops

    _, onnx_path = _context_net(tmp_path)
    net = OnnxUNet(onnx_path, 1)
    assert context_of(net) == 1
    std = np.stack([np.full((40, 40), v, np.float32) for v in (0.1, 0.2, 0.3)])
    boxes = {k: CropBox(20.0, 20.0, 16.0) for k in range(3)}
    crops = net_crops(net, std, boxes, [0, 2])
    assert crops.shape == (2, 3, 128, 128)
    np.testing.assert_allclose(crops[0, :, 64, 64], [0.1, 0.1, 0.2], atol=1e-6)  # clamped
    np.testing.assert_allclose(crops[1, :, 64, 64], [0.2, 0.3, 0.3], atol=1e-6)


def test_context_net_in_onnx_matches_torch_with_flipped_passes(tmp_path):
    from ScarSegmentationLib.runtime.unet import OnnxUNet
    from ScarSegmentationLib.stages.myocardium import FLIPS, predict_crops
    from scipy.special import softmax

    net, onnx_path = _context_net(tmp_path)
    onnx = OnnxUNet(onnx_path, 1)
    crops = np.random.default_rng(0).random((2, 3, 128, 128)).astype(np.float32)
    passes = predict_crops(onnx, crops, len(FLIPS))  # no dropout: each pass is one flip
    assert passes.shape == (4, 2, 5, 128, 128)
    with torch.no_grad():
        for s, axes in enumerate(FLIPS):
            view = np.ascontiguousarray(np.flip(crops, axis=tuple(a + 1 for a in axes)))
            p = softmax(net(torch.from_numpy(view)).numpy(), axis=1)
            np.testing.assert_allclose(
                passes[s], np.flip(p, axis=tuple(a + 1 for a in axes)), atol=1e-4
            )


def test_an_ensemble_hands_each_member_its_own_channels():
    """A one-slice member and a 2.5D member in one ensemble: the ensemble takes three channels,
    the one-slice member sees the centre one, and the mean is theirs as run alone."""
    from ScarSegmentationLib.errors import ModelError
    from ScarSegmentationLib.runtime.ensemble import EnsembleUNet
    from ScarSegmentationLib.stages.myocardium import context_of
    from ScarSegmentationLib.training.torch_net import TorchNet
    from scipy.special import softmax

    torch.manual_seed(0)
    one = TorchNet(ResUNet(n_classes=5, base_filters=2, depth=2, dropout=0.0))
    three = TorchNet(ResUNet(n_classes=5, base_filters=2, depth=2, in_channels=3, dropout=0.0))
    ens = EnsembleUNet([one, three])
    assert ens.config["in_channels"] == 3 and context_of(ens) == 1
    x = np.random.default_rng(0).random((2, 3, 32, 32)).astype(np.float32)
    expected = (softmax(one.logits(x[:, 1:2]), axis=1) + softmax(three.logits(x), axis=1)) / 2
    np.testing.assert_allclose(np.exp(ens.logits(x)), expected, atol=1e-5)
    np.testing.assert_allclose(ens.member_probs(0, x), softmax(one.logits(x[:, 1:2]), axis=1))
    two = TorchNet(ResUNet(n_classes=5, base_filters=2, depth=2, in_channels=2))
    with pytest.raises(ModelError, match="odd count"):
        EnsembleUNet([one, two])
