#!/usr/bin/env bash
# Rotated Faster R-CNN on synthetic HAADF nanorods (issue 5's measurement): 19 train + 2 val images
# (seed 1), judged on 20 further images made with seed 2. One command reproduces it:
#   bash recipes/nanorod-synthetic.sh [runs/nanorod-synthetic] [max-steps] [config.json] [refine]
# refine (default 2, chosen on the validation images): extra box-head passes at test time
# (docs/training.md), applied to the test-set evaluation only, so that training and checkpoint
# selection are those of the config file.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/nanorod-synthetic}
STEPS=${2:-3000}
# Model and augmentation settings: anchors of aspect 1/8-8 and the default augmentation with the
# free-rotation/scale warp (the zoo model). recipes/nanorod-synthetic-1600.config.json is the earlier
# model's (anchors 1/4-4, no warp).
CONFIG=${3:-recipes/nanorod-synthetic.config.json}
EMSEG="node --import tsx cli/emseg.ts"
DATA=$OUT/data
mkdir -p "$OUT"
$EMSEG synth haadf-nanorods --count 21 --seed 1 --size 512 --out "$DATA/trainval"
$EMSEG dataset split "$DATA/trainval/annotations.json" --out-dir "$DATA/split" --val 0.0953 --seed 0
$EMSEG synth haadf-nanorods --count 20 --seed 2 --size 512 --out "$DATA/test"
$EMSEG train --task rotated-detection --train "$DATA/split/train.json" --val "$DATA/split/val.json" \
  --out "$OUT" --config "$CONFIG" --max-steps "$STEPS" --eval-period 250 \
  --workers 2 --lr 0.01 --seed 0
$EMSEG predict "$OUT/checkpoints/best" --data "$DATA/test/annotations.json" --refine "${4:-2}" > "$OUT/test-metrics.json"
cat "$OUT/test-metrics.json"
