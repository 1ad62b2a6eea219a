#!/usr/bin/env bash
# What the store costs a run, side by side: no recording, the embedded SQLite store, and (when
# a URL is given) a shared store such as PostgreSQL. Issue 16, item 7; BENCHMARKS.md, "The
# store, side by side".
#
#   bash scripts/bench-store.sh target/release/rogue-runner                      # SQLite only
#   bash scripts/bench-store.sh target/release/rogue-runner "$ROGUE_STORE_URL"   # + that store
#
# BIN is a release build (build it first: cargo build --release). STORE_URL is passed to every
# run of the third column as `--store URL` (its password from PGPASSWORD or a .pgpass file,
# never in the URL). Every run writes every report format, as by default.
#
# (a) cached  A fully cached rerun of the Genesis corpus (CORPUS, default ../shared/corpus/
#             genesis: 1,626 scenarios) against the mock agent: filled once per store with
#             --use-cache and a fresh --agent-version (so a shared store's earlier entries do
#             not count), then rerun unchanged, whole process. The "none" column is `validate`
#             of the same corpus (loading only), for scale.
# (b) record  N (2,000) native scenarios that pass, at --parallel C (500), against the mock
#             agent answering in L_MS (1000) ms: not recorded (--cache-dir under /dev/null: the
#             store cannot be opened and the run warns "this run is not recorded"), recorded
#             in a fresh SQLite store, recorded in STORE_URL. The ratio is what recording adds.
# (c) shards  SHARDS (10) processes `--partition hash:K/SHARDS` of the same N scenarios at
#             --parallel C/SHARDS each, started together and timed until the last one exits:
#             not recorded; each shard its own SQLite file (what CI does without a shared
#             store); all shards in one SQLite file (possible only on one machine); STORE_URL.
#             Also counts shards that did not exit 0 and store warnings on their stderr.
#
# Each row runs its variants in turn, REPEATS (7) times (A B C A B C ...), after one warm-up
# round; figures are medians, ratios are taken round by round against the row's first variant
# and their median shown. The mock agent shares the machine's cores with the runs.
#
# Needs: bash >= 5, jq, awk, sort.
set -euo pipefail

BIN=${1:-}
STORE_URL=${2:-}
N=${N:-2000}
C=${C:-500}
L_MS=${L_MS:-1000}
SHARDS=${SHARDS:-10}
REPEATS=${REPEATS:-7}
PER_FILE=${PER_FILE:-100}

