//! The HTTP side of the port over real loopback sockets: the embedded web client (content types,
//! ETag revalidation, gzip), the official client's script at `/socket.io/socket.io.js` beside the
//! Engine.IO endpoint, `/healthz`, `/api/rooms` and the Prometheus `/metrics` endpoint,
//! whose counters must follow what clients actually do.

use std::time::Duration;

use serde_json::json;
use tickstorm_shared::protocol::events;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestClient, TestServer, WAIT, eventually};

/// A response read off the wire: status, lower-cased headers, body bytes.
pub(crate) struct Reply {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 GET with `Connection: close` (enough for these checks, no client library).
pub(crate) async fn get(base: &str, path: &str, extra_headers: &[(&str, &str)]) -> Reply {
    send(base, "GET", path, extra_headers, "").await
}

/// One HTTP/1.1 request with `Connection: close`.
pub(crate) async fn send(
    base: &str,
    method: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra_headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v == "chunked")
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end]).expect("hex"), 16)
            .expect("chunk size is hex");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_client_is_served_from_the_binary_with_types_etags_and_gzip() {
    let server = TestServer::start_default().await;
    let page = get(&server.url, "/", &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    assert!(
        page.text().contains("<canvas id=\"arena\""),
        "the game page"
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert!(
        page.header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'self'"))
    );

    let dashboard = get(&server.url, "/dashboard", &[]).await;
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.text().contains("dashboard.js"));

    let module = get(&server.url, "/js/game.js", &[]).await;
    assert_eq!(module.status, 200);
    assert_eq!(module.header("content-type"), Some("text/javascript"));
    let etag = module.header("etag").expect("an ETag").to_owned();
    assert!(
        etag.starts_with("W/\""),
        "weak: the same tag covers the gzip body ({etag})"
    );
    assert_eq!(module.header("vary"), Some("accept-encoding"));
    let again = get(&server.url, "/js/game.js", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304, "unchanged file revalidates");
    assert!(again.body.is_empty());
    let strong = etag.trim_start_matches("W/");
    let again = get(&server.url, "/js/game.js", &[("If-None-Match", strong)]).await;
    assert_eq!(again.status, 304, "If-None-Match compares weakly");
    let other = get(
        &server.url,
        "/js/game.js",
        &[("If-None-Match", "W/\"0000\"")],
    )
    .await;
    assert_eq!(other.status, 200, "a changed file is sent again");

    let zipped = get(&server.url, "/js/game.js", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert!(zipped.body.starts_with(&[0x1f, 0x8b]), "a gzip stream");
    assert!(zipped.body.len() < module.body.len() / 2, "compressed");

    assert_eq!(
        get(&server.url, "/css/game.css", &[])
            .await
            .header("content-type"),
        Some("text/css")
    );
    assert_eq!(get(&server.url, "/no/such/file.js", &[]).await.status, 404);
    assert_eq!(
        get(&server.url, "/tests/charts.test.mjs", &[]).await.status,
        404,
        "tests are not shipped"
    );
    server.stop().await.expect("clean shutdown");
}

/// The asset routes and the Socket.IO endpoint share the port: a long-polling session's GETs and
/// POSTs must reach one Engine.IO engine (socketioxide builds one per `Layer::layer` call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_works_beside_the_asset_routes() {
    let server = TestServer::start_default().await;
    let open = get(&server.url, "/socket.io/?EIO=4&transport=polling", &[])
        .await
        .text();
    let handshake: serde_json::Value =
        serde_json::from_str(open.strip_prefix('0').expect("an open packet")).expect("json");
    let sid = handshake["sid"].as_str().expect("sid");
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let posted = send(
        &server.url,
        "POST",
        &path,
        &[],
        "40/game,{\"name\":\"ana\"}",
    )
    .await;
    assert_eq!((posted.status, posted.text().as_str()), (200, "ok"));
    // A poll returns what is queued: maybe a heartbeat first, the CONNECT answer in a later
    // poll. Packets in one body are split by \x1e.
    let mut seen = Vec::new();
    for _ in 0..5 {
        let answer = get(&server.url, &path, &[]).await.text();
        let connected = answer
            .split('\u{1e}')
            .any(|packet| packet.starts_with("40/game,{\"sid\""));
        seen.push(answer);
        if connected {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|a| a.contains("40/game,{\"sid\"")),
        "CONNECT acknowledged: {seen:?}"
    );
    assert_eq!(
        send(&server.url, "POST", "/js/game.js", &[], "")
            .await
            .status,
        405
    );
    server.stop().await.expect("clean shutdown");
}

/// The vendored file `name` (under `assets/vendor/socket.io-client/`), as committed.
fn vendored(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/vendor/socket.io-client")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// As a stock Socket.IO server does, `/socket.io/socket.io.js` answers the official client's
/// classic build, although the path lies under the Engine.IO endpoint, which must still get
/// every request with its query (`/socket.io/?EIO=4&...`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_script_is_served_beside_the_engineio_endpoint() {
    let server = TestServer::start_default().await;
    let script = get(&server.url, "/socket.io/socket.io.js", &[]).await;
    assert_eq!(script.status, 200, "{}", script.text());
    assert_eq!(
        script.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    assert_eq!(
        script.body,
        vendored("socket.io.min.js"),
        "the vendored classic build"
    );
    assert!(script.text().starts_with("/*!\n * Socket.IO v4.8.4"));
    assert_eq!(script.header("cache-control"), Some("no-cache"));
    assert_eq!(script.header("vary"), Some("accept-encoding"));
    let etag = script.header("etag").expect("an ETag").to_owned();
    let again = get(
        &server.url,
        "/socket.io/socket.io.js",
        &[("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(again.status, 304, "revalidates like the other assets");
    assert!(again.body.is_empty());
    let zipped = get(
        &server.url,
        "/socket.io/socket.io.js",
        &[("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert!(zipped.body.len() < script.body.len() / 2, "compressed");
    // The stock server's other names for it, and the map its last line points at.
    let minified = get(&server.url, "/socket.io/socket.io.min.js?v=4.8.4", &[]).await;
    assert_eq!((minified.status, &minified.body), (200, &script.body));
    let map = get(&server.url, "/socket.io/socket.io.min.js.map", &[]).await;
    assert_eq!(map.status, 200);
    assert_eq!(map.header("content-type"), Some("application/json"));
    assert_eq!(map.body, vendored("socket.io.min.js.map"));
    // The ES module build the pages import, at its place among the assets.
    let esm = get(
        &server.url,
        "/vendor/socket.io-client/socket.io.esm.min.js",
        &[],
    )
    .await;
    assert_eq!(esm.status, 200);
    assert_eq!(esm.header("content-type"), Some("text/javascript"));
    assert_eq!(esm.body, vendored("socket.io.esm.min.js"));

    // The Engine.IO endpoint right beside it is untouched: a polling handshake opens a session,
    // and another path under /socket.io/ is still socketioxide's to refuse (no EIO query).
    let open = get(&server.url, "/socket.io/?EIO=4&transport=polling", &[]).await;
    assert_eq!(open.status, 200);
    let handshake: serde_json::Value =
        serde_json::from_str(open.text().strip_prefix('0').expect("an open packet")).expect("json");
    assert!(handshake["sid"].is_string(), "{handshake}");
    let other = get(&server.url, "/socket.io/other.js", &[]).await;
    assert_eq!(other.status, 400, "{}", other.text());
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_dir_serves_the_folder_from_disk() {
    let dir = std::env::temp_dir().join(format!("tickstorm-assets-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("js")).expect("temp dir");
    std::fs::write(dir.join("index.html"), "<p>from disk</p>").expect("write");
    std::fs::write(dir.join("dashboard.html"), "<p>disk dashboard</p>").expect("write");
    std::fs::write(dir.join("js/x.js"), "export const x = 1;").expect("write");
    let server = TestServer::start(|c| c.assets_dir = Some(dir.clone())).await;
    assert_eq!(get(&server.url, "/", &[]).await.text(), "<p>from disk</p>");
    assert_eq!(
        get(&server.url, "/dashboard", &[]).await.text(),
        "<p>disk dashboard</p>"
    );
    let js = get(&server.url, "/js/x.js", &[]).await;
    assert_eq!(js.text(), "export const x = 1;");
    assert_eq!(
        js.header("cache-control"),
        Some("no-cache"),
        "edits show on reload"
    );
    assert!(
        js.header("content-type")
            .is_some_and(|t| t.contains("javascript"))
    );
    assert_eq!(get(&server.url, "/js/missing.js", &[]).await.status, 404);
    // The client script comes from the folder too (its vendored file is absent here).
    assert_eq!(
        get(&server.url, "/socket.io/socket.io.js", &[])
            .await
            .status,
        404
    );
    std::fs::create_dir_all(dir.join("vendor/socket.io-client")).expect("vendor dir");
    std::fs::write(
        dir.join("vendor/socket.io-client/socket.io.min.js"),
        "var io;",
    )
    .expect("write");
    let script = get(&server.url, "/socket.io/socket.io.js", &[]).await;
    assert_eq!((script.status, script.text().as_str()), (200, "var io;"));
    assert_eq!(
        script.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    server.stop().await.expect("clean shutdown");
    let _ = std::fs::remove_dir_all(dir);
}

/// The value of an unlabelled sample line (`name value`) in the exposition.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample `{name}` in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_connections_inputs_errors_and_ticks() {
    let server = TestServer::start_default().await;
    let before = get(&server.url, "/metrics", &[]).await;
    assert_eq!(before.status, 200);
    assert!(
        before
            .header("content-type")
            .is_some_and(|t| t.contains("openmetrics-text"))
    );
    let text = before.text();
    assert_eq!(sample(&text, "tickstorm_connections"), 0.0);
    assert_eq!(sample(&text, "tickstorm_inputs_total"), 0.0);
    assert!(text.trim_end().ends_with("# EOF"));

    let ana = TestClient::connect(&server.url, "ana").await;
    let join = ana.quick_join().await;
    for seq in 1..=5u32 {
        let ack: serde_json::Value = ana
            .ack(events::INPUT, json!({"seq": seq, "move": [1, 0]}))
            .await;
        assert_eq!(ack["ok"], true);
    }
    let refused: serde_json::Value = ana.ack(events::ROOM_JOIN, json!({})).await;
    assert_eq!(refused["error"]["code"], "already_in_room");
    let bad: serde_json::Value = ana.ack(events::INPUT, json!({"seq": "x"})).await;
    assert_eq!(bad["error"]["code"], "bad_request");
    // Wait (bounded) for a few ticks rather than sleeping a fixed time: CI machines are slow.
    let mut text = String::new();
    for _ in 0..100 {
        text = get(&server.url, "/metrics", &[]).await.text();
        if sample(&text, "tickstorm_snapshots_sent_total") >= 5.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sample(&text, "tickstorm_connections"), 1.0);
    assert_eq!(sample(&text, "tickstorm_rooms"), 1.0);
    assert_eq!(sample(&text, "tickstorm_players"), 1.0);
    assert_eq!(sample(&text, "tickstorm_inputs_total"), 6.0);
    assert!(
        sample(&text, "tickstorm_acks_ok_total") >= 6.0,
        "join + 5 inputs"
    );
    assert!(text.contains("tickstorm_errors_total{code=\"already_in_room\"} 1"));
    assert!(text.contains("tickstorm_errors_total{code=\"bad_request\"} 1"));
    let ticks = sample(&text, "tickstorm_room_ticks_total");
    assert!(ticks >= 5.0, "the room ticked {ticks} times");
    assert!(sample(&text, "tickstorm_tick_duration_seconds_count") >= 5.0);
    // Every client read its stream: nothing was dropped for a full queue.
    assert_eq!(sample(&text, "tickstorm_packets_dropped_total"), 0.0);
    let sent = sample(&text, "tickstorm_snapshots_sent_total");
    let bytes = sample(&text, "tickstorm_snapshot_bytes_total");
    assert!(
        sent >= 5.0 && bytes >= sent * 100.0,
        "{sent} snapshots, {bytes} bytes"
    );

    let rooms = get(&server.url, "/api/rooms", &[]).await;
    let rooms: serde_json::Value = serde_json::from_slice(&rooms.body).expect("json");
    assert_eq!(rooms[0]["id"], join.room.id.as_str());
    let health: serde_json::Value =
        serde_json::from_slice(&get(&server.url, "/healthz", &[]).await.body).expect("json");
    assert_eq!(health["parser"], "common");

    ana.client.close().await;
    let url = server.url.clone();
    let mut gauges_back = false;
    for _ in 0..50 {
        let text = get(&url, "/metrics", &[]).await.text();
        if sample(&text, "tickstorm_connections") == 0.0
            && sample(&text, "tickstorm_disconnected_players") == 1.0
        {
            gauges_back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        gauges_back,
        "the connection gauge drops to 0 and the held seat shows"
    );
    assert!(eventually(WAIT, || server.handle.metrics.game_connections.get() == 0).await);
    server.stop().await.expect("clean shutdown");
}
