#!/usr/bin/env bash
# Rotated Faster R-CNN on REAL data: the 15 rod-like images of EMPS (../shared/data/emps-train,
# bright-field TEM of nanorods, instance label maps -> rotated boxes by minimum-area rectangles).
# Held-out split by image (seed 0): 11 train, 2 val (checkpoint selection), 2 test (reported AP).
# One command reproduces it:
#   bash recipes/emps-rods.sh [runs/emps-rods] [max-steps] [config.json] [refine]
# config: recipes/emps-rods.config.json (default: one-stage, anchors 1/4-4, default augmentation) or
# recipes/emps-rods-rotated-stage.config.json (anchors 1/8-8, the rotated second stage, scale jitter
# x0.5-2 for the rods' varied lengths); refine (default auto: chosen on the validation images by
# recipes/choose-refine.sh; or a count 0-5): test-time passes of the last stage.
# Environment: WORKERS (default 2), INIT_BACKBONE=model.onnx (backbone initialisation, e.g. a model
# trained on synthetic rods: recipes/emps-pretraining-study.sh; default none: from scratch, as the
# numbers in docs were measured, not emseg train's em-backbone default), INIT_LAYERS (default backbone).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/emps-rods}
STEPS=${2:-400}
EMPS=${EMPS:-../shared/data/emps-train}
EMSEG="node --import tsx cli/emseg.ts"
DATA=$OUT/data
mkdir -p "$DATA"
$EMSEG convert labelmap --images "$EMPS/images" --masks "$EMPS/segmaps" --only "$EMPS/rodlike_train_images.json" \
  --rbox --category nanorod --out "$DATA/all.json"
$EMSEG dataset split "$DATA/all.json" --out-dir "$DATA/split" --val 0.134 --test 0.134 --seed 0
$EMSEG train --task rotated-detection --train "$DATA/split/train.json" --val "$DATA/split/val.json" \
  --out "$OUT" --config "${3:-recipes/emps-rods.config.json}" --max-steps "$STEPS" --eval-period 100 \
  --workers "${WORKERS:-2}" --lr 0.01 --seed 0 --init-backbone "${INIT_BACKBONE:-none}" --init-layers "${INIT_LAYERS:-backbone}"
REFINE=${4:-auto}
[ "$REFINE" = auto ] && REFINE=$(bash recipes/choose-refine.sh "$OUT/checkpoints/best" "$DATA/split/val.json" 300)
echo "test-time refinement passes: $REFINE" >&2
$EMSEG predict "$OUT/checkpoints/best" --data "$DATA/split/test.json" --max-dets 300 --refine "$REFINE" > "$OUT/test-metrics.json"
cat "$OUT/test-metrics.json"
