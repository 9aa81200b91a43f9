"""LiteMedSAM's encoder in ONNX Runtime: cache keying, export and its check, the fallbacks to
torch, the switch in load_net, and one real comparison with the package's weights."""

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ScarSegmentationLib.scar import onnx_encoder, sam_model, segmenter
from ScarSegmentationLib.training.export import record_checksum

torch.set_num_threads(1)


class StubNet(torch.nn.Module):
    """A tiny stand-in with LiteMedSAM's attribute names: its encoder exports in a moment."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.image_encoder = torch.nn.Conv2d(3, 256, kernel_size=4, stride=4)  # -> 64x64
        self.mask_decoder = torch.nn.Linear(2, 2)
        self.prompt_encoder = torch.nn.Linear(2, 2)
        self.torch_calls = 0
        self.image_encoder.register_forward_hook(lambda *_: self._count())

    def _count(self) -> None:
        self.torch_calls += 1


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A private cache folder, ONNX on, and a fresh once-only warning for each test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(onnx_encoder.ENV_CACHE, str(folder))
    monkeypatch.delenv(onnx_encoder.ENV_SWITCH, raising=False)
    monkeypatch.setattr(onnx_encoder, "_warned", False)
    return folder


def frames(n=1, seed=0):
    return np.random.default_rng(seed).random((n, 256, 256)).astype(np.float32)


def test_cache_file_is_keyed_by_weights_and_versions(cache, monkeypatch, tmp_path):
    sha = "ab" * 32
    base = onnx_encoder.cache_file(sha, "2.14.1+cpu", "1.32.0")
    assert base.parent == cache and base.suffix == ".onnx"
    assert base == onnx_encoder.cache_file(sha, "2.14.1+cpu", "1.32.0")
    others = {
        onnx_encoder.cache_file("cd" + sha[2:], "2.14.1+cpu", "1.32.0"),
        onnx_encoder.cache_file(sha, "2.15.0", "1.32.0"),
        onnx_encoder.cache_file(sha, "2.14.1+cpu", "1.33.0"),
    }
    assert len(others) == 3 and base not in others
    assert sha[:16] in base.name and sha not in base.name  # a prefix, not the whole hash
    assert "+" not in base.name  # file-name-safe
    assert onnx_encoder.cache_file(sha, "t", "o", tmp_path).parent == tmp_path
    monkeypatch.delenv(onnx_encoder.ENV_CACHE)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert onnx_encoder.cache_dir() == tmp_path / "home" / ".cache" / "myocardialscar"


def test_export_once_then_encode_with_onnx_runtime(cache):
    import onnxruntime as ort

    net = StubNet().eval()
    assert onnx_encoder.enable_onnx(net) and onnx_encoder.state(net) == "pending"
    x = sam_model.to_input(frames(2))
    with torch.no_grad():
        sam_model.encode(net, x)  # exports (torch runs here: tracing and the check)
        net.torch_calls = 0
        got = sam_model.encode(net, x)
        assert net.torch_calls == 0  # ONNX Runtime only
        want = net.image_encoder(x)
    assert onnx_encoder.state(net) == "on"
    assert got.shape == (2, 256, 64, 64) and want.abs().max() > 0.1
    assert torch.allclose(got, want, atol=1e-4)
    path = onnx_encoder.cache_file(sam_model.asset_sha256(), torch.__version__, ort.__version__)
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temporary file left
    # a second net finds the file in the cache: no export, so no torch call at all
    other = StubNet().eval()
    onnx_encoder.enable_onnx(other)
    with torch.no_grad():
        sam_model.encode(other, x)
    assert other.torch_calls == 0 and onnx_encoder.state(other) == "on"


def test_damaged_cache_file_is_exported_again(cache):
    import onnxruntime as ort

    path = onnx_encoder.cache_file(sam_model.asset_sha256(), torch.__version__, ort.__version__)
    cache.mkdir()
    path.write_bytes(b"not an onnx model")
    net = StubNet().eval()
    onnx_encoder.enable_onnx(net)
    with torch.no_grad():
        sam_model.encode(net, sam_model.to_input(frames()))
    assert onnx_encoder.state(net) == "on" and path.stat().st_size > 1000


def test_export_that_fails_its_check_is_refused(cache, monkeypatch, caplog):
    monkeypatch.setattr(onnx_encoder, "max_difference", lambda *_: 0.5)
    net = StubNet().eval()
    onnx_encoder.enable_onnx(net)
    x = sam_model.to_input(frames())
    with torch.no_grad(), caplog.at_level(logging.WARNING):
        got = sam_model.encode(net, x)
        assert torch.equal(got, net.image_encoder(x))
    assert onnx_encoder.state(net) == "failed"
    assert not any(cache.iterdir())  # nothing cached, no temporary file left
    assert "differs from torch" in caplog.text


def test_missing_onnxruntime_falls_back_to_torch_with_one_warning(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    nets = [StubNet().eval(), StubNet().eval()]
    x = sam_model.to_input(frames())
    with torch.no_grad(), caplog.at_level(logging.WARNING):
        for net in nets:
            onnx_encoder.enable_onnx(net)
            got = sam_model.encode(net, x)
            assert torch.equal(got, net.image_encoder(x))
            assert net.torch_calls == 2 and onnx_encoder.state(net) == "failed"
    warnings = [r for r in caplog.records if r.name == onnx_encoder.__name__]
    assert len(warnings) == 1 and "onnxruntime" in warnings[0].getMessage()


def test_switch_gradients_and_other_shapes_stay_on_torch(monkeypatch):
    built = []
    monkeypatch.setattr(onnx_encoder, "build", lambda net: built.append(net))
    net = StubNet()
    monkeypatch.setenv(onnx_encoder.ENV_SWITCH, "0")
    assert not onnx_encoder.enable_onnx(net) and onnx_encoder.state(net) == "off"
    monkeypatch.setenv(onnx_encoder.ENV_SWITCH, "1")
    assert onnx_encoder.enable_onnx(net)
    sam_model.encode(net, frames())  # gradients on: ONNX would drop them
    with torch.no_grad():
        sam_model.encode(net, torch.zeros(1, 3, 128, 128))  # not LiteMedSAM's input
    assert built == [] and net.torch_calls == 2 and onnx_encoder.state(net) == "pending"
    onnx_encoder.disable_onnx(net)
    assert onnx_encoder.state(net) == "off"


def test_load_net_enables_onnx_unless_switched_off(tmp_path, monkeypatch):
    monkeypatch.setattr(sam_model, "build_base", lambda: StubNet().eval())
    path = tmp_path / "scar_segmenter.pt"
    blob = {"config": {"base_asset_sha256": sam_model.asset_sha256()},
            "state_dict": sam_model.fine_tuned_state(StubNet())}  # fmt: skip
    torch.save(blob, path)
    record_checksum(path)
    segmenter.clear_cache()
    try:
        assert onnx_encoder.state(segmenter.load_net(tmp_path)) == "pending"  # built lazily
        segmenter.clear_cache()
        monkeypatch.setenv(onnx_encoder.ENV_SWITCH, "0")
        assert onnx_encoder.state(segmenter.load_net(tmp_path)) == "off"
    finally:
        segmenter.clear_cache()


def test_real_encoder_in_onnx_runtime_matches_torch(cache):
    """The package's LiteMedSAM: export (about 4 s), then ONNX output within 1e-3 of torch."""
    net = sam_model.build_base()
    onnx_encoder.enable_onnx(net)
    x = sam_model.to_input(frames(seed=7))
    with torch.no_grad():
        got = sam_model.encode(net, x)
        assert onnx_encoder.state(net) == "on"
        want = net.image_encoder(x)
    assert got.shape == (1, *sam_model.EMBED_SHAPE)
    assert float((got - want).abs().max()) < 1e-3
    assert Path(onnx_encoder.encoder_for(net).path).parent == cache
