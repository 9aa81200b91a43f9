"""The YOLO scar detector in ONNX Runtime (runtime.detector) against the ultralytics model it
was exported from (training.yolo): same boxes on real frames, checksum refusal, no torch."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ScarSegmentationLib import weights
from ScarSegmentationLib.errors import ModelError
from ScarSegmentationLib.runtime.detector import OnnxScarDetector, decode, network_input, nms
from ScarSegmentationLib.scar.detector import to_rgb8

PKG_ROOT = Path(__file__).resolve().parents[2] / "ScarSegmentation"
# test-split patients: a few slices each from 2 pathological, 1 normal EMIDEC and 1 MyoPS case
EMIDEC_CASES = ("Case_P001", "Case_P100", "Case_N006")
MYOPS_CASE = "Case3007"


def model_file(require, suffix: str) -> Path:
    return require(weights.model_path("scar_detector", suffix=suffix))


@pytest.fixture(scope="module")
def real_frames(data_dir) -> np.ndarray:
    """Scar frames of the reference-LV box (as bench_detector.py), every slice with an LV."""
    import SimpleITK as sitk
    from ScarSegmentationLib.data.loaders import map_myops_labels
    from ScarSegmentationLib.intensity import standardize_slice
    from ScarSegmentationLib.scar.frame import gt_box, scar_frame
    from ScarSegmentationLib.training.detector_data import has_lv
    from skimage import io

    pairs = []
    png = data_dir / "emidec-png"
    for case in EMIDEC_CASES:
        for path in sorted((png / "images").glob(f"{case}_slice*.png")):
            lab = io.imread(png / "labels" / path.name).astype(np.uint8)
            pairs.append((io.imread(path).astype(np.float32), lab))
    myops = data_dir / "myops-train25" / MYOPS_CASE
    if myops.is_dir():
        img = sitk.GetArrayFromImage(sitk.ReadImage(str(myops / f"{MYOPS_CASE}_LGE.nii.gz")))
        gd = sitk.GetArrayFromImage(sitk.ReadImage(str(myops / f"{MYOPS_CASE}_gd.nii.gz")))
        pairs += [(i.astype(np.float32), map_myops_labels(g)) for i, g in zip(img, gd, strict=True)]
    frames = [scar_frame(standardize_slice(i), gt_box(lab)) for i, lab in pairs if has_lv(lab)]
    if not frames:
        pytest.skip(f"no EMIDEC/MyoPS test slices found under {data_dir}")
    return np.stack(frames)


@pytest.mark.data
def test_onnx_boxes_match_ultralytics_on_real_frames(real_frames, require):
    from ScarSegmentationLib.training.yolo import ScarDetector

    ort_det = OnnxScarDetector.load(model_file(require, ".onnx"), n_threads=2)
    ul_det = ScarDetector.load(model_file(require, ".pt"))
    assert ort_det.conf == pytest.approx(ul_det.conf)  # the tuned threshold travels with the file
    assert ort_det.iou == ul_det.iou
    total = 0
    for conf in (ul_det.conf, 0.01):  # the shipped threshold, and many boxes to stress NMS
        ort_det.conf = ul_det.conf = conf
        got, want = ort_det.predict(real_frames, batch=8), ul_det.predict(real_frames)
        assert len(got) == len(want) == len(real_frames)
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            assert len(g) == len(w), f"frame {k}, conf {conf}: {len(g)} boxes, ultralytics {len(w)}"
            for a, b in zip(g, w, strict=True):
                assert (a.x0, a.y0, a.x1, a.y1) == pytest.approx((b.x0, b.y0, b.x1, b.y1), abs=1e-2)
                assert a.score == pytest.approx(b.score, abs=1e-4)
            total += len(w)
    assert total > 0, "no boxes at all: the comparison would be empty"


def test_checksum_mismatch_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "scar_detector.onnx"
    path.write_bytes(b"not the exported detector")
    wrong = hashlib.sha256(b"the exported detector").hexdigest()
    (tmp_path / weights.CHECKSUMS).write_text(f"{wrong}  scar_detector.onnx\n")
    with pytest.raises(ModelError, match=re.escape(str(path))):
        OnnxScarDetector.load(path)
    with pytest.raises(ModelError, match=re.escape(str(path))):  # unchecked: still unusable
        OnnxScarDetector.load(path, verify=False)
    with pytest.raises(ModelError, match="not found"):
        OnnxScarDetector.load(tmp_path / "missing.onnx", verify=False)


def test_runtime_detector_imports_and_predicts_without_torch():
    onnx_file = weights.model_path("scar_detector")
    code = (
        "import sys\n"
        "for m in ('torch', 'torchvision', 'ultralytics'):\n"
        "    sys.modules[m] = None  # any import of them now raises ImportError\n"
        "import numpy as np\n"
        "from ScarSegmentationLib.runtime.detector import OnnxScarDetector\n"
        f"path = {str(onnx_file)!r}\n"
        "import os\n"
        "if os.path.isfile(path):\n"
        "    det = OnnxScarDetector.load(path)\n"
        "    print(len(det.predict(np.zeros((2, 256, 256), np.float32))))\n"
        "print('ok')\n"
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(PKG_ROOT), os.environ.get("PYTHONPATH", "")])
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-1] == "ok"
    if onnx_file.is_file():
        assert run.stdout.split()[0] == "2"


def test_nms_keeps_what_torchvision_keeps():
    import torch
    import torchvision

    rng = np.random.default_rng(0)
    for n in (1, 5, 60, 300):
        xy = rng.uniform(0, 200, (n, 2)).astype(np.float32)
        wh = rng.uniform(1, 60, (n, 2)).astype(np.float32)
        xyxy = np.concatenate([xy, xy + wh], axis=1)
        scores = rng.random(n).astype(np.float32)
        scores[: n // 4] = scores[0]  # ties: the stable order decides, as in torchvision
        for iou in (0.3, 0.45, 0.5, 0.7):
            want = torchvision.ops.nms(torch.from_numpy(xyxy), torch.from_numpy(scores), iou)
            assert nms(xyxy, scores, iou).tolist() == want.tolist()


def test_decode_thresholds_converts_and_clips():
    raw = np.zeros((5, 4), np.float32)
    raw[:, 0] = [10, 10, 8, 8, 0.9]  # kept
    raw[:, 1] = [11, 10, 8, 8, 0.8]  # IoU 0.78 with the first: suppressed
    raw[:, 2] = [254, 2, 10, 6, 0.5]  # crosses the frame edges: clipped
    raw[:, 3] = [100, 100, 8, 8, 0.2]  # below conf (not > 0.2)
    boxes, scores = decode(raw, conf=0.2, iou=0.5, size=256)
    assert scores.tolist() == pytest.approx([0.9, 0.5])
    assert boxes.tolist() == [[6, 6, 14, 14], [249, 0, 256, 5]]
    empty, none = decode(raw, conf=0.95, iou=0.5)
    assert empty.shape == (0, 4) and none.shape == (0,)


def test_network_input_is_what_ultralytics_gets():
    frames = np.random.default_rng(2).uniform(-0.1, 1.1, (2, 256, 256)).astype(np.float32)
    x = network_input(frames)
    assert x.shape == (2, 3, 256, 256) and x.dtype == np.float32
    # ultralytics: uint8 HWC (to_rgb8) -> CHW, BGR->RGB flip, float32 / 255
    want = np.stack([to_rgb8(f).transpose(2, 0, 1)[::-1] for f in frames]).astype(np.float32)
    np.testing.assert_array_equal(x, want / np.float32(255))


def test_configure_offline_default_folder_is_portable(monkeypatch, tmp_path):
    import getpass
    import tempfile

    from ScarSegmentationLib.training import yolo

    for var in ("YOLO_CONFIG_DIR", "YOLO_OFFLINE", "YOLO_AUTOINSTALL"):
        monkeypatch.setenv(var, "")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def no_user():
        raise OSError("no login name")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert yolo.configure_offline() == tmp_path / "scarseg-yolo-user"
    monkeypatch.setattr(getpass, "getuser", lambda: "DOMAIN\\Jane Doe")
    monkeypatch.setenv("YOLO_CONFIG_DIR", "")
    assert yolo.configure_offline() == tmp_path / "scarseg-yolo-DOMAIN_Jane_Doe"
    assert os.environ["YOLO_OFFLINE"] == "1"
