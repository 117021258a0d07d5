#!/usr/bin/env bash
# Mask R-CNN on synthetic bright-field TEM vesicles (issue 5's measurement): 14 train + 2 val images
# (seed 1), judged on 20 further images made with seed 2. One command reproduces the zoo model:
#   bash recipes/vesicles-synthetic.sh [OUT=runs/vesicles-synthetic] [STEPS=1600] [CONFIG] [FINETUNE_STEPS=400]
# Two phases: (1) STEPS steps with CONFIG (default recipes/vesicles-synthetic.config.json: binary mask
# targets, default augmentation with the warp; recipes/vesicles-synthetic-nowarp.config.json is the
# first zoo model's) in OUT/base; (2) unless FINETUNE_STEPS is 0, FINETUNE_STEPS more steps with soft
# mask targets (recipes/vesicles-soft-masks.config.json) at learning rate 0.002, initialised from
# phase 1's best checkpoint (--init-from), in OUT; validation every 100 steps picks the checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/vesicles-synthetic}
STEPS=${2:-1600}
CONFIG=${3:-recipes/vesicles-synthetic.config.json}
FINETUNE_STEPS=${4:-400}
EMSEG="node --import tsx cli/emseg.ts"
DATA=$OUT/data
mkdir -p "$OUT"
$EMSEG synth tem-vesicles --count 16 --seed 1 --size 512 --out "$DATA/trainval"
$EMSEG dataset split "$DATA/trainval/annotations.json" --out-dir "$DATA/split" --val 0.125 --seed 0
$EMSEG synth tem-vesicles --count 20 --seed 2 --size 512 --out "$DATA/test"
FINAL=$OUT/base
$EMSEG train --task instance-segmentation --train "$DATA/split/train.json" --val "$DATA/split/val.json" \
  --out "$OUT/base" --config "$CONFIG" --max-steps "$STEPS" --eval-period 250 --workers 2 --lr 0.01 --seed 0 \
  --init-backbone none
if [ "$FINETUNE_STEPS" != 0 ]; then
  $EMSEG train --task instance-segmentation --train "$DATA/split/train.json" --val "$DATA/split/val.json" \
    --out "$OUT" --config recipes/vesicles-soft-masks.config.json --max-steps "$FINETUNE_STEPS" --eval-period 100 \
    --workers 2 --lr 0.002 --seed 0 --init-from "$OUT/base/checkpoints/best"
  FINAL=$OUT
fi
$EMSEG predict "$FINAL/checkpoints/best" --data "$DATA/test/annotations.json" > "$OUT/test-metrics.json"
cat "$OUT/test-metrics.json"
