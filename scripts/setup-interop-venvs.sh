#!/usr/bin/env bash
# Creates the Python virtual environments the A2A interop tests start their agents from:
#   .venv-interop/v1   a2a-sdk 1.x   (tests/interop/requirements-v1.txt)
#   .venv-interop/v02  a2a-sdk 0.2.10 (tests/interop/requirements-v02.txt)
# Idempotent: a venv whose requirements file has not changed since the last successful install
# is left alone. Set PYTHON to choose the interpreter (default python3, 3.10 or newer).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
venvs="$root/.venv-interop"

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
    echo "setup-interop-venvs: $python is missing or older than Python 3.10" >&2
    exit 1
fi

setup() {
    local name="$1" requirements="$root/tests/interop/requirements-$1.txt"
    local venv="$venvs/$name" stamp="$venvs/$name/.requirements.sha256"
    local want
    want="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
        && "$venv/bin/python" -c 'import a2a, uvicorn' 2>/dev/null; then
        echo "setup-interop-venvs: $name up to date ($venv)"
        return
    fi
    echo "setup-interop-venvs: installing $name into $venv"
    rm -f "$stamp"
    if [[ ! -x "$venv/bin/python" ]]; then
        "$python" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
        -r "$requirements"
    "$venv/bin/python" -c 'import a2a, uvicorn'
    echo "$want" > "$stamp"
}

mkdir -p "$venvs"
setup v1
setup v02
echo "setup-interop-venvs: ready: $venvs/v1/bin/python tests/interop/agent_v1.py, $venvs/v02/bin/python tests/interop/agent_v02.py"
