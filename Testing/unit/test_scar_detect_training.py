from types import SimpleNamespace

import numpy as np
import torch
from ScarSegmentationLib.data.loaders import PatientSlices
from ScarSegmentationLib.scar.boxes import Box, gt_boxes
from ScarSegmentationLib.training import detector_data as dd
from ScarSegmentationLib.training.train_detector import (
    FINAL_EVAL_S,
    callbacks,
    extend_epochs,
    fit_schedule,
)

torch.set_num_threads(1)


def heart(scar: bool, shape=(96, 96)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    d = np.hypot(yy - 48, xx - 44)
    lab = np.zeros(shape, np.uint8)
    lab[d < 12] = 1
    lab[(d >= 12) & (d < 18)] = 2
    if scar:
        lab[(d >= 12) & (d < 18) & (xx > 52)] = 3
    img = np.where(lab == 3, 1.0, np.where(lab == 1, 0.7, np.where(lab == 2, 0.2, 0.4)))
    img = img + np.random.default_rng(0).normal(0, 0.02, shape)
    return img.astype(np.float32), lab


def test_yolo_line_is_normalised_centre_and_size():
    assert dd.yolo_line(Box(64, 0, 128, 32)) == "0 0.375000 0.062500 0.250000 0.125000"


def test_augmented_frames_keep_tight_boxes_around_the_scar():
    img, lab = heart(True)
    rng = np.random.default_rng(0)
    for _ in range(5):
        frame, lab_f = dd.augmented_frame(img, lab, rng)
        assert frame.shape == (256, 256) and 0 <= frame.min() and frame.max() <= 1
        boxes = gt_boxes(lab_f)
        assert len(boxes) == 1
        b = boxes[0]
        rows, cols = b.pixel_slices(lab_f.shape)
        inside = lab_f[rows, cols] >= 3
        assert inside.sum() == (lab_f >= 3).sum()  # the box holds the whole scar ...
        assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()


def test_build_writes_yolo_dataset_with_empty_labels_for_normal_slices(tmp_path):
    (i1, l1), (i2, l2) = heart(True), heart(False)
    blank = np.zeros_like(l1)
    patients = {
        "emidec/Case_P001": PatientSlices(
            "emidec/Case_P001", "emidec", [i1, i2, i1], [l1, l2, blank], [0, 1, 2]
        ),
        "myops/Case3001": PatientSlices("myops/Case3001", "myops", [i1], [l1], [0]),
        "emidec/Case_N001": PatientSlices("emidec/Case_N001", "emidec", [i2], [l2], [0]),
    }
    spec = dd.DatasetSpec(
        copies=2, seed=1, train=("emidec/Case_P001", "myops/Case3001"), val=("emidec/Case_N001",)
    )
    manifest = dd.build(tmp_path, patients, spec)
    # P001: 2 slices with an LV x 2 copies; MyoPS: 1 slice x 4 copies (double weight)
    assert manifest["counts"]["train_images"] == 8 and manifest["counts"]["train_empty"] == 2
    assert manifest["counts"]["val_images"] == 1 and manifest["counts"]["val_boxes"] == 0
    labels = sorted((tmp_path / "labels" / "train").glob("*.txt"))
    images = sorted((tmp_path / "images" / "train").glob("*.png"))
    assert [p.stem for p in labels] == [p.stem for p in images]
    assert (tmp_path / "labels/train/emidec_Case_P001_s01_c0.txt").read_text() == ""
    line = (tmp_path / "labels/train/emidec_Case_P001_s00_c0.txt").read_text().split()
    assert line[0] == "0" and all(0 < float(v) <= 1 for v in line[1:])
    assert "names:\n  0: scar" in (tmp_path / "data.yaml").read_text()
    assert dd.existing(tmp_path, spec) is not None
    assert (
        dd.existing(tmp_path, dd.DatasetSpec(copies=3, seed=1, train=spec.train, val=spec.val))
        is None
    )


def test_extend_epochs_rewrites_the_stored_total(tmp_path):
    path = tmp_path / "resume.pt"
    torch.save({"epoch": 9, "train_args": {"epochs": 10}}, path)
    extend_epochs(path, 30)
    assert torch.load(path, weights_only=False)["train_args"]["epochs"] == 30
    try:
        extend_epochs(path, 5)
    except ValueError as e:
        assert "10 epochs" in str(e)
    else:
        raise AssertionError("shrinking below the epochs done must fail")


def test_deadline_callbacks_stop_and_copy_last(tmp_path, monkeypatch):
    import time as time_mod

    last = tmp_path / "last.pt"
    last.write_bytes(b"ckpt")
    copy = tmp_path / "resume.pt"
    now = [1000.0]
    monkeypatch.setattr(time_mod, "time", lambda: now[0])
    cb = callbacks(deadline=1150.0, resume_copy=copy)
    trainer = SimpleNamespace(stop=False, last=last, epoch=0, epochs=10, metrics={}, tloss=None)
    cb["on_train_epoch_start"](trainer)
    now[0] = 1060.0  # 60 s epoch; the next would end at ~1126 < 1150
    cb["on_model_save"](trainer)
    cb["on_fit_epoch_end"](trainer)
    assert copy.read_bytes() == b"ckpt" and not trainer.stop
    cb["on_train_epoch_start"](trainer)
    now[0] = 1120.0  # the next epoch would end at ~1186 > 1150: stop now
    cb["on_fit_epoch_end"](trainer)
    assert trainer.stop
    late = SimpleNamespace(stop=False)
    now[0] = 1151.0
    cb["on_train_batch_end"](late)
    assert late.stop


def test_fit_schedule_ends_the_epochs_at_the_deadline():
    calls = []
    trainer = SimpleNamespace(epoch=2, epochs=50, args=SimpleNamespace(epochs=50))
    trainer.scheduler = SimpleNamespace(last_epoch=-1)
    trainer._setup_scheduler = lambda: calls.append(trainer.epochs)
    now = 1000.0
    fit_schedule(trainer, deadline=now + FINAL_EVAL_S + 100.0, epoch_s=10.0, now=now)
    # 3 epochs done, 100 s left at 10.5 s per epoch (5 % margin) -> 9 more
    assert trainer.epochs == trainer.args.epochs == 12 and calls == [12]
    assert trainer.scheduler.last_epoch == 2
    fit_schedule(trainer, deadline=now, epoch_s=10.0, now=now)  # past it: no epoch beyond this one
    assert trainer.epochs == 3
