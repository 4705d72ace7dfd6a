#!/usr/bin/env bash
# Fuzzes the classifier with cargo-fuzz (libFuzzer). Not part of the test suite.
#
#   scripts/fuzz.sh [SECONDS]     default 600
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). libFuzzer needs nightly features; on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them. The seed corpus is built from tests/data.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}

seeds=fuzz/seeds/extract
mkdir -p "$seeds" fuzz/corpus/extract
python3 - "$seeds" <<'PY'
import hashlib, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
for line in open("tests/data/records.jsonl", encoding="utf-8"):
    record = json.loads(line)["input"].encode()
    (out / hashlib.sha1(record).hexdigest()).write_bytes(record)
PY

toolchain=()
if rustup toolchain list | grep -q nightly; then toolchain=(+nightly); else export RUSTC_BOOTSTRAP=1; fi
cargo "${toolchain[@]}" fuzz run extract fuzz/corpus/extract "$seeds" -- -max_total_time="$seconds" -max_len=65536
