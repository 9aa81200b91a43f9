"""Scar-frame augmentation keeps image, labels and boxes consistent; box jitter stays sane."""

import numpy as np
import pytest
from ScarSegmentationLib.scar.boxes import Box
from ScarSegmentationLib.scar.frame import SCAR_SIZE
from ScarSegmentationLib.scar.sam_augment import (
    as_array,
    box_target,
    jitter_prompt,
    make_frame_sample,
)


def slice_with_scar(shape=(160, 180)):
    """Bright scar arc on the myocardium ring; intensities follow the labels exactly."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r = np.hypot(yy - 80, xx - 95)
    labels = np.zeros(shape, np.uint8)
    labels[r < 18] = 1
    labels[(r >= 18) & (r < 28)] = 2
    scar = (r >= 18) & (r < 28) & (xx > 100) & (yy < 80)
    labels[scar] = 3
    image = np.select([labels == 3, labels == 1, labels == 2], [1.0, 0.6, 0.1], 0.3)
    return image.astype(np.float32), labels


@pytest.mark.parametrize("strength", ["none", "shift", "full"])
def test_boxes_contain_the_scar_and_image_follows_labels(strength):
    image, labels = slice_with_scar()
    for seed in range(6):
        s = make_frame_sample(image, labels, np.random.default_rng(seed), strength)
        assert s.image.shape == s.labels.shape == (SCAR_SIZE, SCAR_SIZE)
        scar = s.labels >= 3
        assert scar.sum() > 50 and s.boxes
        covered = np.zeros_like(scar)
        for b in s.boxes:
            rows, cols = b.pixel_slices(scar.shape)
            covered[rows, cols] = True
        assert covered[scar].all()  # every scar pixel lies in a box (specks < 8 px aside)
        if strength != "full":  # no intensity changes: the image still marks the scar
            assert s.image[scar].mean() > 0.8 > s.image[s.labels == 2].mean()
        else:  # the scar stays the brightest tissue after gamma/contrast/CLAHE/noise
            assert s.image[scar].mean() > s.image[s.labels == 2].mean() + 0.2


def test_full_augmentation_varies_geometry():
    image, labels = slice_with_scar()
    boxes = {tuple(as_array(make_frame_sample(image, labels, np.random.default_rng(s)).boxes)[0])
             for s in range(5)}  # fmt: skip
    assert len(boxes) == 5


def test_no_lv_gives_none():
    image, labels = slice_with_scar()
    assert make_frame_sample(image, np.zeros_like(labels)) is None


def test_jitter_prompt_moves_edges_within_bounds():
    rng = np.random.default_rng(0)
    b = Box(100.0, 80.0, 140.0, 110.0)
    ious = []
    for _ in range(200):
        j = jitter_prompt(b, rng)
        assert 0 <= j.x0 < j.x1 <= SCAR_SIZE and 0 <= j.y0 < j.y1 <= SCAR_SIZE
        w = min(j.x1, b.x1) - max(j.x0, b.x0)
        h = min(j.y1, b.y1) - max(j.y0, b.y0)
        inter = max(w, 0) * max(h, 0)
        ious.append(inter / (j.area + b.area - inter))
    assert 0.5 < np.mean(ious) < 0.95 and min(ious) > 0.2  # real error, still on the scar


def test_jitter_prompt_keeps_tiny_boxes_at_the_border_valid():
    rng = np.random.default_rng(1)
    for _ in range(100):
        j = jitter_prompt(Box(254.0, 0.0, 256.0, 1.0), rng)
        assert j.x1 - j.x0 >= 2.0 - 1e-9 and j.y1 - j.y0 >= 2.0 - 1e-9
        assert 0 <= j.x0 and j.x1 <= SCAR_SIZE and 0 <= j.y0 and j.y1 <= SCAR_SIZE


def test_box_target_is_the_scar_inside_the_true_box_only():
    labels = np.zeros((20, 20), np.uint8)
    labels[2:5, 2:5] = 3
    labels[10:14, 10:14] = 4
    t = box_target(labels, Box(9.0, 9.0, 15.0, 15.0))
    assert t.sum() == 16 and not t[2:5, 2:5].any()
