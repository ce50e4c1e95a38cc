#!/usr/bin/env bash
# Slowloris benchmark (issue 21): the release server on core 0 with default flags; a client on
# core 1 keeps SILENT TCP connections open that never send a byte (reopening each one the server
# closes, as an attacker would), while the bot swarm joins BOTS players and measures connect and
# join times. Loopback only (the silent connections come from 127.0.0.1, which the per-address
# cap exempts: they stand for many addresses under the cap); every run is bounded.
#
#   bash benches/slowloris.sh                      # 5,000 silent connections, 50 players
#   SILENT=15000 BOTS=200 bash benches/slowloris.sh
#   SERVER=/path/to/other/tickstorm-server bash benches/slowloris.sh   # compare a build
set -euo pipefail
cd "$(dirname "$0")/.."

SILENT=${SILENT:-5000}
BOTS=${BOTS:-50}
DURATION=${DURATION:-10s}
PORT=${PORT:-39450}
OUT=${OUT:-artifacts/slowloris}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}

mkdir -p "$OUT"
if [ -z "${SERVER:-}" ]; then
  cargo build --release --quiet -p tickstorm-server -p tickstorm-bot-client
  SERVER=target/release/tickstorm-server
fi
bots_bin=target/release/tickstorm-bots
[ -x "$bots_bin" ] || cargo build --release --quiet -p tickstorm-bot-client

pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

taskset -c "$SERVER_CORE" "$SERVER" --addr "127.0.0.1:$PORT" --log warn &
server_pid=$!
pids+=("$server_pid")
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

# The attacker: opens SILENT connections, then keeps that many open for the whole run.
taskset -c "$CLIENT_CORE" python3 - "$PORT" "$SILENT" "$OUT/held.txt" <<'EOF' &
import selectors, socket, sys, time
port, target, report = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sel = selectors.DefaultSelector()
opened = closed = 0
def open_one():
    global opened
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    sel.register(s, selectors.EVENT_READ)
    opened += 1
for _ in range(target):
    open_one()
deadline = time.time() + 120  # bounded, whatever happens
with open(report, "w") as out:
    while time.time() < deadline:
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            sel.unregister(s)
            s.close()
            closed += 1
            open_one()
        out.write(f"{time.time():.0f} opened {opened} closed-by-server {closed}\n")
        out.flush()
EOF
pids+=($!)
sleep 3  # the connections are open (and some already timed out and reopened)
held=$(curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '$1 == "tickstorm_tcp_connections" { print $2 }')
echo "== server holds $held TCP connections; $BOTS players join"
taskset -c "$CLIENT_CORE" "$bots_bin" --url "http://127.0.0.1:$PORT" --bots "$BOTS" --ramp 10 \
  --duration "$DURATION" --server-pid "$server_pid" --report "$OUT/players.json" --quiet \
  | grep -E '^(connected|connect|join|ack|errors|server)'
curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -E '^tickstorm_(tcp_|header_timeouts|connect_timeouts|connections )'
tail -1 "$OUT/held.txt"
