"""Deep supervision: heads on the coarser decoder stages, nnU-Net's level weights, a loss that
subsamples the labels, and a wrapped net whose own output is unchanged."""

from __future__ import annotations

import pytest
import torch
from ScarSegmentationLib.training.deep_supervision import DeepSupervision, deep_supervision_loss
from ScarSegmentationLib.training.losses import partial_segmentation_loss, segmentation_loss
from ScarSegmentationLib.training.train_unet import training_loss
from ScarSegmentationLib.training.unet import ResUNet

torch.set_num_threads(1)


def _net(n_classes: int = 4) -> ResUNet:
    torch.manual_seed(0)
    return ResUNet(n_classes=n_classes, base_filters=2, depth=3).eval()


def test_outputs_are_the_net_and_halving_resolutions():
    net = _net()
    ds = DeepSupervision(net, levels=3).eval()
    x = torch.rand(2, 1, 32, 32)
    outs = ds(x)
    assert [tuple(o.shape) for o in outs] == [(2, 4, 32, 32), (2, 4, 16, 16), (2, 4, 8, 8)]
    torch.testing.assert_close(outs[0], net(x))  # the saved net predicts what was trained
    assert ds.level_weights() == pytest.approx([4 / 7, 2 / 7, 1 / 7])
    # the heads are not part of the net that gets saved and exported
    assert not any(k.startswith("heads") for k in net.state_dict())
    with pytest.raises(ValueError, match="depth 3"):
        DeepSupervision(net, levels=4)


def test_loss_subsamples_labels_and_weights_each_level():
    torch.manual_seed(1)
    outs = [torch.randn(2, 5, 16, 16), torch.randn(2, 5, 8, 8)]
    y = torch.randint(0, 6, (2, 16, 16))  # 5 = "scar or no-reflow" survives the subsampling
    w = torch.ones(5)

    def loss(z, t):
        return partial_segmentation_loss(z, t, w)

    expected = 0.75 * loss(outs[0], y) + 0.25 * loss(outs[1], y[:, ::2, ::2])
    assert float(deep_supervision_loss(outs, y, [0.75, 0.25], loss)) == pytest.approx(
        float(expected), rel=1e-6
    )


def test_training_loss_with_deep_supervision_trains_the_heads():
    net = _net().train()
    ds = DeepSupervision(net, levels=2).train()
    x, y = torch.rand(2, 1, 32, 32), torch.randint(0, 4, (2, 32, 32))
    w = torch.ones(4)
    torch.manual_seed(2)
    loss = training_loss(ds, x, y, w, level_weights=ds.level_weights())
    torch.manual_seed(2)
    outs = ds(x)
    expected = (2 / 3) * segmentation_loss(outs[0], y, w) + (1 / 3) * segmentation_loss(
        outs[1], y[:, ::2, ::2], w
    )
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert ds.heads[0].weight.grad is not None and net.head.weight.grad is not None
