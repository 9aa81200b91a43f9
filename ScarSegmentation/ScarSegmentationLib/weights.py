"""Model weights: locate Resources/Models, verify SHA256, load networks (cached).

A weights file `<name>.pt` is a torch pickle of {"config": {...}, "state_dict": {...}}: the
config holds the architecture (base filters, classes, depth, input size) so loading needs no
guessing. `checksums.sha256` lists `<sha256>  <file>` lines (sha256sum format).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from .errors import ModelError

CHECKSUMS = "checksums.sha256"
ARCHITECTURES = ("ResUNet",)
_CACHE: dict[Path, Any] = {}
_LOCK = threading.Lock()


def models_dir() -> Path:
    """Env SCARSEG_MODELS, else <repo root>/Resources/Models."""
    env = os.environ.get("SCARSEG_MODELS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "Resources" / "Models"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def expected_checksums(directory: Path) -> dict[str, str]:
    """file name -> sha256 from directory/checksums.sha256 (empty when the file is absent)."""
    path = directory / CHECKSUMS
    out: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                out[parts[1].lstrip("*")] = parts[0].lower()
    return out


def verify_checksum(path: Path | str) -> None:
    """Raise ModelError naming the file when it is missing, unlisted or its SHA256 differs."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model weights file not found: {path}")
    expected = expected_checksums(path.parent).get(path.name)
    if expected is None:
        raise ModelError(f"no checksum for {path.name} in {path.parent / CHECKSUMS}")
    actual = sha256(path)
    if actual != expected:
        raise ModelError(
            f"model weights file {path} is corrupt: SHA256 {actual} differs from the expected "
            f"{expected} ({CHECKSUMS})"
        )


def model_path(name: str, directory: Path | None = None) -> Path:
    return (directory or models_dir()) / f"{name}.pt"


def available(name: str, directory: Path | None = None) -> bool:
    return model_path(name, directory).is_file()


def build_model(config: dict[str, Any]) -> Any:
    """A network from its stored architecture config."""
    from .models.unet import ResUNet

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


def save_model(model: Any, path: Path | str, extra: dict[str, Any] | None = None) -> Path:
    """Write state dict (float32) + config; the caller appends the checksum line."""
    import torch

    config = {"architecture": type(model).__name__, **model.config, **(extra or {})}
    state = {
        k: v.detach().float() if v.is_floating_point() else v for k, v in model.state_dict().items()
    }
    path = Path(path)
    torch.save({"config": config, "state_dict": state}, path)
    return path


def load_model(name: str, directory: Path | None = None, verify: bool = True) -> Any:
    """Load `<models dir>/<name>.pt` (checksum verified, eval mode); cached per path."""
    import torch

    path = model_path(name, directory).resolve()
    with _LOCK:
        if path in _CACHE:
            return _CACHE[path]
        if verify:
            verify_checksum(path)
        elif not path.is_file():
            raise ModelError(f"model weights file not found: {path}")
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            model = build_model(blob["config"])
            model.load_state_dict(blob["state_dict"])
        except ModelError as e:
            raise ModelError(f"{path}: {e}") from e
        except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
            raise ModelError(f"model weights file {path} is incompatible: {e}") from e
        model.config.update({k: v for k, v in blob["config"].items() if k not in model.config})
        model.eval()
        _CACHE[path] = model
        return model


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
