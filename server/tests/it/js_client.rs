//! The official JavaScript `socket.io-client` (npm) against the server, in every combination of
//! parser (default, msgpack) and transport (polling then upgrade, WebSocket only): handshake
//! refusal, snapshots decoded by a MessagePack library, acks, a malformed and a binary payload,
//! and the client's own reconnection followed by `room:rejoin`. The script `tests/js/stock_client.mjs` does the checking; here we run it.
//! The stock client also plays a round of blasters (`tests/js/stock_blasters.mjs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tickstorm_server::config::ParserKind;

use crate::support::TestServer;

pub(crate) fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// Installs the npm packages once (from the lock file) if any is missing.
pub(crate) fn ensure_node_modules() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let dir = js_dir();
        let packages = [
            "socket.io-client",
            "socket.io-msgpack-parser",
            "@msgpack/msgpack",
            "ws",
            "playwright-core",
        ];
        if packages
            .iter()
            .all(|p| dir.join("node_modules").join(p).exists())
        {
            return;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm must be installed to run the socket.io-client tests (Node 20 or newer)");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    });
}

pub(crate) async fn run_stock_client(url: &str, parser: &str, transports: &str) {
    ensure_node_modules();
    let output = tokio::process::Command::new("node")
        .arg(js_dir().join("stock_client.mjs"))
        .args([url, parser, transports])
        .output()
        .await
        .expect("node must be installed to run the socket.io-client tests");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("stock client ({parser}, {transports}): {stdout}{stderr}");
    assert!(
        output.status.success(),
        "socket.io-client checks failed: {stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("one JSON summary line");
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["input_acks"], 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_js_client_default_parser_polling_then_upgrade() {
    let server = TestServer::start_default().await;
    run_stock_client(&server.url, "common", "polling-upgrade").await;
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_js_client_default_parser_websocket_only() {
    let server = TestServer::start_default().await;
    run_stock_client(&server.url, "common", "websocket").await;
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_js_client_msgpack_parser_polling_then_upgrade() {
    let server = TestServer::start(|c| c.parser = ParserKind::Msgpack).await;
    run_stock_client(&server.url, "msgpack", "polling-upgrade").await;
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_js_client_msgpack_parser_websocket() {
    let server = TestServer::start(|c| c.parser = ParserKind::Msgpack).await;
    run_stock_client(&server.url, "msgpack", "websocket").await;
    server.stop().await.expect("clean shutdown");
}

/// The stock client plays a round of blasters: creates a short-round room, seats a second
/// client, walks into range and fires until the target's health drops and it is killed, then
/// sees the round go to "over" and back to warm-up with the next round number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_js_client_plays_a_round_of_blasters() {
    ensure_node_modules();
    let server = TestServer::start_default().await;
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg(js_dir().join("stock_blasters.mjs"))
            .arg(&server.url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the script ends by itself (it has a 45 s deadline)")
    .expect("node must be installed to run the socket.io-client tests");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("stock client plays blasters: {stdout}{stderr}");
    assert!(output.status.success(), "blasters round failed: {stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("one JSON summary line");
    assert_eq!(summary["ok"], true);
    assert!(
        summary["hit_health"].as_u64().is_some_and(|h| h < 100),
        "{summary}"
    );
    assert_eq!(summary["next_round"]["round"], 2, "{summary}");
    assert_eq!(summary["next_round"]["phase"], 0, "{summary}");
    server.stop().await.expect("clean shutdown");
}

/// The README's "Try it from Node" example, run as the README says (`npm install`, then `node
/// quickstart.mjs`; here `npm ci` from its lock file): it prints the join ack, the input ack and
/// one decoded snapshot, and exits by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_node_example_runs_as_shown() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/node");
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        if dir.join("node_modules/socket.io-client").exists()
            && dir.join("node_modules/@msgpack/msgpack").exists()
        {
            return;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm must be installed to run the Node example (Node 20 or newer)");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    });
    let server = TestServer::start_default().await;
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::process::Command::new("node")
            .arg("quickstart.mjs")
            .arg(&server.url)
            .current_dir(&dir)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the example exits by itself within 30 s")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = |prefix: &str| -> serde_json::Value {
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"));
        serde_json::from_str(line.trim()).expect("JSON after the prefix")
    };
    let join = printed("join ack:");
    assert_eq!(join["ok"], true, "{join}");
    assert_eq!(join["members"][0]["name"], "ana");
    let input = printed("input ack:");
    assert_eq!((&input["ok"], &input["seq"]), (&true.into(), &1.into()));
    assert!(input["tick"].is_u64(), "{input}");
    let snapshot = printed("snapshot:");
    assert_eq!(snapshot["version"], 2);
    assert_eq!(snapshot["orbs"], 32);
    let me = snapshot["players"]
        .as_array()
        .and_then(|players| players.iter().find(|p| p[0] == join["player_id"]));
    let net_id = me.map(|entry| entry[1].clone());
    let avatar = snapshot["avatars"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| Some(&row[0]) == net_id.as_ref()));
    assert!(
        avatar.is_some_and(|row| row.as_array().is_some_and(|r| r.len() == 6)),
        "the joined player and its avatar are in the snapshot: {snapshot}"
    );
    server.stop().await.expect("clean shutdown");
}
