//! 5,000 silent connections (issue 21's bar): a player still joins while they are all open, and
//! each is closed at the header timeout. A test binary of its own, because cargo runs test
//! binaries one after another: the burst of 5,000 connects and, later, of 5,000 closes would
//! otherwise land on whichever timing-sensitive test of `it` runs beside it.

#[path = "it/support.rs"]
#[allow(dead_code)] // this binary uses a part of the shared support
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tickstorm_shared::protocol::events;
use tokio::net::TcpStream;

use support::{
    EARLY, MARGIN, TestClient, TestServer, WAIT, assert_connections_gone, closed_by_server,
    eventually,
};

/// The soft limit on open files of this process, from /proc (Linux).
fn open_files_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok())
        .unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_silent_connections_do_not_keep_a_player_out() {
    const SILENT: usize = 5_000;
    // Both ends live in this process: two descriptors per connection, and room for the rest.
    let needed = (2 * SILENT + 2_000) as u64;
    assert!(
        open_files_limit() >= needed,
        "this test needs `ulimit -n` of at least {needed} (the server's own deployments raise it too)"
    );
    // Longer than the default, so that every connection is still open when the player joins
    // however slowly a loaded machine opens them.
    let timeout = Duration::from_secs(10);
    let server = TestServer::start(|c| c.header_timeout = timeout).await;
    let addr: SocketAddr = server
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("server address");

    let mut silent = Vec::with_capacity(SILENT);
    // In batches, so the listen backlog never overflows (a dropped SYN is retried after 1 s).
    for _ in 0..SILENT / 250 {
        let batch = futures_util::future::join_all((0..250).map(|_| async {
            let since = Instant::now();
            // No explicit bind: binding to port 0 first makes each bind search the port range,
            // which gets slow with thousands of ports taken.
            (TcpStream::connect(addr).await.expect("connect"), since)
        }))
        .await;
        silent.extend(batch);
    }
    let connections = &server.handle.connections;
    assert!(
        eventually(WAIT, || connections.counts().0 >= SILENT).await,
        "the server holds them all: {:?}",
        connections.counts()
    );

    let started = Instant::now();
    let player = TestClient::connect(&server.url, "player").await;
    let join = player.quick_join().await;
    let joined = started.elapsed();
    eprintln!("with {SILENT} silent connections open, a player connected and joined in {joined:?}");
    assert!(!join.room.id.is_empty());
    assert!(
        connections.counts().0 > SILENT,
        "the silent connections were all still open: {:?}",
        connections.counts()
    );

    let closes = futures_util::future::join_all(
        silent
            .into_iter()
            .map(|(stream, since)| closed_by_server(stream, since, timeout + MARGIN)),
    )
    .await;
    let earliest = closes.iter().min().expect("closes");
    assert!(*earliest >= timeout - EARLY, "closed early: {earliest:?}");
    assert_eq!(server.handle.metrics.header_timeouts.get(), SILENT as u64);
    let ack: Value = player
        .ack(events::INPUT, serde_json::json!({"seq": 1, "move": [1, 0]}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    player.client.close().await;
    assert_connections_gone(&server).await;
    server.stop().await.expect("clean shutdown");
}
