#!/usr/bin/env bash
# Test-time refinement passes of a rotated detector, chosen on VALIDATION images (never the test set):
# rbox AP for 0-5 passes, then the smallest count within 0.01 AP of the best (each pass costs a
# rotated RoIAlign and the head on every RoI). Prints the count on stdout, the table on stderr.
#   bash recipes/choose-refine.sh CHECKPOINT_DIR VAL.json [MAX_DETS=300]
set -euo pipefail
cd "$(dirname "$0")/.."
EMSEG="node --import tsx cli/emseg.ts"
APS=()
for r in 0 1 2 3 4 5; do
  APS+=("$($EMSEG predict "$1" --data "$2" --max-dets "${3:-300}" --refine "$r" | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).stats.AP))')")
  echo "refine $r: validation rbox AP ${APS[$r]}" >&2
done
node -e 'const ap = process.argv.slice(1).map(Number); const best = Math.max(...ap); console.log(ap.findIndex((a) => a >= best - 0.01));' "${APS[@]}"
