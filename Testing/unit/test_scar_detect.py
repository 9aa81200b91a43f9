import numpy as np
import pytest
import torch
from ScarSegmentationLib.crop import CropBox
from ScarSegmentationLib.pipeline import PipelineContext, PipelineOptions
from ScarSegmentationLib.scar.boxes import Box
from ScarSegmentationLib.scar.detector import to_rgb8
from ScarSegmentationLib.stages.scar_detect import ScarDetectStage
from ScarSegmentationLib.study import Study
from ScarSegmentationLib.training.yolo import ScarDetector, configure_offline

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
    # frame (150..200, 120..136) = slice pixel edges at columns 55.5..68, rows 38..42 (box side
    # 64 px over 256 frame px, from column 50 - 32): crosses the ring. In slice pixel
    # coordinates (pixel centres at whole numbers) the edges are half a pixel lower.
    frame = {"k": 0, "x0": 150, "y0": 120, "x1": 200, "y1": 136, "score": 0.9}
    assert [{key: b[key] for key in frame} for b in ctx.boxes] == [frame]
    (b,) = ctx.boxes
    assert (b["i0"], b["j0"], b["i1"], b["j1"]) == pytest.approx((55.0, 37.5, 67.5, 41.5))
    assert ctx.info(0)["scar_boxes"] == ctx.boxes
    assert "scar_boxes" not in ctx.info(1) and "scar_boxes" not in ctx.info(2)


def test_stage_without_myocardium_leaves_a_note_and_an_empty_table():
    ctx = ring_ctx()
    del ctx.masks["Myocardium"]
    ScarDetectStage(FixedBoxes()).run(ctx, lambda f, m: None)
    assert ctx.boxes == [] and any("no myocardium" in n for n in ctx.notes)
    assert ctx.tables["scar_boxes"].rows == []


class NoBoxes:
    def predict(self, frames):
        return [[] for _ in frames]


def test_no_boxes_still_gives_the_table_with_its_columns():
    ctx = ring_ctx()
    ScarDetectStage(NoBoxes()).run(ctx, lambda f, m: None)
    table = ctx.tables["scar_boxes"]
    assert table.rows == []
    names = [c.name for c in table.columns]
    assert names[:2] == ["slice_index", "score"]
    assert {"i_min", "j_min", "i_max", "j_max", "center_l", "center_p", "center_s"} <= set(names)
    assert table.column("slice_index").type == "int"
    assert {table.column(n).unit for n in ("i_min", "j_max")} == {"px"}
    assert {table.column(n).unit for n in ("center_l", "center_p", "center_s")} == {"mm"}
    assert "confidence" in table.column("score").description


def oblique_study(shape=(3, 80, 100)):
    import SimpleITK as sitk
    from scipy.spatial.transform import Rotation

    img = np.random.default_rng(0).random(shape).astype(np.float32)
    direction = Rotation.from_euler("xyz", [20.0, -35.0, 70.0], degrees=True).as_matrix()
    study = Study(
        image=img,
        spacing=(1.3, 0.9, 8.0),
        origin=(-40.0, 15.5, 60.0),
        direction=direction,
        apex_to_base=np.array([2, 1, 0]),
    )
    ref = sitk.GetImageFromArray(img)  # the reference geometry: SimpleITK's own index -> LPS
    ref.SetSpacing(study.spacing)
    ref.SetOrigin(study.origin)
    ref.SetDirection(direction.ravel().tolist())
    return study, ref


def test_table_rows_per_box_apex_to_base_with_lps_centres():
    study, ref = oblique_study()
    ctx = ring_ctx()
    ctx.study = study
    ctx.standardized = study.image
    ctx.crop_boxes[1] = CropBox(40, 50, 64)
    ScarDetectStage(FixedBoxes()).run(ctx, lambda f, m: None)
    table = ctx.tables["scar_boxes"]
    assert [r["slice_index"] for r in table.rows] == [1, 0]  # apex (k = 2) first
    assert len(ctx.boxes) == 2
    for row in table.rows:
        (b,) = [b for b in ctx.boxes if b["k"] == row["slice_index"]]
        assert row["score"] == pytest.approx(0.9)
        assert (row["i_min"], row["j_min"], row["i_max"], row["j_max"]) == pytest.approx(
            (b["i0"], b["j0"], b["i1"], b["j1"])
        )
        centre = ((b["i0"] + b["i1"]) / 2, (b["j0"] + b["j1"]) / 2, float(b["k"]))
        lps = ref.TransformContinuousIndexToPhysicalPoint(centre)
        got = (row["center_l"], row["center_p"], row["center_s"])
        assert got == pytest.approx(lps, abs=1e-6)


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
    from ScarSegmentationLib.training.yolo import ultralytics_yolo

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


class ThreadGrabbingYolo:
    """Stand-in for an ultralytics model whose predict, like ultralytics' device selection on
    a 2-core machine, sets torch to one thread; returns no boxes."""

    def predict(self, images, **kwargs):
        torch.set_num_threads(1)
        return []


def test_detector_predict_restores_the_callers_torch_threads():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert ScarDetector(ThreadGrabbingYolo()).predict(np.zeros((2, 256, 256))) == []
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
