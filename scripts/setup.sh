#!/usr/bin/env bash
# Create .venv/ in the project root with the pinned dependency set and the `scarseg` command.
# Idempotent: a second run only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
# ultralytics' own requirements are in requirements.txt; --no-deps keeps it from pulling
# opencv-python (GUI build) and another torch.
.venv/bin/python -m pip install --quiet --no-deps ultralytics==8.4.190
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
echo "setup: .venv ready ($(du -sh .venv | cut -f1)); command line: .venv/bin/scarseg"
