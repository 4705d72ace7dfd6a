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

echo "demo.sh: building errwatch (release; the first build takes a few minutes)" >&2
cargo build --release --quiet --bin errwatch

exec "${CARGO_TARGET_DIR:-target}/release/errwatch" demo "$@"
