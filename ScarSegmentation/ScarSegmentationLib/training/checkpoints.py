"""Torch checkpoints of the U-Nets: `Resources/Models/<name>.pt` = {"config", "state_dict"},
the source that `export_onnx` turns into the `<name>.onnx` the pipeline runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .. import weights
from ..errors import ModelError
from .unet import ResUNet

ARCHITECTURES = ("ResUNet",)


def build_model(config: dict[str, Any]) -> ResUNet:
    """A network from its stored architecture config."""
    arch = config.get("architecture", "ResUNet")
    if arch not in ARCHITECTURES:
        raise ModelError(f"unknown architecture {arch!r}")
    return ResUNet(
        in_channels=int(config["in_channels"]),
        n_classes=int(config["n_classes"]),
        base_filters=int(config["base_filters"]),
        depth=int(config["depth"]),
        dropout=float(config.get("dropout", 0.2)),
        input_size=int(config.get("input_size", 128)),
    )


def save_model(model: ResUNet, path: Path | str, extra: dict[str, Any] | None = None) -> Path:
    """Write state dict (float32) + config; the caller appends the checksum line."""
    config = {"architecture": type(model).__name__, **model.config, **(extra or {})}
    state = {
        k: v.detach().float() if v.is_floating_point() else v for k, v in model.state_dict().items()
    }
    path = Path(path)
    torch.save({"config": config, "state_dict": state}, path)
    return path


def load_torch_model(name: str, directory: Path | None = None, verify: bool = True) -> ResUNet:
    """`<models dir>/<name>.pt` in eval mode (checksum verified), its full config attached."""
    path = weights.check_file(weights.model_path(name, directory, ".pt"), verify)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = build_model(blob["config"])
        model.load_state_dict(blob["state_dict"])
    except ModelError as e:
        raise ModelError(f"{path}: {e}") from e
    except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
        raise ModelError(f"model weights file {path} is incompatible: {e}") from e
    model.config.update({k: v for k, v in blob["config"].items() if k not in model.config})
    return model.eval()
