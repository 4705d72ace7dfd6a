#!/usr/bin/env bash
# Measures `errwatch run` end to end, from a backlog in librdkafka's mock cluster into
# ClickHouse, against what bounds it and against ClickHouse's own Kafka engine.
#
#   scripts/bench-pipeline.sh
#
# 1. builds the release binary and examples/pipeline_bench.rs;
# 2. writes the benchmark's record mix (benches/classify.rs), 2,000,000 lines;
# 3. starts a ClickHouse server of its own (scripts/clickhouse.sh with its own directory and
#    ports, so the test server is left alone), whose config has the <kafka> settings the peer
#    needs;
# 4. runs pipeline_bench, which for the error-only stream and the mix, each a backlog of
#    ERRWATCH_BENCH_BACKLOG_MB megabytes, measures: (a) a raw rdkafka consumer, (b) raw
#    `Store::insert` of the same rows, (c) `errwatch run`, (d) the Kafka engine with a
#    materialized view; then freshness (produced to visible) at half of errwatch's rate; and
#    the CPU time errwatch and the server spent on (c), and the server on (d);
# 5. prints the figures and ratios as Markdown tables for BENCHMARKS.md.
#
# Settings (environment):
#   ERRWATCH_BENCH_BACKLOG_MB         backlog per stream in MB       (default 320)
#   ERRWATCH_BENCH_FRESHNESS_SECONDS  live traffic for freshness      (default 20)
#   ERRWATCH_BENCH_CLICKHOUSE_PORT    HTTP port of the bench server   (default 28123)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

backlog_mb=${ERRWATCH_BENCH_BACKLOG_MB:-320}
freshness_seconds=${ERRWATCH_BENCH_FRESHNESS_SECONDS:-20}
http_port=${ERRWATCH_BENCH_CLICKHOUSE_PORT:-28123}
target_dir=${CARGO_TARGET_DIR:-target}

work=$(mktemp -d "${TMPDIR:-/tmp}/errwatch-bench-pipeline.XXXXXX")
trap 'rm -rf "$work"' EXIT

section() { printf '\n== %s  [%s, load %s]\n' "$*" "$(date -u +%H:%M:%S)" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

section "machine"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores; memory: $(free -g | awk '/^Mem:/ { print $2 }') GiB"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"

section "build"
cargo build --release --bin errwatch --example pipeline_bench

section "mix file"
ERRWATCH_BENCH_WRITE_MIX="$work/mix.log" ERRWATCH_BENCH_MIX_LINES=2000000 cargo bench --bench classify

section "ClickHouse for the benchmark"
url=$(ERRWATCH_CLICKHOUSE_HOME="$target_dir/clickhouse-bench" ERRWATCH_CLICKHOUSE_HTTP_PORT="$http_port" \
    ERRWATCH_CLICKHOUSE_TCP_PORT=$((http_port + 877)) ./scripts/clickhouse.sh)
echo "$url"

section "pipeline"
clickhouse_pid=$(cat "$target_dir/clickhouse-bench/clickhouse-server.pid")
"$target_dir/release/examples/pipeline_bench" --mix "$work/mix.log" --errwatch "$target_dir/release/errwatch" \
    --url "$url" --backlog-mb "$backlog_mb" --freshness-seconds "$freshness_seconds" \
    --clickhouse-pid "$clickhouse_pid" | tee "$work/results.txt"

section "summary"
awk -F= '{ value[$1] = $2 } END {
    printf "| stream | (a) raw consume | (b) raw insert | (c) errwatch | (d) Kafka engine | c/d | c/min(a,b) | errwatch peak RSS | errors found c / d |\n"
    printf "|---|---|---|---|---|---|---|---|---|\n"
    split("errors mix", streams, " ")
    for (i = 1; i <= 2; i++) {
        s = streams[i]
        a = value[s ".consume_records_per_second"]; b = value[s ".insert_records_per_second"]
        c = value[s ".errwatch_records_per_second"]; d = value[s ".peer_records_per_second"]
        m = a < b ? a : b
        printf "| %s (%d records, %.0f MB, %d partitions) | %d/s | %d/s | %d/s | %d/s | %.2f | %.2f | %.1f MiB | %d / %d |\n",
            s, value[s ".records"], value[s ".bytes"] / 1e6, value[s ".partitions"], a, b, c, d, c / d, c / m,
            value[s ".errwatch_peak_rss_kib"] / 1024, value[s ".errwatch_error_rows"], value[s ".peer_error_rows"]
    }
    printf "\nCPU time per record, microseconds (all threads; the server'"'"'s from the start of each run to its last row):\n\n"
    printf "| stream | (c) errwatch | (c) ClickHouse | (c) in all | (d) ClickHouse, Kafka engine included | (d) / (c) in all |\n"
    printf "|---|---|---|---|---|---|\n"
    for (i = 1; i <= 2; i++) {
        s = streams[i]; n = value[s ".records"] / 1e6
        e = value[s ".errwatch_cpu_seconds"] / n; k = value[s ".errwatch_clickhouse_cpu_seconds"] / n
        p = value[s ".peer_cpu_seconds"] / n
        printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", s, e, k, e + k, p, p / (e + k)
    }
    printf "\nFreshness at %d records/s (half of errwatch'"'"'s mix rate), %d probes: p50 %d ms, p99 %d ms, max %d ms\n",
        value["mix.freshness_rate"], value["mix.freshness_probes"], value["mix.freshness_p50_ms"],
        value["mix.freshness_p99_ms"], value["mix.freshness_max_ms"]
}' "$work/results.txt"
