#!/usr/bin/env bash
# Create .venv/ in the project root with the pinned dependency set and the `scarseg` command.
#   bash scripts/setup.sh              the runtime only (ONNX Runtime, no PyTorch): runs the pipeline
#   bash scripts/setup.sh --training   + torch, ultralytics, segment-anything, onnx, pytest, ruff:
#                                      training, export to ONNX and the test suite
# SCARSEG_VENV picks another folder than .venv. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SCARSEG_VENV:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
if [ "${1:-}" = "--training" ]; then
  "$VENV/bin/python" -m pip install --quiet -r requirements-training.txt
  # ultralytics' own requirements are in requirements-training.txt; --no-deps keeps it from
  # pulling opencv-python (GUI build) and another torch.
  "$VENV/bin/python" -m pip install --quiet --no-deps ultralytics==8.4.190
else
  # --no-compile: byte-code is written on first import, for what is used (about 100 MB less)
  "$VENV/bin/python" -m pip install --quiet --no-compile -r requirements-runtime.txt
fi
"$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
echo "setup: $VENV ready ($(du -sh "$VENV" | cut -f1)); command line: $VENV/bin/scarseg"
