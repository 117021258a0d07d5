#!/usr/bin/env bash
# Few-shot benchmark (the seed study's setting: 14 training + 2 validation images; 13 + 2 on Drosophila,
# whose pool holds 15 sections) on a real dataset,
# over several seeded draws, one training run per draw and initialisation; each run is reported on the
# benchmark's fixed test images (never drawn). Prints one JSON line per run and the mean +- std.
#   bash recipes/real/fewshot.sh BENCH OUT [steps] [draws] [init...]
#     BENCH: emps-particles | drosophila-mito | deepsem-nanowires
#     init:  "none" (from scratch) and/or ONNX files / zoo names (default: none em-backbone)
#   INIT_LAYERS=backbone initialises the backbone alone (emseg train --init-layers; its default, used
#   when unset, is backbone,fpn,rpn: the numbers in docs say which)
# Leave-one-dataset-out: the backbone compared on a benchmark must never have seen its dataset
# (em-backbone learned from EMPS: compare it on drosophila-mito; on EMPS use the synthetic-TEM
# backbone model-zoo/vesicles/vesicles.onnx; neither EMPS nor em-backbone saw DeepSEM).
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=$1; OUT=$2; STEPS=${3:-500}; DRAWS=${4:-3}; shift 4 || shift $#
INITS=("$@"); [ ${#INITS[@]} -gt 0 ] || INITS=(none em-backbone)
EMSEG="node --import tsx cli/emseg.ts"
case "$BENCH" in
  emps-particles) TASK=instance-segmentation; DATA=runs/real/emps; bash recipes/real/emps-split.sh "$DATA" $(seq 0 $((DRAWS - 1))); POOL="$DATA/outer/train.json"; NTRAIN=14; TEST="$DATA/outer/test.json"; CONFIG=recipes/real/particle.config.json ;;
  drosophila-mito) TASK=instance-segmentation; DATA=runs/real/droso; bash recipes/real/droso-split.sh "$DATA"; POOL="$DATA/split/train-val.json"; NTRAIN=13; TEST="$DATA/split/test.json"; CONFIG=recipes/real/mito.config.json ;;
  # DeepSEM: 14 + 2 of the 28 upstream training tiles, the 3 upstream validation tiles as the test set
  # (recipes/real/nanowire.sh converts them); the rotated detector on angle-0 boxes.
  deepsem-nanowires) TASK=rotated-detection; DATA=runs/real/deepsem; [ -f "$DATA/test.json" ] || bash recipes/real/nanowire.sh --convert-only; POOL="$DATA/train-all.json"; NTRAIN=14; TEST="$DATA/test.json"; CONFIG=recipes/real/nanowire.config.json ;;
  *) echo "unknown benchmark $BENCH (emps-particles, drosophila-mito, deepsem-nanowires)" >&2; exit 2 ;;
esac
mkdir -p "$OUT"
for d in $(seq 0 $((DRAWS - 1))); do
  [ -f "$DATA/fs$d/train.json" ] || $EMSEG dataset split "$POOL" --out-dir "$DATA/fs$d" --train-count "$NTRAIN" --val-count 2 --seed "$d"
  for init in "${INITS[@]}"; do
    RUN="$OUT/$(basename "$init" .onnx)-draw$d"
    if [ ! -f "$RUN/test-metrics.json" ]; then
      t0=$(date +%s)
      $EMSEG train --task "$TASK" --train "$DATA/fs$d/train.json" --val "$DATA/fs$d/val.json" --out "$RUN" \
        --config "$CONFIG" --max-steps "$STEPS" --eval-period 100 --workers "${WORKERS:-2}" --seed "$d" --init-backbone "$init" \
        ${INIT_LAYERS:+--init-layers "$INIT_LAYERS"} 2> "$RUN.log"
      echo "{\"seconds\": $(( $(date +%s) - t0 ))}" > "$RUN/time.json"
      # Both candidates on the test images: emseg's selection (checkpoints/best: the last step when
      # validation has < 10 images) and the checkpoint with the best AP on the 2 validation images.
      $EMSEG predict "$RUN/checkpoints/best" --data "$TEST" --max-dets 300 > "$RUN/test-metrics.json"
      $EMSEG predict "$RUN/checkpoints/best-val" --data "$TEST" --max-dets 300 > "$RUN/test-metrics-bestval.json"
    fi
    node -e "const m=require('./$RUN/test-metrics.json'),v=require('./$RUN/test-metrics-bestval.json'),t=require('./$RUN/time.json');console.log(JSON.stringify({init:'$init',draw:$d,AP:m.stats.AP,AP50:m.stats.AP50,AP75:m.stats.AP75,valAP:v.stats.AP,valAP50:v.stats.AP50,valAP75:v.stats.AP75,seconds:t.seconds}))" | tee -a "$OUT/runs.jsonl"
  done
done
node -e "
const rows=require('fs').readFileSync('$OUT/runs.jsonl','utf8').trim().split('\n').map(JSON.parse);
const by={};for(const r of rows)(by[r.init]??=new Map()).set(r.draw,r);
for(const [init,m] of Object.entries(by)){const v=[...m.values()];const f=k=>{const a=v.map(r=>r[k]);const mu=a.reduce((s,x)=>s+x,0)/a.length;const sd=Math.sqrt(a.reduce((s,x)=>s+(x-mu)**2,0)/Math.max(1,a.length-1));return mu.toFixed(3)+' +- '+sd.toFixed(3)};
console.log('$BENCH init '+init+' ('+v.length+' draws, train '+f('seconds')+' s): selected checkpoint AP '+f('AP')+', AP50 '+f('AP50')+', AP75 '+f('AP75')+'; best on the 2 validation images AP '+f('valAP')+', AP50 '+f('valAP50')+', AP75 '+f('valAP75'));}"
