#!/usr/bin/env bash
# Rotated Faster R-CNN on synthetic HAADF nanorods (issue 5's measurement): 19 train + 2 val images
# (seed 1), judged on 20 further images made with seed 2. One command reproduces the zoo model:
#   bash recipes/nanorod-synthetic.sh [OUT=runs/nanorod-synthetic] [STEPS=3000] [CONFIG] [REFINE=auto] [STAGE2_STEPS=1500]
# Two phases: (1) the detector with axis-aligned proposals and an oriented box head, STEPS steps with
# CONFIG (default recipes/nanorod-synthetic.config.json: anchors 1/8-8, the warp augmentation), in
# OUT/base; (2) unless STAGE2_STEPS is 0, the same detector with the second stage on rotated RoIs
# (recipes/nanorod-rotated-stage.config.json), initialised from phase 1's best checkpoint
# (--init-from) and trained STAGE2_STEPS more steps, in OUT. REFINE: extra passes of the last stage
# at test time (docs/training.md): auto = chosen on the validation images (recipes/choose-refine.sh;
# 3 for the zoo model), or a count 0-5; applied to the test-set evaluation only. Old models:
# recipes/nanorod-synthetic-1600.config.json (anchors 1/4-4, no warp) with STAGE2_STEPS 0 and REFINE 0.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/nanorod-synthetic}
STEPS=${2:-3000}
CONFIG=${3:-recipes/nanorod-synthetic.config.json}
REFINE=${4:-auto}
STAGE2_STEPS=${5:-1500}
EMSEG="node --import tsx cli/emseg.ts"
DATA=$OUT/data
mkdir -p "$OUT"
$EMSEG synth haadf-nanorods --count 21 --seed 1 --size 512 --out "$DATA/trainval"
$EMSEG dataset split "$DATA/trainval/annotations.json" --out-dir "$DATA/split" --val 0.0953 --seed 0
$EMSEG synth haadf-nanorods --count 20 --seed 2 --size 512 --out "$DATA/test"
FINAL=$OUT/base
$EMSEG train --task rotated-detection --train "$DATA/split/train.json" --val "$DATA/split/val.json" \
  --out "$OUT/base" --config "$CONFIG" --max-steps "$STEPS" --eval-period 250 \
  --workers 2 --lr 0.01 --seed 0 --init-backbone none
if [ "$STAGE2_STEPS" != 0 ]; then
  $EMSEG train --task rotated-detection --train "$DATA/split/train.json" --val "$DATA/split/val.json" \
    --out "$OUT" --config recipes/nanorod-rotated-stage.config.json --max-steps "$STAGE2_STEPS" --eval-period 250 \
    --workers 2 --lr 0.01 --seed 0 --init-from "$OUT/base/checkpoints/best"
  FINAL=$OUT
fi
[ "$REFINE" = auto ] && REFINE=$(bash recipes/choose-refine.sh "$FINAL/checkpoints/best" "$DATA/split/val.json" 100)
echo "test-time refinement passes: $REFINE" >&2
$EMSEG predict "$FINAL/checkpoints/best" --data "$DATA/test/annotations.json" --refine "$REFINE" > "$OUT/test-metrics.json"
cat "$OUT/test-metrics.json"
