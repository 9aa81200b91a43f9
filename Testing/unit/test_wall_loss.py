"""The whole-wall Dice loss: wall called scar or myocardium costs nothing, wall lost to the
blood pool does; training_loss adds it with its weight at every resolution."""

from __future__ import annotations

import argparse

import pytest
import torch
from ScarSegmentationLib.training.deep_supervision import DeepSupervision
from ScarSegmentationLib.training.losses import segmentation_loss, wall_dice_loss
from ScarSegmentationLib.training.train_unet import add_arguments, run, training_loss
from ScarSegmentationLib.training.unet import ResUNet

torch.set_num_threads(1)


def _logits_for(labels: torch.Tensor, n: int = 5) -> torch.Tensor:
    """Confident logits that predict `labels` (N, H, W)."""
    return 20.0 * torch.nn.functional.one_hot(labels, n).permute(0, 3, 1, 2).float()


def test_wall_loss_ignores_which_wall_class_and_counts_wall_lost_to_the_blood_pool():
    y = torch.zeros(1, 8, 8, dtype=torch.long)
    y[0, 2:6, 2:6] = 2  # myocardium
    y[0, 3:5, 3:5] = 3  # scar inside it
    y[0, 0, 0] = 1  # a blood-pool pixel
    assert float(wall_dice_loss(_logits_for(y), y)) == pytest.approx(0.0, abs=1e-6)
    scar_as_myo = y.clone()
    scar_as_myo[scar_as_myo == 3] = 2
    assert float(wall_dice_loss(_logits_for(scar_as_myo), y)) == pytest.approx(0.0, abs=1e-6)
    scar_as_blood = y.clone()
    scar_as_blood[scar_as_blood == 3] = 1
    lost = float(wall_dice_loss(_logits_for(scar_as_blood), y))
    assert lost == pytest.approx(1 - (2 * 12 + 1) / (12 + 16 + 1), rel=1e-4)
    # "scar or no-reflow" (value = number of classes) is wall too
    merged = y.clone()
    merged[merged == 3] = 5
    assert float(wall_dice_loss(_logits_for(y), merged)) == pytest.approx(0.0, abs=1e-6)


def test_training_loss_adds_the_weighted_wall_term_at_every_resolution():
    torch.manual_seed(0)
    net = ResUNet(n_classes=4, base_filters=2, depth=3).eval()
    x, y = torch.rand(2, 1, 32, 32), torch.randint(0, 4, (2, 32, 32))
    w = torch.ones(4)
    with torch.no_grad():
        logits = net(x)
        expected = segmentation_loss(logits, y, w) + 0.5 * wall_dice_loss(logits, y)
        got = training_loss(net, x, y, w, wall_weight=0.5)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
    ds = DeepSupervision(net, levels=2).eval()
    with torch.no_grad():
        outs = ds(x)
    lw = ds.level_weights()
    coarse = y[:, ::2, ::2]
    expected_ds = lw[0] * (segmentation_loss(outs[0], y, w) + wall_dice_loss(outs[0], y)) + lw[
        1
    ] * (segmentation_loss(outs[1], coarse, w) + wall_dice_loss(outs[1], coarse))
    with torch.no_grad():
        got_ds = training_loss(ds, x, y, w, level_weights=lw, wall_weight=1.0)
    assert float(got_ds) == pytest.approx(float(expected_ds), rel=1e-5)


@pytest.mark.parametrize(("kind", "weight"), [("roi", 1.0), ("scar_nr", -1.0)])
def test_wall_loss_option_is_checked(tmp_path, kind, weight):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--wall-loss", str(weight), "--out", str(tmp_path / "run")])
    args.kind = kind
    with pytest.raises(ValueError, match="--wall-loss"):
        run(args)
    assert not (tmp_path / "run").exists()  # checked before anything is written
