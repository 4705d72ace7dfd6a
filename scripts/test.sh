#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then checks
# formatting and lints and runs every test. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components"
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

step "ClickHouse server for the tests"
if [[ -z "${ERRWATCH_CLICKHOUSE_URL:-}" ]]; then
  ERRWATCH_CLICKHOUSE_URL=$(./scripts/clickhouse.sh)
  export ERRWATCH_CLICKHOUSE_URL
fi
echo "using ClickHouse at $ERRWATCH_CLICKHOUSE_URL"

step "chdb (current ClickHouse, in process) for checking migrations"
python3 -c 'import chdb' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check chdb-core

step "Prometheus: the rules (promtool), and the server the tests start"
./scripts/check-prometheus.sh

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings

step "cargo test"
cargo test --locked
