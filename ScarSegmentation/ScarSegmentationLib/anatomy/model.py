"""The stage-3 model bundle: autoencoder + Gaussian mixture + plausible latent bank + thresholds,
saved as one file (Resources/Models/anatomy.pt, torch tensors only so weights_only loading works).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelError
from .autoencoder import MaskAutoencoder, decode_latents, encode_masks
from .checks import CheckThresholds
from .correct import Correction, correct_mask
from .gmm import GaussianMixture
from .latent import LatentBank

MODEL_NAME = "anatomy"


@dataclass
class AnatomyModel:
    autoencoder: MaskAutoencoder
    gmm: GaussianMixture
    bank: LatentBank
    thresholds: CheckThresholds = field(default_factory=CheckThresholds)
    info: dict[str, Any] = field(default_factory=dict)  # training provenance and statistics

    def encode(self, masks: np.ndarray) -> np.ndarray:
        return encode_masks(self.autoencoder, masks)

    def decode(self, z: np.ndarray) -> np.ndarray:
        return decode_latents(self.autoencoder, z)

    def correct(self, mask: np.ndarray, allow_open: bool = False) -> Correction:
        return correct_mask(mask, self.encode, self.decode, self.bank, allow_open, self.thresholds)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def save_anatomy_model(model: AnatomyModel, path: Path | str) -> Path:
    state = {k: v.detach().float() for k, v in model.autoencoder.state_dict().items()}
    blob = {
        "config": {"architecture": "MaskAutoencoder", **model.autoencoder.config},
        "state_dict": state,
        "gmm": {k: _t(v.astype(np.float64)) for k, v in model.gmm.to_dict().items()},
        "bank": {
            "latents": _t(model.bank.latents.astype(np.float32)),
            "closed": _t(model.bank.closed.astype(bool)),
            "source": _t(model.bank.source.astype(np.int8)),
        },
        "thresholds": asdict(model.thresholds),
        "info": model.info,
    }
    path = Path(path)
    torch.save(blob, path)
    return path


def load_anatomy_model(path: Path | str | None = None, verify: bool = True) -> AnatomyModel:
    """Load the bundle (default Resources/Models/anatomy.pt), verifying its SHA256."""
    from ..weights import model_path, verify_checksum

    path = Path(path) if path is not None else model_path(MODEL_NAME)
    if verify:
        verify_checksum(path)
    elif not path.is_file():
        raise ModelError(f"model weights file not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        cfg = blob["config"]
        ae = MaskAutoencoder(int(cfg["size"]), int(cfg["latent"]), list(cfg["channels"]))
        ae.load_state_dict(blob["state_dict"])
        gmm = GaussianMixture.from_dict({k: v.numpy() for k, v in blob["gmm"].items()})
        bank = LatentBank(*(blob["bank"][k].numpy() for k in ("latents", "closed", "source")))
        thresholds = CheckThresholds(**blob["thresholds"])
    except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
        raise ModelError(f"model weights file {path} is incompatible: {e}") from e
    ae.eval()
    return AnatomyModel(ae, gmm, bank, thresholds, dict(blob.get("info", {})))
