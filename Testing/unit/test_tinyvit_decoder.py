"""The TinyViT dense decoder ablation: shapes, that it can learn, and its scoring rule."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ScarSegmentationLib.training.tinyvit_decoder import DenseDecoder

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from ablation_tinyvit_decoder import decide, patient_row  # noqa: E402

torch.set_num_threads(1)


def test_decoder_maps_an_embedding_and_its_frame_to_frame_sized_logits():
    net = DenseDecoder(n_classes=5).eval()
    out = net(torch.zeros(2, 256, 64, 64), torch.zeros(2, 1, 256, 256))
    assert out.shape == (2, 5, 256, 256)


def test_decoder_learns_a_square_that_only_the_image_path_shows():
    # the embedding is blank: a square in the frame can be found only by the high-resolution path
    torch.manual_seed(0)
    net = DenseDecoder(n_classes=2, dropout=0.0)
    frame = torch.zeros(1, 1, 256, 256)
    frame[..., 96:160, 96:160] = 1.0
    y = (frame[:, 0] > 0.5).long()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(40):
        loss = torch.nn.functional.cross_entropy(net(torch.zeros(1, 256, 64, 64), frame), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    pred = net.eval()(torch.zeros(1, 256, 64, 64), frame).argmax(1)
    assert (pred == y).float().mean() > 0.98


def posterior(*classes: float) -> np.ndarray:
    return np.array(classes, dtype=np.float32).reshape(5, 1, 1)


def test_decide_folds_the_myocardium_classes_before_the_argmax():
    # blood pool is the single largest class, but the myocardium classes together win
    assert decide(posterior(0.1, 0.36, 0.2, 0.3, 0.04))[0, 0] == 3
    assert decide(posterior(0.1, 0.36, 0.34, 0.16, 0.04))[0, 0] == 2
    assert decide(posterior(0.1, 0.5, 0.2, 0.15, 0.05))[0, 0] == 1
    assert decide(posterior(0.1, 0.1, 0.1, 0.3, 0.4))[0, 0] == 4


def test_patient_row_scores_scar_only_where_the_reference_has_it():
    ref = np.zeros((1, 4, 4), np.uint8)
    ref[0, :2] = 2
    ref[0, 0, :2] = 3
    pred = ref.copy()
    pred[0, 0, 0] = 2
    row = patient_row("emidec/Case_P001", "emidec", "x", pred, ref)
    assert row["myocardium"] == pytest.approx(1.0)
    assert row["scar"] == pytest.approx(2 / 3)
    assert row["burden_error"] == pytest.approx(100 * (2 / 8 - 1 / 8))
    assert np.isnan(row["no_reflow"])
    normal = patient_row("emidec/Case_N001", "emidec", "x", pred, np.where(ref >= 2, 2, 0))
    assert np.isnan(normal["scar"]) and np.isnan(normal["scar_outside_myo"])
