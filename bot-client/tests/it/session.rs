//! [`Session`], the task-free connection the swarm's bots use: acks by id, events, pings answered
//! while the owner waits, closing from either side, a silent server.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rmpv::Value;
use tickstorm_bot_client::{ClientConfig, ClientError, Session, SessionEvent};
use tokio_tungstenite::tungstenite::Message;

use crate::server::{SERVER_BIN, Setup, TestServer, fake_engine_io};

crate::for_each_setup!(
    acks_come_back_with_the_ids_their_emits_got,
    pings_are_answered_while_the_owner_waits,
    a_kick_ends_the_session_and_later_emits_fail,
    close_leaves_and_a_second_close_is_harmless,
);

/// The next thing the session brings, failing the test after 2 s.
async fn next(session: &mut Session) -> SessionEvent {
    tokio::time::timeout(Duration::from_secs(3), session.next())
        .await
        .expect("the session brings something within 3 s")
}

async fn connect(server: &TestServer, name: &str) -> Session {
    Session::connect(server.config(serde_json::json!({ "name": name })))
        .await
        .expect("connect with a name")
}

async fn acks_come_back_with_the_ids_their_emits_got(setup: Setup) {
    let server = TestServer::start(setup).await;
    let mut session = connect(&server, "ana").await;
    assert!(!session.sid().is_empty());
    // Three emits queued at once, written together, answered in any order the server likes.
    let ids: Vec<u64> = (0..3)
        .map(|i| session.emit_with_ack("echo", &i).expect("queued"))
        .collect();
    assert_eq!(ids, [0, 1, 2], "ids count up from 0");
    session.emit("send_bin", &()).expect("queued");
    let mut acked = Vec::new();
    let mut binary = None;
    while acked.len() < 3 || binary.is_none() {
        match next(&mut session).await {
            SessionEvent::Ack { id, args } => acked.push((id, args)),
            SessionEvent::Event(event) if event.name == "bin" => binary = Some(event.args),
            other => panic!("unexpected {other:?}"),
        }
    }
    acked.sort_by_key(|(id, _)| *id);
    for (i, (id, args)) in acked.into_iter().enumerate() {
        assert_eq!(id, i as u64);
        assert_eq!(args, [Value::from(i)], "ack {id} answers emit {id}");
    }
    assert_eq!(binary, Some(vec![Value::Binary(SERVER_BIN.to_vec())]));
    assert!(session.bytes_sent() > 0 && session.bytes_received() > 0);
}

async fn pings_are_answered_while_the_owner_waits(setup: Setup) {
    let server = TestServer::start(setup).await;
    let mut session = connect(&server, "ana").await;
    // Five ping periods with nothing else to read: without pongs the server drops us after
    // 400 ms, and the session would report it.
    let waited = tokio::time::timeout(Duration::from_secs(1), session.next()).await;
    assert!(waited.is_err(), "nothing but pings came: {waited:?}");
    assert!(session.is_connected());
    assert_eq!(server.socket_count(), 1);
    let id = session
        .emit_with_ack("echo", &"still here")
        .expect("queued");
    assert_eq!(
        next(&mut session).await,
        SessionEvent::Ack {
            id,
            args: vec![Value::from("still here")]
        }
    );
}

async fn a_kick_ends_the_session_and_later_emits_fail(setup: Setup) {
    let server = TestServer::start(setup).await;
    let mut session = connect(&server, "ana").await;
    session.emit_with_ack("silent", &0).expect("queued");
    session.emit("kick", &()).expect("queued");
    assert_eq!(
        next(&mut session).await,
        SessionEvent::Closed("server disconnected the namespace")
    );
    assert!(!session.is_connected());
    assert_eq!(
        next(&mut session).await,
        SessionEvent::Closed("server disconnected the namespace"),
        "and says so again"
    );
    let err = session.emit("echo", &1).expect_err("emit after the end");
    assert!(matches!(err, ClientError::Closed), "got {err:?}");
}

async fn close_leaves_and_a_second_close_is_harmless(setup: Setup) {
    let server = TestServer::start(setup).await;
    let mut session = connect(&server, "ana").await;
    assert_eq!(server.socket_count(), 1);
    // Queued before the close: written before the goodbye.
    session.emit("echo", &1).expect("queued");
    session.close().await;
    assert!(!session.is_connected());
    for _ in 0..200 {
        if server.socket_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.socket_count(), 0, "the server forgets the socket");
    session.close().await;
    assert!(matches!(
        next(&mut session).await,
        SessionEvent::Closed("closed by the client")
    ));
}

/// A fake Engine.IO server that completes the handshake and then never pings.
#[tokio::test]
async fn a_server_that_stops_pinging_ends_the_session() {
    let (url, server) = fake_engine_io(300, |mut ws| async move {
        // One ping, answered; then silence until the client gives up.
        ws.send(Message::text("2")).await.expect("send ping");
        let pong = ws.next().await.expect("a frame").expect("readable");
        assert_eq!(pong, Message::text("3"));
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let config = ClientConfig::new(url, "game").with_auth(serde_json::json!({ "name": "ana" }));
    let mut session = Session::connect(config).await.expect("handshake completes");
    assert_eq!(session.sid(), "s1");
    let started = tokio::time::Instant::now();
    assert_eq!(
        next(&mut session).await,
        SessionEvent::Closed("no ping within pingInterval + pingTimeout")
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(550) && waited < Duration::from_secs(2),
        "the ping, read after the clock started, moved the deadline to 600 ms after it: {waited:?}"
    );
    // Dropping the session closes the socket, which ends the fake server's loop.
    drop(session);
    tokio::time::timeout(Duration::from_secs(2), server)
        .await
        .expect("fake server sees the close")
        .expect("fake server asserts hold");
}
