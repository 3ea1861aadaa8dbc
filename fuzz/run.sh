#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 30) from seed corpora made
# from the real data (seed.sh); a crash fails the run and leaves its input
# in fuzz/artifacts/TARGET/. Needs cargo-fuzz (installed here if missing);
# the toolchain is stable, so RUSTC_BOOTSTRAP lets cargo-fuzz pass its
# instrumentation flags, without AddressSanitizer (the code is safe Rust;
# what is looked for is panics, overflows and hangs).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-30}; shift || true
command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz
bash seed.sh
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(event_json scenario_toml osm_pbf osm_xml roads_geojson map_file signed_note keys tlog)
export RUSTC_BOOTSTRAP=1
cargo fuzz build --sanitizer none --debug-assertions
for t in "${targets[@]}"; do
    start=$(date +%s)
    out=$(cargo fuzz run --sanitizer none --debug-assertions "$t" "corpus/$t" -- -max_total_time="$secs" -seed=1 -max_len=200000 -timeout=10 -rss_limit_mb=4096 2>&1) || { echo "$out" | tail -40 | cut -c1-300; echo "FUZZ FAILED: $t (input in fuzz/artifacts/$t/)"; exit 1; }
    runs=$(echo "$out" | grep -o 'Done [0-9]* runs' | tail -1)
    echo "fuzz $t: ${runs:-?} in $(( $(date +%s) - start )) s, no crash"
done
