#!/usr/bin/env bash
# End-to-end benchmark of the engine against a local fake A2A agent of fixed latency.
#
#   bash bench/e2e.sh                                  # N=2000, L=100 ms, --parallel 5 50 500
#   N=500 L_MS=1000 PARALLEL="500" REPEATS=5 bash bench/e2e.sh
#
# What it does:
#   1. builds the release binary (cargo build --release; CARGO_TARGET_DIR is honoured), or
#      uses BIN=path/to/rogue-runner when given;
#   2. writes N native-format scenarios (`version: 1`, agent bench_agent, one message each,
#      `expect: {contains: [...]}`) that all pass against the mock agent's echo;
#   3. starts `rogue-runner mock-agent --port 0 --latency L` and reads its port from the first
#      line it prints;
#   4. for each C in PARALLEL, REPEATS times: `rogue-runner run ... --parallel C
#      --no-fail-fast --progress quiet` (every report format, as by default; the run history
#      goes to a store in the temporary directory, not the checkout's .rogue_cache), timed from outside (wall: bash's EPOCHREALTIME
#      around the process; user+sys CPU and peak RSS: /usr/bin/time) and from inside (the
#      run's own `duration_ms` in results.json);
#   5. times `rogue-runner --help` (start-up) and a run of 1 scenario (fixed overhead =
#      wall - L), each REPEATS_SMALL times;
#   6. prints medians (and the wall min-max, to show the noise).
#
# Definitions (ideal = ceil(N/C) * L, the time C perfect workers need):
#   efficiency (whole)   = ideal / wall of the whole process (start-up, loading, agent check,
#                          the run, writing and syncing the reports, exit);
#   efficiency (engine)  = ideal / the run's own duration_ms (agent check + scheduling +
#                          conversations; without process start, loading and final reports);
#   overhead/scenario    = (wall - ideal) / ceil(N/C): what each scenario in a worker's chain
#                          costs beyond L;
#   CPU/scenario         = (user + sys) / N, the whole process;
#   agent CPU/scenario   = the mock agent's own user + sys during the run / N (from
#                          /proc/PID/stat; "-" where /proc is missing): what the agent's side of
#                          each conversation costs the same 2 cores;
#   peak                 = peak RSS of the process.
# The mock agent runs on the same machine and shares its cores with the tool under test.
#
# Needs: bash >= 5, cargo, GNU time at /usr/bin/time (Debian/Ubuntu: apt-get install time),
# awk, sort. Nothing else.
set -euo pipefail

N=${N:-2000}
L_MS=${L_MS:-100}
PARALLEL=${PARALLEL:-"5 50 500"}
REPEATS=${REPEATS:-3}
REPEATS_SMALL=${REPEATS_SMALL:-11}
PER_FILE=${PER_FILE:-100}

die() { echo "e2e.sh: $*" >&2; exit 1; }
[[ -x /usr/bin/time ]] || die "GNU time is needed at /usr/bin/time (apt-get install time)"
[[ -n ${EPOCHREALTIME:-} ]] || die "bash >= 5 is needed (EPOCHREALTIME)"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${BIN:-} ]]; then
    (cd "$root" && cargo build --release --quiet)
    BIN=${CARGO_TARGET_DIR:-$root/target}/release/rogue-runner
fi
[[ -x $BIN ]] || die "no binary at $BIN"

