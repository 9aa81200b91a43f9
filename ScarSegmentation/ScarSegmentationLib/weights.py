"""Model weights: locate Resources/Models, verify SHA256, load networks (cached)."""

from __future__ import annotations

import os
from pathlib import Path

CHECKSUMS = "checksums.sha256"


def models_dir() -> Path:
    """Env SCARSEG_MODELS, else <repo root>/Resources/Models."""
    env = os.environ.get("SCARSEG_MODELS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "Resources" / "Models"
