#!/usr/bin/env bash
# The Drosophila ssTEM mitochondria protocol: ../shared/data/drosophila-vnc-sstem stack 1 (20 sections,
# 1024^2, 4.6 nm/px; CC BY-NC-SA 3.0: used here, never shipped), binary masks -> instances
# (8-connected components >= 20 px), one seeded split by image (seed 0): test 5 sections (never used
# for training or selection), val 2, train 13; train-val.json (15) is the few-shot pool.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-runs/real/droso}
D=${DROSO:-../shared/data/drosophila-vnc-sstem/stack1}
EMSEG="node --import tsx cli/emseg.ts"
mkdir -p "$DIR"
[ -f "$DIR/all.json" ] || $EMSEG convert masks --images "$D/raw" --masks "$D/mitochondria" --category mitochondrion --min-area 20 --out "$DIR/all.json"
[ -f "$DIR/split/test.json" ] || $EMSEG dataset split "$DIR/all.json" --out-dir "$DIR/split" --val 0.1 --test 0.25 --seed 0
if [ ! -f "$DIR/split/train-val.json" ]; then
  node -e "
const fs=require('fs');const a=JSON.parse(fs.readFileSync('$DIR/split/train.json'));const b=JSON.parse(fs.readFileSync('$DIR/split/val.json'));
fs.writeFileSync('$DIR/split/train-val.json',JSON.stringify({...a,images:[...a.images,...b.images],annotations:[...a.annotations,...b.annotations]}));"
fi
