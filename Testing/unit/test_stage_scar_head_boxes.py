"""Scar-head boxes: the head's scar components the detector missed become SAM prompts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ScarSegmentationLib.scar.boxes import iou
from ScarSegmentationLib.stages.scar_detect import ScarDetectStage
from ScarSegmentationLib.stages.scar_head_boxes import (
    HEAD,
    ScarHeadBoxesStage,
    head_component_boxes,
)
from ScarSegmentationLib.training.torch_net import TorchNet
from test_scar_detect import FixedBoxes
from test_stage_myocardium_joint import ConstantHead
from test_stage_scar_unet import conditional, ring_ctx

torch.set_num_threads(1)
HEAD_SCAR = [0.0, 0.0, 0.0, 1.0]  # P(scar | myocardium) ~ 0.73 everywhere
HEAD_HEALTHY = [0.0, 0.0, 1.0, 0.0]  # ~ 0.27: no scar


def run(ctx, logits=HEAD_SCAR):
    ScarHeadBoxesStage(TorchNet(ConstantHead(logits))).run(ctx, lambda f, m: None)
    return ctx


def test_component_boxes_are_scored_by_the_mean_probability_of_their_scar():
    mask = np.zeros((64, 64), bool)
    mask[5:10, 5:15] = True  # 50 px
    mask[40:50, 40:44] = True  # 40 px
    prob = np.where(mask, 0.8, 0.1).astype(np.float32)
    prob[40:50, 40:44] = 0.6
    boxes = head_component_boxes(mask, prob)
    assert [(b.x0, b.y0, b.x1, b.y1) for b in boxes] == [(5, 5, 15, 10), (40, 40, 44, 50)]
    assert [b.score for b in boxes] == pytest.approx([0.8, 0.6])
    mask[30, 30] = True  # a speck below MIN_COMPONENT_PX gets no box
    assert len(head_component_boxes(mask, prob)) == 2


def test_head_scar_without_a_detector_box_becomes_a_box_on_its_slice():
    ctx = run(ring_ctx())
    assert [b["k"] for b in ctx.boxes] == [0]  # slice 1 has no crop, slice 2 no myocardium
    box = ctx.boxes[0]
    assert box["source"] == HEAD
    assert box["score"] == pytest.approx(conditional(HEAD_SCAR), abs=0.01)
    assert ctx.info(0)["scar_boxes"] == [box]
    # the box spans the ring (radius 16 around row 40, column 50) in slice coordinates
    assert box["i0"] == pytest.approx(34, abs=1.5) and box["i1"] == pytest.approx(66, abs=1.5)
    assert box["j0"] == pytest.approx(24, abs=1.5) and box["j1"] == pytest.approx(56, abs=1.5)
    table = ctx.tables["scar_boxes"]
    assert [r["source"] for r in table.rows] == [HEAD]
    assert "Scar" not in ctx.masks and "Scar probability" not in ctx.maps  # proposals only


def test_no_head_box_where_a_detector_box_already_overlaps_the_scar():
    ctx = ring_ctx()
    ScarDetectStage(FixedBoxes()).run(ctx, lambda f, m: None)
    detector_boxes = list(ctx.boxes)
    assert detector_boxes and all(b["source"] == "detector" for b in detector_boxes)
    run(ctx)
    assert ctx.boxes == detector_boxes  # the ring's one component overlaps the detector's box
    assert [r["source"] for r in ctx.tables["scar_boxes"].rows] == ["detector"]


def test_no_head_scar_no_box_and_no_myocardium_a_note():
    assert run(ring_ctx(), HEAD_HEALTHY).boxes == []
    ctx = ring_ctx()
    del ctx.masks["Myocardium"]
    run(ctx)
    assert ctx.boxes == [] and any("no myocardium" in n for n in ctx.notes)


def test_iou_of_disjoint_boxes_is_zero_so_separate_scars_both_keep_their_box():
    from ScarSegmentationLib.scar.boxes import Box

    assert iou(Box(0, 0, 10, 10), Box(10, 0, 20, 10)) == 0.0
