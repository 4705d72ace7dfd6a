#!/usr/bin/env bash
# Tries errwatch on this machine: makes sure a ClickHouse server is running (a private one from
# scripts/clickhouse.sh, unless ERRWATCH_CLICKHOUSE_URL names yours), builds errwatch in release
# mode and starts `errwatch demo`. Arguments go to `errwatch demo` (see `errwatch demo --help`).
#
#   ./scripts/demo.sh                      # until Ctrl-C
#   ./scripts/demo.sh --duration 5m --rate 500
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${ERRWATCH_CLICKHOUSE_URL:-}" ]]; then
    ERRWATCH_CLICKHOUSE_URL=$(./scripts/clickhouse.sh)
    export ERRWATCH_CLICKHOUSE_URL
fi
echo "demo.sh: using ClickHouse at $ERRWATCH_CLICKHOUSE_URL" >&2

# Cargo's own progress is shown: the first release build compiles librdkafka and about 200
# crates, which took 10 minutes on a 2-core machine here; later builds take seconds.
echo "demo.sh: building errwatch in release mode (the first build: about 10 minutes on 2 cores)" >&2
cargo build --release --bin errwatch

exec "${CARGO_TARGET_DIR:-target}/release/errwatch" demo "$@"
