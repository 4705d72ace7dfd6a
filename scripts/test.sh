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

step "schemathesis for the API's contract test"
# Pinned: its command line and report format change between versions.
schemathesis=4.32.5
python3 -c "import sys, schemathesis; sys.exit(schemathesis.__version__ != '$schemathesis')" 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis"

step "Prometheus: the rules (promtool), and the server the tests start"
./scripts/check-prometheus.sh

step "docker-compose.yml validates (Debian's docker-compose; no engine is needed to check it)"
if ! command -v docker-compose >/dev/null; then
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -o Dpkg::Use-Pty=0)
  "${apt[@]}" update -qq
  "${apt[@]}" install -y -qq --no-install-recommends docker-compose >/dev/null
fi
docker-compose config -q

step "Chromium and Playwright for the page test"
# Debian's Chromium, driven by playwright-core from npm; Playwright never downloads a browser.
if [[ ! -x /usr/bin/chromium ]]; then
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -o Dpkg::Use-Pty=0)
  "${apt[@]}" update -qq
  "${apt[@]}" install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
# Debian's launcher prints a harmless warning from its /dev/shm check on some machines.
/usr/bin/chromium --version 2>/dev/null
# Installed again when package-lock.json changed since (a checkout makes it the newer file).
if [[ ! tests/browser/node_modules -nt tests/browser/package-lock.json ]]; then
  command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 or later" >&2; exit 1; }
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null
fi
echo "playwright-core $(node -p 'require("./tests/browser/node_modules/playwright-core/package.json").version')"

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings

step "cargo test"
cargo test --locked
