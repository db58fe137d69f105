#!/usr/bin/env python3
"""The report of benches/gpu_device.sh: reads the steps it ran and writes the
table and the JSON.

    python benches/gpu_device_report.py WORK OUT

WORK holds `context` (key=value lines), `host/` (lscpu, nvidia-smi output)
and `steps/NN.meta` (key=value lines: the step's keys, command, rc, times)
with `NN.out` and `NN.err`. Writes OUT/gpu_device.json and OUT/gpu_device.txt
and prints the table. Exit status 0 when every required step succeeded (a
GPU refusal the step allows, `may_refuse`, is not a failure), 1 otherwise.
Standard library only: it runs under whatever Python the device has.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys

SOFTWARE = re.compile(r"llvmpipe|lavapipe|swiftshader|softpipe", re.I)
KIND_RANK = {"DiscreteGpu": 0, "IntegratedGpu": 1, "VirtualGpu": 2, "Cpu": 3, "Other": 4}


def read_kv(path):
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                out[k] = v
    return out


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def last_json(text):
    """The last line of `text` that parses as a JSON object, else None."""
    for line in reversed((text or "").strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def json_lines(text):
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def error_line(step):
    """One line saying why a step failed."""
    rc = step["rc"]
    if rc == "skipped":
        return "not run: the time budget was spent"
    if rc in ("124", "137"):
        return f"timed out after {step.get('timeout_s', '?')} s"
    err = step["stderr"] or ""
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("tews: error:"):
            return ln[len("tews: error:"):].strip()
    if lines:
        return lines[-1]
    out = [ln.strip() for ln in (step["stdout"] or "").splitlines() if ln.strip()]
    return out[-1] if out else f"exit status {rc}, no output"


class Report:
    def __init__(self, work):
        self.work = work
        self.ctx = read_kv(os.path.join(work, "context"))
        host = os.path.join(work, "host")
        self.host = {
            "cpu_model": self.ctx.get("cpu_model"),
            "cpu_cores": self.ctx.get("cpu_cores"),
            "uname": self.ctx.get("uname"),
            "lscpu": read_text(os.path.join(host, "lscpu")),
            "nvidia_smi": read_text(os.path.join(host, "nvidia_smi")),
            "nvidia_smi_list": read_text(os.path.join(host, "nvidia_smi_list")),
            "nvidia_smi_query_start": read_text(os.path.join(host, "nvidia_smi_query_start")),
            "nvidia_smi_query_end": read_text(os.path.join(host, "nvidia_smi_query_end")),
        }
        listed = self.host["nvidia_smi_list"] or ""
        self.nvidia_gpus = [ln.strip() for ln in listed.splitlines() if ln.startswith("GPU ")]
        self.steps = []
        sdir = os.path.join(work, "steps")
        for name in sorted(os.listdir(sdir)):
            if not name.endswith(".meta"):
                continue
            base = os.path.join(sdir, name[:-5])
            s = read_kv(base + ".meta")
            s["id"] = name[:-5]
            s["stdout"] = read_text(base + ".out")
            s["stderr"] = read_text(base + ".err")
            if "t0" in s and "t1" in s:
                s["seconds"] = round(float(s["t1"]) - float(s["t0"]), 3)
            self.steps.append(s)
        self.adapters = []
        for s in self.steps:
            if s.get("kind") == "info_json" and s["rc"] == "0":
                self.adapters = json_lines(s["stdout"])
        self.used = []  # GPU adapter names the steps ran on

    # --- labels ---------------------------------------------------------
    def is_software(self, name):
        for a in self.adapters:
            if a.get("name") == name:
                return a.get("device_type") == "Cpu" or bool(SOFTWARE.search(name))
        return bool(SOFTWARE.search(name or ""))

    def expected_adapter(self):
        """The adapter `--backend gpu` picks: the best kind (tews::process::gpu)."""
        if not self.adapters:
            return None
        return min(self.adapters, key=lambda a: KIND_RANK.get(a.get("device_type"), 9))["name"]

    def gpu_label(self, name):
        if not name:
            name = self.expected_adapter()
            if not name:
                return "no adapter"
        else:
            if name not in self.used:
                self.used.append(name)
        if self.is_software(name):
            return f"NOT GPU: {name}"
        return name

    def xp_label(self, xp):
        if xp == "numpy":
            return "numpy: host CPU"
        gpu = self.nvidia_gpus[0].split(" (UUID")[0] if self.nvidia_gpus else "CUDA device 0"
        return f"cupy: {gpu}"

    # --- steps ----------------------------------------------------------
    def judge(self, s, ok, error=None):
        """Sets status and error of step `s` from its exit and `ok`."""
        if s["rc"] == "0" and ok:
            s["status"] = "ok"
            return
        s["error"] = error or error_line(s)
        refuse = s.get("may_refuse")
        if s["rc"] not in ("0", "skipped", "124", "137") and refuse and refuse in s["error"]:
            s["status"] = "refused"
        else:
            s["status"] = "failed"

    def rows(self):
        rows = []
        info = [s for s in self.steps if s.get("kind") in ("info", "info_json")]
        for s in info:
            self.judge(s, True)
        if info:
            bad = [s for s in info if s["status"] != "ok"]
            names = "; ".join(f"{a['name']} [{a['backend']} {a['device_type']}]" for a in self.adapters)
            rows.append({
                "step": "info", "shape": "-", "type": "-", "backend": "-", "ran_on": "-",
                "status": "failed" if bad else "ok",
                "result": (f"failed: {bad[0]['error']}" if bad else
                           f"{len(self.adapters)} adapter(s): {names or 'none'}"),
            })
        hw = self.hardware_check()
        if hw:
            rows.append(hw)
        groups = {}
        for s in self.steps:
            kind = s.get("kind")
            if kind == "setup":
                self.judge(s, True)
                rows.append(self.row(s, "-", "installed" if s["status"] == "ok" else None))
            elif kind == "bench":
                rows.append(self.bench_row(s))
            elif kind == "compare":
                rows.append(self.compare_row(s))
            elif kind in ("simulate", "run"):
                groups.setdefault(s["group"], []).append(s)
        for g, ss in groups.items():
            rows.append(self.parity_row(g, ss))
        return rows

    def row(self, s, ran_on, figure, status=None):
        status = status or s["status"]
        if status == "refused":
            result = f"refused: {s['error']}"
        elif status == "failed":
            result = f"FAILED: {s['error']}"
        else:
            result = figure
        return {"step": s["name"], "shape": s.get("shape", "-"), "type": s.get("datatype", "-"),
                "backend": s.get("backend", "-"), "ran_on": ran_on, "status": status,
                "result": result, "step_ids": [s["id"]]}

    def hardware_check(self):
        """A GPU nvidia-smi lists must be what wgpu sees, not only a software adapter."""
        if not self.nvidia_gpus:
            return None
        hard = [a for a in self.adapters if not self.is_software(a["name"])
                and a.get("device_type") != "Cpu"]
        row = {"step": "hardware adapter", "shape": "-", "type": "-", "backend": "gpu",
               "ran_on": self.nvidia_gpus[0].split(" (UUID")[0]}
        if hard:
            row.update(status="ok", result=f"wgpu sees {hard[0]['name']} [{hard[0]['device_type']}]")
        else:
            seen = ", ".join(a["name"] for a in self.adapters) or "no adapter"
            row.update(status="failed", result=(
                f"FAILED: nvidia-smi lists {len(self.nvidia_gpus)} GPU(s) but wgpu sees {seen} "
                f"(Vulkan loader {self.ctx.get('vulkan_loader')}, VK_DRIVER_FILES "
                f"'{self.ctx.get('VK_DRIVER_FILES', '')}': see the header of benches/gpu_device.sh)"))
        return row

    def bench_row(self, s):
        r = last_json(s["stdout"])
        s["result"] = r
        ok = (r is not None and r.get("backend") == s["backend"]
              and r.get("datatype") == s["datatype"] and math.isfinite(r.get("us_per_cpi", math.nan)))
        self.judge(s, ok, None if ok or s["rc"] != "0" else f"unexpected output: {r}")
        ran_on = "host CPU" if s["backend"] == "cpu" else self.gpu_label(r and r.get("adapter"))
        s["ran_on"] = ran_on
        fig = None
        if s["status"] == "ok":
            fig = f"{r['us_per_cpi']:.1f} us/CPI, {r['msamples_per_s']:.1f} Msamples/s"
            if s["backend"] == "cpu":
                fig += f", {r['threads']} threads, chain/FFTs {r['chain_over_fft']:.2f}x"
            elif r.get("stages"):
                top = max(r["stages"], key=lambda st: st["us_per_cpi"])
                fig += f", slowest kernel {top['stage']} {top['us_per_cpi']:.1f} us"
            if s["backend"] == "gpu" and r.get("moved_over_floor"):
                # From the chain's recipe: the same on every adapter.
                fig += (f", traffic {r['bytes_moved_per_cpi'] / 1e6:.1f} MB/CPI"
                        f" ({r['moved_over_floor']:.2f}x floor, {r['dispatches_per_cpi']} dispatches,"
                        f" range convolution {r.get('range_convolution', '?')})")
        return self.row(s, ran_on, fig)

    def compare_row(self, s):
        r = last_json(s["stdout"])
        s["result"] = r
        xp = s.get("xp")
        ok = (r is not None and r.get("match") is True and r.get("tews_over_xp") is not None)
        err = None
        if s["rc"] == "0" and r is not None and not ok:
            err = ("tews bench --backend gpu gave no time (no ratio)" if r.get("match")
                   else f"detections {r.get('detections')} vs tews {r.get('tews_detections')}")
        if s["rc"] != "0" and r is not None and r.get("match") is False:
            err = f"detections {xp} {r.get('detections')} vs tews {r.get('tews_detections')}: MISMATCH"
        self.judge(s, ok, err)
        tb = (r or {}).get("tews_gpu") or {}
        ran_on = f"{self.xp_label(xp)}; tews: {self.gpu_label(tb.get('adapter'))}"
        s["ran_on"] = ran_on
        fig = None
        if s["status"] == "ok":
            fig = (f"{xp} {r['us_per_cpi']:.1f} us/CPI, tews gpu {tb['us_per_cpi']:.1f} us/CPI: "
                   f"tews is {r['tews_over_xp']:.2f}x the {xp} chain's speed; detections "
                   f"{r['detections']} vs tews {r['tews_detections']} OK")
        return self.row(s, ran_on, fig)

    def parity_row(self, group, ss):
        sim = next((s for s in ss if s["kind"] == "simulate"), None)
        runs = {s["backend"]: s for s in ss if s["kind"] == "run"}
        shape, dtype = ss[0].get("shape", "-"), ss[0].get("datatype", "-")
        cpis = int(self.ctx.get("cpis", "0") or 0)
        summaries = {}
        if sim:
            self.judge(sim, True)
        for be, s in runs.items():
            summ = None
            if s["rc"] == "0":
                try:
                    with open(s["summary"], encoding="utf-8") as f:
                        summ = json.load(f)
                except (OSError, ValueError) as e:
                    s["error"] = f"summary {s['summary']}: {e}"
            s["result"] = summ
            summaries[be] = summ
            ok, err = summ is not None, s.get("error")
            if ok and be == "gpu":
                if summ.get("backend") != "gpu" or summ.get("fallbacks", 0) != 0:
                    ok, err = False, (f"the GPU run fell back to the CPU (backend {summ.get('backend')}, "
                                      f"{summ.get('fallbacks')} fallbacks)")
                elif summ.get("upload") != dtype:
                    ok, err = False, f"uploaded {summ.get('upload')}, not {dtype}"
            if ok and summ.get("cpis_rejected", 0) != 0:
                ok, err = False, f"{summ['cpis_rejected']} CPIs rejected"
            self.judge(s, ok, err)
        gsum = summaries.get("gpu") or {}
        gpu_label = self.gpu_label(gsum.get("adapter"))
        ran_on = f"host CPU vs {gpu_label}"
        row = {"step": "parity cpu/gpu", "shape": shape, "type": dtype, "backend": "cpu/gpu",
               "ran_on": ran_on, "step_ids": [s["id"] for s in ss], "group": group}
        bad = [s for s in ss if s.get("status") == "failed"]
        refused = [s for s in ss if s.get("status") == "refused"]
        if bad:
            s = bad[0]
            what = " ".join(x for x in (s["name"], s.get("backend")) if x)
            row.update(status="failed", result=f"FAILED ({what}): {s['error']}")
            return row
        if refused:
            c = summaries.get("cpu") or {}
            row.update(status="refused", result=(f"refused: {refused[0]['error']} "
                                                  f"(cpu alone: {c.get('plots')} plots)"))
            return row
        cpu_plots = json_lines(read_text(runs["cpu"]["plots"]))
        gpu_plots = json_lines(read_text(runs["gpu"]["plots"]))
        pulses = int(shape.split("x")[0])
        cmp = compare_plots(cpu_plots, gpu_plots, pulses)
        c, g = summaries["cpu"], summaries["gpu"]
        ncpi = c.get("cpis", cpis) or 1
        det_tol = ncpi + c["detections"] // 2000
        det_diff = abs(c["detections"] - g["detections"])
        unmatched = cmp["cpu_only"] + cmp["gpu_only"]
        cmp.update(cpis=ncpi, plot_tolerance=ncpi, detections_cpu=c["detections"],
                   detections_gpu=g["detections"], detection_tolerance=det_tol,
                   gpu_upload=g.get("upload"), gpu_fallbacks=g.get("fallbacks"),
                   seconds_cpu=c.get("seconds"), seconds_gpu=g.get("seconds"))
        ok = unmatched <= ncpi and det_diff <= det_tol and len(cpu_plots) > 0
        verdict = ("match" if unmatched == 0 and det_diff == 0 else
                   "within tolerance" if ok else "MISMATCH")
        cmp["verdict"] = verdict
        row["parity"] = cmp
        text = (f"plots cpu {len(cpu_plots)}, gpu {len(gpu_plots)}, {cmp['matched']} matched, "
                f"{unmatched} unmatched (tolerance {ncpi}); detections {c['detections']} vs "
                f"{g['detections']} (tolerance {det_tol}): {verdict}; {ncpi} CPIs, gpu upload "
                f"{g.get('upload')}; run wall cpu {c.get('seconds', 0):.3f} s, gpu {g.get('seconds', 0):.3f} s")
        if not cpu_plots:
            text += "; no plots at all: the scenario's targets were not found"
        row.update(status="ok" if ok else "failed", result=text if ok else f"FAILED: {text}")
        return row


def compare_plots(cpu, gpu, pulses):
    """Plots paired per CPI within 0.05 range and Doppler bins (Doppler
    wrapping) and 0.1 dB of SNR, as tests/gpu_parity.rs pairs them."""
    def by_cpi(plots):
        out = {}
        for p in plots:
            out.setdefault(p["cpi"], []).append(p)
        return out

    a, b = by_cpi(cpu), by_cpi(gpu)
    matched = cpu_only = 0
    gpu_only = 0
    for k in sorted(set(a) | set(b)):
        left, right = a.get(k, []), list(b.get(k, []))
        for p in left:
            hit = None
            for j, q in enumerate(right):
                dd = abs(p["doppler_bin"] - q["doppler_bin"])
                dd = min(dd, abs(pulses - dd))
                if (abs(p["range_bin"] - q["range_bin"]) <= 0.05 and dd <= 0.05
                        and abs(p["snr_db"] - q["snr_db"]) <= 0.1):
                    hit = j
                    break
            if hit is None:
                cpu_only += 1
            else:
                matched += 1
                right.pop(hit)
        gpu_only += len(right)
    return {"plots_cpu": len(cpu), "plots_gpu": len(gpu), "matched": matched,
            "cpu_only": cpu_only, "gpu_only": gpu_only}


def table(rep, rows):
    ctx = rep.ctx
    mode = "quick (dry run)" if ctx.get("quick") == "1" else "full"
    lines = [
        f"== tews GPU device check, {ctx.get('started_utc')}, {ctx.get('tews_version')} "
        f"(commit {ctx.get('git_commit')}), {mode}, {ctx.get('seconds')} s ==",
        f"host CPU: {ctx.get('cpu_model')} ({ctx.get('cpu_cores')} cores), {ctx.get('uname')}",
        "nvidia-smi: " + ("; ".join(rep.nvidia_gpus) if rep.nvidia_gpus else
                          "not present" if rep.host["nvidia_smi"] is None else "lists no GPU"),
        f"Vulkan loader: {ctx.get('vulkan_loader')}; VK_DRIVER_FILES="
        f"{ctx.get('VK_DRIVER_FILES') or '(unset)'}"
        + (" (set by the script)" if ctx.get("icd_set_by_script") else ""),
    ]
    soft = [n for n in rep.used if rep.is_software(n)]
    if not rep.used and rep.expected_adapter() and rep.is_software(rep.expected_adapter()):
        soft = [rep.expected_adapter()]
    for n in soft:
        lines.append(f"*** NOT GPU figures (software adapter {n}): the rows marked 'NOT GPU' ran on "
                     f"the host CPU through it ***")
    hard = [n for n in rep.used if not rep.is_software(n)]
    if hard:
        lines.append("GPU figures on: " + ", ".join(hard))
    cols = [("step", "step"), ("shape", "shape"), ("type", "type"), ("backend", "backend"),
            ("ran on", "ran_on"), ("result", "result")]
    widths = [max(len(h), *(len(str(r[k])) for r in rows)) for h, k in cols[:-1]]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    lines.append(fmt.format(*(h for h, _ in cols)))
    for r in rows:
        lines.append(fmt.format(*(str(r[k]) for _, k in cols)))
    return lines


def main(argv):
    if len(argv) != 3:
        print("usage: gpu_device_report.py WORK OUT", file=sys.stderr)
        return 2
    work, out = argv[1], argv[2]
    rep = Report(work)
    rows = rep.rows()
    failures = [f"{r['step']} {r['shape']} {r['type']} {r['backend']}: {r['result']}"
                for r in rows if r["status"] == "failed"]
    refused = [f"{r['step']} {r['shape']} {r['type']} {r['backend']}: {r['result']}"
               for r in rows if r["status"] == "refused"]
    status = 1 if failures else 0
    lines = table(rep, rows)
    lines.append(f"result: {'OK' if status == 0 else 'FAILED'}: {len(failures)} failed, "
                 f"{len(refused)} refused as allowed; exit {status}")
    lines.append(f"JSON: {os.path.join(out, 'gpu_device.json')}  log: {os.path.join(out, 'gpu_device.log')}")
    soft = any(rep.is_software(n) for n in rep.used)
    doc = {
        "script": "benches/gpu_device.sh",
        "context": rep.ctx,
        "host": rep.host,
        "adapters": rep.adapters,
        "gpu_adapters_used": rep.used,
        "software_adapter": soft,
        "label": ("NOT GPU figures (software adapter " + ", ".join(n for n in rep.used if rep.is_software(n)) + ")"
                  if soft else None),
        "rows": rows,
        "steps": [{k: v for k, v in s.items()} for s in rep.steps],
        "failures": failures,
        "refused": refused,
        "exit_status": status,
    }
    with open(os.path.join(out, "gpu_device.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "gpu_device.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.write(text)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
