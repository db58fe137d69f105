#!/usr/bin/env python3
"""Load benchmark of the NATS sharing output (issue 5 part 6). One command:

    python3 benches/nats_load.py [--seconds 25] [--cpi-rate 110] [--replicas 1]
                                 [--core] [--partners]

Starts a 3-node nats-server cluster with JetStream on loopback (free ports,
127.0.0.1 only), three tews processes (sensors of nations alpha, bravo,
charlie, each connected to a different node) and one live subscriber on
node 1 for `tews.plots.>`; prints a table, and stops everything it started.

What the plots are: real processing (CPU chain, OS-CFAR, plot extraction) of
a simulated recording (benches/nats_load_scenario.toml: 16 x 256 CPIs, 40
targets on a range/speed grid, about 32 plots per CPI), replayed with
`tews run --repeat` and paced with `--cpi-rate` like a live sensor, so the
three processes offer about 3 x 32 x cpi-rate plots per second. Each plot is
one JSON message and one CAT048 message (plus one release per partner with
--partners), published into each sensor's JetStream stream with acks (or
core NATS with --core).

Reported: plots made, acknowledged (sent) and dropped per sensor (tews's
summary), stream contents (the servers' /jsz), plots the live subscriber got,
and end-to-end latency: from the CPI's last sample reaching tews
(Tews-Received-Unix-Us header) to arrival at the subscriber, same clock.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEWS = os.path.join(ROOT, "target", "release", "tews")
SUB = os.path.join(ROOT, "target", "release", "examples", "nats_bench_sub")
NATIONS = [("alpha", "north-1", "radar-a"), ("bravo", "east-2", "radar-b"),
           ("charlie", "south-3", "radar-c")]


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def http_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument("--cpi-rate", type=float, default=110.0, help="CPIs/s per sensor")
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--core", action="store_true", help="core NATS instead of JetStream")
    ap.add_argument("--partners", action="store_true", help="one release partner per site")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not a.no_build:
        subprocess.run(["cargo", "build", "-q", "--release", "--bin", "tews",
                        "--example", "nats_bench_sub"], cwd=ROOT, check=True)
    procs = []
    tmp = tempfile.TemporaryDirectory(prefix="tews-nats-load-")
    d = tmp.name
    try:
        rec = os.path.join(d, "load")
        subprocess.run([TEWS, "-q", "simulate", "--scenario",
                        os.path.join(ROOT, "benches", "nats_load_scenario.toml"),
                        "--out", rec], check=True)
        cpis_per_pass = 100
        passes = max(1, round(a.seconds * a.cpi_rate / cpis_per_pass))
        ports = free_ports(9)
        client, route, mon = ports[0:3], ports[3:6], ports[6:9]
        for i in range(3):
            routes = ", ".join(f"nats-route://127.0.0.1:{route[j]}" for j in range(3) if j != i)
            conf = os.path.join(d, f"n{i}.conf")
            with open(conf, "w") as f:
                f.write(f"""server_name: n{i}
host: 127.0.0.1
port: {client[i]}
http: 127.0.0.1:{mon[i]}
jetstream {{ store_dir: "{d}/store{i}", max_file_store: 8GB }}
cluster {{ name: tews-bench, host: 127.0.0.1, port: {route[i]}, routes: [{routes}] }}
""")
            log = open(os.path.join(d, f"n{i}.log"), "w")
            procs.append(subprocess.Popen(["nats-server", "-c", conf], stdout=log, stderr=log))
        # JetStream in a cluster is ready once its meta group has a leader.
        t0 = time.time()
        while True:
            try:
                if all(http_json(m, "/healthz").get("status") == "ok" for m in mon):
                    break
            except OSError:
                pass
            if time.time() - t0 > 60:
                sys.exit("the NATS cluster did not become healthy in 60 s")
            time.sleep(0.2)
        sub = subprocess.Popen([SUB, f"127.0.0.1:{client[0]}", "5"], stdout=subprocess.PIPE,
                               text=True)
        procs.append(sub)
        assert json.loads(sub.stdout.readline())["ready"]
        runs = []
        for i, (nation, site, sensor) in enumerate(NATIONS):
            cfg = os.path.join(d, f"{nation}.toml")
            with open(cfg, "w") as f:
                f.write(f"""[site]
