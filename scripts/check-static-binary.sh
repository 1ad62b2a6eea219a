#!/usr/bin/env bash
# Checks a Linux release binary: statically linked (no interpreter, no shared libraries), and
# it runs `--version` and `demo` with an empty environment from an empty directory.
# Usage: bash scripts/check-static-binary.sh [BINARY]
# Without BINARY it builds target/x86_64-unknown-linux-musl/debug/rogue-runner first (needs
# `rustup target add x86_64-unknown-linux-musl` and musl-gcc: Debian's musl-tools), which
# takes minutes: .ci/run does not call it; the release workflow does, on the release build.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-}"
if [[ -z "$bin" ]]; then
    cargo build --locked --target x86_64-unknown-linux-musl --bin rogue-runner
    bin="target/x86_64-unknown-linux-musl/debug/rogue-runner"
fi
bin="$(realpath "$bin")"

# A static binary has no PT_INTERP program header and no NEEDED entries.
if readelf --program-headers --dynamic "$bin" | grep -E 'INTERP|\(NEEDED\)'; then
    echo "error: $bin is dynamically linked (above); build for a *-linux-musl target" >&2
    exit 1
fi

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
env -i "$bin" --version
# demo exits 0 when it showed every outcome (its own intended failures included).
env -i "$bin" demo --output-dir "$dir/reports" --progress plain >"$dir/demo.log" 2>&1 || {
    cat "$dir/demo.log"
    echo "error: \`$bin demo\` failed" >&2
    exit 1
}
tail -n 3 "$dir/demo.log"
test -s "$dir/reports/results.json"
echo "ok: $bin is static and runs the demo"
