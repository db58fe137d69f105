#!/usr/bin/env bash
# Output-stage latency, measured: simulates a scanning recording, runs
# `tews run` into asterix+udp (a loopback listener that counts datagrams),
# asterix-file and jsonl, and prints each output's counters and latencies
# from the run summary:
#   latency_us_*  last sample of the CPI received -> report sent
#   output_us_*   detector pushed the CPI's plots  -> report sent (the
#                 output stage alone; goal: p99 under 1000 us)
# Usage: benches/output_latency.sh [CPIS] (default 400). Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
cpis="${1:-400}"
dir="$(mktemp -d)"
trap 'kill "$listener" 2>/dev/null || true; rm -rf "$dir"' EXIT
cargo build --release -q
tews=target/release/tews
cat >"$dir/scenario.toml" <<TOML
num_cpis = $cpis
start_time = "2025-06-01T12:00:00Z"
noise_power = 1.0
[radar]
sample_rate_hz = 10e6
carrier_hz = 1.3e9
pulses_per_cpi = 64
samples_per_pulse = 2000
pri_s = 250e-6
window_delay_s = 40e-6
waveform = { type = "lfm", bandwidth_hz = 8e6, pulse_width_s = 20e-6 }
[beam]
azimuth_start_deg = 0.0
azimuth_step_deg = 3.0
$(for r in 12000 15000 18000 21000 24000 27000 30000 33000; do
  printf '[[targets]]\nrange_m = %s\nrange_rate_mps = 80.0\nsnr_db = -5.0\nphase_deg = 0.0\n' "$r"
done)
TOML
printf '[site]\nname = "bench"\nsac = 1\nsic = 2\n' >"$dir/site.toml"
"$tews" -q simulate --scenario "$dir/scenario.toml" --out "$dir/rec"
python3 - "$dir/port" "$dir/count" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
n = 0
s.settimeout(5)
try:
    while True:
        s.recv(65536); n += 1
        if n % 100 == 0: open(sys.argv[2], "w").write(str(n))
except socket.timeout:
    pass
open(sys.argv[2], "w").write(str(n))
PY
listener=$!
while [ ! -s "$dir/port" ]; do sleep 0.1; done
port="$(cat "$dir/port")"
"$tews" -q run --backend cpu --input "$dir/rec.sigmf-meta" --site "$dir/site.toml" \
    --output "asterix+udp://127.0.0.1:$port" --output "asterix-file:$dir/plots.ast" \
    --output "jsonl:$dir/plots.jsonl" --summary "$dir/summary.json"
wait "$listener" || true
python3 - "$dir/summary.json" "$dir/count" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{s['cpis']} CPIs, {s['plots']} plots in {s['seconds']:.2f} s; "
      f"{open(sys.argv[2]).read()} datagrams received by the listener")
cols = ["sent", "dropped", "send_errors", "latency_us_p50", "latency_us_p99",
        "latency_us_max", "output_us_p50", "output_us_p99", "output_us_max"]
print(f"{'output':<40} " + " ".join(f"{c:>14}" for c in cols))
for o in s["outputs"]:
    name = o["name"] if len(o["name"]) <= 40 else o["name"][:37] + "..."
    print(f"{name:<40} " + " ".join(f"{o[c]:>14}" for c in cols))
print(json.dumps(s["outputs"]))
PY
