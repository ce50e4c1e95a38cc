//! Real processes for the tests that need them: the server binary, `redis-server` and `nginx`,
//! each on its own loopback port, killed when dropped. `.ci/run` installs Redis and nginx; a
//! machine without them fails these tests with a message saying so. To see what the nodes did,
//! run with `TICKSTORM_TEST_NODE_LOG=debug` (any `--log` filter): each node then logs to
//! `$TMPDIR/tickstorm-test-nodes/PREFIX-ID-PORT.log`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct loopback ports that were free a moment ago (held together while chosen, so no
/// two are the same).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("a bound port").port())
        .collect()
}

/// Waits until something accepts TCP connections on `addr` (up to 10 s).
pub async fn listening(addr: &str) -> bool {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn spawn(program: &str, args: &[String], what: &str) -> Child {
    spawn_logging_to(program, args, what, None)
}

/// [`spawn`], with stdout and stderr into `log` when given (else stderr is piped for
/// [`Node::stderr`] and stdout dropped).
fn spawn_logging_to(
    program: &str,
    args: &[String],
    what: &str,
    log: Option<std::fs::File>,
) -> Child {
    let (stdout, stderr) = match log {
        Some(file) => (
            Stdio::from(file.try_clone().expect("a log file")),
            Stdio::from(file),
        ),
        None => (Stdio::null(), Stdio::piped()),
    };
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} (`{program}`): {e}; `.ci/run` installs it (apt-get install {what})"))
}

/// Sends a signal with kill(1).
pub fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("the process is running").to_string();
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), pid])
        .status()
        .expect("kill(1) is available");
    assert!(status.success(), "kill -{name} failed");
}

/// Which Redis a cluster test runs on. Every cluster test runs on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisKind {
    /// One `redis-server`.
    Single,
    /// A Redis Cluster of three masters (no replicas), each its own `redis-server`.
    Cluster,
    /// Three masters, each with a replica that takes over when its master fails.
    ReplicatedCluster,
}

/// How a test makes a replica take over its master's slots.
#[derive(Debug, Clone, Copy)]
pub enum Failover {
    /// The master is killed; the replica is elected once the others count it failed.
    MasterKilled,
    /// `CLUSTER FAILOVER` on the replica: the master hands over and becomes its replica (what
    /// an operator does for maintenance). Redis drops the slots' shard-channel subscriptions.
    Planned,
}

/// Masters of a test Redis Cluster, and their share of the 16,384 slots.
const CLUSTER_SLOTS: [(u16, u16); MASTERS] = [(0, 5460), (5461, 10922), (10923, 16383)];
const MASTERS: usize = 3;

/// A throwaway Redis (no persistence) on loopback: one server, or a three-master Redis Cluster.
pub struct Redis {
    servers: Vec<RedisServer>,
    /// The cluster's `nodes.conf` files (kept across a restart, so the cluster comes back whole).
    dir: Option<std::path::PathBuf>,
    /// Servers `[MASTERS..]` replicate the masters, in order (a replicated cluster only).
    replicated: bool,
    /// True once the cluster has formed (a restart then waits for it to serve again).
    formed: bool,
}

/// One `redis-server` process.
struct RedisServer {
    port: u16,
    /// The cluster bus port (cluster mode only).
    bus_port: Option<u16>,
    child: Option<Child>,
}

impl Redis {
    /// Starts one server and waits until it listens.
    pub async fn start() -> Self {
        Self::start_kind(RedisKind::Single).await
    }

    /// Starts one server, or a cluster whose slots are all assigned and known to every master.
    pub async fn start_kind(kind: RedisKind) -> Self {
        let count = match kind {
            RedisKind::Single => 1,
            RedisKind::Cluster => MASTERS,
            RedisKind::ReplicatedCluster => 2 * MASTERS,
        };
        let dir = (kind != RedisKind::Single).then(|| {
            let dir = std::env::temp_dir().join(format!(
                "tickstorm-redis-cluster-{}-{}",
                std::process::id(),
                free_port()
            ));
            std::fs::create_dir_all(&dir).expect("a temporary directory");
            dir
        });
        let ports = free_ports(2 * count);
        let servers = ports
            .chunks(2)
            .map(|pair| RedisServer {
                port: pair[0],
                bus_port: dir.as_ref().map(|_| pair[1]),
                child: None,
            })
            .collect();
        let mut redis = Redis {
            servers,
            dir,
            replicated: kind == RedisKind::ReplicatedCluster,
            formed: false,
        };
        redis.first_start().await;
        if kind != RedisKind::Single {
            redis.form_cluster().await;
            redis.formed = true;
        }
        redis
    }

