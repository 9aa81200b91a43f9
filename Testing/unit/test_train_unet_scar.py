"""Scar-head training pieces: the 4-class target and the warm start from the myocardium net."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ScarSegmentationLib.data.datasets import N_CLASSES, target
from ScarSegmentationLib.training.train_unet import warm_start
from ScarSegmentationLib.training.unet import ResUNet

torch.set_num_threads(1)


def test_scar_unet_target_maps_emidec_labels():
    # EMIDEC: 0 bg, 1 blood pool, 2 healthy myocardium, 3 scar, 4 no-reflow (inside the scar)
    label = np.array([[0, 1, 2], [3, 4, 2]], dtype=np.uint8)
    out = target(label, "scar_unet")
    assert out.dtype == np.int64 and out.shape == label.shape
    np.testing.assert_array_equal(out, [[0, 1, 2], [3, 3, 2]])
    assert N_CLASSES["scar_unet"] == 4 and out.max() < N_CLASSES["scar_unet"]
    # the myocardium net's target is untouched: scar and no-reflow stay myocardium there
    np.testing.assert_array_equal(target(label, "myocardium"), [[0, 1, 2], [2, 2, 2]])


def net(n_classes: int, seed: int, base_filters: int = 2) -> ResUNet:
    torch.manual_seed(seed)
    m = ResUNet(n_classes=n_classes, base_filters=base_filters, depth=2)
    # non-default BN statistics, so copying buffers is visible too
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
    return m.eval()


@pytest.mark.parametrize("key", ["state_dict", "model"])
def test_warm_start_copies_body_and_fills_extra_class_from_the_last(tmp_path, key):
    src, dst = net(3, seed=1), net(4, seed=2)
    path = tmp_path / "src.pt"
    torch.save({key: src.state_dict()}, path)
    warm_start(dst, str(path))
    s, d = src.state_dict(), dst.state_dict()
    for name, value in s.items():
        if not name.startswith("head."):
            assert torch.equal(d[name], value), name
    assert torch.equal(d["head.weight"][:3], s["head.weight"])
    assert torch.equal(d["head.weight"][3], s["head.weight"][2])
    assert torch.equal(d["head.bias"][:3], s["head.bias"])
    assert torch.equal(d["head.bias"][3], s["head.bias"][2])
    # so the warm-started head starts as the source net with scar = a copy of myocardium
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        a, b = src(x), dst(x)
    torch.testing.assert_close(b[:, :3], a)
    torch.testing.assert_close(b[:, 3], a[:, 2])


def test_warm_start_same_classes_is_a_plain_copy(tmp_path):
    src, dst = net(3, seed=1), net(3, seed=2)
    torch.save({"state_dict": src.state_dict()}, tmp_path / "src.pt")
    warm_start(dst, str(tmp_path / "src.pt"))
    for name, value in src.state_dict().items():
        assert torch.equal(dst.state_dict()[name], value), name


def test_warm_start_leaves_tensors_of_another_shape_alone(tmp_path):
    src, dst = net(3, seed=1, base_filters=4), net(4, seed=2)  # every width differs
    before = {k: v.clone() for k, v in dst.state_dict().items()}
    torch.save({"state_dict": src.state_dict()}, tmp_path / "src.pt")
    warm_start(dst, str(tmp_path / "src.pt"))
    # head.bias has the same shape at any width: it is left alone with its weight
    for name, value in dst.state_dict().items():
        if value.is_floating_point():
            assert torch.equal(value, before[name]), name


def test_mc_variance_loss_is_zero_for_identical_samples_and_the_variance_otherwise():
    from ScarSegmentationLib.training.losses import mc_variance_loss

    same = torch.randn(1, 3, 4, 4).repeat(5, 1, 1, 1)
    assert float(mc_variance_loss(same, 5)) < 1e-12
    # two samples, 2 classes, one pixel: softmax p and 1-p -> variance ((p1-p2)/2)^2 per class
    logits = torch.tensor([[0.0, 0.0], [0.0, float(np.log(3.0))]]).reshape(2, 2, 1, 1)
    p1, p2 = 0.5, 0.25  # P(class 0) in each sample
    assert float(mc_variance_loss(logits, 2)) == pytest.approx(((p1 - p2) / 2) ** 2, rel=1e-5)
    with pytest.raises(ValueError, match="samples"):
        mc_variance_loss(torch.zeros(5, 2, 1, 1), 2)


def test_training_loss_with_mc_term_adds_the_dropout_variance():
    from ScarSegmentationLib.training.losses import segmentation_loss
    from ScarSegmentationLib.training.train_unet import training_loss

    torch.manual_seed(0)
    net = ResUNet(n_classes=4, base_filters=2, dropout=0.5).train()
    x, y = torch.rand(2, 1, 32, 32), torch.randint(0, 4, (2, 32, 32))
    w = torch.ones(4)
    torch.manual_seed(1)
    plain = training_loss(net, x, y, w)
    torch.manual_seed(1)
    expected = segmentation_loss(net(x), y, w).item()
    assert plain.item() == pytest.approx(expected, rel=1e-6)
    torch.manual_seed(1)
    with_mc = training_loss(net, x, y, w, mc_weight=1000.0, mc_samples=3)
    with_mc.backward()
    assert with_mc.item() > plain.item() + 0.01  # dropout 0.5 gives the samples real spread
    assert net.head.weight.grad is not None


def test_val_decision_undoes_the_class_weights_like_inference():
    from ScarSegmentationLib.crop import CropBox
    from ScarSegmentationLib.data.datasets import PreparedSlice
    from ScarSegmentationLib.training.train_unet import evaluate

    class Constant(torch.nn.Module):  # softmax 0.3 / 0.3 / 0.4: myocardium wins the raw argmax
        def forward(self, x):
            logits = torch.log(torch.tensor([0.3, 0.3, 0.4]))
            return logits.view(1, 3, 1, 1).expand(len(x), 3, *x.shape[2:])

    label = np.zeros((64, 64), np.uint8)  # all background: myocardium anywhere is wrong
    label[20:44, 20:44] = 1  # a blood pool, so the slice has an LV crop
    s = PreparedSlice("emidec/Case_X", "emidec", 0, np.zeros((64, 64), np.float32),
                      np.zeros((64, 64), np.float32), label, CropBox(32, 32, 48))  # fmt: skip
    raw = evaluate(Constant(), [s], "myocardium")
    undone = evaluate(Constant(), [s], "myocardium", torch.tensor([0.5, 1.0, 2.0]))
    assert raw["emidec"]["myocardium"] == 0.0  # predicted everywhere, reference has none
    assert undone["emidec"]["myocardium"] == 1.0  # 0.4 / 2 < 0.3 / 0.5: background, as it should
