#!/usr/bin/env bash
# Rotated Faster R-CNN on REAL data, estimated by K-fold cross-validation over the 15 rod-like EMPS
# images (../shared/data/emps-train): fold k's images are its test set, 2 of the others validation
# (checkpoint and refinement-pass choice), the rest training; every image is tested exactly once.
# One command:
#   bash recipes/emps-rods-cv.sh [OUT=runs/emps-cv] [STEPS=1000] [CONFIG] [FOLDS=3]
# CONFIG defaults to recipes/emps-rods-rotated-stage.config.json (anchors 1/8-8, the rotated second
# stage, scale jitter x0.5-2). Writes OUT/fold-k/test-metrics.json per fold and OUT/cv-summary.json
# (per-fold rbox AP, AP50, chosen passes; mean and sample standard deviation over the folds).
# Time: ~25 min per fold of 1000 steps alone on 2 cores (0.65-0.75 steps/s).
# Environment: FOLD_LIST="0 2" runs (and summarises) only those folds; INIT_BACKBONE=model.onnx
# initialises each fold's backbone from an ONNX file (e.g. the synthetic-rod zoo model:
# recipes/emps-pretraining-study.sh compares that with training from scratch on the same folds);
# unset, the folds train from scratch (not emseg train's em-backbone default); INIT_LAYERS (default
# backbone) as emseg train --init-layers.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/emps-cv}
STEPS=${2:-1000}
CONFIG=${3:-recipes/emps-rods-rotated-stage.config.json}
FOLDS=${4:-3}
EMPS=${EMPS:-../shared/data/emps-train}
EMSEG="node --import tsx cli/emseg.ts"
mkdir -p "$OUT/data"
$EMSEG convert labelmap --images "$EMPS/images" --masks "$EMPS/segmaps" --only "$EMPS/rodlike_train_images.json" \
  --rbox --category nanorod --out "$OUT/data/all.json"
FOLD_LIST=${FOLD_LIST:-$(seq -s ' ' 0 $((FOLDS - 1)))}
for k in $FOLD_LIST; do
  F=$OUT/fold-$k
  $EMSEG dataset split "$OUT/data/all.json" --out-dir "$F/split" --folds "$FOLDS" --fold "$k" --val 0.134 --seed 0
  $EMSEG train --task rotated-detection --train "$F/split/train.json" --val "$F/split/val.json" \
    --out "$F" --config "$CONFIG" --max-steps "$STEPS" --eval-period 100 --workers "${WORKERS:-2}" --lr 0.01 --seed 0 \
    --init-backbone "${INIT_BACKBONE:-none}" --init-layers "${INIT_LAYERS:-backbone}"
  [ -f "$F/test-metrics.json" ] && continue # finished before (the recipe resumes where it stopped)
  REFINE=$(bash recipes/choose-refine.sh "$F/checkpoints/best" "$F/split/val.json" 300)
  $EMSEG predict "$F/checkpoints/best" --data "$F/split/test.json" --max-dets 300 --refine "$REFINE" > "$F/test-metrics.tmp"
  node -e 'const fs = require("fs"); const m = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); fs.writeFileSync(process.argv[2], JSON.stringify({ ...m, refine: Number(process.argv[3]) }) + "\n");' \
    "$F/test-metrics.tmp" "$F/test-metrics.json" "$REFINE"
  rm "$F/test-metrics.tmp"
done
node -e '
const fs = require("fs");
const [out, folds] = [process.argv[1], process.argv[2].split(" ").map(Number)];
const rows = folds.map((k) => {
  const m = JSON.parse(fs.readFileSync(`${out}/fold-${k}/test-metrics.json`, "utf8"));
  const t = JSON.parse(fs.readFileSync(`${out}/fold-${k}/split/test.json`, "utf8"));
  return { fold: k, images: t.images.map((im) => im.file_name.split("/").pop()), objects: t.annotations.length, refine: m.refine, AP: m.stats.AP, AP50: m.stats.AP50, AP75: m.stats.AP75 };
});
const stat = (key) => { const v = rows.map((r) => r[key]); const mean = v.reduce((a, b) => a + b, 0) / v.length; return { mean, sd: v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : null }; };
const summary = { folds: rows, AP: stat("AP"), AP50: stat("AP50") };
fs.writeFileSync(`${out}/cv-summary.json`, JSON.stringify(summary, null, 1) + "\n");
console.log(JSON.stringify(summary));
' "$OUT" "$FOLD_LIST"
