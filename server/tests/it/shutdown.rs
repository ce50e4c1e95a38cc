//! The real binary under SIGTERM: players are told `room:closed {reason: "shutdown"}`, the
//! process exits 0 in bounded time and stops listening.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tickstorm_shared::protocol::events;

use crate::procs::{free_port, listening};
use crate::support::TestClient;

async fn healthy(url: &str) -> bool {
    listening(url.trim_start_matches("http://")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_every_room_and_exits_zero() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickstorm-server"))
        .args(["--addr", &format!("127.0.0.1:{port}"), "--log", "warn"])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary starts");
    assert!(healthy(&url).await, "the server listens");
    let mut ana = TestClient::connect(&url, "ana").await;
    let join = ana.quick_join().await;

    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill(1) is available");
    assert!(status.success());

    let closed: Value = ana.next(events::ROOM_CLOSED).await;
    assert_eq!(closed["room_id"], join.room.id.as_str());
    assert_eq!(closed["reason"], "shutdown");
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
