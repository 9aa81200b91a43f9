import hashlib

import numpy as np
import pytest
import torch
from ScarSegmentationLib import weights
from ScarSegmentationLib.errors import ModelError
from ScarSegmentationLib.runtime.unet import OnnxUNet
from ScarSegmentationLib.training.checkpoints import load_torch_model, save_model
from ScarSegmentationLib.training.export_onnx import export_unet
from ScarSegmentationLib.training.torch_net import TorchNet
from ScarSegmentationLib.training.unet import ResUNet
from scipy.special import softmax

torch.set_num_threads(1)


def write(tmp_path, name="net"):
    """A tiny net saved as a training checkpoint and exported to ONNX (both checksummed)."""
    torch.manual_seed(0)
    model = ResUNet(n_classes=3, base_filters=2, dropout=0.3)
    path = save_model(model, tmp_path / f"{name}.pt", {"kind": "myocardium"})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with open(tmp_path / weights.CHECKSUMS, "a") as f:
        f.write(f"{digest}  {path.name}\n")
    return model.eval(), export_unet(name, tmp_path)


def _rng(seed):
    return None if seed is None else np.random.default_rng(seed)


@pytest.fixture(autouse=True)
def _clear():
    weights.clear_cache()
    yield
    weights.clear_cache()


def test_onnx_matches_torch_deterministic_and_with_the_same_dropout_masks(tmp_path):
    model, _ = write(tmp_path)
    loaded = weights.load_model("net", tmp_path)
    assert isinstance(loaded, OnnxUNet)
    assert loaded.config["base_filters"] == 2 and loaded.config["kind"] == "myocardium"
    x = np.random.default_rng(0).random((3, 1, 128, 128), dtype=np.float32)  # the export size
    torch_net = TorchNet(model)
    for seed in (None, 1, 2):
        a = softmax(loaded.logits(x, _rng(seed)), axis=1)
        b = softmax(torch_net.logits(x, _rng(seed)), axis=1)
        np.testing.assert_allclose(a, b, atol=1e-5)
    # dropout is live: two different seeds give different outputs
    one = loaded.logits(x, np.random.default_rng(1))
    assert not np.allclose(one, loaded.logits(x, np.random.default_rng(2)))
    assert weights.load_model("net", tmp_path) is loaded  # cached


def test_checksum_mismatch_names_file(tmp_path):
    _, path = write(tmp_path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="net.onnx.*corrupt"):
        weights.load_model("net", tmp_path)


def test_missing_and_unlisted(tmp_path):
    with pytest.raises(ModelError, match="missing.onnx"):
        weights.load_model("missing", tmp_path)
    (tmp_path / "other.onnx").write_bytes(b"x")
    with pytest.raises(ModelError, match="no checksum for other.onnx"):
        weights.verify_checksum(tmp_path / "other.onnx")


def test_incompatible_file(tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"not an onnx model")
    (tmp_path / weights.CHECKSUMS).write_text(f"{weights.sha256(path)}  bad.onnx\n")
    with pytest.raises(ModelError, match="bad.onnx is incompatible"):
        weights.load_model("bad", tmp_path)


def test_models_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SCARSEG_MODELS", str(tmp_path))
    assert weights.models_dir() == tmp_path
    monkeypatch.delenv("SCARSEG_MODELS")
    assert weights.models_dir().name == "Models"
    assert weights.models_dir().parent.name == "Resources"


def _checkpoint(tmp_path, config_extra=None):
    torch.manual_seed(0)
    model = ResUNet(n_classes=3, base_filters=2)
    path = tmp_path / "best.pt"
    config = {**model.config, "kind": "myocardium", **(config_extra or {})}
    torch.save({"model": model.state_dict(), "config": config, "epoch": 3}, path)
    return path


def test_export_stores_given_class_weights_and_the_onnx_net_carries_them(tmp_path):
    from ScarSegmentationLib.training.export import export

    out = export(_checkpoint(tmp_path), "net", tmp_path, class_weights=[0.5, 1.0, 2.0])
    assert out.name == "net.pt"
    assert load_torch_model("net", tmp_path).config["class_weights"] == [0.5, 1.0, 2.0]
    export_unet("net", tmp_path)
    loaded = weights.load_model("net", tmp_path)  # checksum lines recorded by both exports
    assert loaded.config["class_weights"] == [0.5, 1.0, 2.0] and loaded.config["epoch"] == 3
    with pytest.raises(ValueError, match="2 class weights for 3 classes"):
        export(_checkpoint(tmp_path), "net2", tmp_path, class_weights=[0.5, 1.0])


def test_export_keeps_class_weights_the_trainer_stored(tmp_path):
    from ScarSegmentationLib.training.export import export

    export(_checkpoint(tmp_path, {"class_weights": [0.4, 1.2, 1.1]}), "net", tmp_path)
    assert load_torch_model("net", tmp_path).config["class_weights"] == [0.4, 1.2, 1.1]


def test_export_takes_an_exported_pt_as_well(tmp_path):
    # fold folders are rebuilt from the shipped members' .pt (state dict + config) when the
    # training runs are gone: exporting one again gives the same ONNX net and keeps its config
    from ScarSegmentationLib.training.export import export

    export(_checkpoint(tmp_path, {"class_weights": [0.4, 1.2, 1.1]}), "net", tmp_path)
    again = tmp_path / "again"
    again.mkdir()
    export(tmp_path / "net.pt", "net", again)
    first, second = load_torch_model("net", tmp_path), load_torch_model("net", again)
    assert second.config["class_weights"] == [0.4, 1.2, 1.1] and second.config["epoch"] == 3
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
