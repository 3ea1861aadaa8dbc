#!/usr/bin/env bash
# Seed corpora for the fuzz targets, from the project's real data: the
# demo's events and checkpoint, the scenario files, the OpenStreetMap
# extracts in ../shared/data (cut to a size a fuzzer mutates well), a
# prepared map, keys, tiles and a witness request. Written to fuzz/corpus/
# (not kept in git: made again from the data on every run).
# Usage: fuzz/seed.sh [CORRIDOR_BINARY]
set -euo pipefail
cd "$(dirname "$0")"
C=${1:-../target/debug/corridor}
SHARED=../../shared/data
[ -x "$C" ] || { echo "seed.sh: no corridor binary at $C (cargo build first)" >&2; exit 1; }
rm -rf corpus && mkdir -p corpus/{event_json,scenario_toml,osm_pbf,osm_xml,roads_geojson,map_file,signed_note,keys,tlog}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$C" --data-dir "$tmp/demo" demo >/dev/null
"$C" --data-dir "$tmp/demo" log export --out "$tmp/leaves.b64" --checkpoint-out corpus/signed_note/checkpoint.txt 2>/dev/null
# Every 50th event of the demo (every kind appears), one per file, and a batch.
awk 'NR % 50 == 1' "$tmp/leaves.b64" | head -150 | while read -r l; do echo "$l" | base64 -d > "corpus/event_json/$(echo "$l" | sha1sum | cut -c1-12)"; done
{ printf '['; awk 'NR <= 5' "$tmp/leaves.b64" | while read -r l; do echo "$l" | base64 -d; printf ','; done | sed 's/,$//'; printf ']'; } > corpus/event_json/batch
cp ../crates/corridor-plan/scenarios/aleppo-2016.toml ../docs/examples/monaco.toml corpus/scenario_toml/
cp "$SHARED/osm/pyrosm-test.osm.pbf" corpus/osm_pbf/
# The head of an OSM XML extract, closed again.
head -c 20000 "$SHARED/osm/syria-poi-2017.osm" | sed '$d' > corpus/osm_xml/syria-head.osm && echo '</osm>' >> corpus/osm_xml/syria-head.osm
"$C" import "$SHARED/osm/pyrosm-test.osm.pbf" --out "$tmp/small.cnet" >/dev/null 2>&1
cp "$tmp/small.cnet" corpus/map_file/
"$C" map-geojson --map "$tmp/small.cnet" --out "$tmp/roads.geojson" >/dev/null 2>&1
python3 - "$tmp/roads.geojson" corpus/roads_geojson/roads.geojson <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["features"] = [f for f in d["features"] if f.get("geometry", {}).get("type") == "LineString"][:20]
json.dump(d, open(sys.argv[2], "w"))
PY
"$C" --data-dir "$tmp/demo" log key > corpus/keys/vkey
cp "$tmp/demo/log.key" corpus/keys/skey
"$C" --data-dir "$tmp/mon" monitor key --name fuzz.example/monitor > corpus/keys/monitor-vkey
cp "$tmp/mon/monitor.key" corpus/keys/monitor-skey
"$C" --data-dir "$tmp/small" init >/dev/null 2>&1
"$C" --data-dir "$tmp/demo" log export --tiles "$tmp/tiles" 2>/dev/null
cp "$tmp/tiles/tile/entries/000" corpus/tlog/bundle
printf 'tile/0/000' > corpus/tlog/path-full; printf 'tile/entries/x001/234.p/17' > corpus/tlog/path-partial
{ printf 'old 0\n\n'; cat corpus/signed_note/checkpoint.txt; } > corpus/tlog/add-checkpoint
echo "seeded: $(ls corpus | while read -r t; do printf '%s %s, ' "$t" "$(ls corpus/$t | wc -l)"; done)"
