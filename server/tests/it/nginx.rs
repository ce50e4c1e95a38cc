//! The shipped `deploy/nginx.conf` in front of a real cluster: real nginx, two real nodes, a real
//! Redis. Bots spread over the nodes by source address play across nodes without losing a
//! snapshot, a long-polling session stays on one node (the `hash $remote_addr` stickiness
//! Engine.IO polling needs: a poll reaching another node is "Session ID unknown"), and the
//! official `socket.io-client` passes its whole check script in a room of the other node, with
//! either parser.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};
use tickstorm_bot_client::swarm::{self, SwarmConfig};
use tickstorm_bot_client::{Client, ClientConfig, TransportKind};
use tickstorm_shared::protocol::{JoinAck, events};
use tokio::process::{Child, Command};

use crate::procs::{Node, Redis, agreed_rooms, free_port, listening, until};
use crate::support::{TestClient, WAIT};

/// The config as shipped; the tests change only its upstream servers and listen address.
const SHIPPED_CONF: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nginx.conf"));

/// `conf` with the `server` lines of `upstream tickstorm` replaced by `servers` and the
/// `listen` address replaced by `listen`. Panics if the file no longer has that shape, so a
/// change to the shipped config cannot make these tests quietly test something else.
fn rewrite(conf: &str, servers: &[String], listen: &str) -> String {
    let mut out = Vec::new();
    let (mut in_upstream, mut replaced_servers, mut replaced_listen) = (false, false, 0);
    for line in conf.lines() {
        let directive = line.trim_start();
        if directive.starts_with("upstream tickstorm ") {
            in_upstream = true;
        } else if in_upstream && directive.starts_with('}') {
            in_upstream = false;
        } else if in_upstream && directive.starts_with("server ") {
            if !replaced_servers {
                let indent = &line[..line.len() - directive.len()];
                out.extend(servers.iter().map(|s| format!("{indent}server {s};")));
                replaced_servers = true;
            }
            continue;
        } else if directive.starts_with("listen ") {
            let indent = &line[..line.len() - directive.len()];
            out.push(format!("{indent}listen {listen};"));
            replaced_listen += 1;
            continue;
        }
        out.push(line.to_owned());
    }
    assert!(replaced_servers, "no server line in `upstream tickstorm`");
    assert_eq!(replaced_listen, 1, "expected exactly one listen line");
    out.join("\n") + "\n"
}

/// A real nginx running the shipped config in front of `nodes`, in its own folder (`-p`), on a
/// free loopback port; stopped when dropped. The folder (config, logs) is kept when a test fails.
struct Nginx {
    /// `http://127.0.0.1:PORT`.
    url: String,
    dir: PathBuf,
    master: Child,
}

