#!/usr/bin/env bash
# A local Tickstorm cluster on loopback: Redis, N server nodes and nginx in front of them.
#
#   deploy/local-cluster.sh [start] [N]   start N nodes (default 2, or $NODES), then return
#   deploy/local-cluster.sh stop          stop everything `start` started
#
# Ports: Redis 6379 (one already listening there is used and left alone), nodes 3001..300N,
# nginx 8080 (deploy/nginx.conf with its upstream rewritten to the N nodes). With REDIS_SHARDS
# of 3 or more, a Redis Cluster of that many masters on 7001.. (cluster bus 17001..) instead.
#
# Environment:
#   TICKSTORM_SERVER_BIN   server binary (default: target/release/tickstorm-server)
#   NODES                  node count when no N is given (default 2)
#   REDIS_SHARDS           1 (default): one Redis. 3 or more: a Redis Cluster (no replicas),
#                          started here, and the nodes use sharded pub/sub
#   TICKSTORM_CLUSTER_DIR  pids, logs and nginx's working folder
#                          (default: ${TMPDIR:-/tmp}/tickstorm-cluster)
#   TICKSTORM_*            every server variable (TICKSTORM_LOG, TICKSTORM_TICK_RATE, ...)
#                          applies to every node; TICKSTORM_DRAIN_TIMEOUT defaults to 5s here
#                          so `stop` is quick.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${TICKSTORM_CLUSTER_DIR:-${TMPDIR:-/tmp}/tickstorm-cluster}"
pids="$dir/pids"
redis_port=6379
first_shard_port=7001
first_node_port=3001
lb_port=8080

die() { printf 'local-cluster: %s\n' "$*" >&2; exit 1; }

# Whether something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp: no extra tool).
listens() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits up to 10 s for $1 (a pid) to listen on port $2; shows the tail of log $3 if it dies.
wait_listening() {
  local pid=$1 port=$2 log=$3
  for _ in $(seq 1 100); do
    listens "$port" && return 0
    kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "pid $pid exited before listening on $port"; }
    sleep 0.1
  done
  die "nothing listens on $port after 10 s (see $log)"
}

# Starts a background process, logging to $1 (emptied first), and records it as $2 for `stop`.
launch() {
  local log=$1 name=$2
  shift 2
  "$@" >"$log" 2>&1 </dev/null &
  last_pid=$!
  echo "$name $last_pid $1" >>"$pids"
}

# Whether pid $1 still runs program $2: once a process is gone its pid can be reused, and `stop`
# must not kill whatever got it. (The kernel keeps 15 characters of a process's name.) A zombie
# counts as gone: in a container whose init never reaps, it would stay forever.
running() {
  local comm stat
  read -r comm stat < <(ps -o comm=,stat= -p "$1" 2>/dev/null) || return 1
  [ "$comm" = "$(basename "$2" | cut -c1-15)" ] && [[ "$stat" != Z* ]]
}

# Whether any process `start` recorded still runs.
alive() {
  [ -f "$pids" ] || return 1
  while read -r _ pid program; do
    if running "$pid" "$program"; then return 0; fi
  done <"$pids"
  return 1
}

