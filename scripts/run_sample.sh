#!/usr/bin/env bash
# The main job: run the headless pipeline on a sample study and write out/<case>/.
# Uses the real EMIDEC case Case_P100 when ../shared/data (or SCARSEG_DATA) holds it, otherwise a
# clearly labelled synthetic phantom that the project generates itself.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${SCARSEG_DATA:-../shared/data}
CASE="$DATA/emidec-nifti/Case_P100"
if [ -d "$CASE" ]; then
  echo "sample: real EMIDEC study Case_P100 ($CASE)"
  exec .venv/bin/scarseg run "$CASE" -o out/Case_P100 --overwrite "$@"
fi
echo "sample: $CASE not found; using the SYNTHETIC phantom (not patient data)"
.venv/bin/scarseg phantom -o out/phantom-input
exec .venv/bin/scarseg run out/phantom-input/phantom.nii.gz -o out/phantom --overwrite "$@"
