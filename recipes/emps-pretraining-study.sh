#!/usr/bin/env bash
# Does pre-training on synthetic rods help on the small real set? The EMPS cross-validation recipe
# (recipes/emps-rods-cv.sh) twice on the same folds, seed and steps: from scratch, and with the
# backbone initialised from a model trained on synthetic HAADF rods (default: the nanorod zoo model,
# float16 weights read by name; or any exported .onnx). Prints both CV summaries.
#   bash recipes/emps-pretraining-study.sh [OUT=runs/emps-study] [STEPS=1000] [INIT=model-zoo/nanorod/nanorod.onnx]
# Environment: FOLD_LIST (default "0 1 2": all three folds), as in emps-rods-cv.sh. A finished
# from-scratch CV run can be reused by linking it as OUT/scratch (its folds are not retrained).
# Time: ~25 min per fold and arm alone on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/emps-study}
STEPS=${2:-1000}
INIT=${3:-model-zoo/nanorod/nanorod.onnx}
mkdir -p "$OUT"
bash recipes/emps-rods-cv.sh "$OUT/scratch" "$STEPS" > "$OUT/scratch.log" 2>&1
INIT_BACKBONE="$INIT" bash recipes/emps-rods-cv.sh "$OUT/pretrained" "$STEPS" > "$OUT/pretrained.log" 2>&1
for arm in scratch pretrained; do echo "$arm: $(cat "$OUT/$arm/cv-summary.json" | tr -d '\n')"; done