name = "{site}"
nation = "{nation}"
sensor = "{sensor}"
sac = {10 * (i + 1)}
sic = {i + 1}
[sharing]
jetstream = {"false" if a.core else "true"}
stream_replicas = {a.replicas}
""")
                if a.partners:
                    f.write(f'[[partner]]\nname = "{NATIONS[(i + 1) % 3][0]}"\nmin_snr_db = 20.0\n')
            summary = os.path.join(d, f"{nation}.summary.json")
            p = subprocess.Popen([TEWS, "-q", "run", "--input", rec, "--site", cfg,
                                  "--output", f"nats://127.0.0.1:{client[i]}",
                                  "--summary", summary, "--repeat", str(passes),
                                  "--cpi-rate", str(a.cpi_rate)])
            procs.append(p)
            runs.append((nation, p, summary))
        start = time.time()
        for _, p, _ in runs:
            if p.wait() != 0:
                sys.exit("a tews run failed")
        wall = time.time() - start
        result = json.loads(sub.communicate(timeout=120)[0])
        streams = {}
        if not a.core:
            for m in mon:
                jsz = http_json(m, "/jsz?accounts=true&streams=true")
                for acc in jsz.get("account_details") or []:
                    for s in acc.get("stream_detail") or []:
                        streams[s["name"]] = max(streams.get(s["name"], 0),
                                                 s["state"]["messages"])
        print(f"tews NATS load: 3 sensors x {a.cpi_rate:g} CPIs/s for {wall:.1f} s into a "
              f"3-node cluster ({'core NATS' if a.core else f'JetStream R{a.replicas}'}"
              f"{', 1 partner each' if a.partners else ''}); machine: {os.cpu_count()} CPUs, "
              f"load avg {os.getloadavg()[0]:.1f}")
        print(f"{'sensor':<8} {'plots':>8} {'sent':>8} {'dropped':>8} {'delivered':>9} "
              f"{'lost':>6} {'stream msgs':>11} {'out p99 us':>10}")
        tot = {"plots": 0, "sent": 0, "dropped": 0, "delivered": 0}
        for nation, site, sensor in NATIONS:
            s = json.load(open(os.path.join(d, f"{nation}.summary.json")))
            out = s["outputs"][0]
            delivered = result["per_subject"].get(f"tews.plots.{nation}.{site}.{sensor}", 0)
            stream = streams.get(f"TEWS-{nation}-{site}-{sensor}", "-")
            print(f"{nation:<8} {s['plots']:>8} {out['sent']:>8} {out['dropped']:>8} "
                  f"{delivered:>9} {s['plots'] - delivered:>6} {stream:>11} "
                  f"{out['latency_us_p99']:>10}")
            tot["plots"] += s["plots"]
            tot["sent"] += out["sent"]
            tot["dropped"] += out["dropped"]
            tot["delivered"] += delivered
        print(f"{'total':<8} {tot['plots']:>8} {tot['sent']:>8} {tot['dropped']:>8} "
              f"{tot['delivered']:>9} {tot['plots'] - tot['delivered']:>6}")
        print(f"offered {tot['plots'] / wall:,.0f} plots/s, delivered {tot['delivered'] / wall:,.0f}"
              f" plots/s; end-to-end latency (last sample at tews -> subscriber) p50 "
              f"{result['latency_us_p50'] / 1000:.2f} ms, p99 {result['latency_us_p99'] / 1000:.2f}"
              f" ms, max {result['latency_us_max'] / 1000:.2f} ms")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        tmp.cleanup()


if __name__ == "__main__":
    main()
