"""The anatomy autoencoder's encoder and decoder in ONNX Runtime (two graphs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import session as ort_session


class OnnxMaskCodec:
    def __init__(self, encoder: Path | str, decoder: Path | str) -> None:
        self.encoder = ort_session.create(encoder)
        self.decoder = ort_session.create(decoder)

    def encode_masks(self, masks: np.ndarray) -> np.ndarray:
        """(N, S, S) bool masks -> (N, latent) float32 latents."""
        x = np.asarray(masks, dtype=np.float32)[:, None]
        return self.encoder.run(None, {"masks": x}, ort_session.run_options())[0]

    def decode_latents(self, z: np.ndarray) -> np.ndarray:
        """(N, latent) latents -> (N, S, S) bool masks (logit > 0)."""
        logits = self.decoder.run(
            None, {"z": np.asarray(z, dtype=np.float32)}, ort_session.run_options()
        )[0]
        return logits[:, 0] > 0
