"""Anatomical checks and the stage-3 model on real ground-truth myocardium (marker `data`)."""

import numpy as np
import pytest
import torch
from ScarSegmentationLib.anatomy.augment import corrupt
from ScarSegmentationLib.anatomy.checks import check_myocardium
from ScarSegmentationLib.anatomy.gtcrops import gt_myocardium_crop
from ScarSegmentationLib.data import load_all, load_split

pytestmark = pytest.mark.data
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def gt(data_dir):
    patients = load_all(data_dir)
    split = load_split()
    out = {}
    for name in ("train", "test"):
        rows = []
        for pid in split[name]:
            labels = patients[pid].labels
            for i, lab in enumerate(labels):
                rows.append(
                    (gt_myocardium_crop(lab), i == len(labels) - 1)
                )  # stacks run apex->base
        out[name] = rows
    return out


def pass_rate(rows):
    return np.mean([check_myocardium(m, allow_open=base).passes for m, base in rows])


def test_ground_truth_passes_the_checks(gt):
    # thresholds were set on the training ground truth; test patients were never looked at
    assert pass_rate(gt["train"]) >= 0.99
    assert pass_rate(gt["test"]) >= 0.97


def test_ground_truth_is_mostly_closed_rings(gt):
    rings = [check_myocardium(m, allow_open=True).ring for m, _ in gt["train"]]
    assert rings.count("closed") / len(rings) > 0.95


@pytest.fixture(scope="module")
def anatomy_model():
    from ScarSegmentationLib.anatomy.model import load_anatomy_model
    from ScarSegmentationLib.weights import model_path

    if not model_path("anatomy").is_file():
        pytest.skip("Resources/Models/anatomy.pt not present")
    return load_anatomy_model()


def test_reconstruction_and_correction_on_test_patients(gt, anatomy_model):
    masks = np.stack([m for m, _ in gt["test"]])
    rec = anatomy_model.decode(anatomy_model.encode(masks))
    dice = [2 * (a & b).sum() / (a.sum() + b.sum()) for a, b in zip(rec, masks, strict=True)]
    assert np.mean(dice) > 0.85
    rng = np.random.default_rng(3)
    tried = fixed = 0
    for m in masks[::4]:
        broken = corrupt(m, rng)
        if check_myocardium(broken).passes:
            continue
        tried += 1
        c = anatomy_model.correct(broken)
        fixed += int(c.after.passes and check_myocardium(c.mask).passes)
    assert tried > 5 and fixed == tried