stop() {
  [ -f "$pids" ] || { echo "local-cluster: nothing to stop ($pids not found)"; return 0; }
  # nginx first (no new players), then the nodes (they drain through Redis), Redis last.
  for group in nginx node redis; do
    local group_pids=()
    while read -r name pid program; do
      if [[ "$name" == "$group"* ]] && running "$pid" "$program"; then group_pids+=("$pid"); fi
    done <"$pids"
    [ ${#group_pids[@]} -gt 0 ] || continue
    kill -TERM "${group_pids[@]}" 2>/dev/null || true
    # Nodes drain for up to TICKSTORM_DRAIN_TIMEOUT; after 40 s anything left is killed.
    for _ in $(seq 1 400); do
      local running=0
      for pid in "${group_pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then running=1; fi
      done
      [ "$running" = 0 ] && break
      sleep 0.1
    done
    kill -KILL "${group_pids[@]}" 2>/dev/null || true
  done
  rm -f "$pids"
  echo "local-cluster: stopped (logs kept in $dir)"
}

# deploy/nginx.conf with the upstream's server lines replaced by $1 nodes and listen on $lb_port.
nginx_conf() {
  local n=$1 servers=""
  for i in $(seq 1 "$n"); do
    servers+="        server 127.0.0.1:$((first_node_port + i - 1));\n"
  done
  awk -v servers="$servers" -v listen="127.0.0.1:$lb_port" '
    /^[[:space:]]*upstream[[:space:]]+tickstorm[[:space:]]*\{/ { upstream = 1 }
    upstream && /^[[:space:]]*server[[:space:]]/ { if (!done) printf "%s", servers; done = 1; next }
    upstream && /^[[:space:]]*\}/ { upstream = 0 }
    /^[[:space:]]*listen[[:space:]]/ { sub(/listen[[:space:]]+[^;]+;/, "listen " listen ";") }
    { print }
  ' "$root/deploy/nginx.conf"
}

# Waits until node on port $1 knows $2 other nodes (its /api/cluster lists them).
wait_for_cluster() {
  local port=$1 others=$2 seen=0
  for _ in $(seq 1 100); do
    # Each node record has one "node_id", and so does the answering node itself.
    seen=$(($(curl -fsS "http://127.0.0.1:$port/api/cluster" | grep -o '"node_id":' | wc -l) - 1))
    [ "$seen" -ge "$others" ] && return 0
    sleep 0.1
  done
  die "node on $port sees $seen other nodes after 10 s, expected $others"
}

# Starts $1 throwaway Redis masters in cluster mode and joins them into one cluster, every slot
# assigned; sets redis_url to their seed URLs. Each run is a new cluster (old node files go).
start_redis_cluster() {
  local count=$1 seeds=() addrs=()
  command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
  command -v redis-cli >/dev/null || die "redis-cli not found (apt-get install redis-tools)"
  for i in $(seq 0 $((count - 1))); do
    local port=$((first_shard_port + i))
    listens "$port" && die "port $port is already in use (REDIS_SHARDS starts its own Redis Cluster)"
    rm -f "$dir/redis-$port-nodes.conf"
    launch "$dir/redis-$port.log" "redis-$port" redis-server --port "$port" --bind 127.0.0.1 \
      --save '' --appendonly no --dir "$dir" --cluster-enabled yes \
      --cluster-port $((port + 10000)) --cluster-config-file "redis-$port-nodes.conf"
    wait_listening "$last_pid" "$port" "$dir/redis-$port.log"
    seeds+=("redis://127.0.0.1:$port")
    addrs+=("127.0.0.1:$port")
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes \
    >"$dir/redis-cluster-create.log" 2>&1 || { tail -20 "$dir/redis-cluster-create.log" >&2; die "redis-cli --cluster create failed"; }
  # Each master reports the cluster `fail` for a moment after the create; a node started then
  # would be refused (CLUSTERDOWN) and exit.
  for addr in "${addrs[@]}"; do
    local ok=0
    for _ in $(seq 1 100); do
      if redis-cli -p "${addr##*:}" cluster info | grep -q '^cluster_state:ok'; then ok=1; break; fi
      sleep 0.1
    done
    [ "$ok" = 1 ] || die "the Redis Cluster is not ok after 10 s (see $dir/redis-cluster-create.log)"
  done
  redis_url=$(IFS=,; echo "${seeds[*]}")
}

start() {
  local n=$1
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "node count must be a positive number, got '$n'"
  local bin="${TICKSTORM_SERVER_BIN:-$root/target/release/tickstorm-server}"
  [ -x "$bin" ] || die "no server binary at $bin (cargo build --release -p tickstorm-server)"
  local nginx_bin
  nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
  [ -x "$nginx_bin" ] || die "nginx not found (apt-get install nginx)"
  command -v curl >/dev/null || die "curl not found (apt-get install curl)"
  alive && die "already running (see $pids); run '$0 stop' first"
  for port in $lb_port $(seq "$first_node_port" $((first_node_port + n - 1))); do
    listens "$port" && die "port $port is already in use"
  done

  # Nothing is deleted: the folder may be one the caller chose (logs are overwritten).
  mkdir -p "$dir/nginx"
  : >"$pids"
  # A failed or interrupted start leaves nothing running.
  trap 'stop >/dev/null' EXIT
  trap 'exit 130' INT TERM

  local shards="${REDIS_SHARDS:-1}" redis_url redis_note
  [[ "$shards" =~ ^[0-9]+$ ]] && { [ "$shards" = 1 ] || [ "$shards" -ge 3 ]; } \
    || die "REDIS_SHARDS must be 1 (one Redis) or 3 or more (a Redis Cluster), got '$shards'"
  if [ "$shards" = 1 ]; then
    redis_url="redis://127.0.0.1:$redis_port"
    redis_note="already running, left alone"
    if ! listens "$redis_port"; then
      command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
      # A throwaway Redis: nothing Tickstorm keeps there needs to outlive the cluster.
      launch "$dir/redis.log" redis redis-server --port "$redis_port" --bind 127.0.0.1 \
        --save '' --appendonly no --dir "$dir"
      wait_listening "$last_pid" "$redis_port" "$dir/redis.log"
      redis_note="started here, stopped by '$0 stop'"
    fi
  else
    start_redis_cluster "$shards"
    redis_note="a Redis Cluster of $shards masters, started here, stopped by '$0 stop'"
  fi

  export TICKSTORM_DRAIN_TIMEOUT="${TICKSTORM_DRAIN_TIMEOUT:-5s}"
  for i in $(seq 1 "$n"); do
    local port=$((first_node_port + i - 1))
    # --trust-proxy: nginx puts the client's address in X-Forwarded-For.
    launch "$dir/n$i.log" "node-n$i" "$bin" --addr "127.0.0.1:$port" \
      --redis-url "$redis_url" --node-id "n$i" --trust-proxy
    wait_listening "$last_pid" "$port" "$dir/n$i.log"
  done
  # Bots joining a room another node just created need that node's record: wait for all.
  for i in $(seq 1 "$n"); do
    wait_for_cluster $((first_node_port + i - 1)) $((n - 1))
  done

  nginx_conf "$n" >"$dir/nginx/nginx.conf"
  "$nginx_bin" -t -q -p "$dir/nginx" -c "$dir/nginx/nginx.conf"
  launch "$dir/nginx/stderr.log" nginx "$nginx_bin" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" \
    -g 'daemon off;'
  wait_listening "$last_pid" "$lb_port" "$dir/nginx/error.log"
  curl -fsS "http://127.0.0.1:$lb_port/healthz" >/dev/null || die "nginx does not reach the nodes"
  trap - EXIT INT TERM

  echo "Tickstorm cluster of $n nodes is running:"
  echo "  redis   $redis_url ($redis_note)"
  for i in $(seq 1 "$n"); do
    echo "  node n$i http://127.0.0.1:$((first_node_port + i - 1))  log $dir/n$i.log"
  done
  echo "  nginx   http://127.0.0.1:$lb_port  (play here; logs in $dir/nginx/)"
  # nginx hashes the client address onto a ring, and a few neighbouring addresses can miss
  # nodes (127.0.0.1-4 all hash to n1 of 2 nodes, and miss n2 of 3): 8 per node, at least 16,
  # reach every node (checked for 2 to 12 nodes).
  local ips=$((n * 8 > 16 ? n * 8 : 16))
  echo "Bots through nginx, spread over the nodes by source address:"
  echo "  $(dirname "$bin")/tickstorm-bots --url http://127.0.0.1:$lb_port \\"
  echo "    \$(printf -- '--local-ip 127.0.0.%d ' \$(seq 1 $ips))"
  echo "Stop: $0 stop"
}

case "${1:-start}" in
  start) start "${2:-${NODES:-2}}" ;;
  stop) stop ;;
  [0-9]*) start "$1" ;;
  *) die "usage: $0 [start] [N] | stop" ;;
esac
