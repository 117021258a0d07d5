#!/usr/bin/env bash
# DeepSEM nanowires (SEM of GaAs nanowires; ../shared/data/deepsem-nanowires, MIT, Martin Friedl 2020):
# 3 classes (nw, parasitic, nanospade), axis-aligned boxes from the Labelbox export, trained as the
# rotated detector on axis-aligned rboxes (angle 0). Protocol: the upstream split: nw_yield_train
# (28 tiles ~341 x 344) -> 26 train + 2 val (seed 0); nw_yield_val (3 tiles, 477 boxes) = test, never
# used for training or selection. Reports rbox AP on the test tiles (= box IoU for angle-0 boxes).
#   bash recipes/real/nanowire.sh [OUT] [steps]      (INIT_BACKBONE=none|FILE|zoo name; default em-backbone)
#   bash recipes/real/nanowire.sh --convert-only     (only the COCO files, for recipes/real/fewshot.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/nanowire}; STEPS=${2:-1500}
DS=${DEEPSEM:-../shared/data/deepsem-nanowires}
DATA=${DATA:-runs/real/deepsem}
EMSEG="node --import tsx cli/emseg.ts"
mkdir -p "$DATA"
[ -f "$DATA/train-all.json" ] || $EMSEG convert labelbox "$DS/labels/nw_yield_train.json" --images "$DS/images" --rbox --out "$DATA/train-all.json"
[ -f "$DATA/test.json" ] || $EMSEG convert labelbox "$DS/labels/nw_yield_val.json" --images "$DS/images" --rbox --out "$DATA/test.json"
[ "$OUT" = --convert-only ] && exit 0
[ -f "$DATA/split/train.json" ] || $EMSEG dataset split "$DATA/train-all.json" --out-dir "$DATA/split" --train-count 26 --val-count 2 --seed 0
$EMSEG train --task rotated-detection --train "$DATA/split/train.json" --val "$DATA/split/val.json" --out "$OUT" \
  --config recipes/real/nanowire.config.json --max-steps "$STEPS" --eval-period 250 --workers "${WORKERS:-2}" --seed "${SEED:-0}" \
  --init-backbone "${INIT_BACKBONE:-em-backbone}" --init-layers "${INIT_LAYERS:-backbone}"
$EMSEG predict "$OUT/checkpoints/best" --data "$DATA/test.json" --max-dets 300 > "$OUT/test-metrics.json"
cat "$OUT/test-metrics.json"
