"""Scar segmenter inference (on the torch backend with the package's zero-shot LiteMedSAM: the
ONNX Runtime backend is checked against it in test_sam_onnx_runtime), a missing model, and the
pipeline stage (with a stand-in model)."""

import numpy as np
import pytest
import torch
from ScarSegmentationLib.crop import CropBox
from ScarSegmentationLib.errors import ModelError
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions
from ScarSegmentationLib.scar.frame import SCAR_SIZE, to_slice
from ScarSegmentationLib.scar.segmenter import FrameResult, ScarSegmenter, load_segmenter
from ScarSegmentationLib.stages.scar_segment import ScarSegmentStage, boxes_by_slice
from ScarSegmentationLib.study import Study
from ScarSegmentationLib.training import sam_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def net():
    return sam_model.TorchSam(sam_model.build_base())


def ellipse(cy=120, cx=140, ry=30, rx=50):
    yy, xx = np.mgrid[:SCAR_SIZE, :SCAR_SIZE]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_segment_unites_boxes_and_skips_frames_without_boxes(net):
    m1, m2 = ellipse(70, 70, 20, 30), ellipse(180, 180, 25, 35)
    img = np.where(m1 | m2, 0.9, 0.2).astype(np.float32)
    seg = ScarSegmenter(net, uncertainty="box", passes=3)
    boxes = np.array([[38, 48, 102, 92], [143, 153, 217, 207]], np.float32)
    res = seg.segment([img, img], [boxes, np.zeros((0, 4))])
    mask = seg.masks(res)[0]
    assert iou(mask, m1 | m2) > 0.8
    assert res[0].uncertainty is not None and res[0].uncertainty.shape == (SCAR_SIZE, SCAR_SIZE)
    assert res[0].uncertainty.max() < 0.25  # variance of probabilities
    assert not res[1].probability.any()  # no box, no scar
    # myocardium clip
    clip = seg.segment([img], [boxes], myocardium=[m1])[0]
    assert not (seg.masks([clip])[0] & ~m1).any()


@pytest.mark.slow
def test_flip_uncertainty_agrees_with_plain_pass(net):
    m = ellipse(100, 90, 25, 40)  # off-centre: the flip must map the box correctly
    img = np.where(m, 0.9, 0.2).astype(np.float32)
    box = np.array([[45, 70, 135, 130]], np.float32)
    flip = ScarSegmenter(net, uncertainty="flip").segment([img], [box])[0]
    plain = ScarSegmenter(net, uncertainty="none").segment([img], [box])[0]
    assert plain.uncertainty is None and flip.uncertainty is not None
    assert iou(flip.probability >= 0.5, m) > 0.8
    assert iou(flip.probability >= 0.5, plain.probability >= 0.5) > 0.9


def test_missing_model_files_are_named(tmp_path):
    with pytest.raises(ModelError, match="not found.*sam_encoder.onnx"):
        load_segmenter(tmp_path)


class BoxFiller:
    """Stand-in segmenter: probability 1 inside each box of the frame, uncertainty 0.1 there."""

    threshold = 0.5
    has_uncertainty = True

    def __init__(self):
        self.calls = []

    def segment(self, frames, boxes, myocardium=None):
        self.calls.append(len(frames))
        out = []
        for f, bs in zip(frames, boxes, strict=True):
            p = np.zeros(f.shape, np.float32)
            for x0, y0, x1, y1 in bs:
                p[int(y0) : int(y1), int(x0) : int(x1)] = 1.0
            out.append(FrameResult(p, 0.1 * p))
        return out


def test_stage_pastes_boxes_clips_to_myocardium_and_leaves_other_slices_empty():
    shape = (3, 90, 100)
    img = np.random.default_rng(0).random(shape).astype(np.float32)
    ctx = PipelineContext(Study(image=img, spacing=(1, 1, 8)), PipelineOptions())
    ctx.standardized = img
    ctx.crop_boxes = {0: CropBox(45, 50, 64), 1: CropBox(45, 50, 64), 2: CropBox(40, 55, 60)}
    myo = np.zeros(shape, bool)
    myo[:, 30:60, 30:70] = True
    ctx.masks["Myocardium"] = myo
    ctx.boxes = [
        {"k": 0, "x0": 128.0, "y0": 96.0, "x1": 192.0, "y1": 160.0, "score": 0.9},
        {"k": 2, "x0": 0.0, "y0": 0.0, "x1": 128.0, "y1": 128.0, "score": 0.5},
    ]
    fake = BoxFiller()
    ScarSegmentStage(fake).run(ctx, lambda f, m: None)
    scar = ctx.masks["Scar"]
    assert fake.calls == [2]  # slice 1 (no box) is not segmented
    assert not scar[1].any() and scar[0].any() and scar[2].any()
    assert not (scar & ~myo).any()
    frame = np.zeros((SCAR_SIZE, SCAR_SIZE), np.float32)
    frame[96:160, 128:192] = 1.0
    expected = (to_slice(frame, ctx.crop_boxes[0], shape[1:]) >= 0.5) & myo[0]
    assert (scar[0] == expected).all()
    assert ctx.maps["Scar probability"].shape == shape
    unc = ctx.maps["Scar uncertainty"]
    assert unc[scar].min() > 0.05 and unc[~myo].max() == 0.0
    assert ctx.slice_info[0]["scar_px"] == int(scar[0].sum()) > 0


def test_boxes_by_slice_groups_per_k():
    g = boxes_by_slice([{"k": 2, "x0": 1, "y0": 2, "x1": 3, "y1": 4},
                        {"k": 2, "x0": 5, "y0": 6, "x1": 7, "y1": 8}])  # fmt: skip
    assert list(g) == [2] and g[2].shape == (2, 4)
