#!/usr/bin/env bash
# Submit a sharded `emseg analyze` as a Slurm array plus its merge:
#   SHARDS=64 MODEL=vesicle-large OUT=/shared/results bash deploy/slurm/submit.sh '/shared/images/**/*.dm4'
# Prints "<array job id> <merge job id>". Extra sbatch options: SBATCH_OPTIONS (e.g. "--partition=gpu --gres=gpu:1").
# Resubmitting missing shards (emseg merge prints the list): ARRAY=3,17 bash deploy/slurm/submit.sh ...
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${MODEL:?set MODEL}" "${OUT:?set OUT}"
SHARDS=${SHARDS:-4}
ARRAY=${ARRAY:-0-$((SHARDS - 1))}
mkdir -p "$OUT/slurm-logs"
# The array's COUNT must be the shard count even when resubmitting a few ids: pass it explicitly.
jid=$(sbatch --parsable --array="$ARRAY" --output="$OUT/slurm-logs/%x-%A_%a.out" ${SBATCH_OPTIONS:-} \
  --export=ALL,MODEL="$MODEL",OUT="$OUT",EMSEG_ANALYZE_OPTIONS="--shards $SHARDS ${EMSEG_ANALYZE_OPTIONS:-}" \
  "$HERE/analyze-array.sbatch" "$@")
mid=$(sbatch --parsable --dependency=afterany:"$jid" --output="$OUT/slurm-logs/%x-%j.out" --export=ALL,OUT="$OUT" "$HERE/merge.sbatch")
echo "$jid $mid"
