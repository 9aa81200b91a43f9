"""ONNX Runtime session options: telemetry off, threads, device choice, memory settings."""

from __future__ import annotations

import os

import pytest
from ScarSegmentationLib import weights
from ScarSegmentationLib.runtime import session


def test_telemetry_is_off_once_the_package_is_imported():
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"


def test_device_choice_and_providers(monkeypatch):
    monkeypatch.setattr(session, "_DEVICE", {"name": "cpu"})
    assert session.providers() == ["CPUExecutionProvider"]
    session.set_device("cuda")  # falls back to the CPU without onnxruntime-gpu
    expected = ["CUDAExecutionProvider"] if session.cuda_available() else []
    assert session.providers() == [*expected, "CPUExecutionProvider"]
    with pytest.raises(ValueError, match="device"):
        session.set_device("gpu")


def test_sessions_take_the_thread_count_and_release_memory_after_each_run(monkeypatch):
    monkeypatch.setattr(session, "_THREADS", {"n": 2})
    session.set_threads(1)
    sess = session.create(weights.model_path("lv_roi"))
    assert sess.get_session_options().intra_op_num_threads == 1
    assert sess.get_session_options().enable_mem_pattern is False
    options = session.run_options()
    assert options.get_run_config_entry("memory.enable_memory_arena_shrinkage") == "cpu:0"
    assert session.config(sess)["n_classes"] == 2
