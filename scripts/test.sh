#!/usr/bin/env bash
# Lint, format check and the default test suite (heavy checks are behind `-m slow`).
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/pytest -q "$@"
