#!/usr/bin/env bash
# The main job: run the headless pipeline on a real sample study and write out/<case>/.
# Uses EMIDEC Case_P100 from ../shared/data (or SCARSEG_DATA) when present, otherwise the same
# case as shipped with the extension (Resources/SampleData, CC BY-NC-SA 4.0: see its README.md).
# The synthetic phantom is used only if neither is there.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${SCARSEG_DATA:-../shared/data}
CASE="$DATA/emidec-nifti/Case_P100"
SHIPPED=Resources/SampleData/Case_P100.nii.gz
if [ -d "$CASE" ]; then
  echo "sample: real EMIDEC study Case_P100 ($CASE)"
  exec .venv/bin/scarseg run "$CASE" -o out/Case_P100 --overwrite "$@"
fi
if [ -f "$SHIPPED" ]; then
  echo "sample: real EMIDEC study Case_P100 shipped with the extension ($SHIPPED)"
  exec .venv/bin/scarseg run "$SHIPPED" -o out/Case_P100 --overwrite "$@"
fi
echo "sample: no EMIDEC Case_P100 found; using the SYNTHETIC phantom (not patient data)"
.venv/bin/scarseg phantom -o out/phantom-input
exec .venv/bin/scarseg run out/phantom-input/phantom.nii.gz -o out/phantom --overwrite "$@"
