"""LiteMedSAM's image encoder run by ONNX Runtime on CPU: the same output (max abs difference
about 3e-6) in roughly half the time of torch eager.

`enable_onnx(net)` marks an inference net; the first `sam_model.encode` on it exports the
encoder once into the cache folder (SCARSEG_CACHE, else ~/.cache/myocardialscar), checks it
against torch, and later calls go through ONNX Runtime. Any problem (onnx or onnxruntime missing,
export or check failing) logs one warning and leaves the net on torch: this is a speed-up only,
it never stops the pipeline. SCARSEG_ONNX=0 turns it off.

The cached file is keyed by the encoder weights (the package asset's SHA256: only the decoder and
prompt encoder are fine-tuned) and the torch and onnxruntime versions that made and run it.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import warnings
import weakref
from pathlib import Path

import numpy as np
import torch

from . import sam_model

log = logging.getLogger(__name__)

ENV_CACHE = "SCARSEG_CACHE"
ENV_SWITCH = "SCARSEG_ONNX"
OPSET = 17
TOLERANCE = 1e-3  # max abs difference to torch on the check input
CHECK_SEED = 0

_PENDING, _FAILED = "pending", "failed"
_NETS: weakref.WeakKeyDictionary[torch.nn.Module, object] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_warned = False


def cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "myocardialscar"


def cache_file(
    asset_sha256: str, torch_version: str, ort_version: str, directory: Path | None = None
) -> Path:
    """Where the exported encoder for these weights and versions lives."""
    key = f"litemedsam_encoder_{asset_sha256[:16]}_torch{torch_version}_ort{ort_version}"
    key += f"_op{OPSET}"
    return (directory or cache_dir()) / (re.sub(r"[^A-Za-z0-9._-]", "_", key) + ".onnx")


def enabled_by_env() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


class OnnxEncoder:
    """An ONNX Runtime session on the encoder exported with batch 1; larger batches are run
    frame by frame (one frame per call was the fastest on 2 cores with torch too)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        # Idle workers sleep instead of spinning, as OMP_WAIT_POLICY=PASSIVE does for torch: on a
        # busy 2-core machine spinning made 2-thread runs slower (1.4-1.5 s vs 1.1-1.2 s a frame).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.path = path

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 256, 256) float32 -> (N, 256, 64, 64) float32."""
        arr = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        outs = [
            self.session.run(None, {self.input_name: arr[i : i + 1]})[0] for i in range(len(arr))
        ]
        return torch.from_numpy(np.concatenate(outs))


def export(encoder: torch.nn.Module, path: Path) -> OnnxEncoder:
    """Export to a temporary file beside path, check it against torch, then rename it into
    place (atomic: a concurrent reader sees no file or a whole one). Raises on any failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        x = torch.zeros(1, 3, sam_model.SIZE, sam_model.SIZE)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation chatter
            torch.onnx.export(
                encoder, (x,), str(tmp), dynamo=False, opset_version=OPSET,
                input_names=["x"], output_names=["e"],
            )  # fmt: skip
        onnx = OnnxEncoder(tmp)  # the session holds the model in memory, not the file
        diff = max_difference(encoder, onnx)
        if not diff < TOLERANCE:
            raise ValueError(f"ONNX encoder differs from torch by {diff:.2e} (> {TOLERANCE})")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache file is not secret
        os.replace(tmp, path)
        onnx.path = path
        log.info("exported the image encoder to %s (max abs difference %.1e)", path, diff)
        return onnx
    finally:
        tmp.unlink(missing_ok=True)


def max_difference(encoder: torch.nn.Module, onnx: OnnxEncoder) -> float:
    """Max abs difference between torch and ONNX on a seeded random frame in [0, 1]."""
    gen = torch.Generator().manual_seed(CHECK_SEED)
    x = torch.rand(1, 3, sam_model.SIZE, sam_model.SIZE, generator=gen)
    with torch.no_grad():
        ref = encoder(x)
    return float((onnx(x) - ref).abs().max())


def build(net: torch.nn.Module, directory: Path | None = None) -> OnnxEncoder:
    """The net's encoder in ONNX Runtime: from the cache, or exported into it. Raises on failure."""
    import onnxruntime as ort

    path = cache_file(sam_model.asset_sha256(), torch.__version__, ort.__version__, directory)
    if path.is_file():
        try:
            return OnnxEncoder(path)
        except Exception as e:  # noqa: BLE001 - a damaged cache file: export it again
            log.info("re-exporting the ONNX encoder: %s unreadable (%s)", path, e)
    return export(net.image_encoder.eval(), path)


def enable_onnx(net: torch.nn.Module) -> bool:
    """Mark an inference net (its encoder must be the package's weights) to encode with ONNX
    Runtime; the export, if needed, happens on its first encode. False when SCARSEG_ONNX=0."""
    if not enabled_by_env():
        return False
    with _LOCK:
        _NETS.setdefault(net, _PENDING)
    return True


def disable_onnx(net: torch.nn.Module) -> None:
    with _LOCK:
        _NETS.pop(net, None)


def state(net: torch.nn.Module) -> str:
    """ "off" (torch), "pending" (enabled, not built yet), "on" (ONNX Runtime) or "failed"."""
    s = _NETS.get(net)
    return "off" if s is None else "on" if isinstance(s, OnnxEncoder) else str(s)


def _warn(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning("%s; the image encoder runs in torch (slower)", message)


def encoder_for(net: torch.nn.Module) -> OnnxEncoder | None:
    """The net's ONNX encoder, built on first use; None if not enabled or unavailable."""
    if _NETS.get(net) is _PENDING:
        with _LOCK:
            if _NETS.get(net) is _PENDING:
                try:
                    _NETS[net] = build(net)
                except Exception as e:  # noqa: BLE001 - never stop the pipeline for a speed-up
                    _NETS[net] = _FAILED
                    _warn(f"ONNX encoder unavailable ({type(e).__name__}: {e})")
    current = _NETS.get(net)
    return current if isinstance(current, OnnxEncoder) else None


def run(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """Encode x with the net's ONNX encoder, or None (the caller uses torch) when it is not
    enabled, unavailable, gradients are wanted, or the input is not (N, 3, 256, 256) on CPU."""
    if torch.is_grad_enabled() or x.device.type != "cpu":
        return None
    if tuple(x.shape[1:]) != (3, sam_model.SIZE, sam_model.SIZE):
        return None
    onnx = encoder_for(net)
    if onnx is None:
        return None
    try:
        return onnx(x)
    except Exception as e:  # noqa: BLE001
        with _LOCK:
            _NETS[net] = _FAILED
        _warn(f"ONNX encoder failed ({type(e).__name__}: {e})")
        return None
