#!/usr/bin/env bash
# The fixed EMPS particle protocol (docs/training.md, "Real-data benchmarks"): all 366 images of
# ../shared/data/emps-train as one class "particle" (instance label maps -> masks), then ONE seeded
# outer split by image (seed 0): test 25 % (92 images: never used for training or model selection),
# val 5 % (18 images: checkpoint selection of the full model), train the rest (256 images).
# Few-shot draws take 14 training + 2 validation images from the outer train part (seed = draw).
#   bash recipes/real/emps-split.sh DIR [draws...]   -> DIR/all.json, DIR/outer/{train,val,test}.json, DIR/fs<seed>/
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-runs/real/emps}; shift || true
EMPS=${EMPS:-../shared/data/emps-train}
EMSEG="node --import tsx cli/emseg.ts"
mkdir -p "$DIR"
[ -f "$DIR/all.json" ] || $EMSEG convert labelmap --images "$EMPS/images" --masks "$EMPS/segmaps" --category particle --out "$DIR/all.json"
[ -f "$DIR/outer/test.json" ] || $EMSEG dataset split "$DIR/all.json" --out-dir "$DIR/outer" --val 0.05 --test 0.25 --seed 0
for s in "$@"; do
  [ -f "$DIR/fs$s/train.json" ] || $EMSEG dataset split "$DIR/outer/train.json" --out-dir "$DIR/fs$s" --train-count 14 --val-count 2 --seed "$s"
done
