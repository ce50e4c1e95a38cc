//! The real binary under SIGTERM: players are told `room:closed {reason: "shutdown"}`, the
//! process exits 0 in bounded time and stops listening. Once with our client, once with many
//! stock `socket.io-client` players in several rooms that keep sending inputs.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tickstorm_shared::protocol::events;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;

use crate::js_client::{ensure_node_modules, js_dir};
use crate::procs::signal;
use crate::support::TestClient;

/// Starts the server binary (the test build) on a loopback port it picks itself, and returns it
/// with its URL. Asking the kernel for a free port and passing it on races with the other tests
/// doing the same (two servers were handed one port); the server's own "listening" line cannot.
async fn spawn_server() -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickstorm-server"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--log",
            "warn,tickstorm_server=info",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read the server's log") {
            if let Some((_, rest)) = line.split_once("game at ") {
                return rest.split('/').take(3).collect::<Vec<_>>().join("/");
            }
        }
        panic!("the server ended before it listened");
    })
    .await
    .expect("the server listens within 30 s");
    // Keep reading, so that a full pipe never blocks the server's logging.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

/// The server's shutdown grace (`SHUTDOWN_GRACE` in lib.rs; docs/operations.md: "exits 0 once
/// every connection has ended, within about 5 s"): connections still open then are cut.
const GRACE: Duration = Duration::from_secs(5);
/// What a loaded 2-core machine may add after the grace: the cut itself, the runtime's teardown,
/// the process exit and this test's own wake-up.
const EXIT_MARGIN: Duration = Duration::from_secs(2);

/// Waits (bounded) for the process to exit, then checks that it exited 0 within the grace (and
/// its margin) of `signalled`, and stopped listening.
async fn exits_zero(child: &mut tokio::process::Child, url: &str, signalled: Instant) {
    let bound = GRACE + EXIT_MARGIN;
    let exit = tokio::time::timeout(bound.saturating_sub(signalled.elapsed()), child.wait())
        .await
        .unwrap_or_else(|_| panic!("the process exits within {bound:?} of SIGTERM"))
        .expect("exit status");
    assert!(exit.success(), "exit status {exit}");
    assert!(
        tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
            .await
            .is_err(),
        "nothing listens any more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_every_room_and_exits_zero() {
    let (mut child, url) = spawn_server().await;
    let mut ana = TestClient::connect(&url, "ana").await;
    let join = ana.quick_join().await;

    signal(&child, "TERM");
    let signalled = Instant::now();

    let closed: Value = ana.next(events::ROOM_CLOSED).await;
    assert_eq!(closed["room_id"], join.room.id.as_str());
    assert_eq!(closed["reason"], "shutdown");
    exits_zero(&mut child, &url, signalled).await;
}

/// 16 stock clients (polling, then upgraded to WebSocket, as they start by default) in 4 rooms,
/// each sending 10 inputs/s without waiting for acks: at SIGTERM every one hears `room:closed
/// {reason: "shutdown"}` before its connection ends. The script says who missed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_every_stock_client_in_every_room() {
    ensure_node_modules();
    let (mut child, url) = spawn_server().await;
    let mut players = tokio::process::Command::new("node")
        .arg(js_dir().join("shutdown_players.mjs"))
        .args([url.as_str(), "16", "4"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node must be installed to run the socket.io-client tests");
    let mut lines = BufReader::new(players.stdout.take().expect("piped stdout")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the players are seated within 30 s")
        .expect("read the script's output")
        .expect("the script says it is ready (see its stderr above)");
    let ready: Value = serde_json::from_str(&ready).expect("a JSON line");
    assert_eq!(
        (ready["players"].as_u64(), ready["rooms"].as_u64()),
        (Some(16), Some(4))
    );

    signal(&child, "TERM");
    let signalled = Instant::now();

    let summary = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("every connection ends within 30 s")
        .expect("read the script's output")
        .expect("a summary line");
    let status = players.wait().await.expect("the script's exit status");
    let summary: Value = serde_json::from_str(&summary).expect("a JSON line");
    assert_eq!(summary["heard"], 16, "who missed room:closed: {summary}");
    assert!(status.success(), "{summary}");
    exits_zero(&mut child, &url, signalled).await;
}
