#!/usr/bin/env bash
# Cross-validation models, resumable: each job KIND:FOLD trains runs/cv/KIND_fold<FOLD> (see
# train_unet --fold) unless its final.pt exists, resuming from last.pt after an interruption.
#   bash scripts/train_cv.sh scar_nr:0 roi:0 ...        (one job after the other)
# Environment: EPOCHS_scar_nr, EPOCHS_roi (default 80 / 40), SAMPLES (512 per epoch), THREADS (1),
# TRAIN_FLAGS (default --bf16: mixed precision, about 3x faster on CPUs with AMX), CV_DIR (default
# runs/cv), INIT_DIR (warm start each job from INIT_DIR/KIND_fold<FOLD>/final.pt: a further
# schedule on top of an earlier round's fold model, never another fold's).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${SCARSEG_VENV:-.venv}/bin/python"
for job in "$@"; do
  kind="${job%%:*}"; fold="${job##*:}"
  out="${CV_DIR:-runs/cv}/${kind}_fold${fold}"
  init=()
  [ -n "${INIT_DIR:-}" ] && init=(--init "../$INIT_DIR/${kind}_fold${fold}/final.pt")
  [ -f "$out/final.pt" ] && { echo "$job: done ($out/final.pt)"; continue; }
  mkdir -p "$out"
  # several workers may share a job list: the one holding the job's lock trains it
  exec 9>"$out/.lock"
  flock -n 9 || { echo "$job: being trained by another worker"; exec 9>&-; continue; }
  epochs_var="EPOCHS_${kind}"
  epochs="${!epochs_var:-$([ "$kind" = roi ] && echo 40 || echo 80)}"
  (cd ScarSegmentation && "../$PY" -m ScarSegmentationLib.training.train_unet "$kind" \
    --fold "$fold" --recipe nnunet --epochs "$epochs" --samples-per-epoch "${SAMPLES:-512}" \
    --threads "${THREADS:-1}" --seed "$fold" ${TRAIN_FLAGS---bf16} "${init[@]}" --resume --out "../$out")
  exec 9>&-
done
