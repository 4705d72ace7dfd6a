#!/usr/bin/env bash
# Load benchmark of the lookup endpoint, GET /api/v1/correlations/{id}, with 10,000,000 stored
# events, against the same lookup sent straight to ClickHouse.
#
#   scripts/bench-http.sh
#
# 1. starts a ClickHouse server of its own (scripts/clickhouse.sh with target/clickhouse-bench
#    and ports 28123/29000, the pipeline benchmark's, so the test server is left alone), or
#    reuses it if it is running;
# 2. builds the release binary, then the database errwatch_bench_lookup with
#    `scripts/bench-storage.sh lookup-db`: 10,000,000 events over 11 days, as the storage
#    benchmark's lookup step has them;
# 3. writes ERRWATCH_BENCH_IDS random stored correlation ids to a file;
# 4. starts `errwatch serve` on a free port against that database;
# 5. warms up: wrk against errwatch, during which the SQL errwatch sends is read from
#    system.processes (so the baseline is errwatch's statement, not a copy of it that could
#    drift), then wrk against ClickHouse;
# 6. for each of ERRWATCH_BENCH_ROUNDS rounds, runs wrk (scripts/wrk-lookup.lua) against
#    errwatch, then the same ids against ClickHouse's HTTP interface: that SQL, POSTed with the
#    URL parameters errwatch's reader client sends (database, RowBinary, readonly=2 and the two
#    read limits), so the two differ only by errwatch's HTTP server, its ClickHouse client, the
#    RowBinary decoding and the JSON answer;
# 7. prints requests/s, latency percentiles, errors, the CPU each process used, and the ratio
#    errwatch ÷ ClickHouse, as a Markdown table for BENCHMARKS.md.
#
# Every request must find its event: an answer other than 200, a 200 from ClickHouse with no
# row, or a socket error counts as an error, and the script exits with status 1 if any occurred.
# wrk, errwatch and ClickHouse run on the same machine and share its cores, and the script
# reports how much CPU each of them took during each run, and how much went to other processes.
#
# Needs bash, cargo, wrk (Debian package `wrk`), curl, clickhouse-client and GNU /usr/bin/time.
# Takes about 11 minutes on 2 cores, most of it building the database.
#
# Settings (environment):
#   ERRWATCH_BENCH_IDS            stored ids requested, each thread in its own order (default 10000)
#   ERRWATCH_BENCH_DURATION       length of each measured wrk run                  (default 30s)
#   ERRWATCH_BENCH_WARMUP         length of each warm-up run                       (default 5s)
#   ERRWATCH_BENCH_ROUNDS         measured errwatch + ClickHouse pairs             (default 2)
#   ERRWATCH_BENCH_THREADS        wrk threads                                      (default 2)
#   ERRWATCH_BENCH_CONNECTIONS    wrk connections, kept open                       (default 16)
#   ERRWATCH_BENCH_KEEP_DATABASE  1: keep errwatch_bench_lookup afterwards, and reuse it if it
#                                 already holds the 10,000,000 events (default: build it anew
#                                 and drop it at the end)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

id_count=${ERRWATCH_BENCH_IDS:-10000}
duration=${ERRWATCH_BENCH_DURATION:-30s}
warmup=${ERRWATCH_BENCH_WARMUP:-5s}
rounds=${ERRWATCH_BENCH_ROUNDS:-2}
threads=${ERRWATCH_BENCH_THREADS:-2}
connections=${ERRWATCH_BENCH_CONNECTIONS:-16}
keep_database=${ERRWATCH_BENCH_KEEP_DATABASE:-0}
expected_events=10000000

target_dir=${CARGO_TARGET_DIR:-target}
errwatch_bin="$target_dir/release/errwatch"
lua=scripts/wrk-lookup.lua
db=errwatch_bench_lookup

# The pipeline benchmark's private server.
export ERRWATCH_CLICKHOUSE_HOME="$target_dir/clickhouse-bench"
export ERRWATCH_CLICKHOUSE_HTTP_PORT=28123
export ERRWATCH_CLICKHOUSE_TCP_PORT=29000

section() { printf '\n== %s  [%s, load %s]\n' "$*" "$(date -u +%H:%M:%S)" "$(cut -d' ' -f1-3 /proc/loadavg)"; }
die() {
    echo "bench-http.sh: $*" >&2
    exit 1
}
# Value of KEY in a file of key=value lines.
value_of() { sed -n "s/^$1=//p" "$2" | tail -n 1; }
ch() { clickhouse-client --host 127.0.0.1 --port "$ERRWATCH_CLICKHOUSE_TCP_PORT" "$@"; }

for tool in wrk curl clickhouse-client cargo; do
    command -v "$tool" >/dev/null || die "needs $tool (wrk: apt-get install wrk)"
