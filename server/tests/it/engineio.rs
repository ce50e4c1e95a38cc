//! Raw Engine.IO checks (no client library): the handshake's fields, the heartbeat's timing, and
//! that an oversized or malformed message closes only the session that sent it.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tickstorm_shared::protocol::events;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestClient, TestServer, WAIT, eventually};

use crate::support::{RawWebSocket as WebSocket, open_raw_ws as open_ws};

/// Reads frames until the connection closes; true if it did within `WAIT`.
async fn closes(ws: &mut WebSocket) -> bool {
    tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_says_what_the_configuration_says() {
    let server = TestServer::start(|c| {
        c.ping_interval = std::time::Duration::from_secs(7);
        c.ping_timeout = std::time::Duration::from_secs(3);
        c.max_payload = 50_000;
    })
    .await;
    let (_ws, handshake) = open_ws(&server.url).await;
    assert!(handshake["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(
        handshake["upgrades"],
        json!([]),
        "nothing to upgrade to from a WebSocket"
    );
    assert_eq!(handshake["pingInterval"], 7000);
    assert_eq!(handshake["pingTimeout"], 3000);
    assert_eq!(handshake["maxPayload"], 50_000);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_messages_close_only_their_own_session() {
    let server = TestServer::start_default().await;
    let mut bystander = TestClient::connect(&server.url, "bystander").await;
    bystander.quick_join().await;

    // A WebSocket message over --ws-max-message-size (64 KiB).
    let (mut big, _) = open_ws(&server.url).await;
    let huge = format!(
        "42/game,[\"chat\",{{\"text\":\"{}\"}}]",
        "x".repeat(70 * 1024)
    );
    let _ = big.send(Message::text(huge)).await;
    assert!(
        closes(&mut big).await,
        "an oversized WebSocket message closes that connection"
    );

    // Garbage that is no Engine.IO packet at all, and a Socket.IO packet that does not parse.
    for garbage in ["\u{7}not a packet", "42/game,[\"input\",{\"seq\":"] {
        let (mut ws, _) = open_ws(&server.url).await;
        ws.send(Message::text("40/game,{\"name\":\"bad\"}"))
            .await
            .expect("send");
        let _ = ws.send(Message::text(garbage)).await;
        assert!(closes(&mut ws).await, "{garbage:?} closes that connection");
    }

    // A long-polling body over --max-payload (1,000,000 bytes) is refused.
    let addr = server.url.trim_start_matches("http://").to_owned();
    let open = raw_get(&addr, "/socket.io/?EIO=4&transport=polling").await;
    let sid: Value = serde_json::from_str(
        open.split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or("")
            .trim_start_matches('0'),
    )
    .expect("open json");
    let sid = sid["sid"].as_str().expect("sid").to_owned();
    let status = post_status(
        &addr,
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
        1_100_000,
    )
    .await;
    assert!(
        status == 413 || status == 400,
        "oversized polling body: HTTP {status}"
    );

    // The bystander never noticed.
    assert!(bystander.client.is_connected());
    let ack: Value = bystander
        .ack(events::INPUT, json!({"seq": 1, "move": [1, 0]}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    bystander.drain();
    bystander.next_snapshot().await;
    assert!(eventually(WAIT, || server.handle.metrics.game_connections.get() == 1).await);
    server.stop().await.expect("clean shutdown");
}

async fn raw_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    raw
}

async fn post_status(addr: &str, path: &str, body_len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {body_len}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    // The server may answer (and close) before the whole body is sent.
    let _ = stream.write_all(&vec![b'4'; body_len]).await;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_pings_every_interval_and_keeps_a_client_that_answers() {
    let server = TestServer::start(|c| {
        c.ping_interval = std::time::Duration::from_millis(300);
        c.ping_timeout = std::time::Duration::from_millis(1000);
    })
    .await;
    let (mut ws, _) = open_ws(&server.url).await;
    ws.send(Message::text("40/game,{\"name\":\"pinged\"}"))
        .await
        .expect("connect");
    let mut pings = Vec::new();
    while pings.len() < 5 {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time");
        match frame {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                pings.push(std::time::Instant::now());
                ws.send(Message::text("3")).await.expect("pong");
            }
            Some(Ok(_)) => {}
            other => panic!("the connection ended: {other:?}"),
        }
    }
    let mut gaps: Vec<u128> = pings
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    gaps.sort_unstable();
    // Pings are due on a fixed 300 ms schedule (engineioxide's `interval`, which catches up on
    // a late tick), so one late ping makes one gap longer and the next shorter, and the median
    // of the four gaps stays near 300 ms. Allowed: 50 ms early (a catch-up after a late ping)
    // and 100 ms late (this test's task and the server's woken late on a loaded machine).
    assert!(
        (250..=400).contains(&gaps[gaps.len() / 2]),
        "ping spacing {gaps:?} ms for a 300 ms interval"
    );
    assert!(
        eventually(WAIT, || server.handle.metrics.game_connections.get() == 1).await,
        "still connected"
    );
    server.stop().await.expect("clean shutdown");
}
