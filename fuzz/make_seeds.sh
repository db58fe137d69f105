#!/usr/bin/env bash
# Makes the fuzz targets' seed corpora in fuzz/seeds/<target>/ with tews's
# own tools: a tiny simulated recording (tews simulate), its VRT datagrams
# as tews replay sends them (caught on loopback), the site and scenario
# files the project documents and tests with. Run from the repository root
# after `cargo build --release`; needs python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tews="$root/target/release/tews"
seeds="$root/fuzz/seeds"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$seeds"/{vrt_packet,cpi_assembler,site_toml,scenario_toml,sigmf_recording}

# A recording small enough for the assembler target's shapes (P <= 8, N <= 32).
cat > "$work/tiny.toml" <<'TOML'
num_cpis = 3
start_time = "2026-01-01T00:00:00Z"
noise_power = 1.0
datatype = "ci16_le"
[radar]
sample_rate_hz = 10e6
carrier_hz = 3e9
pulses_per_cpi = 4
samples_per_pulse = 32
pri_s = 10e-6
window_delay_s = 1e-6
waveform = { type = "rect", pulse_width_s = 1e-6 }
[[targets]]
range_m = 600.0
range_rate_mps = 10.0
snr_db = 20.0
TOML
"$tews" -q simulate --scenario "$work/tiny.toml" --out "$work/tiny"
cp "$work/tiny.toml" "$root"/tests/data/*.toml "$seeds/scenario_toml/"

# The recording as meta NUL data, and as a .sigmf archive.
python3 - "$work" "$seeds/sigmf_recording" <<'PY'
import sys, tarfile, io, pathlib
work, out = map(pathlib.Path, sys.argv[1:])
meta = (work / "tiny.sigmf-meta").read_bytes()
data = (work / "tiny.sigmf-data").read_bytes()
(out / "tiny.meta-nul-data").write_bytes(meta + b"\0" + data)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
    for name, content in (("tiny/tiny.sigmf-meta", meta), ("tiny/tiny.sigmf-data", data)):
        info = tarfile.TarInfo(name)
        info.size = len(content)
        t.addfile(info, io.BytesIO(content))
(out / "tiny.sigmf").write_bytes(buf.getvalue())
PY

# Its datagrams, as tews replay sends them: one file each, and the whole
# stream length-prefixed for the assembler (shape byte: N = 32, P = 4).
python3 - "$tews" "$work/tiny.sigmf-meta" "$seeds" <<'PY'
import socket, subprocess, sys, pathlib
tews, rec, seeds = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(2.0)
port = s.getsockname()[1]
subprocess.run([tews, "-q", "replay", rec, "--to", f"udp://127.0.0.1:{port}",
                "--rate", "max", "--samples-per-packet", "16"], check=True)
grams = []
try:
    while True:
        grams.append(s.recv(65536))
except socket.timeout:
    pass
assert grams, "no datagrams caught"
for i, g in enumerate(grams[:8]):
    (seeds / "vrt_packet" / f"datagram-{i}").write_bytes(g)
stream = bytes([(32 - 1) << 3 | (4 - 1)])
for g in grams:
    stream += len(g).to_bytes(2, "big") + g
(seeds / "cpi_assembler" / "tiny-stream").write_bytes(stream)
PY

# Site files: the documented example and the live test's.
python3 - "$root" "$seeds/site_toml" <<'PY'
import sys, pathlib, re
root, out = map(pathlib.Path, sys.argv[1:])
doc = []
lines = (root / "src/site.rs").read_text().splitlines()
inside = False
for l in lines:
    if not l.startswith("//!"):
        break
    t = l[3:].strip()
    if t.startswith("```toml"):
        inside = True
        continue
    if inside and t.startswith("```"):
        break
    if inside:
        doc.append(l[4:] if l.startswith("//! ") else l[3:])
(out / "documented.toml").write_text("\n".join(doc) + "\n")
text = (root / "tests/live_udp.rs").read_text()
m = re.search(r'const SITE: &str = r#"(.*?)"#;', text, re.S)
(out / "live_udp.toml").write_text(m.group(1))
PY
echo "seeds in $seeds:"; find "$seeds" -type f | sort