done
[[ -x /usr/bin/time ]] || die "needs /usr/bin/time (GNU time) for wrk's CPU time"

work=$(mktemp -d "${TMPDIR:-/tmp}/errwatch-bench-http.XXXXXX")
serve_pid=""
cleanup() {
    if [[ -n $serve_pid ]]; then
        kill -TERM "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    if [[ $keep_database != 1 ]]; then
        ch --query "DROP DATABASE IF EXISTS $db" 2>/dev/null || echo "could not drop $db" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The pipeline benchmark uses the same ClickHouse server and both need the CPU: wait for it.
while pgrep -f pipeline_bench >/dev/null; do
    echo "waiting for the pipeline benchmark (pipeline_bench) to finish; it shares the server and the cores"
    sleep 30
done

section "machine"
run_date=$(date -u)
cores=$(nproc)
cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
memory=$(free -g | awk '/^Mem:/ { print $2 " GiB total, " $7 " GiB available" }')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "date: $run_date"
echo "cores: $cores; cpu: $cpu_model; memory: $memory"
echo "uptime:$(uptime)"
echo "commit: $commit ($(git status --porcelain --untracked-files=no 2>/dev/null | wc -l) tracked files modified)"
echo "busiest processes now:"
ps -eo pcpu,pid,args --sort=-pcpu | head -n 6 | cut -c 1-150

section "ClickHouse for the benchmark"
url=$(scripts/clickhouse.sh start)
ch_pid=$(cat "$ERRWATCH_CLICKHOUSE_HOME/clickhouse-server.pid")
server_version=$(ch --query "SELECT version()")
echo "ClickHouse $server_version at $url (pid $ch_pid)"

section "build"
cargo build --release --bin errwatch

stored_events() {
    ch --query "SELECT count() FROM $db.api_errors_by_correlation" 2>/dev/null || echo 0
}
if [[ $keep_database == 1 && $(stored_events) -ge $expected_events ]]; then
    section "database $db: reusing it (ERRWATCH_BENCH_KEEP_DATABASE=1)"
else
    section "database $db: scripts/bench-storage.sh lookup-db"
    scripts/bench-storage.sh lookup-db
fi
events=$(stored_events)
((events >= expected_events)) || die "$db holds $events events, not $expected_events"
days=$(ch --query "SELECT uniqExact(event_date) FROM $db.api_errors_by_correlation")
parts=$(ch --query "SELECT count() FROM system.parts
                    WHERE database = '$db' AND table = 'api_errors_by_correlation' AND active")
echo "$events events over $days days, $parts active parts in api_errors_by_correlation"

section "ids: $id_count random stored correlation ids"
ids="$work/ids.txt"
# ORDER BY rand() draws from every part; a LIMIT without it would take the first parts read.
ch --query "SELECT correlation_id FROM $db.api_errors_by_correlation ORDER BY rand() LIMIT $id_count" >"$ids"
(($(wc -l <"$ids") == id_count)) || die "got $(wc -l <"$ids") ids, wanted $id_count"
head -n 3 "$ids"

section "errwatch serve"
ERRWATCH_LOG=info ERRWATCH_HTTP_ADDR=127.0.0.1:0 ERRWATCH_CLICKHOUSE_URL="$url" \
    ERRWATCH_CLICKHOUSE_DATABASE="$db" "$errwatch_bin" serve 2>"$work/serve.log" &
serve_pid=$!
address=""
for ((i = 0; i < 300; i++)); do
    address=$(sed 's/\x1b\[[0-9;]*m//g' "$work/serve.log" | sed -n 's/.*http listening address=\([0-9.:]*\).*/\1/p')
    [[ -n $address ]] && break
    kill -0 "$serve_pid" 2>/dev/null || die "errwatch serve exited: $(tail -n 5 "$work/serve.log")"
    sleep 0.1
done
[[ -n $address ]] || die "errwatch serve did not log its address: $(tail -n 5 "$work/serve.log")"
echo "errwatch serve (pid $serve_pid) at http://$address"
first_id=$(head -n 1 "$ids")
status=$(curl -s -o "$work/first.json" -w '%{http_code}' "http://$address/api/v1/correlations/$first_id")
[[ $status == 200 ]] || die "the first id answered $status: $(head -c 300 "$work/first.json")"
echo "GET /api/v1/correlations/$first_id: $status, $(wc -c <"$work/first.json") bytes"

# The reader client's settings (Store::new): RowBinary, readonly=2 and the two limits, whose
# values come from the source so that they cannot drift from it.
limit_of() {
    sed -n "s/^pub const $1: u32 = \([0-9_]*\);/\1/p" src/store/mod.rs | tr -d _
}
read_seconds=$(limit_of READ_SECONDS_LIMIT)
read_rows=$(limit_of READ_ROWS_LIMIT)
[[ -n $read_seconds && -n $read_rows ]] || die "cannot read READ_SECONDS_LIMIT / READ_ROWS_LIMIT from src/store/mod.rs"
ch_path="/?default_format=RowBinary&database=$db&readonly=2&max_execution_time=$read_seconds&max_result_rows=$read_rows"

# wrk_run NAME TARGET DURATION MODE [SQL_FILE PATH]: one wrk run, its report in $work/NAME.txt,
# and the CPU time errwatch, ClickHouse, wrk and the whole machine used during it in
# $work/NAME.cpu (key=value, seconds).
ticks=$(getconf CLK_TCK)
process_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo 0
        return
    }
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat" # utime and stime, fields 14 and 15 of the whole line
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
seed=0
wrk_run() {
    local name=$1 target=$2 length=$3 mode=$4
    shift 4
    local serve_before ch_before busy_before idle_before serve_after ch_after busy_after idle_after
    seed=$((seed + 1))
    serve_before=$(process_ticks "$serve_pid")
    ch_before=$(process_ticks "$ch_pid")
    read -r busy_before idle_before < <(machine_ticks)
    # --timeout 10s: as long as ClickHouse lets a read run (max_execution_time), so that a slow
    # answer is measured rather than dropped as a timeout.
    /usr/bin/time -f 'wrk_user=%U\nwrk_system=%S' -o "$work/$name.wrktime" \
        wrk -t"$threads" -c"$connections" -d"$length" --timeout 10s --latency -s "$lua" "$target" \
        -- "$mode" "$ids" "$seed" "$@" >"$work/$name.txt"
    serve_after=$(process_ticks "$serve_pid")
    ch_after=$(process_ticks "$ch_pid")
    read -r busy_after idle_after < <(machine_ticks)
    {
        cat "$work/$name.wrktime"
        awk -v t="$ticks" -v a="$serve_before" -v b="$serve_after" 'BEGIN { printf "errwatch=%.2f\n", (b - a) / t }'
        awk -v t="$ticks" -v a="$ch_before" -v b="$ch_after" 'BEGIN { printf "clickhouse=%.2f\n", (b - a) / t }'
        awk -v t="$ticks" -v a="$busy_before" -v b="$busy_after" 'BEGIN { printf "machine_busy=%.2f\n", (b - a) / t }'
        awk -v t="$ticks" -v a="$idle_before" -v b="$idle_after" 'BEGIN { printf "machine_idle=%.2f\n", (b - a) / t }'
    } >"$work/$name.cpu"
    grep -v '^[a-z_0-9]*=' "$work/$name.txt" | sed 's/^/    /'
    echo "$name: $(grep '^[a-z_0-9]*=' "$work/$name.txt" | tr '\n' ' ')"
    echo "$name CPU seconds: $(tr '\n' ' ' <"$work/$name.cpu")"
}

section "warm-up: errwatch, $warmup; reading the SQL errwatch sends from system.processes"
sql_file="$work/lookup.sql"
: >"$sql_file"
(
    # A lookup in flight shows its statement, as the server received it, in system.processes.
    for ((i = 0; i < 200; i++)); do
        ch --query "SELECT query FROM system.processes
                    WHERE query LIKE '%api_errors_by_correlation%' AND query NOT LIKE '%system.processes%'
                    LIMIT 1 FORMAT TabSeparatedRaw" >"$work/captured.sql" 2>/dev/null || true
        [[ -s $work/captured.sql ]] && break
        sleep 0.05
    done
) &
capture_pid=$!
wrk_run warmup-errwatch "http://$address" "$warmup" errwatch
wait "$capture_pid" || true
[[ -s $work/captured.sql ]] || die "no lookup statement seen in system.processes during the warm-up"
# The id in it becomes the placeholder the Lua script fills in.
uuid="[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
sed -E "s/'$uuid'/'{id}'/g" "$work/captured.sql" | tr -d '\n' >"$sql_file"
[[ $(grep -o "{id}" "$sql_file" | wc -l) == 1 ]] || die "expected one id in the captured statement: $(cat "$work/captured.sql")"
echo "errwatch's statement: $(cat "$sql_file")"
echo "baseline: POST $url$ch_path with that statement as the body"
status=$(sed "s/{id}/$first_id/" "$sql_file" |
    curl -s -o "$work/first.bin" -w '%{http_code}' --data-binary @- "$url$ch_path")
[[ $status == 200 && -s $work/first.bin ]] ||
    die "ClickHouse answered $status with $(wc -c <"$work/first.bin") bytes for the first id: $(head -c 300 "$work/first.bin")"
echo "ClickHouse: $status, $(wc -c <"$work/first.bin") bytes of RowBinary for the first id"

section "warm-up: ClickHouse, $warmup"
wrk_run warmup-clickhouse "$url" "$warmup" clickhouse "$sql_file" "$ch_path"

for ((round = 1; round <= rounds; round++)); do
    section "round $round: errwatch, wrk -t$threads -c$connections -d$duration"
    wrk_run "errwatch-$round" "http://$address" "$duration" errwatch
    section "round $round: ClickHouse directly, wrk -t$threads -c$connections -d$duration"
    wrk_run "clickhouse-$round" "$url" "$duration" clickhouse "$sql_file" "$ch_path"
done

# ---------------------------------------------------------------------------------------------
section "summary"
total_errors=0
# errors NAME: socket errors, answers other than 200, and 200s without a row.
errors_of() {
    echo $(($(value_of socket_errors "$work/$1.txt") + $(value_of not_200 "$work/$1.txt") + $(value_of empty_200 "$work/$1.txt")))
}
row() {
    local name=$1 label=$2 f="$work/$1.txt" c="$work/$1.cpu" errors
    errors=$(errors_of "$name")
    total_errors=$((total_errors + errors))
    awk -v label="$label" -v rps="$(value_of requests_per_second "$f")" -v n="$(value_of requests "$f")" \
        -v p50="$(value_of p50_ms "$f")" -v p90="$(value_of p90_ms "$f")" -v p99="$(value_of p99_ms "$f")" \
        -v max="$(value_of max_ms "$f")" -v errors="$errors" -v non2xx="$(value_of wrk_non_2xx_3xx "$f")" \
        -v e="$(value_of errwatch "$c")" -v k="$(value_of clickhouse "$c")" \
        -v w="$(awk -F= '/^wrk_/ { s += $2 } END { print s }' "$c")" \
        -v busy="$(value_of machine_busy "$c")" -v idle="$(value_of machine_idle "$c")" 'BEGIN {
            other = busy - e - k - w; if (other < 0) other = 0
            printf "| %s | %d | %.1f | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %d (non-2xx: %d) | %.1f / %.1f / %.1f / %.1f of %.1f |\n",
                label, n, rps, p50, p90, p99, max, errors, non2xx, e, k, w, other, busy + idle
        }'
}
ratio_row() {
    local a="$work/errwatch-$1.txt" b="$work/clickhouse-$1.txt"
    awk -v round="$1" -v ra="$(value_of requests_per_second "$a")" -v rb="$(value_of requests_per_second "$b")" \
        -v a50="$(value_of p50_ms "$a")" -v b50="$(value_of p50_ms "$b")" \
        -v a99="$(value_of p99_ms "$a")" -v b99="$(value_of p99_ms "$b")" 'BEGIN {
            printf "| round %d: errwatch ÷ ClickHouse | | **%.2f** | %.2f | | %.2f | | | |\n", round, ra / rb, a50 / b50, a99 / b99
        }'
}
table="$work/table.md"
{
    echo "date: $run_date"
    echo "machine: $cores cores ($cpu_model), $memory; ClickHouse $server_version; commit $commit"
    echo "database: $events events over $days days, $parts active parts in api_errors_by_correlation"
    echo "load: wrk -t$threads -c$connections -d$duration --timeout 10s, $id_count random stored ids, each thread in its own order;" \
        "wrk, errwatch and ClickHouse on the same $cores cores"
    echo
    echo "| run | requests | requests/s | p50 | p90 | p99 | max | errors | CPU s: errwatch / ClickHouse / wrk / other, of available |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    for ((round = 1; round <= rounds; round++)); do
        row "errwatch-$round" "round $round: errwatch \`GET /api/v1/correlations/{id}\`"
        row "clickhouse-$round" "round $round: ClickHouse HTTP, same SQL"
    done
    for ((round = 1; round <= rounds; round++)); do
        ratio_row "$round"
    done
    echo
    # What one lookup costs each process, from the CPU columns: where the time goes.
    for ((round = 1; round <= rounds; round++)); do
        awk -v round="$round" -v n="$(value_of requests "$work/errwatch-$round.txt")" \
            -v e="$(value_of errwatch "$work/errwatch-$round.cpu")" -v k="$(value_of clickhouse "$work/errwatch-$round.cpu")" \
            -v m="$(value_of requests "$work/clickhouse-$round.txt")" -v kk="$(value_of clickhouse "$work/clickhouse-$round.cpu")" 'BEGIN {
                printf "CPU per request, round %d: through errwatch %.2f ms in errwatch + %.1f ms in ClickHouse; direct %.1f ms in ClickHouse\n",
                    round, 1000 * e / n, 1000 * k / n, 1000 * kk / m
            }'
    done
} >"$table"
cat "$table"
echo
echo "errors in the measured runs: $total_errors"
((total_errors == 0)) || exit 1
