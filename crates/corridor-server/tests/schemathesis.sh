#!/usr/bin/env bash
# Schemathesis against a running `corridor serve` on the demo's log, with an
# hq token: every check, no 5xx, no schema violation.
#
#   crates/corridor-server/tests/schemathesis.sh [CORRIDOR_BINARY] [MAX_EXAMPLES]
#
# Needs `schemathesis` (python3 -m pip install schemathesis). The server
# runs on a fresh demo data directory in a temporary folder, on a free
# loopback port, with a public rate limit high enough for the fuzzer.
set -euo pipefail

bin=${1:-${CORRIDOR_BIN:-target/debug/corridor}}
examples=${2:-${SCHEMATHESIS_MAX_EXAMPLES:-40}}
here=$(cd "$(dirname "$0")" && pwd)
st=$(command -v schemathesis || command -v st || true)
if [ -z "$st" ]; then
    # Under CORRIDOR_TEST_REQUIRE_ALL (CI) a missing tool fails, as in the Rust tests.
    if [ -n "${CORRIDOR_TEST_REQUIRE_ALL:-}" ] && [ "${CORRIDOR_TEST_REQUIRE_ALL}" != 0 ]; then
        echo "schemathesis is not installed (python3 -m pip install schemathesis==4.32.5), and CORRIDOR_TEST_REQUIRE_ALL is set" >&2
        exit 1
    fi
    echo "skipped: schemathesis is not installed (python3 -m pip install schemathesis)"
    exit 0
fi

tmp=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

"$bin" demo --data-dir "$tmp/data" > "$tmp/demo.log"
hq=$("$bin" token create --data-dir "$tmp/data" --role hq 2>/dev/null)

"$bin" serve --data-dir "$tmp/data" --listen 127.0.0.1:0 --public-rate 100000 > "$tmp/serve.log" 2>&1 &
server=$!
url=""
for _ in $(seq 1 100); do
    url=$(sed -n 's/.* at \(http:\/\/[0-9.:]*\)\/ .*/\1/p' "$tmp/serve.log" | head -1)
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$tmp/serve.log"; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start:"; cat "$tmp/serve.log"; exit 1; }
echo "schemathesis $("$st" --version | awk '{print $NF}') against $url (demo log, hq token), at most $examples examples per operation"

# The config (beside this script) says which answers are right for a
# schema-valid write that the log refuses; see the comments in it.
cd "$tmp"
"$st" --config-file "$here/schemathesis.toml" run "$url/openapi.json" \
    --checks all \
    -H "Authorization: Bearer $hq" \
    --max-examples "$examples" \
    --request-timeout 5 \
    --generation-database none \
    --seed 1 \
    --no-color
