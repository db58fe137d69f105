#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's.
#
# Installs what the tests need (Python 3 with venv from Debian if missing; a
# virtual environment with numpy, scipy and sigmf as independent test peers),
# then runs the Rust tests in release mode and the NumPy chain's self-test.
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

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3 python3-venv
fi

venv="${TEWS_VENV:-target/test-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r tools/requirements-test.txt
export TEWS_PYTHON="$PWD/$venv/bin/python"

cargo test --release --all-targets
"$TEWS_PYTHON" tests/py/test_numpy_chain.py
