#!/usr/bin/env bash
# benches/gpu_device.sh: the GPU device check, in one command. Records the
# host (CPU model, nvidia-smi) and the adapters wgpu sees (`tews info`), then
# times and checks on one CPI shape (128 x 4096; --quick: 32 x 1024):
#   - `tews bench --json`, CPU and GPU, on cf32 and on ci16 input
#     (`--datatype`), the GPU also with `--four-step` (the range
#     convolution's other schedule) and `--turned-store` (its output stored
#     corner-turned), and on a 48-pulse shape (48 x 4096;
#     --quick 48 x 1024); one backend per call, since `--backend both` prints nothing, not even
#     the CPU's figures, when its GPU half fails;
#   - benches/compare_cupy.py (--xp cupy, or numpy for a dry run): the same
#     chain in CuPy/NumPy, its detection check against tews and its speed
#     ratio to `tews bench --backend gpu`;
#   - parity: `tews run --backend cpu` and `--backend gpu` on the same
#     simulated recording (ci16 and cf32, and the 48-pulse shape), plots
#     and detection counts compared.
# It prints one table (last) and writes under $OUT (a mktemp folder when
# $OUT is unset; the path is printed) three files: gpu_device.json (every
# step: command, status, one-line error, parsed results), gpu_device.log
# (every step's full stdout and stderr) and gpu_device.txt (the table).
# Scratch files (recordings, plots) go to a temporary folder, removed at the
# end, so $OUT stays within the device tool's 8 files.
#
# Every figure is labelled with what it ran on: "host CPU" (the model is in
# the header), the wgpu adapter's name, or for CuPy the CUDA device.
# Figures from a software adapter (lavapipe/llvmpipe: `tews info` type Cpu)
# are marked "NOT GPU figures (software adapter NAME)": they are never GPU
# figures.
#
# Options:
#   --xp cupy|numpy       array module for compare_cupy.py (default cupy)
#   --quick               small shapes, few iterations (the CI dry run)
#   --tews PATH           default target/release/tews if present, else tews on PATH
#   --python PATH         default $TEWS_PYTHON, else python3 (runs compare_cupy.py
#                         and the report; stdlib only for the report)
#   --wheels DIR          if the Python cannot import sigmf, pip-install DIR/*.whl
#                         (--no-index) into a scratch folder on PYTHONPATH
#                         (default: .whl in the repository root, when it exists)
#   --vulkan-lib-dir DIR  put DIR (holding a carried libvulkan.so.1) first on
#                         LD_LIBRARY_PATH (also $TEWS_VULKAN_LIB_DIR)
#   --unpack-gl DIR       device machine only (it writes to /): when no
#                         libvulkan.so.1 is found, `dpkg -x` each DIR/*.deb into /
#                         and run ldconfig, as /work/.library/device/README.md
#                         prescribes for the loaders
#   --budget-s N          stop starting steps after N seconds (default 450; the
#                         steps not run are failures)
# Vulkan driver: when neither VK_DRIVER_FILES nor VK_ICD_FILENAMES is set and
# the NVIDIA ICD lies only under /usr/local/nvidia (where the device machine
# mounts the driver, out of the loader's search path), both are set to it.
#
# Exit status: 0 when every required step succeeded; 1 when any failed; 2
# when the script could not start (bad option, no tews, no Python). Required
# is every step, the 48-pulse shape's included (the GPU once refused
# pulse counts that are not a power of two; it takes any now). Also a
# failure: nvidia-smi lists a GPU but wgpu sees no
# hardware adapter (the Vulkan loader or ICD was not found), a step that
# timed out (180 s each; --quick 120 s), a step not run for the budget, a
# parity or detection-count mismatch beyond the tolerance (per CPI one
# unmatched plot, and 1 + detections/2000 detections, as tests/gpu_parity.rs
# allows for near-threshold cells), a GPU run that fell back to the CPU.
#
# On the device machine (the `run` tool: bash in the repository root, $OUT
# set, x86-64, Python 3.12 with CuPy but no sigmf and no Vulkan loader), once
# here, in the repository root (both folders are git-ignored):
#   cargo build --release
#   mkdir -p .gl /tmp/amd64/partial; o='-oAPT::Architecture=amd64
#     -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#   apt-get $o update; (cd .gl && apt-get $o download libvulkan1 libegl1
#     libglvnd0 libopengl0 libgl1 libglx0 libgles2)
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12
#     --implementation cp --platform manylinux_2_17_x86_64 -d .whl sigmf==1.14.0
#     defusedxml==0.7.1 jsonschema==4.26.0 jsonschema-specifications==2025.9.1
#     referencing==0.37.0 rpds-py==2026.9.1
# then one `run` call, carry [".gl", ".whl", "target/release/tews"],
# timeout_s 540:
#   bash benches/gpu_device.sh --unpack-gl .gl --tews target/release/tews 2>&1
# (the whole output comes back; the table is last). Dry run, anywhere with
# lavapipe and Python with numpy, scipy and sigmf:
#   benches/gpu_device.sh --quick --xp numpy --python target/test-venv/bin/python
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=gpu_device.sh

