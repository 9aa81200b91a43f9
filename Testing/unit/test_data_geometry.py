import numpy as np
import pytest
from ScarSegmentationLib.crop import CropBox, extract, paste
from ScarSegmentationLib.data.augment import elastic_field, jitter_box, random_intensity
from ScarSegmentationLib.data.datasets import target
from ScarSegmentationLib.data.geometry import lv_box_from_mask, roi_box, roi_input, sample_box
from ScarSegmentationLib.data.loaders import map_myops_labels


def disk(shape, cy, cx, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


def test_sample_box_without_transform_equals_crop_extract():
    rng = np.random.default_rng(0)
    img = rng.random((90, 70)).astype(np.float32)
    box = CropBox(40.3, 33.7, 50.0)
    np.testing.assert_allclose(sample_box(img, box, 64), extract(img, box, 64), atol=1e-6)


def test_roi_input_pads_to_square_and_keeps_position():
    img = np.zeros((100, 200), dtype=np.float32)
    img[disk(img.shape, 50, 150, 10)] = 1.0
    x = roi_input(img, 128)
    assert x.shape == (128, 128)
    cy, cx = np.argwhere(x > 0.5).mean(0)
    # 200 px -> 128: the disk at (50, 150) of a centred 200x200 square (rows offset 50).
    assert abs(cy - (100 * 128 / 200)) < 2 and abs(cx - (150 * 128 / 200)) < 2
    assert x[:10].max() == 0  # padded rows stay zero


def test_lv_box_centre_and_paste_roundtrip():
    m = disk((120, 120), 70, 50, 15)
    box = lv_box_from_mask(m)
    assert abs(box.center_y - 70.5) < 0.5 and abs(box.center_x - 50.5) < 0.5
    crop = extract(m.astype(np.float32), box, 128)
    back = paste(crop, box, m.shape) > 0.5
    dice = 2 * (back & m).sum() / (back.sum() + m.sum())
    assert dice > 0.97
    assert lv_box_from_mask(np.zeros((10, 10), bool)) is None


def test_rotation_and_flip_move_content():
    img = np.zeros((64, 64), dtype=np.float32)
    img[10:20, 30:34] = 1  # above the centre
    box = CropBox(32, 32, 64)
    rot = sample_box(img, box, 64, rotation_deg=180)
    np.testing.assert_allclose(rot, img[::-1, ::-1], atol=1e-5)
    flipped = sample_box(img, box, 64, flip=True)
    np.testing.assert_allclose(flipped, img[:, ::-1], atol=1e-5)


def test_labels_stay_integer_under_augmentation():
    lab = np.zeros((80, 80), dtype=np.uint8)
    lab[disk(lab.shape, 40, 40, 20)] = 2
    lab[disk(lab.shape, 40, 40, 12)] = 1
    rng = np.random.default_rng(1)
    out = sample_box(lab, CropBox(40, 40, 60), 64, order=0, rotation_deg=33,
                     displacement=elastic_field(rng, 64), aspect=1.3)  # fmt: skip
    assert out.dtype == np.uint8 and set(np.unique(out)) <= {0, 1, 2}


def test_jitter_box_ranges_and_seed():
    box = CropBox(50, 50, 40)
    boxes = [jitter_box(box, np.random.default_rng(i)) for i in range(200)]
    sides = np.array([b.side for b in boxes]) / 40
    assert sides.min() >= 0.8 - 1e-9 and sides.max() <= 1.25 + 1e-9
    shifts = np.array([abs(b.center_y - 50) for b in boxes])
    assert shifts.max() <= 0.1 * 40 * 1.25 + 1e-9 and shifts.max() > 0
    assert jitter_box(box, np.random.default_rng(3)) == jitter_box(box, np.random.default_rng(3))


def test_random_intensity_is_seeded():
    img = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    a = random_intensity(img, np.random.default_rng(5))
    b = random_intensity(img, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, img)


def test_targets_and_myops_mapping():
    gd = np.array([0, 200, 500, 600, 1220, 2221, 7])
    np.testing.assert_array_equal(map_myops_labels(gd), [0, 2, 1, 0, 2, 3, 0])
    lab = np.array([0, 1, 2, 3, 4], dtype=np.uint8)
    np.testing.assert_array_equal(target(lab, "roi"), [0, 1, 1, 1, 1])
    np.testing.assert_array_equal(target(lab, "myocardium"), [0, 1, 2, 2, 2])


@pytest.mark.parametrize("shape", [(60, 60), (30, 90)])
def test_roi_box_covers_slice(shape):
    box = roi_box(shape)
    assert box.side == max(shape)
    assert (box.center_y, box.center_x) == (shape[0] / 2, shape[1] / 2)


def test_random_intensity_gamma_range_is_its_log_half_width():
    img = np.linspace(0.05, 0.95, 64, dtype=np.float32).reshape(8, 8)
    for seed in range(10):  # the same draws: only the gamma exponent differs
        none = random_intensity(img, np.random.default_rng(seed), log_gamma=0.0)
        tiny = random_intensity(img, np.random.default_rng(seed), log_gamma=1e-9)
        wide = random_intensity(img, np.random.default_rng(seed), log_gamma=0.8)
        np.testing.assert_allclose(none, tiny, atol=1e-6)  # gamma exp(0) = 1
        diff = wide - none  # contrast x (img ** g - img): one sign, zero only where g = 1
        assert np.all(diff >= -1e-6) or np.all(diff <= 1e-6)
        assert np.abs(diff).max() > 1e-3


def test_random_intensity_noise_share_and_scale():
    img = np.linspace(0.05, 0.95, 64, dtype=np.float32).reshape(8, 8)
    for seed in range(5):  # the noise is drawn last: the same image before it
        clean = random_intensity(img, np.random.default_rng(seed), noise_p=0.0)
        noisy = random_intensity(img, np.random.default_rng(seed), noise_p=1.0, noise_max=0.1)
        diff = noisy - clean  # Rayleigh: positive
        assert diff.min() >= 0.0 and diff.max() > 1e-3
