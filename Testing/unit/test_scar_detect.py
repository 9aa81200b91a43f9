import numpy as np
import pytest
import torch
from ScarSegmentationLib.crop import CropBox
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions
from ScarSegmentationLib.scar.boxes import Box
from ScarSegmentationLib.scar.detector import ScarDetector, configure_offline, to_rgb8
from ScarSegmentationLib.stages.scar_detect import ScarDetectStage
from ScarSegmentationLib.study import Study

torch.set_num_threads(1)


class FixedBoxes:
    """Stand-in detector: the same two boxes on every frame (one on the ring, one in a corner)."""

    def __init__(self):
        self.frames = None

    def predict(self, frames):
        self.frames = frames
        return [[Box(150, 120, 200, 136, 0.9), Box(0, 0, 20, 20, 0.8)] for _ in frames]


def ring_ctx(shape=(3, 80, 100)):
    img = np.random.default_rng(0).random(shape).astype(np.float32)
    ctx = PipelineContext(Study(image=img, spacing=(1, 1, 8)), PipelineOptions())
    ctx.standardized = img
    yy, xx = np.mgrid[: shape[1], : shape[2]]
    d = np.hypot(yy + 0.5 - 40, xx + 0.5 - 50)
    myo = np.zeros(shape, bool)
    myo[0] = myo[1] = (d > 10) & (d < 16)  # slice 1 has a myocardium but no crop box
    ctx.masks["Myocardium"] = myo
    ctx.crop_boxes = {0: CropBox(40, 50, 64), 2: CropBox(40, 50, 64)}  # slice 2: no myocardium
    return ctx


def test_stage_keeps_boxes_on_the_myocardium_of_cropped_slices():
    ctx = ring_ctx()
    det = FixedBoxes()
    ScarDetectStage(det).run(ctx, lambda f, m: None)
    assert det.frames.shape == (1, 256, 256)  # only slice 0 has both a box and a myocardium
    # frame (150..200, 120..136) = slice columns 55.5..68, rows 38..42: crosses the ring
    assert ctx.boxes == [{"k": 0, "x0": 150, "y0": 120, "x1": 200, "y1": 136, "score": 0.9}]
    assert ctx.info(0)["scar_boxes"] == ctx.boxes
    assert "scar_boxes" not in ctx.info(1) and "scar_boxes" not in ctx.info(2)


def test_stage_without_myocardium_leaves_a_note():
    ctx = ring_ctx()
    del ctx.masks["Myocardium"]
    ScarDetectStage(FixedBoxes()).run(ctx, lambda f, m: None)
    assert ctx.boxes == [] and any("no myocardium" in n for n in ctx.notes)


def test_to_rgb8():
    x = to_rgb8(np.array([[0.0, 0.5, 1.0, 2.0]], np.float32))
    assert x.shape == (1, 4, 3) and x.dtype == np.uint8
    assert x[0, :, 0].tolist() == [0, 128, 255, 255]


def test_configure_offline_provides_fonts(tmp_path):
    d = configure_offline(tmp_path / "cfg")
    assert (d / "Ultralytics" / "Arial.ttf").stat().st_size > 1000
    assert (d / "Ultralytics" / "Arial.Unicode.ttf").is_file()


@pytest.fixture(scope="module")
def random_yolo():
    from ScarSegmentationLib.scar.detector import ultralytics_yolo

    torch.manual_seed(0)
    return ultralytics_yolo()("yolov8n.yaml", task="detect")  # built from yaml, no download


def test_random_yolo_returns_boxes_in_the_frame(random_yolo):
    det = ScarDetector(random_yolo, conf=0.0)
    frames = np.random.default_rng(1).random((3, 256, 256)).astype(np.float32)
    out = det.predict(frames, batch=2)
    assert len(out) == 3
    for boxes in out:
        assert boxes, "conf=0 keeps candidates"
        scores = [b.score for b in boxes]
        assert scores == sorted(scores, reverse=True)
        for b in boxes:
            assert 0 <= b.x0 <= b.x1 <= 256 and 0 <= b.y0 <= b.y1 <= 256
    with pytest.raises(ValueError):
        det.predict(np.zeros((1, 128, 128), np.float32))


def test_threshold_given_else_stored_with_the_weights_else_default():
    from types import SimpleNamespace

    from ScarSegmentationLib.scar.detector import CONF, CONF_KEY

    assert ScarDetector(SimpleNamespace(ckpt={CONF_KEY: 0.4})).conf == 0.4
    assert ScarDetector(SimpleNamespace(ckpt={CONF_KEY: 0.4}), conf=0.1).conf == 0.1
    assert ScarDetector(SimpleNamespace(ckpt=None)).conf == CONF
