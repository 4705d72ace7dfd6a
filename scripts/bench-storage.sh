#!/usr/bin/env bash
# Measures errwatch's storage path against the private ClickHouse server (scripts/clickhouse.sh).
#
#   scripts/bench-storage.sh
#
# 1. Insert rate. About 1,000,000 failed calls from the benchmark mix become `ErrorRow`s, which
#    examples/storage_bench.rs inserts with `Store::insert`, 50,000 rows per statement, into a
#    freshly migrated database; best of 3, the tables truncated before each run. Baseline: the
#    same rows, exported from that table in RowBinary, inserted by
#    `clickhouse-client --query "INSERT INTO db.api_errors FORMAT RowBinary" < rows.bin`; best of
#    3, truncated likewise; then, for reference, the same command with
#    --max_insert_block_size=50000, the block size errwatch's statements have. All of them pay
#    for the two materialized views on `api_errors`, and all are checked to store the same rows.
# 2. `errwatch ingest` of a 9,000,000-line mix file (about 1 GB): records/s and peak RSS, best
#    of 2, each into a fresh database.
# 3. Lookup latency with 10,000,000 stored events: ten copies of the step-1 rows, each copy with
#    new correlation ids and its dates moved back by 0-9 days, written by INSERT ... SELECT on the
#    server; then `Store::lookup` of 1,000 random stored ids, one after the other, in-process
#    (p50, p99). For diagnosis it also times the same statement with PREWHERE in place of WHERE,
#    reads what the server logged for both, and repeats both after OPTIMIZE ... FINAL.
#
#   scripts/bench-storage.sh lookup-db
#
# builds only the step-3 database (errwatch_bench_lookup, 10,000,000 events) and leaves it in
# place for other benchmarks (scripts/bench-http.sh): the step-1 rows are inserted once, nothing
# is timed or compared, and the ingest step is skipped. The database is dropped only if the
# script fails.
#
# Uses the databases errwatch_bench_insert, errwatch_bench_ingest and errwatch_bench_lookup,
# dropped before and after; temporary files (under 2 GB) go to a directory under
# ${TMPDIR:-/tmp} that is removed at the end; the lookup database takes about 2 GB in ClickHouse
# while it exists. Takes about 8 minutes on 2 cores.
#
# Settings (environment), for quicker trial runs:
#   ERRWATCH_BENCH_INGEST_LINES   lines of the ingest file     (default 9000000)
#   ERRWATCH_BENCH_INSERT_ROWS    rows of the insert benchmark (default 1000000)
#   ERRWATCH_BENCH_LOOKUP_IDS     ids timed per lookup run     (default 1000)
#   ERRWATCH_CLICKHOUSE_TCP_PORT  the server's native port     (default 19000)
#   ERRWATCH_CLICKHOUSE_HOME, ERRWATCH_CLICKHOUSE_HTTP_PORT: passed on to scripts/clickhouse.sh,
#   which with the TCP port above selects another private server (bench-http.sh's, say)
set -euo pipefail
export LC_ALL=C

case ${1:-all} in
all | lookup-db) mode=${1:-all} ;;
*)
    echo "usage: $0 [lookup-db]" >&2
    exit 2
    ;;
esac

ingest_lines=${ERRWATCH_BENCH_INGEST_LINES:-9000000}
insert_rows=${ERRWATCH_BENCH_INSERT_ROWS:-1000000}
lookup_ids=${ERRWATCH_BENCH_LOOKUP_IDS:-1000}
batch_rows=50000
insert_runs=3
# Building the lookup database needs the step-1 rows once, not a timed best of three.
[[ $mode == all ]] || insert_runs=1
ingest_runs=2
lookup_copies=10

cd "$(dirname "${BASH_SOURCE[0]}")/.."
target_dir=${CARGO_TARGET_DIR:-target}
errwatch_bin="$target_dir/release/errwatch"
bench_bin="$target_dir/release/examples/storage_bench"

db_insert=errwatch_bench_insert
db_ingest=errwatch_bench_ingest
db_lookup=errwatch_bench_lookup

