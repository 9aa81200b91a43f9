#!/usr/bin/env bash
# Cross-validation models, resumable: each job KIND:FOLD trains runs/cv/KIND_fold<FOLD> (see
# train_unet --fold) unless its final.pt exists, resuming from last.pt after an interruption.
#   bash scripts/train_cv.sh scar_nr:0 roi:0 ...        (one job after the other)
# Environment: EPOCHS_scar_nr, EPOCHS_roi (default 80 / 40), SAMPLES (512 per epoch), THREADS (1),
# TRAIN_FLAGS (default --bf16: mixed precision, about 3x faster on CPUs with AMX).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${SCARSEG_VENV:-.venv}/bin/python"
for job in "$@"; do
  kind="${job%%:*}"; fold="${job##*:}"
  out="runs/cv/${kind}_fold${fold}"
  [ -f "$out/final.pt" ] && { echo "$job: done ($out/final.pt)"; continue; }
  epochs_var="EPOCHS_${kind}"
  epochs="${!epochs_var:-$([ "$kind" = roi ] && echo 40 || echo 80)}"
  (cd ScarSegmentation && "../$PY" -m ScarSegmentationLib.training.train_unet "$kind" \
    --fold "$fold" --recipe nnunet --epochs "$epochs" --samples-per-epoch "${SAMPLES:-512}" \
    --threads "${THREADS:-1}" --seed "$fold" ${TRAIN_FLAGS---bf16} --resume --out "../$out")
done