work=$(mktemp -d "${TMPDIR:-/tmp}/rogue-e2e.XXXXXX")
mock_pid=
cleanup() {
    if [[ -n $mock_pid ]]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# --- scenarios -------------------------------------------------------------------------------
# The mock answers "[bench_agent] <message>", so each scenario expects its own number back.
write_scenarios() { # dir count
    local dir=$1 count=$2 i file=-1
    mkdir -p "$dir"
    for ((i = 0; i < count; i++)); do
        if ((i % PER_FILE == 0)); then
            file=$((file + 1))
            exec 3>"$dir/bench_$(printf %04d "$file").yaml"
            printf 'version: 1\nagent: bench_agent\nscenarios:\n' >&3
        fi
        printf '  - id: bench_%05d\n    priority: P1\n    message: "bench scenario %05d: what is the refund policy?"\n    expect:\n      contains: ["refund policy", "scenario %05d"]\n' "$i" "$i" "$i" >&3
    done
    exec 3>&-
}
write_scenarios "$work/scenarios" "$N"
write_scenarios "$work/one" 1

# --- the fake agent ----------------------------------------------------------------------------
"$BIN" mock-agent --port 0 --latency "${L_MS}ms" >"$work/mock.out" 2>&1 &
mock_pid=$!
base=
for _ in $(seq 100); do
    base=$(head -n 1 "$work/mock.out" 2>/dev/null | grep -o 'http://[0-9.]*:[0-9]*' || true)
    [[ -n $base ]] && break
    sleep 0.05
done
[[ -n $base ]] || die "the mock agent did not start: $(cat "$work/mock.out")"
agent="bench_agent=$base/a2a/bench_agent"

# --- helpers -----------------------------------------------------------------------------------
# One timed process; prints "wall_ms user_s sys_s peak_kib exit".
timed() {
    local t0 t1 rc=0 user sys peak
    t0=${EPOCHREALTIME/./}
    /usr/bin/time -f '%U %S %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || rc=$?
    t1=${EPOCHREALTIME/./}
    read -r user sys peak <"$work/time.txt"
    echo "$(((t1 - t0) / 1000)).$(printf %03d $(((t1 - t0) % 1000))) $user $sys $peak $rc"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'; }
minmax1() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f", lo, hi }'; }

run_once() { # parallel dir out
    timed "$BIN" run --scenarios-dir "$2" --agent "$agent" --parallel "$1" --no-fail-fast \
        --progress quiet --output-dir "$3" --cache-dir "$work/store"
}

# user + sys clock ticks the mock agent has used so far (empty without /proc).
agent_ticks() { [[ -r /proc/$mock_pid/stat ]] && awk '{ print $14 + $15 }' "/proc/$mock_pid/stat"; }
ticks_per_s=$(getconf CLK_TCK 2>/dev/null || echo 100)

run_duration_ms() { grep -m 1 '^    "duration_ms"' "$1/results.json" | tr -dc 0-9; }

# Warm the page cache and the mock; not counted.
run_once 5 "$work/one" "$work/out-warm" >/dev/null
timed "$BIN" --help >/dev/null

echo "rogue-runner end-to-end: N=$N scenarios, fake A2A agent latency L=${L_MS} ms, $REPEATS run(s) per row (medians)"
echo "machine: $(nproc) cores, $(lscpu 2>/dev/null | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }'), $(uname -sr)"
echo
printf '%-5s %9s %10s %13s %10s %10s %12s %10s %10s %9s %8s\n' \
    C ideal_ms wall_ms wall_min-max eff_whole eff_engine overhead/scn cpu/scn_ms agent_cpu peak_MiB scn/min
for c in $PARALLEL; do
    : >"$work/rows.txt"
    for ((r = 0; r < REPEATS; r++)); do
        out="$work/out-$c-$r"
        t0=$(agent_ticks || true)
        read -r wall user sys peak rc < <(run_once "$c" "$work/scenarios" "$out")
        t1=$(agent_ticks || true)
        [[ $rc == 0 ]] || die "--parallel $c exited $rc (expected 0: every scenario passes): $(tail -n 3 "$work/stderr.txt")"
        agent_s=-
        [[ -n $t0 && -n $t1 ]] && agent_s=$(awk -v a="$t0" -v b="$t1" -v hz="$ticks_per_s" 'BEGIN { print (b - a) / hz }')
        echo "$wall $user $sys $peak $(run_duration_ms "$out") $agent_s" >>"$work/rows.txt"
        rm -rf "$out"
    done
    waves=$(((N + c - 1) / c))
    ideal=$((waves * L_MS))
    wall=$(awk '{ print $1 }' "$work/rows.txt" | median)
    range=$(awk '{ print $1 }' "$work/rows.txt" | minmax)
    engine=$(awk '{ print $5 }' "$work/rows.txt" | median)
    cpu=$(awk '{ print $2 + $3 }' "$work/rows.txt" | median)
    peak=$(awk '{ print $4 }' "$work/rows.txt" | median)
    agent_cpu=-
    if ! grep -q ' -$' "$work/rows.txt"; then
        agent_cpu=$(awk '{ print $6 }' "$work/rows.txt" | median | awk -v n="$N" '{ printf "%.3f", $1 * 1000 / n }')
    fi
    awk -v c="$c" -v n="$N" -v ideal="$ideal" -v waves="$waves" -v wall="$wall" -v range="$range" \
        -v engine="$engine" -v cpu="$cpu" -v agent="$agent_cpu" -v peak="$peak" 'BEGIN {
        printf "%-5s %9d %10.0f %13s %10.3f %10.3f %12.2f %10.3f %10s %9.1f %8.0f\n", c, ideal, wall, range,
            ideal / wall, ideal / engine, (wall - ideal) / waves, cpu * 1000 / n, agent, peak / 1024, n * 60000 / wall
    }'
done
echo "  (eff_whole = ideal / whole-process wall; eff_engine = ideal / the run's own duration_ms;"
echo "   overhead/scn = (wall - ideal) / ceil(N/C), ms; cpu/scn = (user + sys) / N;"
echo "   agent_cpu = the mock agent's user + sys per scenario, ms (clock ticks: coarse); scn/min = N / wall)"
echo

: >"$work/help.txt"
: >"$work/floor.txt"
for ((r = 0; r < REPEATS_SMALL; r++)); do
    read -r wall user sys peak rc < <(timed true)
    echo "$wall" >>"$work/floor.txt"
done
for ((r = 0; r < REPEATS_SMALL; r++)); do
    read -r wall user sys peak rc < <(timed "$BIN" --help)
    echo "$wall $peak" >>"$work/help.txt"
done
: >"$work/one.txt"
for ((r = 0; r < REPEATS_SMALL; r++)); do
    read -r wall user sys peak rc < <(run_once 5 "$work/one" "$work/out-one")
    [[ $rc == 0 ]] || die "the 1-scenario run exited $rc: $(tail -n 3 "$work/stderr.txt")"
    echo "$wall $user $sys $peak" >>"$work/one.txt"
done
help_ms=$(awk '{ print $1 }' "$work/help.txt" | median)
help_range=$(awk '{ print $1 }' "$work/help.txt" | minmax1)
floor_ms=$(median <"$work/floor.txt")
help_peak=$(awk '{ print $2 }' "$work/help.txt" | median)
one_ms=$(awk '{ print $1 }' "$work/one.txt" | median)
one_range=$(awk '{ print $1 }' "$work/one.txt" | minmax1)
one_peak=$(awk '{ print $4 }' "$work/one.txt" | median)
awk -v r="$REPEATS_SMALL" -v f="$floor_ms" -v h="$help_ms" -v hr="$help_range" -v hp="$help_peak" \
    -v o="$one_ms" -v orng="$one_range" -v op="$one_peak" -v l="$L_MS" 'BEGIN {
    printf "start-up (--help):         %.1f ms wall (min-max %s), peak %.1f MiB  (median of %d)\n", h, hr, hp / 1024, r
    printf "1-scenario run:            %.1f ms wall (min-max %s), peak %.1f MiB  (median of %d)\n", o, orng, op / 1024, r
    printf "fixed overhead (wall - L): %.1f ms\n", o - l
    printf "(the timing floor, /usr/bin/time true measured the same way: %.1f ms; not subtracted)\n", f
}'
