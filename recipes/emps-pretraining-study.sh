#!/usr/bin/env bash
# Does pre-training on synthetic rods help on the small real set? The EMPS rod recipe twice, side by
# side (one worker each): from scratch, and with the backbone initialised from the synthetic nanorod
# model (recipes/nanorod-synthetic.sh's checkpoint, exported as fp32 ONNX). Same split, seed, steps.
#   bash recipes/emps-pretraining-study.sh [runs/emps-study] [max-steps] [synthetic checkpoint]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/emps-study}
STEPS=${2:-600}
SYNTH=${3:-runs/nanorod-synthetic/checkpoints/best}
mkdir -p "$OUT"
node --import tsx export/cli.ts "$SYNTH" -o "$OUT/synthetic-rods.onnx"
WORKERS=1 bash recipes/emps-rods.sh "$OUT/scratch" "$STEPS" > "$OUT/scratch.log" 2>&1 &
WORKERS=1 INIT_BACKBONE="$OUT/synthetic-rods.onnx" bash recipes/emps-rods.sh "$OUT/pretrained" "$STEPS" > "$OUT/pretrained.log" 2>&1 &
wait
for run in scratch pretrained; do echo "$run: $(cat "$OUT/$run/test-metrics.json")"; done
