#!/usr/bin/env bash
# The nanorod-tem protocol's data (recipes/real/nanorod-tem.sh): the 15 EMPS rod images
# (../shared/data/emps-train/rodlike_train_images.json) as rotated boxes, split by the particle model's
# EMPS split (recipes/real/emps-split.sh, seed 0): DIR/test.json = the rod images outside its training
# split (4 images, 126 rods: neither nanorod-tem nor its particle backbone trained on them),
# DIR/pool.json = the 11 in it (9 train + 2 val per seed). Also what CI's zoo gate rebuilds.
#   bash recipes/real/rods-split.sh DIR [EMPS_SPLIT_DIR=DIR/emps]
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=$1; EMPS_SPLIT=${2:-$DIR/emps}
EMPS=${EMPS:-../shared/data/emps-train}
EMSEG="node --import tsx cli/emseg.ts"
[ -f "$DIR/test.json" ] && [ -f "$DIR/pool.json" ] && exit 0
bash recipes/real/emps-split.sh "$EMPS_SPLIT"
mkdir -p "$DIR"
node -e '
const fs = require("fs");
const rods = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const trained = new Set(JSON.parse(fs.readFileSync(process.argv[3], "utf8")).images.map((i) => i.file_name.split("/").pop()));
fs.writeFileSync(process.argv[2] + "/pool-images.json", JSON.stringify(rods.filter((r) => trained.has(r))));
fs.writeFileSync(process.argv[2] + "/test-images.json", JSON.stringify(rods.filter((r) => !trained.has(r))));
' "$EMPS/rodlike_train_images.json" "$DIR" "$EMPS_SPLIT/outer/train.json"
for part in pool test; do
  $EMSEG convert labelmap --images "$EMPS/images" --masks "$EMPS/segmaps" --only "$DIR/$part-images.json" \
    --rbox --category nanorod --out "$DIR/$part.json"
done
