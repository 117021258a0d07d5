#!/usr/bin/env bash
# Real-data benchmarks, one command each (docs/training.md, "Real-data benchmarks"):
#   npm run bench:real -- baseline                 Otsu + watershed floor on every benchmark's test images
#   npm run bench:real -- emps-particles [steps]   full model (256 train / 18 val / 92 test images) = recipes/real/particle.sh
#   npm run bench:real -- emps-particles-fewshot [steps] [draws] [init...]   14 + 2 images per draw
#   npm run bench:real -- drosophila-mito [steps] [draws] [init...]          ssTEM mitochondria, 13 + 2 of 15
#   npm run bench:real -- emps-rods [steps]        rotated detection, 3-fold cross-validation = recipes/emps-rods-cv.sh
#   npm run bench:real -- nanorod-tem [steps]      rotated detection, particle backbone, 4 held-out rod images = recipes/real/nanorod-tem.sh
#   npm run bench:real -- deepsem-nanowires [steps] rotated detection on axis-aligned boxes = recipes/real/nanowire.sh
#   npm run bench:real -- deepsem-nanowires-fewshot [steps] [draws] [init...]   14 + 2 of the 28 training tiles per draw
# Results go to runs/bench-real/<task>/; every run logs its wall time.
set -euo pipefail
cd "$(dirname "$0")/../.."
TASK=${1:-}; shift || true
OUT=runs/bench-real
EMSEG="node --import tsx cli/emseg.ts"
case "$TASK" in
  baseline)
    bash recipes/real/emps-split.sh runs/real/emps
    bash recipes/real/droso-split.sh runs/real/droso
    mkdir -p "$OUT"
    for t in runs/real/emps/outer/test.json runs/real/droso/split/test.json; do
      $EMSEG baseline --data "$t"
    done
    DS=../shared/data/deepsem-nanowires
    [ -f runs/real/deepsem/test.json ] || $EMSEG convert labelbox "$DS/labels/nw_yield_val.json" --images "$DS/images" --rbox --out runs/real/deepsem/test.json
    $EMSEG baseline --data runs/real/deepsem/test.json --category '*' ;;
  emps-particles) bash recipes/real/particle.sh "$OUT/emps-particles" "${1:-2000}" ;;
  emps-particles-fewshot) bash recipes/real/fewshot.sh emps-particles "$OUT/emps-particles-fewshot" "${1:-500}" "${2:-3}" "${@:3}" ;;
  drosophila-mito) bash recipes/real/fewshot.sh drosophila-mito "$OUT/drosophila-mito" "${1:-500}" "${2:-3}" "${@:3}" ;;
  nanorod-tem) bash recipes/real/nanorod-tem.sh "$OUT/nanorod-tem" "${1:-1000}" ;;
  emps-rods) bash recipes/emps-rods-cv.sh "$OUT/emps-rods" "${1:-1000}" ;;
  deepsem-nanowires-fewshot) bash recipes/real/fewshot.sh deepsem-nanowires "$OUT/deepsem-nanowires-fewshot" "${1:-300}" "${2:-3}" "${@:3}" ;;
  deepsem-nanowires) bash recipes/real/nanowire.sh "$OUT/deepsem-nanowires" "${1:-1500}" ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
