"""Shared fixtures: where the real data is, and skips that say why."""

from __future__ import annotations

import os
from pathlib import Path

# As the command line does (see ScarSegmentationLib/cli.py): no OpenMP spin-waiting.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SCARSEG_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"real data not found at {DATA} (set SCARSEG_DATA)")
    return DATA


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture
def require():
    """require(path) -> path, or skip the test saying which file is missing."""
    return _require
