#!/usr/bin/env bash
# The zoo's int8 files (emseg-export --int8: QDQ, int8 weights per channel, uint8 activations), each
# calibrated on 16 images of its model's own training domain that the model's CI validation set
# (its card's "validation") does not contain. One command:
#   bash recipes/zoo-int8.sh [MODEL ...]     (default: every zoo model with a card)
# Writes model-zoo/MODEL/MODEL-int8.onnx; `npx tsx scripts/zoo-card.ts` then records its metrics and
# the CI gate (test/model-zoo) holds every class's AP within 0.01 of the float file's card.
# Time: 1-3 min per model on 2 cores (calibration runs each image through the model once).
set -euo pipefail
cd "$(dirname "$0")/.."
EMSEG="node --import tsx cli/emseg.ts"
W=${WORK:-runs/zoo-int8}
mkdir -p "$W"
subset() { # ANN OUT: 16 images of ANN, seeded
  [ -f "$2/train.json" ] || $EMSEG dataset split "$1" --out-dir "$2" --train-count 16 --val-count 1 --seed 0 >&2
  echo "$2/train.json"
}
calibration() {
  case $1 in
    # Synthetic models: the generator with seed 101 (their CI validation sets use seed 2).
    vesicles) [ -f "$W/vesicles/annotations.json" ] || $EMSEG synth tem-vesicles --count 16 --seed 101 --size 512 --out "$W/vesicles" >&2; echo "$W/vesicles/annotations.json" ;;
    nanorod) [ -f "$W/nanorod/annotations.json" ] || $EMSEG synth haadf-nanorods --count 16 --seed 101 --size 512 --out "$W/nanorod" >&2; echo "$W/nanorod/annotations.json" ;;
    # Real models: their training splits (the CI gate scores their held-out test images).
    particle) bash recipes/real/emps-split.sh runs/real/emps >&2; subset runs/real/emps/outer/train.json "$W/particle" ;;
    nanorod-tem) bash recipes/real/rods-split.sh runs/real/rods >&2; echo runs/real/rods/pool.json ;;
    nanowire-sem) [ -f runs/real/deepsem/train-all.json ] || bash recipes/real/nanowire.sh --convert-only >&2; subset runs/real/deepsem/train-all.json "$W/nanowire-sem" ;;
    *) echo "no calibration set for $1" >&2; exit 2 ;;
  esac
}
MODELS=("$@"); [ ${#MODELS[@]} -gt 0 ] || MODELS=(vesicles nanorod particle nanorod-tem nanowire-sem)
for m in "${MODELS[@]}"; do
  ann=$(calibration "$m")
  node --import tsx cli/emseg-export.ts "model-zoo/$m/$m.onnx" --int8 --calibrate "$ann" -o "model-zoo/$m/$m-int8.onnx"
done
