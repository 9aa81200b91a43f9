"""Helpers shared by the training commands: the run log and the wall-clock deadline."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path


def setup_logging(log: logging.Logger, out: Path) -> logging.FileHandler:
    """Log INFO to <out>/train.log and the console, timestamped; returns the file handler."""
    out.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    handler = logging.FileHandler(out / "train.log")
    log.setLevel(logging.INFO)
    log.handlers[:] = [handler, logging.StreamHandler()]
    for h in log.handlers:
        h.setFormatter(fmt)
    return handler


def parse_deadline(text: str | None) -> datetime | None:
    """An ISO time, taken as UTC when it carries no zone; None when not given."""
    if not text:
        return None
    d = datetime.fromisoformat(text)
    return d if d.tzinfo else d.replace(tzinfo=UTC)
