"""The noisy-label scar loss on hand-made cases."""

import numpy as np
import pytest
import torch
from ScarSegmentationLib.training.sam_losses import (
    WEIGHTS,
    dice_loss,
    gaussian_smooth,
    scar_loss,
    spatial_kl,
)

torch.set_num_threads(1)


def square(n=32, a=10, b=20):
    m = torch.zeros(1, n, n)
    m[:, a:b, a:b] = 1.0
    return m


def test_dice_loss_zero_for_perfect_prediction_and_one_for_disjoint():
    t = square()
    perfect = (t * 2 - 1) * 50.0  # logits: +50 inside, -50 outside
    assert dice_loss(perfect, t, smooth=0.0).item() == pytest.approx(0.0, abs=1e-6)
    disjoint = torch.full_like(t, -50.0)
    disjoint[:, 0:5, 0:5] = 50.0
    assert dice_loss(disjoint, t, smooth=0.0).item() == pytest.approx(1.0, abs=1e-6)


def test_dice_loss_half_overlap():
    t = square(a=0, b=10)  # 100 px
    logits = torch.full_like(t, -50.0)
    logits[:, 0:10, 5:15] = 50.0  # 100 px, 50 of them overlapping
    assert dice_loss(logits, t, smooth=0.0).item() == pytest.approx(0.5, abs=1e-5)


def test_kl_zero_for_identical_and_proportional_distributions_positive_otherwise():
    q = gaussian_smooth(square())
    assert spatial_kl(q, q).item() == pytest.approx(0.0, abs=1e-6)
    assert spatial_kl(0.5 * q, q).item() == pytest.approx(0.0, abs=1e-5)  # normalised maps
    shifted = torch.roll(q, shifts=4, dims=2)
    assert spatial_kl(shifted, q).item() > 0.1


def test_gaussian_smooth_keeps_mass_and_softens_edges():
    t = square()
    s = gaussian_smooth(t, sigma=2.0)
    assert s.sum().item() == pytest.approx(t.sum().item(), rel=1e-4)  # square far from borders
    assert 0.3 < s[0, 10, 15].item() < 0.7  # edge pixel becomes uncertain
    assert s[0, 15, 15].item() > 0.95 and s[0, 2, 2].item() < 1e-3


def test_scar_loss_weights_and_ablation():
    t = square()
    logits = torch.randn_like(t)
    full = scar_loss(logits, t)
    expected = sum(WEIGHTS[k] * full[k] for k in ("dice", "bce", "kl"))
    assert full["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    no_kl = scar_loss(logits, t, use_kl=False)
    assert "kl" not in no_kl
    assert no_kl["loss"].item() == pytest.approx(
        (0.6 * full["dice"] + 0.2 * full["bce"]).item(), rel=1e-6
    )


def test_loss_gradient_moves_prediction_towards_target():
    t = square()
    logits = torch.zeros_like(t, requires_grad=True)
    scar_loss(logits, t)["loss"].backward()
    g = logits.grad[0].numpy()
    assert g[15, 15] < 0 < g[2, 2]  # raise inside the scar, lower outside
    assert np.isfinite(g).all()
