#!/usr/bin/env bash
# Mask R-CNN on synthetic bright-field TEM vesicles (issue 5's measurement): 14 train + 2 val images
# (seed 1), judged on 20 further images made with seed 2. One command reproduces it:
#   bash recipes/vesicles-synthetic.sh [runs/vesicles-synthetic] [max-steps] [config.json]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/vesicles-synthetic}
STEPS=${2:-1600}
# Model and augmentation settings (recipes/vesicles-synthetic-nowarp.config.json: without the
# free-rotation/scale warp, as the first zoo model was trained).
CONFIG=${3:-recipes/vesicles-synthetic.config.json}
EMSEG="node --import tsx cli/emseg.ts"
DATA=$OUT/data
mkdir -p "$OUT"
$EMSEG synth tem-vesicles --count 16 --seed 1 --size 512 --out "$DATA/trainval"
$EMSEG dataset split "$DATA/trainval/annotations.json" --out-dir "$DATA/split" --val 0.125 --seed 0
$EMSEG synth tem-vesicles --count 20 --seed 2 --size 512 --out "$DATA/test"
$EMSEG train --task instance-segmentation --train "$DATA/split/train.json" --val "$DATA/split/val.json" \
  --out "$OUT" --config "$CONFIG" --max-steps "$STEPS" --eval-period 250 --workers 2 --lr 0.01 --seed 0
$EMSEG predict "$OUT/checkpoints/best" --data "$DATA/test/annotations.json" > "$OUT/test-metrics.json"
cat "$OUT/test-metrics.json"
