import numpy as np
from ScarSegmentationLib.scar.boxes import (
    Box,
    component_boxes,
    covered_fraction,
    gt_boxes,
    iou,
    keep_on_myocardium,
    matches,
    merge_touching,
    score_frame,
)


def test_one_box_per_component_with_pixel_edges():
    m = np.zeros((64, 64), bool)
    m[10:14, 20:30] = True
    m[40:50, 5:9] = True
    boxes = component_boxes(m, min_pixels=1)
    assert boxes == [Box(20, 10, 30, 14), Box(5, 40, 9, 50)]


def test_touching_components_merge_and_specks_are_dropped():
    m = np.zeros((64, 64), bool)
    m[10:20, 10:20] = True
    m[20:30, 21:31] = True  # diagonal neighbour: 8-connected with the first
    m[10:20, 34:40] = True  # separate component, box 3 px from the second box -> own box
    m[50, 50] = True  # 1-pixel speck
    boxes = component_boxes(m, min_pixels=4)
    assert boxes == [Box(10, 10, 31, 30), Box(34, 10, 40, 20)]
    # boxes overlapping without touching pixels merge too, and merging cascades
    chain = merge_touching(
        [Box(0, 0, 10, 10, 0.3), Box(9, 0, 20, 10, 0.9), Box(20.5, 0, 30, 5, 0.1)]
    )
    assert chain == [Box(0, 0, 30, 10, 0.9)]


def test_gt_boxes_take_scar_and_no_reflow():
    lab = np.zeros((64, 64), np.uint8)
    lab[10:30, 10:30] = 2
    lab[12:20, 12:20] = 3
    lab[15:18, 15:18] = 4  # no-reflow inside the scar: one scar
    lab[40:44, 40:44] = 1  # blood pool: not scar
    assert gt_boxes(lab) == [Box(12, 12, 20, 20)]


def test_iou_and_coverage():
    a, b = Box(0, 0, 10, 10), Box(5, 0, 15, 10)
    assert abs(iou(a, b) - 50 / 150) < 1e-9
    assert iou(a, Box(20, 20, 30, 30)) == 0
    t = np.zeros((32, 32), bool)
    t[0:10, 0:10] = True
    assert covered_fraction(Box(0, 0, 5, 10), t) == 0.5


def test_keep_on_myocardium_drops_boxes_off_the_ring():
    myo = np.zeros((64, 64), bool)
    myo[30:34, 30:34] = True
    on, off = Box(28, 28, 31, 31), Box(0, 0, 20, 20)
    assert keep_on_myocardium([on, off], myo) == [on]


def test_match_rule_iou_or_half_coverage():
    scar = np.zeros((64, 64), bool)
    scar[10:20, 10:50] = True
    truth = Box(10, 10, 50, 20)
    assert matches(Box(10, 10, 50, 20), truth, scar)
    big = Box(0, 0, 64, 64)  # IoU 400/4096 < 0.1, but covers all of the scar
    assert iou(big, truth) < 0.1 and matches(big, truth, scar)
    assert not matches(Box(10, 10, 13, 20), truth, scar)  # 30 px of 400, IoU 0.075
    assert not matches(Box(0, 40, 10, 50), truth, scar)
    assert not matches(big, truth, scar, min_iou=0.3)  # the strict rule rejects it
    assert matches(Box(12, 10, 50, 20), truth, scar, min_iou=0.3)


def test_score_frame_counts_components_and_predictions():
    lab = np.zeros((64, 64), np.uint8)
    lab[5:60, 5:60] = 2
    lab[10:20, 10:20] = 3  # scar A
    lab[40:50, 40:50] = 3  # scar B (missed)
    pred = [Box(9, 9, 21, 21, 0.9), Box(30, 5, 35, 10, 0.5)]  # hits A; one false alarm
    assert score_frame(pred, lab) == {"true": 2, "found": 1, "pred": 2, "pred_ok": 1}
    assert score_frame([], np.zeros((64, 64), np.uint8)) == {
        "true": 0,
        "found": 0,
        "pred": 0,
        "pred_ok": 0,
    }
