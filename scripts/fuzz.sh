#!/usr/bin/env bash
# Fuzzes, with cargo-fuzz (libFuzzer), the classifier (target `extract`) and the HTTP API's
# request reading (target `http_request`), one after the other. Not part of the test suite.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     default 600 (ten minutes each)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). libFuzzer needs nightly features; on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them. Seed corpora: the records of tests/data for
# `extract`, real request targets for `http_request`. A run stops at its target's first
# finding, which libFuzzer writes to fuzz/artifacts/TARGET/; the script then goes on with the
# next target, prints executions and findings for each, and exits 1 when anything was found.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2; exit 2; }

mkdir -p fuzz/seeds/extract fuzz/seeds/http_request target/fuzz
python3 - <<'PY'
import hashlib, json, pathlib

def seed(target, data):
    (pathlib.Path("fuzz/seeds") / target / hashlib.sha1(data).hexdigest()).write_bytes(data)

for line in open("tests/data/records.jsonl", encoding="utf-8"):
    seed("extract", json.loads(line)["input"].encode())

# Requests as the page, the tests and an operator send them, good and bad.
for target in """
/api/v1/correlations/43f4cb08-8fac-4b65-9db1-745c2ae65f3a
/api/v1/correlations/%7B43F4CB08-8FAC-4B65-9DB1-745C2AE65F3A%7D
/api/v1/correlations/43f4cb088fac4b659db1745c2ae65f3a
/api/v1/correlations/not-a-guid
/api/v1/correlations/%FF%FE
/api/v1/errors/summary
/api/v1/errors/summary?from=1795687200&to=1795773600
/api/v1/errors/summary?from=2026-11-26T10:00:00Z&to=2026-11-27T10:00:00.500Z&category=throttling
/api/v1/errors/summary?service=mde-sync&code=TooManyRequests&to=1795773600
/api/v1/errors/summary?step=5m
/api/v1/errors/timeseries?step=1h
/api/v1/errors/timeseries?from=1790000000&to=1795773600&step=5m
/api/v1/errors/timeseries?from=2026-11-27T11:00:00%2B01:00&step=86400&category=server
/api/v1/errors/timeseries?from=1700000000&to=1734560060&step=6h
/api/v1/openapi.json
""".split():
    seed("http_request", target.encode())
PY

toolchain=()
if rustup toolchain list | grep -q nightly; then toolchain=(+nightly); else export RUSTC_BOOTSTRAP=1; fi

# Builds both targets first, so that a build error stops the script before any fuzzing.
cargo "${toolchain[@]}" fuzz build

found=0
summary=()
for spec in extract:65536 http_request:8192; do
  target=${spec%%:*} max_len=${spec##*:}
  artifacts=fuzz/artifacts/$target
  log=target/fuzz/$target.log
  mkdir -p "$artifacts" "fuzz/corpus/$target"
  find "$artifacts" -type f | sort >"$log.before"
  printf '\n==> fuzzing %s for %s s (log: %s)\n' "$target" "$seconds" "$log"
  status=0
  cargo "${toolchain[@]}" fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  new=$(find "$artifacts" -type f | sort | comm -13 "$log.before" -)
  findings=$(grep -c . <<<"$new" || true)
  if ((status != 0 && findings == 0)); then
    # Stopped without leaving an artifact: a build or setup failure, shown as it is.
    tail -n 30 "$log" >&2
    findings=1
  elif ((findings > 0)); then
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -n 5 >&2 || true
    sed 's/^/found: /' <<<"$new" >&2
  fi
  found=$((found + findings))
  summary+=("$(printf '%-13s %12s executions  %s findings  corpus %s' "$target" "${executions:-?}" "$findings" \
    "$(find "fuzz/corpus/$target" -type f | wc -l)")")
done

printf '\n==> summary (%s s per target)\n' "$seconds"
printf '%s\n' "${summary[@]}"
((found == 0)) || { echo "findings are in fuzz/artifacts/; replay one with: cargo fuzz run TARGET FILE" >&2; exit 1; }
