#!/usr/bin/env bash
# The three-nation sharing example on one machine: a nats-server with
# nations.conf on loopback, the example recording (scenario.toml: a beam
# scanning the whole circle past 24 targets), and each nation's sensor run
# on it with its site file. Each run ends by saying, per partner, how many
# plots its policy released (and the partner received) and how many it
# withheld; the summaries (JSON, "releases" under the NATS output) are kept
# in the work directory.
#
#   deploy/nats/example.sh [WORKDIR]
#
# Needs nats-server (Debian package nats-server) and tews (on PATH, or set
# TEWS=path/to/tews; a cargo build's target/release/tews is used if there).
# The passwords are the site files' placeholders: for a demonstration only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ -z "${TEWS:-}" ]; then
    if [ -x "$root/target/release/tews" ]; then
        TEWS="$root/target/release/tews"
    else
        TEWS=tews
    fi
fi
command -v nats-server >/dev/null || { echo "example.sh: nats-server not found (apt-get install nats-server)" >&2; exit 2; }
command -v "$TEWS" >/dev/null || { echo "example.sh: tews not found (set TEWS=path/to/tews)" >&2; exit 2; }

work="${1:-$(mktemp -d)}"
mkdir -p "$work"
port="${TEWS_NATS_PORT:-14222}"
export TEWS_NATS_HOST=127.0.0.1 TEWS_NATS_PORT="$port" TEWS_NATS_STORE="$work/jetstream"
for nation in alpha bravo charlie; do
    upper="$(echo "$nation" | tr a-z A-Z)"
    export "TEWS_PW_${upper}_SITE=change-me-$nation-site" "TEWS_PW_${upper}_C2=example-$nation-c2"
done

nats-server -c "$here/nations.conf" >"$work/nats-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

"$TEWS" -q simulate --scenario "$here/scenario.toml" --out "$work/rec"
for nation in alpha bravo charlie; do
    echo "== $nation ($here/sites/$nation.toml)"
    # Paced like a live sensor (--cpi-rate): read at full speed, the
    # recording would overflow the output's queue while it connects.
    "$TEWS" run --input "$work/rec" --site "$here/sites/$nation.toml" \
        --output "nats://127.0.0.1:$port" --cpi-rate 200 \
        --summary "$work/$nation.summary.json" 2>&1 |
        sed -n 's/.*INFO nats:\/\/[^ ]*: \(partner .*\)/  \1/p'
done
echo "summaries: $work/*.summary.json"
