#!/usr/bin/env bash
# Capacity benchmark: the release server pinned to core 0, the bot swarm pinned to core 1, the
# number of bots stepped up until the SLO breaks, for each parser and transport; then one run that
# holds idle connections to measure memory per connection. Loopback only; every run is bounded.
#
# Two servers, alternated at every step (same bots, parser and transport, one after the other):
# Tickstorm and `tickstorm-bare` (benches/src/bin/bare.rs), a bare socketioxide game server with
# the same traffic shape, so the summary reports Tickstorm's capacity as a ratio to the bare
# framework's measured in the same sitting. Each server stops stepping at its own first failure.
# The idle-connection run is Tickstorm's.
#
#   bash benches/capacity.sh                 # everything (about 20 minutes on 2 cores)
#   STEPS="250 500" COMBOS="common:websocket" bash benches/capacity.sh
#   SERVERS=bare STEPS="1000" bash benches/capacity.sh
#
# SERVERS: `tickstorm`, `bare` or both (the default, in that order). BOT_ARGS: more flags for
# every stepped swarm run, both servers alike (e.g. `--deltas off`: keyframes for Tickstorm too,
# as the bare server always sends). IDLE=0 skips the idle-connection run.
#
# Results: artifacts/capacity/SERVER-PARSER-TRANSPORT-BOTS.json (+ .csv, .svg), idle-N.json and
# artifacts/capacity/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-artifacts/capacity}
STEPS=${STEPS-"250 500 1000 1500 2000 3000 4000"}
COMBOS=${COMBOS-"common:websocket msgpack:websocket common:polling msgpack:polling"}
SERVERS=${SERVERS-"tickstorm bare"}
BOT_ARGS=${BOT_ARGS-""}
DURATION=${DURATION:-20s}
IDLE=${IDLE:-10000}
SLO=${SLO:-'ack_p99<20ms,input_to_snapshot_p99<60ms,delivery>=99.9%'}
PORT=${PORT:-39400}
SERVER_CORE=${SERVER_CORE:-0}
BOTS_CORE=${BOTS_CORE:-1}

for server in $SERVERS; do
  case $server in
    tickstorm|bare) ;;
    *) echo "SERVERS: unknown server '$server' (tickstorm, bare)" >&2; exit 2 ;;
  esac
done

mkdir -p "$OUT"
cargo build --release --quiet -p tickstorm-server -p tickstorm-bot-client
cargo build --release --quiet -p tickstorm-benches --bin tickstorm-bare
server_bin=target/release/tickstorm-server
bare_bin=target/release/tickstorm-bare
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

start_server() { # server parser
  case $1 in
    tickstorm)
      taskset -c "$SERVER_CORE" "$server_bin" --addr "127.0.0.1:$PORT" --parser "$2" --log warn &
      ;;
    bare)
      taskset -c "$SERVER_CORE" "$bare_bin" --addr "127.0.0.1:$PORT" --parser "$2" >/dev/null &
      ;;
  esac
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
  stepping=$SERVERS # the servers whose SLO still holds
  for bots in $STEPS; do
    [ -n "$stepping" ] || break
    passed=""
    for server in $stepping; do
      echo "== $server / $parser / $transport / $bots bots"
      start_server "$server" "$parser"
      set +e
      # shellcheck disable=SC2086 # BOT_ARGS is a list of flags
      taskset -c "$BOTS_CORE" "$bots_bin" --url "http://127.0.0.1:$PORT" --bots "$bots" --ramp 500 \
        --duration "$DURATION" --parser "$parser" --transport "$transport" --server-pid "$server_pid" \
        --slo "$SLO" --report "$OUT/$server-$parser-$transport-$bots.json" --quiet $BOT_ARGS \
        | grep -E '^(SLO|WARNING)'
      status=${PIPESTATUS[0]}
      set -e
      stop_server
      if [ "$status" -ne 0 ]; then
        echo "   SLO broken at $bots bots: stepping stops for $server on $parser / $transport"
      else
        passed="$passed $server"
      fi
    done
    stepping=$passed
  done
done

if [ "$IDLE" -gt 0 ]; then
  echo "== $IDLE idle connections (tickstorm)"
  start_server tickstorm common
  taskset -c "$BOTS_CORE" "$bots_bin" --url "http://127.0.0.1:$PORT" --bots "$IDLE" --ramp 2000 \
    --duration 10s --scenario idle --server-pid "$server_pid" --report "$OUT/idle-$IDLE.json" --quiet \
    | grep -E '^(connected|server|errors)'
  stop_server
fi

python3 benches/capacity_summary.py "$OUT" | tee "$OUT/summary.md"
