//! The real binary under SIGTERM: players are told `room:closed {reason: "shutdown"}`, the
//! process exits 0 in bounded time and stops listening. Once with our client, once with many
//! stock `socket.io-client` players in several rooms that keep sending inputs.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tickstorm_shared::protocol::events;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::js_client::{ensure_node_modules, js_dir};
use crate::procs::{free_port, listening, signal};
use crate::support::TestClient;

/// Starts the server binary (the test build) on `port`, loopback only.
fn spawn_server(port: u16) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tickstorm-server"))
        .args(["--addr", &format!("127.0.0.1:{port}"), "--log", "warn"])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary starts")
}

/// Waits (bounded) for the process to exit and checks it exited 0 and stopped listening.
async fn exits_zero(child: &mut tokio::process::Child, port: u16) {
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the process exits within 15 s")
        .expect("exit status");
    assert!(exit.success(), "exit status {exit}");
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "nothing listens any more"
    );
}

async fn healthy(url: &str) -> bool {
    listening(url.trim_start_matches("http://")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_every_room_and_exits_zero() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = spawn_server(port);
    assert!(healthy(&url).await, "the server listens");
    let mut ana = TestClient::connect(&url, "ana").await;
    let join = ana.quick_join().await;

    signal(&child, "TERM");

    let closed: Value = ana.next(events::ROOM_CLOSED).await;
    assert_eq!(closed["room_id"], join.room.id.as_str());
    assert_eq!(closed["reason"], "shutdown");
    exits_zero(&mut child, port).await;
}

/// 16 stock clients (polling, then upgraded to WebSocket, as they start by default) in 4 rooms,
/// each sending 10 inputs/s without waiting for acks: at SIGTERM every one hears `room:closed
/// {reason: "shutdown"}` before its connection ends. The script says who missed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_every_stock_client_in_every_room() {
    ensure_node_modules();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = spawn_server(port);
    assert!(healthy(&url).await, "the server listens");
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

    let summary = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("every connection ends within 30 s")
        .expect("read the script's output")
        .expect("a summary line");
    let status = players.wait().await.expect("the script's exit status");
    let summary: Value = serde_json::from_str(&summary).expect("a JSON line");
    assert_eq!(summary["heard"], 16, "who missed room:closed: {summary}");
    assert!(status.success(), "{summary}");
    exits_zero(&mut child, port).await;
}
