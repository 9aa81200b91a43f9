"""Model files: locate Resources/Models, verify SHA256, load the networks (cached).

What runs is `<name>.onnx` (ONNX Runtime, no PyTorch), exported from the training checkpoint
`<name>.pt` by `python -m ScarSegmentationLib.training.export_onnx`; the network's config
(classes, class weights, dropout) is in the ONNX metadata. `checksums.sha256` lists
`<sha256>  <file>` lines (sha256sum format) for both. A model may instead be an ensemble: a
manifest `<name>.ensemble.json` listing member files (runtime/ensemble.py); the manifest wins
over a `<name>.onnx` beside it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from .errors import ModelError

CHECKSUMS = "checksums.sha256"
_CACHE: dict[tuple, Any] = {}
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


def check_file(path: Path | str, verify: bool = True) -> Path:
    """The model file, SHA256-verified (`verify`) or at least present; ModelError naming it."""
    path = Path(path)
    if verify:
        verify_checksum(path)
    elif not path.is_file():
        raise ModelError(f"model weights file not found: {path}")
    return path


def model_path(name: str, directory: Path | None = None, suffix: str = ".onnx") -> Path:
    """The shipped (ONNX) file of a model; suffix ".pt" gives its training checkpoint."""
    return (directory or models_dir()) / f"{name}{suffix}"


def ensemble_manifest(name: str, directory: Path | None = None) -> Path:
    from .runtime.ensemble import MANIFEST_SUFFIX

    return model_path(name, directory, MANIFEST_SUFFIX)


def available(name: str, directory: Path | None = None) -> bool:
    return model_path(name, directory).is_file() or ensemble_manifest(name, directory).is_file()


def _load_unet(path: Path, verify: bool) -> Any:
    check_file(path, verify)
    try:
        from .runtime.unet import OnnxUNet

        return OnnxUNet(path)
    except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
        raise ModelError(f"model file {path} is incompatible: {e}") from e


def load_model(name: str, directory: Path | None = None, verify: bool = True) -> Any:
    """`<models dir>/<name>.onnx` as an OnnxUNet, or the ensemble its manifest lists
    (runtime/ensemble.py), every file checksum-verified; cached per path."""
    from .runtime import session

    manifest = ensemble_manifest(name, directory).resolve()
    path = manifest if manifest.is_file() else model_path(name, directory).resolve()
    key = session.cache_key(path)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if path == manifest:
            from .runtime.ensemble import EnsembleUNet, read_manifest

            check_file(path, verify)
            members = [_load_unet(m.resolve(), verify) for m in read_manifest(path)]
            model = EnsembleUNet(members, path)
        else:
            model = _load_unet(path, verify)
        _CACHE[key] = model
        return model


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
