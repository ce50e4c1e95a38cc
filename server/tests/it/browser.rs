//! The web client and the dashboard in real headless Chromium (Debian's `chromium`, driven by
//! npm `playwright-core`; the scripts `tests/js/browser.mjs` (the orb arena, the dashboard) and
//! `tests/js/browser_blasters.mjs` (a round of blasters) do the checking), plus the web client's
//! JavaScript unit tests under node's test runner and its netcode modules on the official client
//! against this server from Node. The browser test runs twice: on the default transports (it
//! must upgrade to WebSocket) and on a server with `--transports polling` (it must play over
//! long-polling alone). Screenshots go to `artifacts/browser/` at the workspace root.

use std::path::{Path, PathBuf};

use tickstorm_server::config::{AdminToken, Transports};

use crate::js_client::{ensure_node_modules, js_dir};
use crate::support::TestServer;

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate sits in the workspace")
        .to_path_buf()
}

/// Runs `node` with `args`, prints its output and returns stdout; fails the test on a non-zero exit.
pub(crate) async fn node(args: &[&str], what: &str) -> String {
    let output = tokio::process::Command::new("node")
        .args(args)
        .current_dir(workspace())
        .output()
        .await
        .expect("node must be installed (Node 20 or newer)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{what}:\n{stdout}{stderr}");
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// `browser.mjs` against a server accepting `transports`; the page must end up on `expected`
/// ("websocket": upgraded from polling; "polling": never anything else).
async fn game_and_dashboard(transports: Transports, expected: &str) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium); .ci/run installs it"
    );
    ensure_node_modules();
    let token = "browser-test-token";
    let server = TestServer::start(|c| {
        c.admin_token = Some(AdminToken::new(token));
        c.transports = transports;
    })
    .await;
    // One folder per transport: the two tests may run at once.
    let artifacts = workspace().join("artifacts/browser").join(expected);
    let script = js_dir().join("browser.mjs");
    let stdout = node(
        &[
            &script.to_string_lossy(),
            &server.url,
            token,
            &artifacts.to_string_lossy(),
            expected,
        ],
        &format!("browser test ({expected})"),
    )
    .await;
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
            .expect("one JSON summary line");
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["transport"], expected, "{summary}");
    for shot in summary["screenshots"].as_array().expect("screenshot list") {
        let path = shot.as_str().expect("path");
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "screenshot {path} is {size} bytes");
    }
    server.stop().await.expect("clean shutdown");
}

/// The default server: the page starts on long-polling and upgrades to WebSocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_game_and_the_dashboard_work_in_headless_chromium() {
    game_and_dashboard(Transports::All, "websocket").await;
}

/// `--transports polling`, as behind a proxy that blocks WebSocket: the same page joins, plays
/// (snapshots, acked inputs, movement), chats, rejoins after a drop, and the dashboard works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_game_and_the_dashboard_work_over_long_polling_in_headless_chromium() {
    game_and_dashboard(Transports::Polling, "polling").await;
}

/// Two pages play one round of blasters: create with options from the lobby, join from the
/// lobby list, aim with the mouse and fire, a hit shows on the target's page, the kill ends the
/// round with a scoreboard, the next round starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blasters_plays_a_round_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium); .ci/run installs it"
    );
    ensure_node_modules();
    let server = TestServer::start_default().await;
    let artifacts = workspace().join("artifacts/browser");
    let script = js_dir().join("browser_blasters.mjs");
    let stdout = node(
        &[
            &script.to_string_lossy(),
            &server.url,
            &artifacts.to_string_lossy(),
        ],
        "blasters browser test",
    )
    .await;
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
            .expect("one JSON summary line");
    assert_eq!(summary["ok"], true, "{summary}");
    assert!(
        summary["hit"]["health"].as_u64().is_some_and(|h| h < 100),
        "{summary}"
    );
    for shot in summary["screenshots"].as_array().expect("screenshot list") {
        let path = shot.as_str().expect("path");
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "screenshot {path} is {size} bytes");
    }
    server.stop().await.expect("clean shutdown");
}

/// The web client's unit test files, `assets/tests/*.test.mjs` relative to the workspace, sorted.
/// Listed here rather than passing the directory: Node 21+ reads `node --test` arguments as glob
/// patterns and fails on a directory. Listing on every run picks up a new test file by itself.
fn js_unit_test_files() -> Vec<String> {
    let dir = workspace().join("assets/tests");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").file_name())
        .filter_map(|name| name.to_str().map(str::to_owned))
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("assets/tests/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.mjs in {}", dir.display());
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_client_modules_pass_their_unit_tests() {
    let files = js_unit_test_files();
    let mut args = vec!["--test"];
    args.extend(files.iter().map(String::as_str));
    node(&args, "node --test assets/tests/*.test.mjs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_client_modules_play_against_this_server_from_node() {
    ensure_node_modules();
    let server = TestServer::start_default().await;
    let stdout = node(
        &["assets/tests/live/netcode_live.mjs", &server.url],
        "netcode live test",
    )
    .await;
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
            .expect("one JSON summary line");
    assert_eq!(summary["ok"], true, "{summary}");
    server.stop().await.expect("clean shutdown");
}
