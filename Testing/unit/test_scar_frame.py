import numpy as np
from ScarSegmentationLib.crop import CropBox, extract
from ScarSegmentationLib.scar.frame import SCAR_SIZE, gt_box, label_frame, scar_frame, to_slice


def ring_labels(shape=(180, 200), cy=90, cx=110, r_in=15, r_out=25):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    d = np.hypot(yy - cy, xx - cx)
    lab = np.zeros(shape, np.uint8)
    lab[d < r_in] = 1
    lab[(d >= r_in) & (d < r_out)] = 2
    lab[(d >= r_in) & (d < r_out) & (xx > cx + 10)] = 3
    return lab


def test_gt_box_centred_on_lv_and_sized_by_its_area():
    lab = ring_labels()
    box = gt_box(lab)
    assert box is not None
    assert abs(box.center_y - 90.5) < 1 and abs(box.center_x - 110.5) < 1
    lv_area = np.count_nonzero(lab > 0)
    assert abs(box.side - 2 * 2 * np.sqrt(lv_area / np.pi)) < 1e-6
    assert gt_box(np.zeros((50, 50), np.uint8)) is None


def test_frames_are_256_and_match_crop_extract():
    lab = ring_labels()
    box = gt_box(lab)
    img = np.random.default_rng(0).random(lab.shape).astype(np.float32)
    f = scar_frame(img, box)
    assert f.shape == (SCAR_SIZE, SCAR_SIZE) and f.dtype == np.float32
    np.testing.assert_allclose(f, extract(img, box, size=256))
    lf = label_frame(lab, box)
    assert lf.dtype == np.uint8 and set(np.unique(lf)) <= {0, 1, 2, 3}  # nearest, no blends
    # LV diameter = half the box side -> about a quarter of the frame area is LV.
    assert 0.15 < np.count_nonzero(lf) / lf.size < 0.25


def test_to_slice_inverts_label_frame():
    lab = ring_labels()
    box = gt_box(lab)
    scar = (label_frame(lab, box) == 3).astype(np.float32)
    back = to_slice(scar, box, lab.shape) > 0.5
    truth = lab == 3
    assert (back & truth).sum() / (back | truth).sum() > 0.9


def test_outside_the_slice_is_zero():
    img = np.ones((40, 40), np.float32)
    f = scar_frame(img, CropBox(5.0, 5.0, 40.0))
    assert f[:64, :64].max() == 0 and f[200:, 200:].min() == 1
