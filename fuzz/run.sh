#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each; FUZZ_SECONDS overrides) with
# cargo-fuzz (libFuzzer + AddressSanitizer). Stable Rust is enough: RUSTC_BOOTSTRAP lets it
# take the sanitizer flags. A crash leaves its input in fuzz/artifacts/<target>/; make it a
# regression test (see fuzz/README.md) before fixing it.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target"
  echo "==> fuzz $target for ${seconds}s"
  # Committed seeds (fuzz/seeds/<target>, if any) start the search from valid inputs.
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048
done
