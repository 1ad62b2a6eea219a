#!/usr/bin/env bash
# What recording costs a run, for two builds side by side (BENCHMARKS.md, "Recording at
# --parallel 500"): 2,000 native scenarios that pass, --parallel 500, against the mock agent
# answering in L_MS ms; each round runs, in turn: no store (--cache-dir under /dev/null), then
# OLD and NEW recording into an existing SQLite store, then OLD and NEW recording into
# STORE_URL. Round 0 is a warm-up (it creates the SQLite stores); medians and the ratios to
# "none", taken round by round, are printed.
#
#   bash scripts/bench-record.sh OLD_BIN NEW_BIN STORE_URL        # PGPASSWORD in the env
#
# Variables: L_MS (100), ROUNDS (9), N (2000), C (500), MODE (plain | cache: --use-cache with
# a fresh --agent-version each run, so every scenario misses and its cache entry is written).
# Needs bash >= 5 and python3.
set -euo pipefail
OLD=${1:?usage: scripts/bench-record.sh OLD_BIN NEW_BIN STORE_URL}
NEW=${2:?usage: scripts/bench-record.sh OLD_BIN NEW_BIN STORE_URL}
STORE_URL=${3:?usage: scripts/bench-record.sh OLD_BIN NEW_BIN STORE_URL}
L_MS=${L_MS:-100} ROUNDS=${ROUNDS:-9} N=${N:-2000} C=${C:-500} MODE=${MODE:-plain}
[[ ${STORE_URL#*://} != *:*@* ]] || { echo "put the password in PGPASSWORD, not the URL" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/rogue-bench-record.XXXXXX")
mock=
cleanup() { [[ -n $mock ]] && kill "$mock" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/scenarios"
for ((i = 0; i < N; i++)); do
    if ((i % 100 == 0)); then
        exec 3>"$work/scenarios/bench_$(printf %04d $((i / 100))).yaml"
        printf 'version: 1\nagent: bench_agent\nscenarios:\n' >&3
    fi
    printf '  - id: bench_%05d\n    priority: P1\n    message: "bench scenario %05d: what is the refund policy?"\n    expect:\n      contains: ["refund policy", "scenario %05d"]\n' "$i" "$i" "$i" >&3
done
exec 3>&-

"$NEW" mock-agent --port 0 --latency "${L_MS}ms" >"$work/mock.out" 2>&1 &
mock=$!
url=
for _ in $(seq 100); do
    url=$(head -n 1 "$work/mock.out" 2>/dev/null | grep -o 'http://[0-9.]*:[0-9]*' || true)
    [[ -n $url ]] && break
    sleep 0.05
done
[[ -n $url ]] || { echo "the mock agent did not start" >&2; exit 1; }

cache=()
[[ $MODE == cache ]] && cache=(--use-cache)
timed() { # bin version store-args...: prints the wall time in ms
    local bin=$1 version=$2 t0
    shift 2
    t0=${EPOCHREALTIME/./}
    "$bin" run --scenarios-dir "$work/scenarios" --agent "bench_agent=$url/a2a/bench_agent" \
        --parallel "$C" --no-fail-fast --progress quiet --output-dir "$work/out" \
        "${cache[@]}" --agent-version "$version" "$@" >/dev/null 2>&1 || true
    echo $(((${EPOCHREALTIME/./} - t0) / 1000))
}
variants=(none sqlite-old sqlite-new url-old url-new)
declare -A times
for ((round = 0; round <= ROUNDS; round++)); do
    for v in "${variants[@]}"; do
        version="b$$-$round-$v"
        case $v in
            none) t=$(timed "$NEW" "$version" --cache-dir /dev/null/not-recorded) ;;
            sqlite-old) t=$(timed "$OLD" "$version" --cache-dir "$work/store-old") ;;
            sqlite-new) t=$(timed "$NEW" "$version" --cache-dir "$work/store-new") ;;
            url-old) t=$(timed "$OLD" "$version" --cache-dir "$work/c" --store "$STORE_URL") ;;
            url-new) t=$(timed "$NEW" "$version" --cache-dir "$work/c" --store "$STORE_URL") ;;
        esac
        ((round > 0)) && times[$v]="${times[$v]:-} $t"
    done
done
echo "$N outcomes at --parallel $C, mock agent $L_MS ms, mode $MODE, $ROUNDS rounds"
python3 - "${times[none]}" "${times[sqlite-old]}" "${times[sqlite-new]}" "${times[url-old]}" "${times[url-new]}" <<'PY'
import sys, statistics as st
names = ["none", "sqlite-old", "sqlite-new", "url-old", "url-new"]
runs = [list(map(int, a.split())) for a in sys.argv[1:]]
for name, xs in zip(names, runs):
    line = f"{name:11} median {st.median(xs):6.0f} ms ({min(xs)}–{max(xs)})"
    if name != "none":
        r = [x / y for x, y in zip(xs, runs[0])]
        line += f"   /none {st.median(r):.3f} ({min(r):.3f}–{max(r):.3f})"
    print(line)
PY
