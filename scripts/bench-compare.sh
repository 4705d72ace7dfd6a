#!/usr/bin/env bash
# Compares two errwatch binaries on the same input, in turns: a change that should not change
# speed (a restructuring) is held to its baseline measured in the same run.
#
#   scripts/bench-compare.sh BASELINE_BIN CANDIDATE_BIN [RECORDS] [RUNS]
#
# 1. writes RECORDS generated records (the tour scenario, seed 7; default 400000) with the
#    baseline binary, so both read the same bytes;
# 2. runs, RUNS times each (default 5), baseline and candidate in turns:
#    - `errwatch classify --input FILE > /dev/null`  (extract, classify, report)
#    - `errwatch ingest FILE` into a fresh database  (classify, rows, sink, ClickHouse)
# 3. prints per command and binary the median wall time, median CPU time (user + system) per
#    record, peak RSS, and the candidate's medians as ratios to the baseline's.
#
# Needs ERRWATCH_CLICKHOUSE_URL (./scripts/clickhouse.sh prints one) and /usr/bin/time.
set -euo pipefail
export LC_ALL=C

if (($# < 2)); then
    sed -n '2,16p' "$0" >&2
    exit 2
fi
baseline=$1
candidate=$2
records=${3:-400000}
runs=${4:-5}
: "${ERRWATCH_CLICKHOUSE_URL:?set ERRWATCH_CLICKHOUSE_URL, e.g. url=\$(./scripts/clickhouse.sh)}"
[[ -x /usr/bin/time ]] || { echo "bench-compare.sh: /usr/bin/time is needed (apt install time)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/errwatch-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT
input=$work/records.log

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
"$baseline" generate --scenario tour --seed 7 --start 2026-11-26T10:00:00Z --rate 1000 \
    --count "$records" --no-pacing > "$input" 2> /dev/null
errors=$("$baseline" classify --input "$input" | grep -c '"envelope":true' || true)
echo "input: $records records, $(wc -c < "$input") bytes, $errors errors"

# One timed run: appends "wall_seconds cpu_seconds max_rss_kib" to $3.
measure() {
    local label=$1 results=$2
    shift 2
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" > /dev/null 2> "$work/stderr" \
        || { cat "$work/stderr" >&2; echo "bench-compare.sh: $label failed" >&2; exit 1; }
    awk '{ printf "%s %.3f %s\n", $1, $2 + $3, $4 }' "$work/time" >> "$results"
}

run_number=0
for ((run = 1; run <= runs; run++)); do
    for which in baseline candidate; do
        binary=${!which}
        run_number=$((run_number + 1))
        measure "$which classify" "$work/classify-$which" "$binary" classify --input "$input"
        database=compare_${$}_$run_number
        measure "$which ingest" "$work/ingest-$which" env ERRWATCH_CLICKHOUSE_DATABASE="$database" \
            "$binary" ingest --quiet "$input"
        curl -sS --fail "$ERRWATCH_CLICKHOUSE_URL" --data-binary "DROP DATABASE IF EXISTS $database" > /dev/null
    done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '\n| command | binary | median wall s | median CPU µs/record | peak RSS MiB | ratio to baseline (wall, CPU) |\n'
printf '|---|---|---:|---:|---:|---|\n'
for command in classify ingest; do
    for which in baseline candidate; do
        file=$work/$command-$which
        wall=$(cut -d' ' -f1 "$file" | median)
        cpu=$(cut -d' ' -f2 "$file" | median)
        rss=$(cut -d' ' -f3 "$file" | sort -n | tail -n 1)
        eval "${command}_${which}_wall=$wall ${command}_${which}_cpu=$cpu"
        ratio=""
        if [[ $which == candidate ]]; then
            base_wall=${command}_baseline_wall base_cpu=${command}_baseline_cpu
            ratio=$(awk -v w="$wall" -v c="$cpu" -v bw="${!base_wall}" -v bc="${!base_cpu}" \
                'BEGIN { printf "%.3f, %.3f", w / bw, c / bc }')
        fi
        awk -v c="$command" -v b="$which" -v w="$wall" -v u="$cpu" -v r="$rss" -v n="$records" -v q="$ratio" \
            'BEGIN { printf "| %s | %s | %.2f | %.2f | %.1f | %s |\n", c, b, w, u * 1e6 / n, r / 1024, q }'
    done
done
echo
echo "every run (wall s, CPU s, RSS KiB), in the order taken:"
for file in "$work"/classify-* "$work"/ingest-*; do
    echo "  $(basename "$file"): $(tr '\n' ';' < "$file")"
done
