"""The stage-3 model bundle: autoencoder + Gaussian mixture + plausible latent bank + thresholds.

Shipped as `anatomy.npz` (mixture, bank, thresholds and provenance; numpy only, no pickles) beside
`anatomy_encoder.onnx` and `anatomy_decoder.onnx`, all exported from the training bundle
`anatomy.pt` (training/anatomy_bundle.py) by `training.export_onnx`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import ModelError
from .checks import CheckThresholds
from .correct import Correction, correct_mask
from .gmm import GaussianMixture
from .latent import LatentBank

MODEL_NAME = "anatomy"
FILES = ("anatomy.npz", "anatomy_encoder.onnx", "anatomy_decoder.onnx")


class MaskCodec(Protocol):
    """The autoencoder as stage 3 uses it (ONNX at run time, the torch module in training)."""

    def encode_masks(self, masks: np.ndarray) -> np.ndarray: ...

    def decode_latents(self, z: np.ndarray) -> np.ndarray: ...


@dataclass
class AnatomyModel:
    autoencoder: MaskCodec
    gmm: GaussianMixture
    bank: LatentBank
    thresholds: CheckThresholds = field(default_factory=CheckThresholds)
    info: dict[str, Any] = field(default_factory=dict)  # training provenance and statistics

    def encode(self, masks: np.ndarray) -> np.ndarray:
        return self.autoencoder.encode_masks(masks)

    def decode(self, z: np.ndarray) -> np.ndarray:
        return self.autoencoder.decode_latents(z)

    def correct(self, mask: np.ndarray, allow_open: bool = False) -> Correction:
        return correct_mask(mask, self.encode, self.decode, self.bank, allow_open, self.thresholds)


def bundle_arrays(model: AnatomyModel) -> dict[str, np.ndarray]:
    """Everything but the autoencoder, as plain arrays (JSON for the small dicts)."""
    arrays = {f"gmm_{k}": np.asarray(v, np.float64) for k, v in model.gmm.to_dict().items()}
    arrays["bank_latents"] = model.bank.latents.astype(np.float32)
    arrays["bank_closed"] = model.bank.closed.astype(bool)
    arrays["bank_source"] = model.bank.source.astype(np.int8)
    arrays["thresholds_json"] = np.array(json.dumps(asdict(model.thresholds)))
    arrays["info_json"] = np.array(json.dumps(model.info, default=str))
    return arrays


def from_arrays(codec: MaskCodec, arrays: Any) -> AnatomyModel:
    gmm = GaussianMixture.from_dict(
        {k[4:]: np.asarray(arrays[k]) for k in arrays if k.startswith("gmm_")}
    )
    bank = LatentBank(*(np.asarray(arrays[f"bank_{k}"]) for k in ("latents", "closed", "source")))
    thresholds = CheckThresholds(**json.loads(str(arrays["thresholds_json"])))
    return AnatomyModel(codec, gmm, bank, thresholds, json.loads(str(arrays["info_json"])))


def available(directory: Path | None = None) -> bool:
    from ..weights import models_dir

    return all(((directory or models_dir()) / f).is_file() for f in FILES)


def load_anatomy_model(directory: Path | None = None, verify: bool = True) -> AnatomyModel:
    """Load the shipped bundle (default Resources/Models), verifying each file's SHA256."""
    from ..runtime.autoencoder import OnnxMaskCodec
    from ..weights import check_file, models_dir

    folder = Path(directory) if directory is not None else models_dir()
    paths = [folder / f for f in FILES]
    for path in paths:
        check_file(path, verify)
    try:
        with np.load(paths[0], allow_pickle=False) as arrays:
            return from_arrays(OnnxMaskCodec(paths[1], paths[2]), arrays)
    except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
        raise ModelError(f"anatomy model files in {folder} are incompatible: {e}") from e
