import numpy as np
import pytest
from ScarSegmentationLib.crop import CropBox, extract, paste
from ScarSegmentationLib.scar.frame import (
    SCAR_SIZE,
    frame_to_slice,
    gt_box,
    label_frame,
    scar_frame,
    to_slice,
)


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


def _centroid(a):
    rows, cols = np.indices(a.shape)
    return (a * rows).sum() / a.sum(), (a * cols).sum() / a.sum()


@pytest.mark.parametrize(
    ("box", "tol"),
    [
        (CropBox(40.3, 55.7, 64.0), 0.05),  # frame finer than the slice: the peak is resolved
        (CropBox(52.0, 47.2, 150.0), 0.05),
        (CropBox(45.0, 60.0, 300.0), 0.5),  # frame coarser than the slice
    ],
)
def test_frame_to_slice_maps_an_extracted_pixel_back_to_where_it_was(box, tol):
    j, i = 37, 61
    img = np.zeros((90, 120), np.float32)
    img[j, i] = 1.0
    f = extract(img, box, size=SCAR_SIZE)
    row, col = _centroid(f)
    # Frame coordinates are pixel edges (as boxes): frame pixel q has its centre at x = q + 0.5.
    i_back, j_back = frame_to_slice(col + 0.5, row + 0.5, box)
    assert abs(i_back - i) < tol and abs(j_back - j) < tol


def test_a_frame_box_maps_to_the_slice_pixels_paste_puts_it_on():
    box = CropBox(40.3, 55.7, 64.0)
    frame = np.zeros((SCAR_SIZE, SCAR_SIZE), np.float32)
    x0, y0, x1, y1 = 150, 120, 200, 136  # frame pixel edges: columns 150..199, rows 120..135
    frame[y0:y1, x0:x1] = 1.0
    rows, cols = np.nonzero(paste(frame, box, (90, 120), order=0) > 0.5)
    i0, j0 = frame_to_slice(x0, y0, box)
    i1, j1 = frame_to_slice(x1, y1, box)
    # the pasted pixels' centres lie inside the box, and the box is no more than a pixel wider
    assert i0 <= cols.min() < i0 + 1 and i1 - 1 < cols.max() <= i1
    assert j0 <= rows.min() < j0 + 1 and j1 - 1 < rows.max() <= j1


def test_frame_to_slice_takes_arrays():
    box = CropBox(40.0, 50.0, 128.0)
    i, j = frame_to_slice(np.array([0.0, 256.0]), np.array([128.0, 128.0]), box)
    assert isinstance(i, np.ndarray) and i.shape == (2,)
    assert i[1] - i[0] == pytest.approx(128.0)  # the frame spans the box side
    assert j[0] == j[1]
