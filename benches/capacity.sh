#!/usr/bin/env bash
# Capacity benchmark: the release server pinned to core 0, the bot swarm pinned to core 1, the
# number of bots stepped up until the SLO breaks, for each parser and transport; then one run that
# holds idle connections to measure memory per connection. Loopback only; every run is bounded.
#
#   bash benches/capacity.sh                 # everything (about 10 minutes on 2 cores)
#   STEPS="250 500" COMBOS="common:websocket" bash benches/capacity.sh
#
# Results: artifacts/capacity/*.json (+ .csv, .svg) and artifacts/capacity/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-artifacts/capacity}
STEPS=${STEPS-"250 500 1000 1500 2000 3000 4000"}
COMBOS=${COMBOS-"common:websocket msgpack:websocket common:polling msgpack:polling"}
DURATION=${DURATION:-20s}
IDLE=${IDLE:-10000}
SLO=${SLO:-'ack_p99<20ms,input_to_snapshot_p99<60ms,delivery>=99.9%'}
PORT=${PORT:-39400}
SERVER_CORE=${SERVER_CORE:-0}
BOTS_CORE=${BOTS_CORE:-1}

mkdir -p "$OUT"
cargo build --release --quiet -p tickstorm-server -p tickstorm-bot-client
server_bin=target/release/tickstorm-server
bots_bin=target/release/tickstorm-bots
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

start_server() { # parser
  taskset -c "$SERVER_CORE" "$server_bin" --addr "127.0.0.1:$PORT" --parser "$1" --log warn &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not start" >&2
  exit 2
}

for combo in $COMBOS; do
  parser=${combo%%:*}
  transport=${combo##*:}
  for bots in $STEPS; do
    echo "== $parser / $transport / $bots bots"
    start_server "$parser"
    set +e
    taskset -c "$BOTS_CORE" "$bots_bin" --url "http://127.0.0.1:$PORT" --bots "$bots" --ramp 500 \
      --duration "$DURATION" --parser "$parser" --transport "$transport" --server-pid "$server_pid" \
      --slo "$SLO" --report "$OUT/$parser-$transport-$bots.json" --quiet | grep -E '^(SLO|WARNING)'
    status=${PIPESTATUS[0]}
    set -e
    stop_server
    if [ "$status" -ne 0 ]; then
      echo "   SLO broken at $bots bots: stepping stops for $parser / $transport"
      break
    fi
  done
done

echo "== $IDLE idle connections"
start_server common
taskset -c "$BOTS_CORE" "$bots_bin" --url "http://127.0.0.1:$PORT" --bots "$IDLE" --ramp 2000 \
  --duration 10s --scenario idle --server-pid "$server_pid" --report "$OUT/idle-$IDLE.json" --quiet \
  | grep -E '^(connected|server|errors)'
stop_server

python3 benches/capacity_summary.py "$OUT" | tee "$OUT/summary.md"
