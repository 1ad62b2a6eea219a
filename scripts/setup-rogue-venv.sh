#!/usr/bin/env bash
# Creates .venv-rogue with the real Rogue evaluator server (PyPI rogue-ai, version pinned in
# tests/fixtures/rogue/requirements.txt) for the ignored test in tests/rogue_real.rs, which checks our
# fake Rogue server and our client against the real one. Idempotent: a venv whose requirements
# file has not changed since the last successful install is left alone. Set PYTHON to choose the
# interpreter (default python3, 3.10 or newer). The install is large (about 200 packages, 1.2 GB).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
venv="$root/.venv-rogue"
requirements="$root/tests/fixtures/rogue/requirements.txt"
stamp="$venv/.requirements.sha256"

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
    echo "setup-rogue-venv: $python is missing or older than Python 3.10" >&2
    exit 1
fi

want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/rogue-ai" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup-rogue-venv: up to date ($venv)"
    exit 0
fi
echo "setup-rogue-venv: installing rogue-ai into $venv (a few minutes)"
rm -f "$stamp"
if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$requirements"
"$venv/bin/python" -c 'import rogue, rogue_sdk'
echo "$want" > "$stamp"
echo "setup-rogue-venv: ready: $venv/bin/rogue-ai server"
