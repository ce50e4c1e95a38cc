#!/usr/bin/env bash
# Runs the vendored engineioxide crates' own test suites with our patches applied (engineioxide
# built against the vendored engineioxide-core), every feature the tests use. See PATCHES.md.
set -euo pipefail
cd "$(dirname "$0")"
target="$(pwd)/../target/vendor-tests"
(cd engineioxide-core && cargo test --quiet --target-dir "$target" --features v3)
(cd engineioxide && cargo test --quiet --target-dir "$target" --features v3,__test_harness,tracing \
  --config 'patch.crates-io.engineioxide-core.path="../engineioxide-core"')
