import hashlib

import pytest
import torch
from ScarSegmentationLib import weights
from ScarSegmentationLib.errors import ModelError
from ScarSegmentationLib.models.unet import ResUNet

torch.set_num_threads(1)


def write(tmp_path, name="net"):
    torch.manual_seed(0)
    model = ResUNet(n_classes=3, base_filters=2)
    path = weights.save_model(model, tmp_path / f"{name}.pt", {"kind": "myocardium"})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with open(tmp_path / weights.CHECKSUMS, "a") as f:
        f.write(f"{digest}  {path.name}\n")
    return model, path


@pytest.fixture(autouse=True)
def _clear():
    weights.clear_cache()
    yield
    weights.clear_cache()


def test_roundtrip_and_cache(tmp_path):
    model, _ = write(tmp_path)
    loaded = weights.load_model("net", tmp_path)
    assert loaded.config["base_filters"] == 2 and loaded.config["kind"] == "myocardium"
    x = torch.rand(1, 1, 32, 32)
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))
    assert weights.load_model("net", tmp_path) is loaded


def test_checksum_mismatch_names_file(tmp_path):
    _, path = write(tmp_path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="net.pt.*corrupt"):
        weights.load_model("net", tmp_path)


def test_missing_and_unlisted(tmp_path):
    with pytest.raises(ModelError, match="missing.pt"):
        weights.load_model("missing", tmp_path)
    torch.save({"config": {}, "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="no checksum for other.pt"):
        weights.verify_checksum(tmp_path / "other.pt")


def test_incompatible_file(tmp_path):
    path = tmp_path / "bad.pt"
    torch.save({"config": {"in_channels": 1, "n_classes": 3, "base_filters": 4, "depth": 4},
                "state_dict": {"nope": torch.zeros(1)}}, path)  # fmt: skip
    (tmp_path / weights.CHECKSUMS).write_text(f"{weights.sha256(path)}  bad.pt\n")
    with pytest.raises(ModelError, match="bad.pt is incompatible"):
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


def test_export_stores_given_class_weights_and_the_loaded_net_carries_them(tmp_path):
    from ScarSegmentationLib.training.export import export

    out = export(_checkpoint(tmp_path), "net", tmp_path, class_weights=[0.5, 1.0, 2.0])
    assert out.name == "net.pt"
    loaded = weights.load_model("net", tmp_path)  # checksum line recorded by export
    assert loaded.config["class_weights"] == [0.5, 1.0, 2.0] and loaded.config["epoch"] == 3
    with pytest.raises(ValueError, match="2 class weights for 3 classes"):
        export(_checkpoint(tmp_path), "net2", tmp_path, class_weights=[0.5, 1.0])


def test_export_keeps_class_weights_the_trainer_stored(tmp_path):
    from ScarSegmentationLib.training.export import export

    export(_checkpoint(tmp_path, {"class_weights": [0.4, 1.2, 1.1]}), "net", tmp_path)
    assert weights.load_model("net", tmp_path).config["class_weights"] == [0.4, 1.2, 1.1]
