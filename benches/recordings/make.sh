#!/usr/bin/env bash
# Records the benchmark sessions of benches/benches/replay.rs: one room of 8 swarm bots per game,
# 20 seconds each, on a release server with --record-dir. Run from the repository root:
#   bash benches/recordings/make.sh
# It rewrites benches/recordings/{orbs,blasters}-8.tsrec (replace them when a game's rules change:
# the bench then replays the new rules' play).
set -euo pipefail
cargo build --release -p tickstorm-server -p tickstorm-bot-client
dir=$(mktemp -d)
port=3499
for game in orbs blasters; do
  mkdir -p "$dir/$game"
  ./target/release/tickstorm-server --addr "127.0.0.1:$port" --record-dir "$dir/$game" --log warn &
  server=$!
  trap 'kill "$server" 2>/dev/null' EXIT
  options=()
  # Blasters' warm-up would make the first seconds of the session idle.
  if [ "$game" = blasters ]; then options=(--room-options 'blasters={"warmup_seconds":0}'); fi
  ./target/release/tickstorm-bots --url "http://127.0.0.1:$port" --wait-for-server 10s \
    --bots 8 --room-size 8 --game "$game" "${options[@]}" --duration 20s --quiet
  kill -INT "$server"
  wait "$server"
  cp "$dir/$game"/*.0.tsrec "benches/recordings/$game-8.tsrec"
done
trap - EXIT
rm -rf "$dir"
ls -l benches/recordings/*.tsrec
