#!/usr/bin/env bash
# Copy the finished fold runs of scripts/train_cv.sh (CV_DIR/<kind>_fold<k>/final.pt and its
# training log) into checkpoints/<name>/ so they can be committed: runs/ is scratch and may be
# gone in the next session, and a further round warm-starts from these (INIT_DIR=checkpoints/<name>).
#   bash scripts/keep_cv_checkpoints.sh runs/cv cv160
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:?usage: keep_cv_checkpoints.sh CV_DIR NAME}"
dest="checkpoints/${2:?usage: keep_cv_checkpoints.sh CV_DIR NAME}"
found=0
for ck in "$src"/*_fold*/final.pt; do
  [ -f "$ck" ] || continue
  run="$(basename "$(dirname "$ck")")"
  [ -L "$src/$run" ] && continue  # a link to an earlier round's run (e.g. the ROI nets): kept there
  mkdir -p "$dest/$run"
  cp "$ck" "$dest/$run/final.pt"
  cp "$(dirname "$ck")/train.log" "$dest/$run/train-log.txt"
  found=$((found + 1))
done
[ "$found" -gt 0 ] || { echo "no finished fold runs (final.pt) under $src" >&2; exit 1; }
(cd "$dest" && sha256sum -- */final.pt > checksums.sha256)
echo "kept $found fold runs in $dest (checksums.sha256)"
