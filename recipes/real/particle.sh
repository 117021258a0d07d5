#!/usr/bin/env bash
# The `particle` zoo model: Mask R-CNN, one class, on the 256 training images of the EMPS protocol
# (recipes/real/emps-split.sh), checkpoint chosen on its 18 validation images, reported on its 92 test
# images. Backbone initialised from the synthetic-TEM vesicle model (INIT_BACKBONE=none: from scratch).
#   bash recipes/real/particle.sh [runs/particle] [max-steps]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/particle}
STEPS=${2:-2000}
DATA=${DATA:-runs/real/emps}
INIT=${INIT_BACKBONE:-model-zoo/vesicles/vesicles.onnx}
EMSEG="node --import tsx cli/emseg.ts"
bash recipes/real/emps-split.sh "$DATA"
$EMSEG train --task instance-segmentation --train "$DATA/outer/train.json" --val "$DATA/outer/val.json" \
  --out "$OUT" --config recipes/real/particle.config.json --max-steps "$STEPS" --eval-period 250 \
  --workers "${WORKERS:-2}" --lr 0.01 --seed "${SEED:-0}" --init-backbone "$INIT" --init-layers "${INIT_LAYERS:-backbone}"
$EMSEG predict "$OUT/checkpoints/best" --data "$DATA/outer/test.json" --max-dets 300 > "$OUT/test-metrics.json"
cat "$OUT/test-metrics.json"
