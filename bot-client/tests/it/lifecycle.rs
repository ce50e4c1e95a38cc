//! Heartbeat, closing from either side, and timeouts.

use std::time::Duration;

use futures_util::StreamExt;
use rmpv::Value;
use tickstorm_bot_client::{Client, ClientConfig, ClientError};

use crate::server::{ACK, Setup, TestServer, fake_engine_io, is_closed, next_event};

crate::for_each_setup!(
    server_pings_are_answered,
    close_ends_the_event_stream,
    server_disconnect_ends_stream_and_fails_pending_acks,
    dropping_the_last_handle_closes,
);

/// Polls `cond` for up to 2 s.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn server_pings_are_answered(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, _events) = server.connect("ana").await;
    // Five ping periods; without pongs the server drops us after 400 ms.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(client.is_connected());
    assert_eq!(server.socket_count(), 1);
    let ack = client.emit_with_ack("echo", &"still here", ACK).await;
    assert_eq!(ack.expect("echo acks"), Value::from("still here"));
}

async fn close_ends_the_event_stream(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, mut events) = server.connect("ana").await;
    client.close().await;
    assert!(!client.is_connected());
    assert_eq!(next_event(&mut events).await, None);
    assert!(is_closed(
        &client.emit("echo", &1).expect_err("emit after close")
    ));
    let err = client
        .emit_with_ack("echo", &1, ACK)
        .await
        .expect_err("closed");
    assert!(is_closed(&err), "got {err:?}");
    eventually("server forgets the socket", || server.socket_count() == 0).await;
    client.close().await; // a second close is harmless
}

async fn server_disconnect_ends_stream_and_fails_pending_acks(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, mut events) = server.connect("ana").await;
    let pending = client.emit_with_ack("silent", &0, Duration::from_secs(10));
    let kick = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.emit("kick", &()).expect("emit queued");
    };
    let (result, ()) = tokio::time::timeout(Duration::from_secs(3), async {
        tokio::join!(pending, kick)
    })
    .await
    .expect("pending ack fails well before its 10 s timeout");
    let err = result.expect_err("the server never acks 'silent'");
    assert!(is_closed(&err), "got {err:?}");
    assert_eq!(next_event(&mut events).await, None);
    assert!(!client.is_connected());
}

async fn dropping_the_last_handle_closes(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, mut events) = server.connect("ana").await;
    let clone = client.clone();
    drop(client);
    assert!(clone.is_connected(), "a clone keeps the connection");
    drop(clone);
    assert_eq!(next_event(&mut events).await, None);
    eventually("server forgets the socket", || server.socket_count() == 0).await;
}

/// A fake Engine.IO server that completes the handshake and then never pings.
#[tokio::test]
async fn missing_pings_end_the_connection() {
    let (url, server) = fake_engine_io(100, |mut ws| async move {
        // Keep reading (and never pinging) until the client gives up.
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let config = ClientConfig::new(url, "game").with_auth(serde_json::json!({ "name": "ana" }));
    let (client, mut events) = Client::connect(config).await.expect("handshake completes");
    assert_eq!(client.sid(), "s1");
    let started = tokio::time::Instant::now();
    assert_eq!(next_event(&mut events).await, None);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!client.is_connected());
    tokio::time::timeout(Duration::from_secs(2), server)
        .await
        .expect("fake server sees the close")
        .expect("fake server asserts hold");
}

#[tokio::test]
async fn silent_server_hits_the_connect_timeout() {
    // Bound but never accepting: TCP connects via the backlog, the WebSocket upgrade never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("bound address");
    let config = ClientConfig::new(format!("ws://{addr}"), "/game")
        .with_connect_timeout(Duration::from_millis(200));
    let err = Client::connect(config).await.expect_err("nothing answers");
    assert!(matches!(err, ClientError::ConnectTimeout(_)), "got {err:?}");
    drop(listener);
}