    /// What `--redis-url` takes: `redis://127.0.0.1:PORT`, or every master's, comma-separated.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}", s.port))
            .collect();
        seeds.join(",")
    }

    /// The `--redis-url` seeds, one URL each.
    pub fn seeds(&self) -> Vec<String> {
        self.url().split(',').map(str::to_owned).collect()
    }

    /// Every server's port (one, or each master's).
    pub fn ports(&self) -> Vec<u16> {
        self.servers.iter().map(|s| s.port).collect()
    }

    /// Kills every server (SIGKILL: no goodbye to the clients).
    pub async fn kill(&mut self) {
        for server in &mut self.servers {
            if let Some(mut child) = server.child.take() {
                let _ = child.kill().await;
            }
        }
    }

    /// Starts every server again on the same ports, empty; a cluster keeps its slot map (its
    /// `nodes.conf`) and is waited for until it serves every slot again.
    pub async fn restart(&mut self) {
        self.kill().await;
        for server in &mut self.servers {
            server.launch(self.dir.as_deref(), self.replicated);
        }
        for server in &mut self.servers {
            assert!(
                server.listens().await,
                "redis-server listens on {}",
                server.port
            );
        }
        if self.formed {
            self.wait_for_cluster().await;
        }
    }

    /// The first start: a port that was free a moment ago may have been taken since (by another
    /// test's connection), so a server that exits instead of listening gets new ports.
    async fn first_start(&mut self) {
        for server in &mut self.servers {
            let mut attempts = 0;
            loop {
                server.launch(self.dir.as_deref(), self.replicated);
                if server.listens().await {
                    break;
                }
                attempts += 1;
                assert!(
                    attempts < 5,
                    "redis-server does not start (last tried port {})",
                    server.port
                );
                let ports = free_ports(2);
                server.port = ports[0];
                server.bus_port = server.bus_port.map(|_| ports[1]);
            }
        }
    }

    /// Assigns each master its slots and introduces them to each other (what `redis-cli
    /// --cluster create` does, without its fixed one-second waits).
    async fn form_cluster(&self) {
        for (server, (first, last)) in self.servers.iter().zip(CLUSTER_SLOTS) {
            let _: () = redis::cmd("CLUSTER")
                .arg("ADDSLOTSRANGE")
                .arg(first)
                .arg(last)
                .query_async(&mut connect(server.port).await)
                .await
                .expect("CLUSTER ADDSLOTSRANGE");
        }
        let mut first = connect(self.servers[0].port).await;
        for server in &self.servers[1..] {
            let _: () = redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(server.port)
                .arg(server.bus_port.expect("a cluster bus port"))
                .query_async(&mut first)
                .await
                .expect("CLUSTER MEET");
        }
        if self.replicated {
            for (master, replica) in self.servers[..MASTERS].iter().zip(&self.servers[MASTERS..]) {
                let id: String = redis::cmd("CLUSTER")
                    .arg("MYID")
                    .query_async(&mut connect(master.port).await)
                    .await
                    .expect("CLUSTER MYID");
                // The replica must have heard of its master (gossip) before it can follow it.
                let mut replica_conn = connect(replica.port).await;
                let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
                loop {
                    let done: redis::RedisResult<()> = redis::cmd("CLUSTER")
                        .arg("REPLICATE")
                        .arg(&id)
                        .query_async(&mut replica_conn)
                        .await;
                    match done {
                        Ok(()) => break,
                        Err(e) => assert!(
                            tokio::time::Instant::now() < deadline,
                            "CLUSTER REPLICATE: {e}"
                        ),
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        self.wait_for_cluster().await;
    }

    /// Fails over the master that serves `key`'s slot (a key or a channel name) and waits until
    /// its replica has taken over and the cluster is ok again (a replicated cluster only).
    pub async fn fail_over_master_of(&mut self, key: &str, how: Failover) {
        assert!(self.replicated, "a replicated cluster");
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut connect(self.servers[0].port).await)
            .await
            .expect("CLUSTER KEYSLOT");
        let shard = CLUSTER_SLOTS
            .iter()
            .position(|&(first, last)| (first..=last).contains(&slot))
            .expect("a slot of some master");
        let replica_port = self.servers[MASTERS + shard].port;
        match how {
            Failover::MasterKilled => {
                if let Some(mut child) = self.servers[shard].child.take() {
                    let _ = child.kill().await;
                }
            }
            Failover::Planned => {
                let _: () = redis::cmd("CLUSTER")
                    .arg("FAILOVER")
                    .query_async(&mut connect(replica_port).await)
                    .await
                    .expect("CLUSTER FAILOVER");
            }
        }
        let survivor = self.servers[(shard + 1) % MASTERS].port;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut conn = connect(survivor).await;
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            let slots: Vec<(u16, u16, (String, u16))> = redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query_async(&mut conn)
                .await
                .map(|entries: Vec<Vec<redis::Value>>| {
                    entries
                        .into_iter()
                        .filter_map(|entry| {
                            let mut fields = entry.into_iter();
                            let first = redis::from_redis_value(fields.next()?).ok()?;
                            let last = redis::from_redis_value(fields.next()?).ok()?;
                            let master: Vec<redis::Value> =
                                redis::from_redis_value(fields.next()?).ok()?;
                            let mut master = master.into_iter();
                            let host = redis::from_redis_value(master.next()?).ok()?;
                            let port = redis::from_redis_value(master.next()?).ok()?;
                            Some((first, last, (host, port)))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let promoted = slots.iter().any(|(first, last, (_, port))| {
                (*first..=*last).contains(&slot) && *port == replica_port
            });
            if promoted && info.contains("cluster_state:ok") {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the replica on {replica_port} did not take over slot {slot} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every server says the cluster is ok and knows every master's slots (and, in
    /// a replicated cluster, every master's replica).
    async fn wait_for_cluster(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut ready = true;
            for server in &self.servers {
                let mut conn = connect(server.port).await;
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                let slots: Vec<redis::Value> = redis::cmd("CLUSTER")
                    .arg("SLOTS")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                // One entry per master, listing its replica too when there is one.
                let nodes_per_entry = if self.replicated { 4 } else { 3 };
                ready &= info.contains("cluster_state:ok")
                    && slots.len() == MASTERS
                    && slots.iter().all(|entry| match entry {
                        redis::Value::Array(fields) => fields.len() == nodes_per_entry,
                        _ => false,
                    });
            }
            if ready {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the Redis Cluster did not form within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl RedisServer {
    /// Starts the process (in cluster mode when given the cluster's folder).
    fn launch(&mut self, cluster_dir: Option<&std::path::Path>, replicated: bool) {
        let mut args: Vec<String> = [
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let (Some(dir), Some(bus_port)) = (cluster_dir, self.bus_port) {
            args.extend([
                // A replica's full sync writes an RDB file: into the cluster's folder, one per
                // server, not into the tests' working directory.
                "--dir".into(),
                dir.display().to_string(),
                "--dbfilename".into(),
                format!("dump-{}.rdb", self.port),
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-port".into(),
                bus_port.to_string(),
                "--cluster-config-file".into(),
                dir.join(format!("nodes-{}.conf", self.port))
                    .display()
                    .to_string(),
                // Short with replicas, so a failover test fails over within seconds; long
                // without, so a master starved on a loaded machine is not marked failed (and
                // the cluster down) for nothing: without a replica, nothing would take over.
                "--cluster-node-timeout".into(),
                if replicated { "3000" } else { "15000" }.into(),
            ]);
        }
        self.child = Some(spawn("redis-server", &args, "redis-server"));
    }

    /// Waits until it accepts connections (up to 10 s) and is this process (not another test's
    /// server that got the port first); false at once if it exited.
    async fn listens(&mut self) -> bool {
        let Some(pid) = self.child.as_ref().and_then(Child::id) else {
            return false;
        };
        let url = format!("redis://127.0.0.1:{}", self.port);
        for _ in 0..200 {
            let exited = self
                .child
                .as_mut()
                .is_none_or(|child| !matches!(child.try_wait(), Ok(None)));
            if exited {
                return false;
            }
            let client = redis::Client::open(url.as_str()).expect("a redis URL");
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let info: String = redis::cmd("INFO")
                    .arg("server")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                return info
                    .lines()
                    .any(|line| line.trim() == format!("process_id:{pid}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A plain connection to the `redis-server` on `port`.
pub async fn connect(port: u16) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .expect("a redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("redis-server answers")
}

/// One server node of a cluster, running the real binary.
pub struct Node {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its node id.
    pub id: String,
    child: Child,
}

impl Node {
    /// Starts node `id` on the Redis at `redis_url` with key prefix `prefix` (one per test, so
    /// tests sharing a Redis stay apart) and `extra` flags; waits until it listens.
    pub async fn start(redis_url: &str, prefix: &str, id: &str, extra: &[&str]) -> Self {
        let node = Self::spawn_with(redis_url, prefix, id, extra);
        let addr = node.url.trim_start_matches("http://").to_owned();
        assert!(listening(&addr).await, "node {id} listens");
        node
    }

    /// Starts the process without waiting for it to listen (for a node that must fail).
    pub fn spawn_unchecked(redis_url: &str, prefix: &str, id: &str) -> Self {
        Self::spawn_with(redis_url, prefix, id, &[])
    }

    fn spawn_with(redis_url: &str, prefix: &str, id: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let mut args: Vec<String> = vec![
            "--addr".into(),
            format!("127.0.0.1:{port}"),
            "--redis-url".into(),
            redis_url.into(),
            "--redis-prefix".into(),
            prefix.into(),
            "--node-id".into(),
            id.into(),
            "--log".into(),
            "warn".into(),
            "--rejoin-grace".into(),
            "20s".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        // For debugging a failure: each node logs at that level to a file of its own.
        let log = std::env::var("TICKSTORM_TEST_NODE_LOG").ok().map(|level| {
            let dir = std::env::temp_dir().join("tickstorm-test-nodes");
            std::fs::create_dir_all(&dir).expect("a log folder");
            let at = args.iter().position(|a| a == "--log").expect("--log") + 1;
            args[at] = level;
            std::fs::File::create(dir.join(format!("{prefix}-{id}-{port}.log")))
                .expect("a log file")
        });
        let child = spawn_logging_to(
            env!("CARGO_BIN_EXE_tickstorm-server"),
            &args,
            "tickstorm-server",
            log,
        );
        Node {
            url: format!("http://127.0.0.1:{port}"),
            id: id.into(),
            child,
        }
    }

    /// Starts `ids.len()` nodes and waits until each sees all the others.
    pub async fn cluster(redis_url: &str, prefix: &str, ids: &[&str], extra: &[&str]) -> Vec<Node> {
        let mut nodes = Vec::new();
        for id in ids {
            nodes.push(Node::start(redis_url, prefix, id, extra).await);
        }
        for node in &nodes {
            node.wait_for_others(ids.len() - 1).await;
        }
        nodes
    }

    /// Waits until this node knows exactly `n` other nodes.
    pub async fn wait_for_others(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let known = self.cluster_view().await["others"]
                .as_array()
                .map_or(0, Vec::len);
            if known == n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {} knows {known} other nodes, expected {n}",
                self.id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET /api/cluster`.
    pub async fn cluster_view(&self) -> Value {
        get_json(&self.url, "/api/cluster").await
    }

    /// `GET /api/rooms`: ids of every room this node lists.
    pub async fn room_ids(&self) -> Vec<String> {
        let rooms = get_json(&self.url, "/api/rooms").await;
        rooms
            .as_array()
            .expect("a list")
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect()
    }

    /// One sample of a metric from `/metrics` (the first line starting with `name`).
    pub async fn metric(&self, name: &str) -> f64 {
        let text = crate::http::get(&self.url, "/metrics", &[]).await.text();
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("metric {name} not in /metrics"))
    }

    /// The process, for signals.
    pub fn process(&self) -> &Child {
        &self.child
    }

    /// SIGKILL: the node vanishes without a goodbye.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// Waits for the process to exit (up to `timeout`) and returns whether it exited 0.
    pub async fn exited_ok(&mut self, timeout: Duration) -> bool {
        self.exit_status(timeout).await.success()
    }

    /// Waits for the process to exit (up to `timeout`) and returns its exit status.
    pub async fn exit_status(&mut self, timeout: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .expect("the node exits in time")
            .expect("exit status")
    }

    /// Everything the process wrote to stderr so far (after it exited).
    pub async fn stderr(&mut self) -> String {
        use tokio::io::AsyncReadExt;
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut text).await;
        }
        text
    }
}

/// A GET whose body is JSON.
pub async fn get_json(base: &str, path: &str) -> Value {
    let reply = crate::http::get(base, path, &[]).await;
    serde_json::from_slice(&reply.body).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// Waits until every node lists exactly the same set of rooms, and returns it.
pub async fn agreed_rooms(nodes: &[Node], timeout: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut views = Vec::new();
        for node in nodes {
            let mut ids = node.room_ids().await;
            ids.sort();
            views.push(ids);
        }
        if views.windows(2).all(|w| w[0] == w[1]) {
            return views.swap_remove(0);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nodes' room lists never agreed: {views:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `condition` (async) every 50 ms until it holds or `timeout` passes.
pub async fn until<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
