#!/usr/bin/env bash
# Measures errwatch's classifier and command.
#
#   scripts/bench.sh [LINES]      LINES: records in the generated mix file (default 1000000)
#
# 1. builds the release binaries and examples;
# 2. writes the benchmark's record mix (benches/classify.rs) to a file in a temporary directory;
# 3. times `errwatch classify --input MIX` against the naive program (examples/naive_codes.rs),
#    best of five runs each, taken in turns, output to /dev/null, and records each one's peak RSS;
# 4. runs the criterion benchmarks (`cargo bench --bench classify`);
# 5. prints a summary.
#
# Needs only cargo and bash. Uses /usr/bin/time for peak RSS when it is there, and also shows
# hyperfine's view of the two commands when hyperfine is installed.
set -euo pipefail
export LC_ALL=C

lines=${1:-1000000}
runs=5

cd "$(dirname "${BASH_SOURCE[0]}")/.."
target_dir=${CARGO_TARGET_DIR:-target}
errwatch_bin="$target_dir/release/errwatch"
naive_bin="$target_dir/release/examples/naive_codes"

work=$(mktemp -d "${TMPDIR:-/tmp}/errwatch-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mix="$work/mix.log"

section() { printf '\n== %s\n' "$*"; }

section "build"
cargo build --release --bins --examples

section "mix file: $lines records"
ERRWATCH_BENCH_WRITE_MIX="$mix" ERRWATCH_BENCH_MIX_LINES="$lines" cargo bench --bench classify
mix_lines=$(wc -l < "$mix")
mix_bytes=$(wc -c < "$mix")
if [[ "$mix_lines" -ne "$lines" ]]; then
    echo "expected $lines lines in the mix file, found $mix_lines" >&2
    exit 1
fi
echo "$mix: $mix_lines lines, $mix_bytes bytes"

gnu_time=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M true >/dev/null 2>&1; then
    gnu_time=/usr/bin/time
fi

# One untimed run each: warms the page cache and checks that every record gets one line.
section "check"
read -r errwatch_lines errwatch_errors < <("$errwatch_bin" classify --input "$mix" |
    awk '/"envelope":true/ { found++ } END { print NR, found + 0 }')
read -r naive_lines naive_codes < <("$naive_bin" "$mix" | awk '$0 != "null" { found++ } END { print NR, found + 0 }')
for count in "$errwatch_lines" "$naive_lines"; do
    if [[ "$count" -ne "$lines" ]]; then
        echo "a command printed $count lines for $lines records" >&2
        exit 1
    fi
done
echo "errwatch classify: $errwatch_lines lines, $errwatch_errors failed calls found"
echo "naive_codes:       $naive_lines lines, $naive_codes codes found (raw envelopes only)"

# time_once NAME COMMAND...: runs COMMAND once with stdout to /dev/null; sets seconds (wall
# time) and rss (peak RSS in KiB, or "n/a").
time_once() {
    local name=$1
    shift
    local start end
    start=$EPOCHREALTIME
    if [[ -n "$gnu_time" ]]; then
        "$gnu_time" -f %M -o "$work/rss" "$@" > /dev/null
    else
        "$@" > /dev/null
    fi
    end=$EPOCHREALTIME
    seconds=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')
    rss="n/a"
    if [[ -n "$gnu_time" ]]; then
        rss=$(tail -n 1 "$work/rss")
    fi
    printf '%-18s %8s s  peak RSS %s KiB\n' "$name" "$seconds" "$rss"
}

lower() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(b == "" || a < b) }'; }
higher() { [[ "$2" == "n/a" ]] || { [[ "$1" != "n/a" ]] && (( $1 > $2 )); }; }

per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

section "commands, best of $runs, taken in turns"
# In turns rather than one command's runs after the other's, so that a slow spell of a shared
# machine falls on both.
errwatch_seconds=""
naive_seconds=""
errwatch_rss="n/a"
naive_rss="n/a"
for ((run = 1; run <= runs; run++)); do
    time_once "errwatch classify" "$errwatch_bin" classify --input "$mix"
    if lower "$seconds" "$errwatch_seconds"; then errwatch_seconds=$seconds; fi
    if higher "$rss" "$errwatch_rss"; then errwatch_rss=$rss; fi
    time_once "naive_codes" "$naive_bin" "$mix"
    if lower "$seconds" "$naive_seconds"; then naive_seconds=$seconds; fi
    if higher "$rss" "$naive_rss"; then naive_rss=$rss; fi
done
errwatch_rate=$(per_second "$lines" "$errwatch_seconds")
naive_rate=$(per_second "$lines" "$naive_seconds")
ratio=$(awk -v a="$errwatch_rate" -v b="$naive_rate" 'BEGIN { printf "%.2f", a / b }')

if command -v hyperfine > /dev/null; then
    section "hyperfine (for reference)"
    hyperfine --warmup 1 --runs "$runs" \
        "$errwatch_bin classify --input $mix" \
        "$naive_bin $mix"
fi

section "criterion: cargo bench --bench classify"
cargo bench --bench classify 2>&1 | tee "$work/criterion.txt"

section "summary"
echo "machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)"
echo "mix: $lines records, $mix_bytes bytes"
echo
printf '%-20s %10s %14s %16s\n' "command" "best s" "records/s" "peak RSS KiB"
printf '%-20s %10s %14s %16s\n' "errwatch classify" "$errwatch_seconds" "$errwatch_rate" "$errwatch_rss"
printf '%-20s %10s %14s %16s\n' "naive_codes" "$naive_seconds" "$naive_rate" "$naive_rss"
echo "errwatch classify / naive_codes: ${ratio}x records/s"
echo
echo "criterion throughput (middle estimate):"
# Criterion prints a benchmark's name, then its `time:` and `thrpt:` lines (the name shares a
# line with `time:` when it is short); a later `thrpt:` line, under `change:`, compares with the last run.
awk '
    $1 ~ /^[A-Za-z0-9_]+\/[A-Za-z0-9_]+$/ { name = $1 }
    /thrpt:/ && name != "" {
        sub(/.*\[/, ""); sub(/\].*/, "")
        split($0, v, " ")
        printf "  %-32s %s %s\n", name, v[3], v[4]
        name = ""
    }
' "$work/criterion.txt"
