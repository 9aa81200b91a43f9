"""The anatomy training bundle `anatomy.pt` (torch tensors only, so weights_only loading works):
the autoencoder's state dict with the mixture, bank, thresholds and provenance."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..anatomy.checks import CheckThresholds
from ..anatomy.gmm import GaussianMixture
from ..anatomy.latent import LatentBank
from ..anatomy.model import AnatomyModel
from ..errors import ModelError
from .autoencoder import MaskAutoencoder


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def save_anatomy_model(model: AnatomyModel, path: Path | str) -> Path:
    ae = model.autoencoder
    if not isinstance(ae, MaskAutoencoder):
        raise TypeError("only a bundle with the torch autoencoder can be saved for training")
    blob = {
        "config": {"architecture": "MaskAutoencoder", **ae.config},
        "state_dict": {k: v.detach().float() for k, v in ae.state_dict().items()},
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


def load_torch_anatomy_model(path: Path | str, verify: bool = True) -> AnatomyModel:
    """The training bundle with its torch autoencoder (SHA256 verified)."""
    from ..weights import check_file

    path = check_file(path, verify)
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
    return AnatomyModel(ae.eval(), gmm, bank, thresholds, dict(blob.get("info", {})))