impl Nginx {
    async fn start(nodes: &[Node]) -> Self {
        let port = free_port();
        let servers: Vec<String> = nodes
            .iter()
            .map(|n| n.url.trim_start_matches("http://").to_owned())
            .collect();
        let dir =
            std::env::temp_dir().join(format!("tickstorm-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("nginx folder");
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            rewrite(SHIPPED_CONF, &servers, &format!("127.0.0.1:{port}")),
        )
        .expect("write nginx.conf");
        let stderr = std::fs::File::create(dir.join("stderr.log")).expect("stderr.log");
        // Debian puts nginx in /usr/sbin, which a non-root PATH often lacks.
        let program = if Path::new("/usr/sbin/nginx").exists() {
            "/usr/sbin/nginx"
        } else {
            "nginx"
        };
        let child = Command::new(program)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start nginx: {e}; `.ci/run` installs it (apt-get install nginx)")
            });
        let nginx = Nginx {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            master: child,
        };
        assert!(
            listening(&format!("127.0.0.1:{port}")).await,
            "nginx listens; {}",
            nginx.logs()
        );
        nginx
    }

    /// Its stderr and error log, for failure messages.
    fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!(
            "nginx stderr:\n{}\nnginx error.log:\n{}",
            read("stderr.log"),
            read("error.log")
        )
    }

    /// The node (`$upstream_addr`) of every completed Socket.IO request in the access log.
    fn socket_io_upstreams(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("access.log")).expect("access.log");
        log.lines()
            .filter(|l| l.contains("/socket.io/"))
            .filter_map(|l| l.split_once("upstream=").map(|(_, rest)| rest))
            .map(|rest| rest.split(' ').next().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // Not SIGKILL (`kill_on_drop` is only the fallback): that stops the master alone, and
        // its workers live on, holding the port. On SIGTERM the master stops them, then exits.
        if let Some(pid) = self.master.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while matches!(self.master.try_wait(), Ok(None)) && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if std::thread::panicking() {
            eprintln!("nginx folder kept for inspection: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[test]
fn the_shipped_config_rewrites_to_other_nodes_and_port() {
    let conf = rewrite(
        SHIPPED_CONF,
        &["127.0.0.1:4001".into(), "127.0.0.1:4002".into()],
        "127.0.0.1:9999",
    );
    let servers: Vec<&str> = conf
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("server ") && l.ends_with(';'))
        .collect();
    assert_eq!(
        servers,
        ["server 127.0.0.1:4001;", "server 127.0.0.1:4002;"]
    );
    let listens: Vec<&str> = conf
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("listen "))
        .collect();
    assert_eq!(listens, ["listen 127.0.0.1:9999;"]);
    assert!(conf.contains("hash $remote_addr consistent;"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_through_nginx_reach_every_node_and_see_every_snapshot() {
    const BOTS: usize = 24;
    let redis = Redis::start().await;
    let nodes = Node::cluster(&redis.url(), "nginx-a", &["a1", "a2"], &["--trust-proxy"]).await;
    let nginx = Nginx::start(&nodes).await;

    // One source address per bot: nginx hashes each to a node, so the 4 bots of a room (the
    // first creates it on its node) are spread over both nodes. The node ports are random and
    // move the hash ring: 127.0.0.1-4 all land on one node for 1 port pair in 8, 127.0.0.1-24
    // for none of 20,000 (simulating nginx's ketama ring).
    let ips: Vec<String> = (1..=BOTS).map(|i| format!("127.0.0.{i}")).collect();
    let bots = BOTS.to_string();
    let mut argv = vec![
        "tickstorm-bots",
        "--url",
        &nginx.url,
        "--bots",
        &bots,
        "--room-size",
        "4",
        "--duration",
        "5s",
        "--quiet",
    ];
    for ip in &ips {
        argv.extend(["--local-ip", ip.as_str()]);
    }
    let run = tokio::spawn(swarm::run(SwarmConfig::parse_from(argv)));

    // Sample each node's connection gauge while the bots play (they stay connected all along).
    let mut peaks = vec![0.0_f64; nodes.len()];
    while !run.is_finished() && peaks.contains(&0.0) {
        for (peak, node) in peaks.iter_mut().zip(&nodes) {
            *peak = peak.max(node.metric("tickstorm_connections").await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the swarm ends in time")
        .expect("the swarm task")
        .expect("the swarm runs");
    let i2s = report.latency_ms["input_to_snapshot"];
    let ack = report.latency_ms["ack"];
    eprintln!(
        "through nginx: connections seen per node {peaks:?}; delivery {} ({} of {}); acked {} of \
         {}; ack p50 {:.2} ms p99 {:.2} ms; input->snapshot p99 {:.2} ms",
        report.snapshots.ratio,
        report.snapshots.received,
        report.snapshots.expected,
        report.inputs_acked,
        report.inputs_sent,
        ack.p50,
        ack.p99,
        i2s.p99
    );

    assert!(
        peaks.iter().all(|&p| p > 0.0),
        "both nodes served bots: {peaks:?}"
    );
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    assert_eq!(report.bots_connected_peak, BOTS);
    assert_eq!(report.bots_connected_at_end, BOTS);
    assert!(report.snapshots.expected > 0, "{:?}", report.snapshots);
    assert_eq!(
        report.snapshots.missed, 0,
        "delivery {}",
        report.snapshots.ratio
    );
    assert!(report.inputs_sent > 0);
    assert!(
        report.inputs_acked + BOTS as u64 >= report.inputs_sent,
        "at most one input in flight per bot at the stop: acked {} of {}",
        report.inputs_acked,
        report.inputs_sent
    );
    // A bot seated in a room of the other node goes through a node request: they played across
    // nodes, not just side by side.
    let mut node_requests = 0.0;
    for node in &nodes {
        node_requests += node.metric("tickstorm_node_requests_total").await;
    }
    assert!(node_requests > 0.0, "no bot played in another node's room");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_through_nginx_stays_on_one_node() {
    let redis = Redis::start().await;
    let nodes = Node::cluster(&redis.url(), "nginx-b", &["b1", "b2"], &["--trust-proxy"]).await;
    let nginx = Nginx::start(&nodes).await;

    // A room on each node, created by a player connected to it directly.
    let mut creators = Vec::new();
    for node in &nodes {
        let creator = TestClient::connect(&node.url, "creator").await;
        let ack: Value = creator.ack(events::ROOM_CREATE, json!({})).await;
        assert_eq!(ack["ok"], true, "{ack}");
        creators.push((ack["room"]["id"].as_str().expect("id").to_owned(), creator));
    }
    agreed_rooms(&nodes, Duration::from_secs(10)).await;

    let config = ClientConfig::new(&nginx.url, "/game")
        .with_auth(json!({ "name": "poller" }))
        .with_transport(TransportKind::Polling);
    let (client, events) = Client::connect(config)
        .await
        .unwrap_or_else(|e| panic!("polling connect through nginx: {e}; {}", nginx.logs()));
    let mut poller = TestClient { client, events };

    // Play in the room of the node the session is NOT on: snapshots and acks cross the cluster
    // and then come back over long-polling through nginx.
    // nginx logs a request as it completes, a moment after the client has the answer.
    assert!(
        until(WAIT, || async { !nginx.socket_io_upstreams().is_empty() }).await,
        "the handshake is logged"
    );
    let handshake_node = nginx.socket_io_upstreams().remove(0);
    let other = nodes
        .iter()
        .position(|n| !n.url.ends_with(&handshake_node))
        .expect("a node the poller is not on");
    let room_id = &creators[other].0;
    let join: JoinAck = poller
        .ack(events::ROOM_JOIN, json!({ "room_id": room_id }))
        .await;
    assert_eq!(&join.room.id, room_id);
    poller.next_snapshot().await;
    for seq in 1..=10_u32 {
        let ack: Value = poller
            .ack(
                events::INPUT,
                json!({ "seq": seq, "move": [1.0, 0.0], "buttons": 0 }),
            )
            .await;
        assert_eq!(ack["ok"], true, "input {seq}: {ack}");
        assert_eq!(ack["seq"], seq);
    }
    let me = join.player_id;
    poller
        .snapshot_where(|s| {
            s.players
                .iter()
                .any(|p| p.id == me && p.last_input_seq == 10)
        })
        .await;

    // Every request of the session (handshake, polls, 10+ input POSTs) reached one node.
    let upstreams = nginx.socket_io_upstreams();
    let distinct: BTreeSet<&String> = upstreams.iter().collect();
    assert!(upstreams.len() > 10, "requests logged: {upstreams:?}");
    assert_eq!(
        distinct.len(),
        1,
        "the session hit several nodes: {distinct:?}"
    );
    poller.client.close().await;
}

/// The official `socket.io-client` through nginx, playing a room of the node it is not on: its
/// whole check script (snapshots, 20 acks, bad and binary payloads, its own reconnection and
/// `room:rejoin`) passes across the cluster too.
async fn stock_client_through_nginx_plays_on_the_other_node(
    prefix: &str,
    parser: &str,
    transports: &str,
) {
    let redis = Redis::start().await;
    let flags = ["--trust-proxy", "--parser", parser];
    let ids = [format!("{prefix}-1"), format!("{prefix}-2")];
    let nodes = Node::cluster(&redis.url(), prefix, &[&ids[0], &ids[1]], &flags).await;
    let nginx = Nginx::start(&nodes).await;
    // The node nginx sends 127.0.0.1 to, and the other one, where the only open room is: quick
    // match prefers an open room on the player's own node, else the fullest anywhere.
    let reply = crate::http::get(&nginx.url, "/api/cluster", &[]).await;
    let view: Value = serde_json::from_slice(&reply.body).expect("cluster view");
    let edge = view["node_id"].as_str().expect("node id").to_owned();
    let owner = nodes.iter().find(|n| n.id != edge).expect("the other node");
    let host = TestClient::connect_with(
        &owner.url,
        "host",
        match parser {
            "msgpack" => tickstorm_bot_client::ParserKind::MsgPack,
            _ => tickstorm_bot_client::ParserKind::Common,
        },
    )
    .await;
    let seated: Value = host.ack(events::ROOM_JOIN, json!({})).await;
    assert_eq!(seated["ok"], true, "{seated}");
    agreed_rooms(&nodes, Duration::from_secs(10)).await;

    crate::js_client::run_stock_client(&nginx.url, parser, transports).await;

    let edge_node = nodes.iter().find(|n| n.id == edge).expect("edge");
    assert!(
        edge_node.metric("tickstorm_node_requests_total").await > 20.0,
        "the stock client's requests crossed to the room's node"
    );
    assert_eq!(
        edge_node.metric("tickstorm_rooms").await,
        0.0,
        "no room was made on the edge"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_js_client_default_parser_polling_then_upgrade_through_nginx_across_nodes() {
    stock_client_through_nginx_plays_on_the_other_node("js-common", "common", "polling-upgrade")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_js_client_msgpack_parser_websocket_through_nginx_across_nodes() {
    stock_client_through_nginx_plays_on_the_other_node("js-msgpack", "msgpack", "websocket").await;
}