section() { printf '\n== %s  [%s, load %s]\n' "$*" "$(date -u +%H:%M:%S)" "$(cut -d' ' -f1-3 /proc/loadavg)"; }
die() {
    echo "bench-storage.sh: $*" >&2
    exit 1
}
seconds_since() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.3f", e - s }'; }
per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
# Value of KEY in a file of key=value lines.
value_of() { sed -n "s/^$1=//p" "$2" | tail -n 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

[[ -x /usr/bin/time ]] || die "needs /usr/bin/time (GNU time) for peak RSS"
command -v clickhouse-client >/dev/null || die "needs clickhouse-client (scripts/clickhouse.sh installs it)"

url=$(scripts/clickhouse.sh start)
tcp_port=${ERRWATCH_CLICKHOUSE_TCP_PORT:-19000}
ch() { clickhouse-client --host 127.0.0.1 --port "$tcp_port" "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/errwatch-bench-storage.XXXXXX")
# Set once the lookup-db mode has built its database, which then outlives the script.
keep_lookup=0
drop_databases() {
    local db
    for db in "$db_insert" "$db_ingest" "$db_lookup"; do
        [[ $db == "$db_lookup" && $keep_lookup == 1 ]] && continue
        ch --query "DROP DATABASE IF EXISTS $db" || echo "could not drop $db" >&2
    done
}
cleanup() {
    drop_databases
    rm -rf "$work"
}
trap cleanup EXIT
drop_databases

truncate_tables() {
    local table
    for table in api_errors api_errors_by_correlation api_errors_per_minute; do
        ch --query "TRUNCATE TABLE $1.$table"
    done
}

# Bytes on disk of the active parts of a database.
database_bytes() {
    ch --query "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = '$1' AND active"
}

parts_of() {
    ch --query "SELECT count() FROM system.parts WHERE database = '$1' AND table = '$2' AND active"
}

# Step 3's database: $lookup_copies copies of the $rows rows of $db_insert, each with new
# correlation ids and its dates moved back by one more day. Sets lookup_events, lookup_days,
# lookup_parts, lookup_db_bytes and load_seconds.
load_lookup_database() {
    local copy start wait
    section "3. lookup: loading $lookup_copies copies of the $rows rows"
    ERRWATCH_LOG=warn ERRWATCH_CLICKHOUSE_URL="$url" ERRWATCH_CLICKHOUSE_DATABASE="$db_lookup" "$errwatch_bin" migrate
    start=$EPOCHREALTIME
    for ((copy = 0; copy < lookup_copies; copy++)); do
        ch --query "INSERT INTO $db_lookup.api_errors SELECT
                event_date - $copy, event_time - $((copy * 86400)), event_millis, ingest_time,
                toString(generateUUIDv4()), code, raw_code, http_status, category, retryable, retry,
                retry_after_seconds, message, family, inner_codes, service, method, host, api, tenant_id,
                source, source_partition, source_offset + $((copy * 100000000)), raw, raw_truncated
            FROM $db_insert.api_errors"
    done
    load_seconds=$(seconds_since "$start")
    # Let the merges the load started finish, so that the part count is settled (2 minutes at most).
    for ((wait = 0; wait < 120; wait++)); do
        [[ $(ch --query "SELECT count() FROM system.merges WHERE database = '$db_lookup'") == 0 ]] && break
        sleep 1
    done
    lookup_events=$(ch --query "SELECT count() FROM $db_lookup.api_errors_by_correlation")
    lookup_days=$(ch --query "SELECT uniqExact(event_date) FROM $db_lookup.api_errors_by_correlation")
    lookup_parts=$(parts_of "$db_lookup" api_errors_by_correlation)
    lookup_db_bytes=$(database_bytes "$db_lookup")
    echo "loaded in ${load_seconds}s (+${wait}s for merges): $lookup_events events in api_errors_by_correlation," \
        "$lookup_days days, $lookup_parts active parts; database $(mib "$lookup_db_bytes") on disk"
}

started_all=$EPOCHREALTIME

section "machine"
run_date=$(date -u)
cores=$(nproc)
cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
memory=$(free -g | awk '/^Mem:/ { print $2 " GiB total, " $4 " GiB free, " $7 " GiB available" }')
server_version=$(ch --query "SELECT version()")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
echo "date: $run_date"
echo "cores: $cores; cpu: $cpu_model; memory: $memory"
echo "rustc: $(rustc --version)"
echo "clickhouse: $server_version at $url (native port $tcp_port)"
echo "commit: $commit ($dirty tracked files modified in the working tree)"
echo "free disk in $work: $(df -h --output=avail "$work" | tail -n 1 | tr -d ' ')"

section "build"
cargo build --release --examples --bins

section "mix file: $ingest_lines lines"
mix="$work/mix.log"
ERRWATCH_BENCH_WRITE_MIX="$mix" ERRWATCH_BENCH_MIX_LINES="$ingest_lines" cargo bench --bench classify
mix_bytes=$(stat -c %s "$mix")
mix_disk_kib=$(du -k "$mix" | cut -f1)
echo "$mix: $(wc -l <"$mix") lines, $mix_bytes bytes"
errors="$work/errors.log"
grep -E 'rror|\(403\)' "$mix" | head -n "$insert_rows" >"$errors" || true
echo "$errors: $(wc -l <"$errors") lines, $(stat -c %s "$errors") bytes"

# ---------------------------------------------------------------------------------------------
section "1. insert: Store::insert, $batch_rows rows per statement, best of $insert_runs"
"$bench_bin" insert --url "$url" --database "$db_insert" --errors "$errors" \
    --rows "$insert_rows" --batch "$batch_rows" --runs "$insert_runs" | tee "$work/insert.txt"
rows=$(value_of rows "$work/insert.txt")
errwatch_insert_seconds=$(value_of best_seconds "$work/insert.txt")
errwatch_insert_rate=$(value_of best_rows_per_second "$work/insert.txt")
rm -f "$errors"

if [[ $mode == lookup-db ]]; then
    rm -f "$mix"
    load_lookup_database
    keep_lookup=1
    section "summary (took $(seconds_since "$started_all")s)"
    echo "database=$db_lookup events=$lookup_events days=$lookup_days parts=$lookup_parts bytes=$lookup_db_bytes"
    exit 0
fi

errwatch_hash=$(ch --query "SELECT groupBitXor(cityHash64(*)) FROM $db_insert.api_errors")

rows_bin="$work/rows.bin"
ch --query "SELECT * FROM $db_insert.api_errors ORDER BY source_offset FORMAT RowBinary" >"$rows_bin"
rows_bin_bytes=$(stat -c %s "$rows_bin")
echo "exported $rows rows, $rows_bin_bytes bytes of RowBinary, in insertion order"

section "1. insert: clickhouse-client, best of $insert_runs"
client_command="clickhouse-client --port $tcp_port --query \"INSERT INTO $db_insert.api_errors FORMAT RowBinary\" < rows.bin"
echo "$client_command"
# client_runs [OPTION]: best of $insert_runs client inserts of rows.bin; sets best_seconds.
client_runs() {
    local run start seconds hash
    best_seconds=""
    for ((run = 1; run <= insert_runs; run++)); do
        truncate_tables "$db_insert"
        start=$EPOCHREALTIME
        /usr/bin/time -f '%U %S' -o "$work/client-cpu.txt" \
            clickhouse-client --host 127.0.0.1 --port "$tcp_port" "$@" \
            --query "INSERT INTO $db_insert.api_errors FORMAT RowBinary" <"$rows_bin"
        seconds=$(seconds_since "$start")
        echo "run_$run=${seconds}s $(per_second "$rows" "$seconds") rows/s" \
            "(client process CPU: $(awk '{ printf "%.1f s", $1 + $2 }' "$work/client-cpu.txt"))"
        if [[ -z $best_seconds ]] || awk -v a="$seconds" -v b="$best_seconds" 'BEGIN { exit !(a < b) }'; then
            best_seconds=$seconds
        fi
    done
    hash=$(ch --query "SELECT groupBitXor(cityHash64(*)) FROM $db_insert.api_errors")
    [[ $hash == "$errwatch_hash" ]] || die "the table differs after the client's insert ($hash, $errwatch_hash)"
    echo "same rows stored as by errwatch (xor of row hashes $hash)"
}
client_runs
client_insert_seconds=$best_seconds
client_insert_rate=$(per_second "$rows" "$client_insert_seconds")

# The client forms blocks of max_insert_block_size rows (1,048,576 by default), so the server
# sorts and writes the rows as one part per table and day; errwatch's statements are 50,000 rows
# each. For reference, the client again with blocks of that size.
section "1. insert: clickhouse-client --max_insert_block_size=$batch_rows, best of $insert_runs"
client_runs --max_insert_block_size="$batch_rows"
client_small_seconds=$best_seconds
client_small_rate=$(per_second "$rows" "$client_small_seconds")
insert_db_bytes=$(database_bytes "$db_insert")
rm -f "$rows_bin"
insert_ratio=$(awk -v a="$errwatch_insert_rate" -v b="$client_insert_rate" 'BEGIN { printf "%.2f", a / b }')
small_ratio=$(awk -v a="$errwatch_insert_rate" -v b="$client_small_rate" 'BEGIN { printf "%.2f", a / b }')
echo "errwatch / clickhouse-client: $insert_ratio; with $batch_rows-row blocks: $small_ratio"

# ---------------------------------------------------------------------------------------------
section "2. errwatch ingest, $ingest_lines lines, best of $ingest_runs"
ingest_rate=""
ingest_wall=""
ingest_rss_kb=0
for ((run = 1; run <= ingest_runs; run++)); do
    ch --query "DROP DATABASE IF EXISTS $db_ingest"
    ERRWATCH_LOG=info ERRWATCH_CLICKHOUSE_URL="$url" ERRWATCH_CLICKHOUSE_DATABASE="$db_ingest" \
        /usr/bin/time -f '%e %M %U %S' -o "$work/time.txt" \
        "$errwatch_bin" ingest "$mix" --quiet 2>"$work/ingest.log"
    summary=$(grep 'ingest finished' "$work/ingest.log" | sed 's/\x1b\[[0-9;]*m//g') ||
        die "no summary line from errwatch ingest: $(tail -n 5 "$work/ingest.log")"
    read -r wall rss user_cpu system_cpu <"$work/time.txt"
    echo "run_$run: ${summary#*INFO } wall=${wall}s peak_rss_kib=$rss cpu_user=${user_cpu}s cpu_system=${system_cpu}s"
    rate=$(sed -n 's/.*records_per_second=\([0-9]*\).*/\1/p' <<<"$summary")
    if ((rss > ingest_rss_kb)); then
        ingest_rss_kb=$rss
    fi
    if [[ -z $ingest_rate ]] || ((rate > ingest_rate)); then
        ingest_rate=$rate
        ingest_wall=$wall
        ingest_cpu="${user_cpu}s user, ${system_cpu}s system"
        ingest_summary=${summary#*INFO }
    fi
done
ingest_errors=$(ch --query "SELECT count() FROM $db_ingest.api_errors")
ingest_db_bytes=$(database_bytes "$db_ingest")
echo "stored: $ingest_errors error rows, $(mib "$ingest_db_bytes") on disk in ClickHouse"
ch --query "DROP DATABASE IF EXISTS $db_ingest"
rm -f "$mix"
echo "deleted $mix"

# ---------------------------------------------------------------------------------------------
load_lookup_database

# What the server reads for one lookup, WHERE (errwatch's statement) against PREWHERE, from
# system.query_log, over 20 ids.
fields="correlation_id, event_date, event_time, event_millis, service, method, api, host, http_status, code, category, message, source, source_partition, source_offset"
order="ORDER BY event_time, event_millis, source, source_partition, source_offset LIMIT 10000"
query_log_figures() {
    local tag=$1 id n=0
    while read -r id; do
        n=$((n + 1))
        for form in WHERE PREWHERE; do
            ch --log_queries=1 --query_id="storagebench-$tag-$form-$n-$$" --query \
                "SELECT $fields FROM $db_lookup.api_errors_by_correlation $form correlation_id = '$id' $order" \
                </dev/null >/dev/null
        done
    done < <(ch --query "SELECT correlation_id FROM $db_lookup.api_errors_by_correlation
                         WHERE rand() % $((lookup_events / 400 + 1)) = 0 LIMIT 20")
    ch --query "SYSTEM FLUSH LOGS" 2>/dev/null || sleep 8
    ch --query "SELECT
            if(position(query_id, '-PREWHERE-') > 0, 'PREWHERE', 'WHERE') AS form,
            count() AS queries, round(avg(read_rows)) AS rows_read, round(avg(read_bytes) / 1048576, 1) AS mib_read,
            round(avg(query_duration_ms)) AS server_ms
        FROM system.query_log
        WHERE type = 2 AND query_id LIKE 'storagebench-$tag-%-$$' AND event_date >= today() - 1
        GROUP BY form ORDER BY form DESC FORMAT TSVWithNames" | column -t
}

lookup_run() {
    local name=$1 variant=$2
    "$bench_bin" lookup --url "$url" --database "$db_lookup" --ids "$lookup_ids" --variant "$variant" \
        >"$work/lookup-$name.txt"
    echo "$name: $(tr '\n' ' ' <"$work/lookup-$name.txt")"
}

section "3. lookup: $lookup_ids ids, $lookup_parts parts"
lookup_run store store
lookup_run prewhere prewhere
query_log_figures loaded | tee "$work/querylog-loaded.txt"

section "3. lookup: after OPTIMIZE TABLE api_errors_by_correlation FINAL"
start=$EPOCHREALTIME
ch --query "OPTIMIZE TABLE $db_lookup.api_errors_by_correlation FINAL"
optimize_seconds=$(seconds_since "$start")
optimized_parts=$(parts_of "$db_lookup" api_errors_by_correlation)
echo "optimized in ${optimize_seconds}s: $optimized_parts active parts"
lookup_run store-optimized store
lookup_run prewhere-optimized prewhere
query_log_figures optimized | tee "$work/querylog-optimized.txt"

# ---------------------------------------------------------------------------------------------
verdict() { awk -v ok="$1" 'BEGIN { print (ok ? "met" : "NOT met") }'; }
p99=$(value_of p99_ms "$work/lookup-store.txt")
ingest_rss_mib=$(awk -v k="$ingest_rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')

section "summary (took $(seconds_since "$started_all")s)"
cat <<EOF
date: $run_date
machine: $cores cores, $cpu_model, $memory; ClickHouse $server_version; commit $commit

1. insert, $rows rows, $batch_rows rows per statement, best of $insert_runs:
   Store::insert         ${errwatch_insert_seconds}s  $errwatch_insert_rate rows/s
   clickhouse-client     ${client_insert_seconds}s  $client_insert_rate rows/s  ($client_command)
   errwatch / client     $insert_ratio   target >= 0.8: $(verdict "$(awk -v r="$insert_ratio" 'BEGIN { print (r >= 0.8) }')")
   client, $batch_rows-row blocks   ${client_small_seconds}s  $client_small_rate rows/s; errwatch / that: $small_ratio
   RowBinary: $(mib "$rows_bin_bytes"); stored: $(mib "$insert_db_bytes") on disk

2. errwatch ingest, $ingest_lines lines, $mix_bytes bytes ($mix_disk_kib KiB on disk), best of $ingest_runs:
   $ingest_summary
   records/s $ingest_rate (errwatch's figure), wall ${ingest_wall}s including startup, errwatch CPU $ingest_cpu
   peak RSS ${ingest_rss_kb} KiB (${ingest_rss_mib} MiB, highest of the runs)   target <= 200 MiB: $(verdict "$(awk -v r="$ingest_rss_mib" 'BEGIN { print (r <= 200) }')")
   stored: $ingest_errors error rows, $(mib "$ingest_db_bytes") in ClickHouse

3. lookup, $lookup_events events over $lookup_days days, $lookup_ids random stored ids, one at a time:
   Store::lookup, $lookup_parts parts          p50 $(value_of p50_ms "$work/lookup-store.txt") ms   p99 $p99 ms   target p99 <= 50 ms: $(verdict "$(awk -v r="$p99" 'BEGIN { print (r <= 50) }')")
   PREWHERE, $lookup_parts parts               p50 $(value_of p50_ms "$work/lookup-prewhere.txt") ms   p99 $(value_of p99_ms "$work/lookup-prewhere.txt") ms
   Store::lookup, $optimized_parts parts (optimized)   p50 $(value_of p50_ms "$work/lookup-store-optimized.txt") ms   p99 $(value_of p99_ms "$work/lookup-store-optimized.txt") ms
   PREWHERE, $optimized_parts parts (optimized)        p50 $(value_of p50_ms "$work/lookup-prewhere-optimized.txt") ms   p99 $(value_of p99_ms "$work/lookup-prewhere-optimized.txt") ms
   load ${load_seconds}s; database $(mib "$lookup_db_bytes") on disk
EOF