die() {
    echo "$NAME: error: $*" >&2
    exit 2
}

XP=cupy
QUICK=0
TEWS=""
PY=${TEWS_PYTHON:-python3}
WHEELS=""
VKLIB=${TEWS_VULKAN_LIB_DIR:-}
UNPACK_GL=""
BUDGET=450
while [[ $# -gt 0 ]]; do
    case $1 in
    --xp)
        [[ $# -ge 2 ]] || die "--xp needs cupy or numpy"
        XP=$2
        shift 2
        ;;
    --quick)
        QUICK=1
        shift
        ;;
    --tews)
        [[ $# -ge 2 ]] || die "--tews needs a path"
        TEWS=$2
        shift 2
        ;;
    --python)
        [[ $# -ge 2 ]] || die "--python needs a path"
        PY=$2
        shift 2
        ;;
    --wheels)
        [[ $# -ge 2 ]] || die "--wheels needs a folder"
        WHEELS=$2
        shift 2
        ;;
    --vulkan-lib-dir)
        [[ $# -ge 2 ]] || die "--vulkan-lib-dir needs a folder"
        VKLIB=$2
        shift 2
        ;;
    --unpack-gl)
        [[ $# -ge 2 ]] || die "--unpack-gl needs a folder of .deb files"
        UNPACK_GL=$2
        shift 2
        ;;
    --budget-s)
        [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "--budget-s needs a number of seconds"
        BUDGET=$2
        shift 2
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done
[[ $XP == cupy || $XP == numpy ]] || die "--xp $XP: cupy or numpy"
command -v timeout >/dev/null || die "no timeout command (coreutils): each step runs under one"

if [[ -z $TEWS ]]; then
    if [[ -x $ROOT/target/release/tews ]]; then
        TEWS=$ROOT/target/release/tews
    else
        TEWS=$(command -v tews || true)
        [[ -n $TEWS ]] || die "no tews: neither $ROOT/target/release/tews nor tews on PATH (cargo build --release, or --tews PATH)"
    fi
fi
[[ -x $TEWS ]] || die "--tews $TEWS: not an executable file"
[[ $TEWS == /* ]] || TEWS=$PWD/$TEWS
PYEXE=$(command -v "$PY" || true)
[[ -n $PYEXE ]] || die "--python $PY: not found"
PY=$PYEXE
"$PY" -c 'import json, sys' 2>/dev/null || die "--python $PY does not run"

if [[ -z ${OUT:-} ]]; then
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/tews-gpu-device.XXXXXX")
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
echo "$NAME: results under $OUT" >&2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tews-gpu-device-work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/steps" "$WORK/host"
LOG=$OUT/gpu_device.log
: >"$LOG"
START=$EPOCHSECONDS

if [[ $QUICK == 1 ]]; then
    P=32 N=1024 P2=48 ITER=5 CPIS=3 CUPY_CPIS=2 CUPY_ITER=5 STEP_TIMEOUT=120
else
    P=128 N=4096 P2=48 ITER=50 CPIS=8 CUPY_CPIS=8 CUPY_ITER=50 STEP_TIMEOUT=180
fi
# Nothing may be refused: the GPU takes every pulse count (mixed-radix and
# Bluestein Doppler FFT). A step may still declare a refusal it allows
# (may_refuse="TEXT"); none does.
REFUSE2=""

# Context for the report: key=value lines.
CTX=$WORK/context
ctx() { printf '%s=%s\n' "$1" "$2" >>"$CTX"; }
: >"$CTX"
ctx quick "$QUICK"
ctx xp "$XP"
ctx tews "$TEWS"
ctx python "$PY"
ctx out "$OUT"
ctx budget_s "$BUDGET"
ctx step_timeout_s "$STEP_TIMEOUT"
ctx started_utc "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ctx tews_version "$("$TEWS" --version 2>&1 || true)"
ctx git_commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
ctx shape "${P}x${N}"
ctx shape2 "${P2}x${N}"
ctx cpis "$CPIS"

# --- host ---------------------------------------------------------------
{ lscpu 2>/dev/null || true; } >"$WORK/host/lscpu"
cpu_model=$(sed -n 's/^Model name:[[:space:]]*//p' "$WORK/host/lscpu" | head -n 1)
[[ -n $cpu_model ]] || cpu_model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
ctx cpu_model "${cpu_model:-unknown}"
ctx cpu_cores "$(nproc 2>/dev/null || echo unknown)"
ctx uname "$(uname -srm)"
NVSMI_QUERY=name,driver_version,memory.total,memory.used,utilization.gpu,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw,pstate
if command -v nvidia-smi >/dev/null 2>&1; then
    { nvidia-smi 2>&1 || true; } >"$WORK/host/nvidia_smi"
    { nvidia-smi -L 2>&1 || true; } >"$WORK/host/nvidia_smi_list"
    { nvidia-smi --query-gpu=$NVSMI_QUERY --format=csv 2>&1 || true; } >"$WORK/host/nvidia_smi_query_start"
fi

# --- Vulkan loader and driver ---------------------------------------------
find_loader() {
    local d
    local IFS=:
    for d in ${LD_LIBRARY_PATH:-}; do
        if [[ -n $d && -e $d/libvulkan.so.1 ]]; then
            echo "$d/libvulkan.so.1"
            return 0
        fi
    done
    { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true; } |
        awk '/libvulkan\.so\.1 /{print $NF}' | head -n 1
}
if [[ -n $VKLIB ]]; then
    [[ -d $VKLIB ]] || die "--vulkan-lib-dir $VKLIB: not a folder"
    VKLIB=$(cd "$VKLIB" && pwd)
    [[ -e $VKLIB/libvulkan.so.1 ]] || die "--vulkan-lib-dir $VKLIB: no libvulkan.so.1 in it"
    export LD_LIBRARY_PATH=$VKLIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
loader=$(find_loader || true)
if [[ -z $loader && -n $UNPACK_GL ]]; then
    debs=("$UNPACK_GL"/*.deb)
    [[ -e ${debs[0]} ]] || die "--unpack-gl $UNPACK_GL: no .deb files in it"
    for f in "${debs[@]}"; do
        dpkg -x "$f" / || die "--unpack-gl: dpkg -x $f / failed"
    done
    ldconfig || die "--unpack-gl: ldconfig failed"
    ctx gl_unpacked "$(printf '%s ' "${debs[@]##*/}")"
    loader=$(find_loader || true)
fi
ctx vulkan_loader "${loader:-none}"
if [[ -z ${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-} ]]; then
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/vulkan/icd.d/nvidia_icd.json; do
        if [[ -f $icd ]] && ! compgen -G '/usr/share/vulkan/icd.d/nvidia_icd*.json' >/dev/null &&
            ! compgen -G '/etc/vulkan/icd.d/nvidia_icd*.json' >/dev/null; then
            export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
            ctx icd_set_by_script "$icd"
            break
        fi
    done
fi
ctx VK_DRIVER_FILES "${VK_DRIVER_FILES:-}"
ctx VK_ICD_FILENAMES "${VK_ICD_FILENAMES:-}"
ctx LD_LIBRARY_PATH "${LD_LIBRARY_PATH:-}"

# --- steps ------------------------------------------------------------------
# step KEY=VALUE... -- COMMAND...: runs COMMAND with a timeout, its stdout
# and stderr to files, its keys, exit status and times to a .meta file the
# report reads. A failing command does not stop the script.
nstep=0
step() {
    nstep=$((nstep + 1))
    local id
    id=$(printf '%02d' "$nstep")
    local meta=$WORK/steps/$id.meta
    : >"$meta"
    while [[ $1 != -- ]]; do
        printf '%s\n' "$1" >>"$meta"
        shift
    done
    shift
    printf 'command=%s\n' "${*}" >>"$meta"
    local elapsed=$((EPOCHSECONDS - START))
    if ((elapsed >= BUDGET)); then
        printf 'rc=skipped\n' >>"$meta"
        echo "[$id] not run: the ${BUDGET} s budget is spent: $*" | tee -a "$LOG" >&2
        return 0
    fi
    local limit=$((BUDGET - elapsed))
    ((limit < STEP_TIMEOUT)) || limit=$STEP_TIMEOUT
    local rc=0 t0=$EPOCHREALTIME
    timeout --kill-after=10 "$limit" "$@" >"$WORK/steps/$id.out" 2>"$WORK/steps/$id.err" || rc=$?
    printf 'rc=%s\nt0=%s\nt1=%s\ntimeout_s=%s\n' "$rc" "$t0" "$EPOCHREALTIME" "$limit" >>"$meta"
    {
        echo "===== [$id] rc=$rc: $*"
        echo "----- stdout"
        cat "$WORK/steps/$id.out"
        echo "----- stderr"
        cat "$WORK/steps/$id.err"
    } >>"$LOG"
    echo "[$id] rc=$rc after $((EPOCHSECONDS - START)) s: $*" >&2
}

# Python dependencies of compare_cupy.py (sigmf) from carried wheels.
[[ -n $WHEELS || ! -d $ROOT/.whl ]] || WHEELS=$ROOT/.whl
if [[ -n $WHEELS ]] && ! "$PY" -c 'import sigmf' 2>/dev/null; then
    compgen -G "$WHEELS/*.whl" >/dev/null || die "--wheels $WHEELS: no .whl files in it"
    step name=wheels kind=setup required=1 -- \
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$WORK/site" "$WHEELS"/*.whl
    export PYTHONPATH=$WORK/site${PYTHONPATH:+:$PYTHONPATH}
fi

step name=info kind=info required=1 -- "$TEWS" info
step name=info_json kind=info_json required=1 -- "$TEWS" info --json

for dt in cf32 ci16; do
    for be in cpu gpu; do
        step name=bench kind=bench required=1 backend=$be datatype=$dt shape="${P}x${N}" -- \
            "$TEWS" -q bench --backend "$be" --datatype "$dt" --json \
            --pulses "$P" --samples "$N" --iterations "$ITER"
    done
done
# The range convolution's other schedule (four-step, three dispatches) on
# the same shape: which of the two is faster on this device (the register
# schedule is the default where it fits; docs/gpu.md).
step name=bench kind=bench required=1 backend=gpu datatype=cf32 shape="${P}x${N}-4step" -- \
    "$TEWS" -q bench --backend gpu --datatype cf32 --json --four-step \
    --pulses "$P" --samples "$N" --iterations "$ITER"
# ... and the register schedule storing the CPI corner-turned (scattered
# stores, no turn dispatch): whether that pays here.
step name=bench kind=bench required=1 backend=gpu datatype=cf32 shape="${P}x${N}-turned" -- \
    "$TEWS" -q bench --backend gpu --datatype cf32 --json --turned-store \
    --pulses "$P" --samples "$N" --iterations "$ITER"
step name=bench kind=bench required=1 backend=cpu datatype=cf32 shape="${P2}x${N}" -- \
    "$TEWS" -q bench --backend cpu --datatype cf32 --json --pulses "$P2" --samples "$N" --iterations "$ITER"
step name=bench kind=bench required=1 may_refuse="$REFUSE2" backend=gpu datatype=cf32 shape="${P2}x${N}" -- \
    "$TEWS" -q bench --backend gpu --datatype cf32 --json --pulses "$P2" --samples "$N" --iterations "$ITER"

mkdir -p "$WORK/cupy"
step name=compare_cupy kind=compare required=1 backend=gpu datatype=cf32 shape="${P}x${N}" xp="$XP" -- \
    "$PY" "$ROOT/benches/compare_cupy.py" --xp "$XP" --tews "$TEWS" --pulses "$P" \
    --samples-per-pulse "$N" --cpis "$CUPY_CPIS" --iterations "$CUPY_ITER" --workdir "$WORK/cupy"

# A scenario of three targets (a quarter, half and three quarters into the
# receive window) for the parity runs: FILE DATATYPE PULSES SAMPLES CPIS.
scenario() {
    awk -v dt="$2" -v p="$3" -v n="$4" -v cpis="$5" 'BEGIN {
        fs = 10e6; delay = 60e-6; c = 3e8
        pri = 2 * n / fs + 100e-6; if (pri < 250e-6) pri = 250e-6
        printf "num_cpis = %d\nstart_time = \"2025-06-01T12:00:00Z\"\nnoise_power = 1.0\n", cpis
        printf "datatype = \"%s_le\"\n[radar]\nsample_rate_hz = 10e6\ncarrier_hz = 1.3e9\n", dt
        printf "pulses_per_cpi = %d\nsamples_per_pulse = %d\npri_s = %.9g\n", p, n, pri
        printf "window_delay_s = 60e-6\nwaveform = { type = \"lfm\", bandwidth_hz = 8e6, pulse_width_s = 10e-6 }\n"
        split("0.25 0.5 0.75", at, " "); split("-180 280 40", v, " "); split("0 -3 3", snr, " ")
        for (i = 1; i <= 3; i++)
            printf "[[targets]]\nrange_m = %.3f\nrange_rate_mps = %s\nsnr_db = %s\n", c * (delay + at[i] * n / fs) / 2, v[i], snr[i]
    }' >"$1"
}
parity() { # DATATYPE PULSES SAMPLES MAY_REFUSE
    local g=parity_$1_$2x$3 d=$WORK/parity_$1_$2x$3
    mkdir -p "$d"
    scenario "$d/scenario.toml" "$1" "$2" "$3" "$CPIS"
    step name=simulate kind=simulate required=1 group="$g" datatype="$1" shape="$2x$3" -- \
        "$TEWS" -q simulate --scenario "$d/scenario.toml" --out "$d/rec"
    for be in cpu gpu; do
        local refuse=""
        [[ $be == cpu ]] || refuse=$4
        step name=run kind=run required=1 may_refuse="$refuse" group="$g" backend=$be datatype="$1" shape="$2x$3" \
            plots="$d/$be.jsonl" summary="$d/$be.json" -- \
            "$TEWS" -q run --input "$d/rec.sigmf-meta" --backend "$be" \
            --output "jsonl:$d/$be.jsonl" --summary "$d/$be.json"
    done
}
parity ci16 "$P" "$N" ""
parity cf32 "$P" "$N" ""
parity cf32 "$P2" "$N" "$REFUSE2"

if [[ -s $WORK/host/nvidia_smi_query_start ]]; then
    { nvidia-smi --query-gpu=$NVSMI_QUERY --format=csv 2>&1 || true; } >"$WORK/host/nvidia_smi_query_end"
fi
ctx seconds "$((EPOCHSECONDS - START))"

rc=0
"$PY" "$ROOT/benches/gpu_device_report.py" "$WORK" "$OUT" || rc=$?
if ((rc > 1)); then
    echo "$NAME: error: the report ($ROOT/benches/gpu_device_report.py) failed (exit $rc); the steps' output is in $LOG" >&2
    exit 2
fi
exit "$rc"