die() { echo "bench-store.sh: $*" >&2; exit 1; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CORPUS=${CORPUS:-$root/../shared/corpus/genesis}
[[ -n $BIN ]] || die "usage: scripts/bench-store.sh RELEASE_BINARY [STORE_URL]"
[[ -x $BIN ]] || die "no executable at $BIN (cargo build --release first)"
[[ -d $CORPUS ]] || die "no corpus at $CORPUS (check out ../shared, or set CORPUS)"
[[ -n ${EPOCHREALTIME:-} ]] || die "bash >= 5 is needed (EPOCHREALTIME)"
command -v jq >/dev/null || die "jq is needed"
# user:password@ after the scheme (the scheme's own colon is not a password).
[[ ${STORE_URL#*://} != *:*@* ]] || die "the store URL holds a password: put it in PGPASSWORD instead"

work=$(mktemp -d "${TMPDIR:-/tmp}/rogue-bench-store.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# The variants of a row, and the store arguments of each (SHARD becomes the shard's number).
variants=(none sqlite)
[[ -n $STORE_URL ]] && variants+=(url)
store_args() { # variant store-dir
    case $1 in
        none) echo "--cache-dir /dev/null/not-recorded" ;;
        sqlite | sqlite-one) echo "--cache-dir $2" ;;
        sqlite-own) echo "--cache-dir $2-SHARD" ;;
        url) echo "--cache-dir $2 --store $STORE_URL" ;;
    esac
}

# --- scenarios: the mock answers "[bench_agent] <message>", so each expects its number back -----
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

# --- the mock agents: one instant (the cached rerun), one with latency L -----------------------
start_mock() { # latency-ms out-file; sets $mock_url
    "$BIN" mock-agent --port 0 --latency "${1}ms" >"$2" 2>&1 &
    pids+=($!)
    mock_url=
    for _ in $(seq 100); do
        mock_url=$(head -n 1 "$2" 2>/dev/null | grep -o 'http://[0-9.]*:[0-9]*' || true)
        [[ -n $mock_url ]] && return
        sleep 0.05
    done
    die "the mock agent did not start: $(cat "$2")"
}
start_mock "$L_MS" "$work/mock.out"
base=$mock_url
start_mock 0 "$work/mock-fast.out"
fast=$mock_url

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# One timed process; prints "wall_ms exit".
timed() {
    local t0 rc=0
    t0=$(now_ms)
    "$@" >/dev/null 2>"$work/stderr.txt" || rc=$?
    echo "$(($(now_ms) - t0)) $rc"
}

version="bench-$$-${EPOCHSECONDS}"
genesis() { # variant store-dir out-dir
    # shellcheck disable=SC2046 # store_args is split on purpose
    "$BIN" run --scenarios-dir "$CORPUS" --agent "*=$fast/a2a/genesis" --no-fail-fast \
        --use-cache --agent-version "$version" --progress quiet --output-dir "$3" \
        $(store_args "$1" "$2")
}
record() { # variant store-dir out-dir
    # shellcheck disable=SC2046
    "$BIN" run --scenarios-dir "$work/scenarios" --agent "bench_agent=$base/a2a/bench_agent" \
        --parallel "$C" --no-fail-fast --progress quiet --output-dir "$3" $(store_args "$1" "$2")
}
shards() { # variant store-dir out-dir: all shards at once; exits with how many did not exit 0
    local k args children=() failed=0
    args=$(store_args "$1" "$2")
    for ((k = 1; k <= SHARDS; k++)); do
        # shellcheck disable=SC2086
        "$BIN" run --scenarios-dir "$work/scenarios" --agent "bench_agent=$base/a2a/bench_agent" \
            --partition "hash:$k/$SHARDS" --parallel $((C / SHARDS)) --no-fail-fast \
            --progress quiet --output-dir "$3/shard-$k" ${args//SHARD/$k} \
            >/dev/null 2>"$3-stderr-$k.txt" &
        children+=($!)
    done
    for k in "${children[@]}"; do wait "$k" || failed=$((failed + 1)); done
    return "$failed"
}

# A row: one warm-up round, then REPEATS rounds of every variant in turn; prints the row.
row() { # label function variants...
    local label=$1 fn=$2 r v wall rc store out
    shift 2
    local vs=("$@")
    : >"$work/row.txt"
    for ((r = -1; r < REPEATS; r++)); do
        local line=""
        for v in "${vs[@]}"; do
            out="$work/out-$label-$v-$r"
            store="$work/store-$label-$v-$r"
            if [[ $fn == genesis ]]; then
                # The rerun reads the store the fill wrote (and records one more run in it).
                store="$work/store-genesis-$v"
                if [[ $v == none ]]; then
                    read -r wall rc < <(timed "$BIN" validate -q "$CORPUS")
                else
                    read -r wall rc < <(timed genesis "$v" "$store" "$out")
                    ((r < 0)) || echo "$v $(jq -r '.run.cache.hits // "?"' "$out/results.json" 2>/dev/null || echo '?')" >>"$work/hits.txt"
                fi
            else
                read -r wall rc < <(timed "$fn" "$v" "$store" "$out")
                if [[ $fn == shards ]]; then
                    # The unrecorded variant warns "not recorded" by design.
                    local warnings=-
                    [[ $v == none ]] || warnings=$(cat "$out"-stderr-*.txt | grep -ci 'warning' || true)
                    ((r < 0)) || echo "$v $rc $warnings" >>"$work/shard-errors.txt"
                    rc=0
                fi
            fi
            case $rc in 0 | 1 | 3 | 6) ;; *) die "$label, $v: exit $rc: $(tail -n 3 "$work/stderr.txt")" ;; esac
            line+="$wall "
            rm -rf "$out" "$out"-stderr-*.txt
            [[ $fn == genesis ]] || rm -rf "$store" "$store"-*
        done
        ((r >= 0)) && echo "$line" >>"$work/row.txt"
    done
    local i j cells="" ratios=""
    for ((i = 0; i < ${#vs[@]}; i++)); do
        cells+=$(printf ' %12s' "$(awk -v c=$((i + 1)) '{ print $c }' "$work/row.txt" | median) ms")
    done
    # Every variant against the first (no store), and the URL against SQLite.
    for ((i = 1; i < ${#vs[@]}; i++)); do
        for ((j = 0; j < i; j++)); do
            [[ $j == 0 || ${vs[i]} == url ]] || continue
            ratios+=$(printf '  %s/%s %s' "${vs[i]}" "${vs[j]}" \
                "$(awk -v a=$((i + 1)) -v b=$((j + 1)) '{ printf "%.3f\n", $a / $b }' "$work/row.txt" | median)")
        done
    done
    printf '%-8s%s  |%s\n' "$label" "$cells" "$ratios"
}

echo "rogue-runner store benchmark: $BIN, $REPEATS rounds per row (medians of whole-process wall time)"
echo "  $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'); N=$N scenarios at --parallel $C, mock agent latency ${L_MS} ms;"
echo "  shards: $SHARDS processes at --parallel $((C / SHARDS)); corpus $CORPUS"
: >"$work/hits.txt"
: >"$work/shard-errors.txt"
# Fill each store with the corpus once (not timed).
for v in "${variants[@]}"; do
    [[ $v == none ]] && continue
    genesis "$v" "$work/store-genesis-$v" "$work/fill-$v" >/dev/null 2>"$work/stderr.txt" ||
        case $? in 1 | 3 | 6) ;; *) die "filling the $v store failed: $(tail -n 3 "$work/stderr.txt")" ;; esac
done
echo
printf '%-8s' ''
for v in "${variants[@]}"; do printf ' %12s' "$v"; done
echo "  | ratios, round by round (median)"
row cached genesis "${variants[@]}"
row record record "${variants[@]}"
shard_variants=(none sqlite-own sqlite-one)
[[ -n $STORE_URL ]] && shard_variants+=(url)
printf '%-8s' ''
for v in "${shard_variants[@]}"; do printf ' %12s' "$v"; done
echo
row shards shards "${shard_variants[@]}"
echo
echo "cached: the 'none' column is validate (loading only); outcome cache hits of each rerun:"
sort "$work/hits.txt" | uniq -c | awk '{ printf "  %s: %s hits (%d runs)\n", $2, $3, $1 }'
echo "shards: shards that did not exit 0, and warnings on the shards' stderr, per round:"
sort "$work/shard-errors.txt" | uniq -c | awk '{ printf "  %s: %s failed, %s warnings (%d rounds)\n", $2, $3, $4, $1 }'
