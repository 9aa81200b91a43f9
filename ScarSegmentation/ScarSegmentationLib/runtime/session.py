"""ONNX Runtime sessions: the one place that imports onnxruntime and sets its options.

Telemetry is switched off by the package's __init__ before this import. CUDA is used when the
installed onnxruntime (onnxruntime-gpu) offers it and the device is not set to "cpu".
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # also when this module is imported on its own

import onnxruntime as ort  # noqa: E402

CONFIG_KEY = "scarseg_config"  # ONNX metadata entry holding the network's config as JSON
_THREADS = {"n": 2}
_DEVICE = {"name": "cpu"}  # "cuda": the GPU when onnxruntime-gpu offers it (PipelineOptions.device)


def set_threads(n: int) -> None:
    """Intra-op threads of the sessions created from now on."""
    _THREADS["n"] = max(1, int(n))


def threads() -> int:
    return _THREADS["n"]


def set_device(name: str) -> None:
    """ "cpu" (default) or "cuda" (the GPU when available), for sessions created from now on."""
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {name!r}")
    _DEVICE["name"] = name


def cuda_available() -> bool:
    return "CUDAExecutionProvider" in ort.get_available_providers()


def providers() -> list[str]:
    if _DEVICE["name"] == "cuda" and cuda_available():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def cache_key(*paths: Path) -> tuple:
    """Key of a cache of sessions on `paths`: a session keeps the threads and device it was made
    with, so a changed setting makes new ones."""
    return (*paths, threads(), tuple(providers()))


def create(path: Path | str | bytes, n_threads: int | None = None) -> ort.InferenceSession:
    """A session on an .onnx file (or a serialised model: the exports check theirs) with the
    project's options."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = n_threads or threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle workers sleep instead of spinning: on a busy 2-core machine spinning made runs slower.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # warnings about unused initialisers etc. are not for users
    # No pre-planned block for all activations: on the SAM encoder it held 480 instead of 310 MB,
    # at the same speed (the arena then reuses freed buffers).
    opts.enable_mem_pattern = False
    model = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(model, opts, providers=providers())


_RUN_OPTIONS: list[ort.RunOptions] = []


def run_options() -> ort.RunOptions:
    """Options for every run: the CPU arena gives its memory back after each run, so the SAM
    encoder's activations (about 190 MB a frame) do not stay resident for the rest of the study."""
    if not _RUN_OPTIONS:
        options = ort.RunOptions()
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        _RUN_OPTIONS.append(options)
    return _RUN_OPTIONS[0]


def config(session: ort.InferenceSession) -> dict[str, Any]:
    """The network config stored in the model's metadata at export (empty when absent)."""
    raw = session.get_modelmeta().custom_metadata_map.get(CONFIG_KEY)
    return json.loads(raw) if raw else {}
