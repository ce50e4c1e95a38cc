//! `--cors-origin` over real loopback sockets: the Socket.IO handshake (polling and WebSocket)
//! and the HTTP API answer the server's own origin and the listed ones, with CORS headers and
//! preflights for the listed; any other origin gets `403` saying how to allow it; clients that
//! send no `Origin` are not affected.

use tickstorm_server::config::AdminToken;

use crate::http::send;
use crate::support::{TestServer, open_raw_ws};

const ALLOWED: &str = "http://127.0.0.2:8080";
const OTHER: &str = "http://127.0.0.1:9";
const HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_and_own_origins_use_the_server_others_are_refused() {
    let server = TestServer::start(|c| {
        c.cors_origins = vec![ALLOWED.into()];
        c.admin_token = Some(AdminToken::new("cors-test-admin-token"));
    })
    .await;
    let own = server.url.clone();

    // The polling handshake: no Origin, the server's own, the listed one pass; another is 403.
    let plain = send(&server.url, "GET", HANDSHAKE, &[], "").await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert!(plain.text().contains("\"sid\""), "{}", plain.text());
    let same = send(&server.url, "GET", HANDSHAKE, &[("Origin", &own)], "").await;
    assert_eq!(same.status, 200, "{}", same.text());
    let listed = send(&server.url, "GET", HANDSHAKE, &[("Origin", ALLOWED)], "").await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.header("access-control-allow-origin"), Some(ALLOWED));
    assert_eq!(
        listed.header("access-control-allow-credentials"),
        Some("true")
    );
    let other = send(&server.url, "GET", HANDSHAKE, &[("Origin", OTHER)], "").await;
    assert_eq!(other.status, 403);
    assert!(
        other.text().contains(&format!("--cors-origin {OTHER}")),
        "the refusal says how to allow it: {}",
        other.text()
    );
    assert_eq!(other.header("access-control-allow-origin"), None);

    // A WebSocket handshake from another origin is refused before the upgrade.
    let upgrade = send(
        &server.url,
        "GET",
        "/socket.io/?EIO=4&transport=websocket",
        &[
            ("Origin", OTHER),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        "",
    )
    .await;
    assert_eq!(upgrade.status, 403, "{}", upgrade.text());
    // Without an Origin (a bot, a server) WebSockets work as before.
    let (ws, open) = open_raw_ws(&server.url).await;
    assert!(open["sid"].is_string(), "{open}");
    drop(ws);

    // The HTTP API's preflight and call from the listed origin; another origin is refused.
    let preflight = send(
        &server.url,
        "OPTIONS",
        "/api/rooms",
        &[
            ("Origin", ALLOWED),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization,content-type",
            ),
        ],
        "",
    )
    .await;
    assert!(
        preflight.status < 300,
        "preflight: {} {}",
        preflight.status,
        preflight.text()
    );
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(ALLOWED)
    );
    let methods = preflight
        .header("access-control-allow-methods")
        .unwrap_or_default()
        .to_ascii_uppercase();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let headers = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(headers.contains("authorization"), "{headers}");
    let created = send(
        &server.url,
        "POST",
        "/api/rooms",
        &[
            ("Origin", ALLOWED),
            ("Authorization", "Bearer cors-test-admin-token"),
        ],
        "{}",
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("access-control-allow-origin"), Some(ALLOWED));
    let refused = send(
        &server.url,
        "POST",
        "/api/rooms",
        &[
            ("Origin", OTHER),
            ("Authorization", "Bearer cors-test-admin-token"),
        ],
        "{}",
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let rooms = crate::http::get(&server.url, "/api/rooms", &[]).await;
    let list: serde_json::Value = serde_json::from_slice(&rooms.body).expect("room list");
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "only the allowed call created a room"
    );

    // Pages and other routes are not guarded (browsers keep their own rules there).
    let page = send(&server.url, "GET", "/healthz", &[("Origin", OTHER)], "").await;
    assert_eq!(page.status, 200);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_only_the_own_origin_is_allowed() {
    let server = TestServer::start_default().await;
    let own = server.url.clone();
    let same = send(&server.url, "GET", HANDSHAKE, &[("Origin", &own)], "").await;
    assert_eq!(same.status, 200, "{}", same.text());
    let other = send(&server.url, "GET", HANDSHAKE, &[("Origin", ALLOWED)], "").await;
    assert_eq!(other.status, 403, "{}", other.text());
    server.stop().await.expect("clean shutdown");
}

/// A port nothing listens on right now (for the test's page servers).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_headless_chromium_a_listed_page_plays_and_another_is_refused() {
    let (allowed, other) = (free_port(), free_port());
    let token = "cors-browser-admin-token";
    let server = TestServer::start(|c| {
        c.cors_origins = vec![format!("http://127.0.0.1:{allowed}")];
        c.admin_token = Some(AdminToken::new(token));
    })
    .await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/browser_cors.mjs");
    let output = tokio::process::Command::new("node")
        .args([
            script,
            &server.url,
            token,
            &allowed.to_string(),
            &other.to_string(),
        ])
        .output()
        .await
        .expect("node must be installed (Node 20 or newer)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser_cors.mjs failed: {stdout}{stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("summary ({e}): {stdout}{stderr}"));
    println!("{summary}");
    assert_eq!(
        summary["allowed"],
        serde_json::json!({"api": 201, "polling": 200, "ws": "open"}),
        "{summary}"
    );
    let other = &summary["other"];
    assert!(
        other["api"]
            .as_str()
            .is_some_and(|s| s.starts_with("blocked")),
        "{summary}"
    );
    assert!(
        other["polling"]
            .as_str()
            .is_some_and(|s| s.starts_with("blocked")),
        "{summary}"
    );
    assert_eq!(other["ws"], "error", "{summary}");
    let rooms = crate::http::get(&server.url, "/api/rooms", &[]).await;
    let list: serde_json::Value = serde_json::from_slice(&rooms.body).expect("room list");
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "only the allowed page created a room"
    );
    server.stop().await.expect("clean shutdown");
}
