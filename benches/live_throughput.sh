#!/usr/bin/env bash
# Live ingest throughput over loopback: `tews replay` (a second process)
# sends a ci16 recording as VITA 49.2 packets at stepped rates into
# `tews run --input vrt+udp://127.0.0.1:PORT` (CPU processing), and a table
# says, per rate, what was sent, what arrived, what was lost in the kernel
# (sent - received: the receive path fell behind) and what processing had
# to drop (ingest queue full: the detector fell behind, the receiver kept
# up). Not a test: numbers depend on the machine and its load.
#
#   benches/live_throughput.sh                 # default rates
#   RATES="1 2 4" SECONDS_PER_STEP=5 benches/live_throughput.sh
#   SPP=362 benches/live_throughput.sh         # 1500-byte MTU packets
#
# Rate 1.0 = 10 M samples/s = 320 Mb/s of ci16 payload (20 MHz sampling,
# 2000-sample windows every 200 us: 64 x 2000 CPIs).
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${RATES:-"0.5 1 2 3 4 5"}
SPP=${SPP:-1024}
SECONDS_PER_STEP=${SECONDS_PER_STEP:-3}
cargo build --release -q
T=$PWD/target/release/tews
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT

cat >"$D/scenario.toml" <<'TOML'
num_cpis = 8
start_time = "2025-06-01T12:00:00Z"
noise_power = 1.0
datatype = "ci16_le"
[radar]
sample_rate_hz = 20e6
carrier_hz = 3.0e9
pulses_per_cpi = 64
samples_per_pulse = 2000
pri_s = 200e-6
window_delay_s = 20e-6
waveform = { type = "lfm", bandwidth_hz = 10e6, pulse_width_s = 10e-6 }
[[targets]]
range_m = 9000.0
range_rate_mps = -150.0
snr_db = 0.0
TOML
cat >"$D/site.toml" <<'TOML'
[site]
name = "bench"
sac = 1
sic = 1
[radar]
sample_rate_hz = 20e6
carrier_hz = 3.0e9
pulses_per_cpi = 64
samples_per_pulse = 2000
pri_s = 200e-6
window_delay_s = 20e-6
[radar.waveform]
type = "lfm"
bandwidth_hz = 10e6
pulse_width_s = 10e-6
TOML
"$T" -q simulate --scenario "$D/scenario.toml" --out "$D/rec"

echo "live ingest over loopback, CPU processing, $SPP samples/packet, ~${SECONDS_PER_STEP} s per step; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%6s %10s %9s %9s %10s %10s %9s %8s %8s %s\n" rate "sent pk/s" "M samp/s" "Gb/s" sent received "lost" "CPIs ok" "q-drop" verdict
for rate in $RATES; do
    # The 8-CPI recording spans 102.4 ms: repeat it to fill the step.
    repeat=$(python3 -c "import math; print(max(1, math.ceil($SECONDS_PER_STEP * $rate / 0.1024)))")
    cpis=$((repeat * 8))
    rm -f "$D/run.err"
    "$T" run --input vrt+udp://127.0.0.1:0 --site "$D/site.toml" --max-cpis "$cpis" \
        --idle-timeout-s 2 --output "jsonl:$D/plots.jsonl" --summary "$D/run.json" 2>"$D/run.err" &
    pid=$!
    port=""
    for _ in $(seq 100); do
        port=$(grep -o 'listening on udp 127.0.0.1:[0-9]*' "$D/run.err" 2>/dev/null | grep -o '[0-9]*$' || true)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$D/run.err"; exit 1; }
    "$T" -q replay "$D/rec.sigmf-meta" --to "udp://127.0.0.1:$port" --rate "$rate" \
        --samples-per-packet "$SPP" --repeat "$repeat" --summary "$D/replay.json"
    wait "$pid"
    python3 - "$rate" "$D/replay.json" "$D/run.json" <<'PY'
import json, sys
rate, rep, run = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
s = max(rep["seconds"], 1e-9)
lost = rep["packets_sent"] - run["packets_received"]
q = run["cpis_dropped_queue_full"]
verdict = "ok" if lost == 0 and q == 0 else ("receive loss" if lost else "processing behind")
print(f"{rate:>6} {rep['packets_sent']/s:10.0f} {rep['samples_sent']/s/1e6:9.1f} "
      f"{rep['bytes_sent']*8/s/1e9:9.3f} {rep['packets_sent']:10d} {run['packets_received']:10d} "
      f"{lost:9d} {run['cpis']:8d} {q:8d} {verdict}")
PY
done
echo "lost = sent - received (kernel drops: the receive path fell behind); q-drop = CPIs dropped because processing was behind (the receiver kept up)"
