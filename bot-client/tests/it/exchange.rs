//! Connecting, acks in every shape, binary data in both directions, and byte counters.

use std::time::Duration;

use bytes::Bytes;
use rmpv::Value;
use serde::{Deserialize, Serialize};
use tickstorm_bot_client::{Client, ClientError, ParserKind, TransportKind, decode_value};

use crate::server::{ACK, SERVER_BIN, Setup, TestServer, next_event};

crate::for_each_setup!(
    connect_gives_the_server_sid,
    connect_without_name_is_refused_with_message,
    struct_round_trips_through_ack,
    raw_args_keep_count_and_order,
    nan_follows_the_parser,
    ack_timeout_then_connection_still_works,
    binary_event_arrives_with_exact_bytes,
    binary_arg_reaches_server_intact,
    concurrent_acks_resolve_to_their_own_request,
    bursts_fit_a_small_max_payload,
    byte_counters_cover_a_binary_round_trip,
);

async fn connect_gives_the_server_sid(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, _events) = server.connect("ana").await;
    assert!(client.is_connected());
    let sid = client.sid().parse().expect("sid is a socketioxide Sid");
    let ns = server.io.of("/game").expect("namespace exists");
    let socket = ns.get_socket(sid).expect("server knows the sid");
    // The matrix is real only if the server sees the transport the test asked for.
    let expected = match setup.transport {
        TransportKind::WebSocket => socketioxide::TransportType::Websocket,
        TransportKind::Polling => socketioxide::TransportType::Polling,
    };
    assert_eq!(socket.transport_type(), expected);
}

async fn connect_without_name_is_refused_with_message(setup: Setup) {
    let server = TestServer::start(setup).await;
    for auth in [serde_json::Value::Null, serde_json::json!({ "nick": "x" })] {
        let err = Client::connect(server.config(auth.clone()))
            .await
            .expect_err("auth without a name must be refused");
        match err {
            ClientError::ConnectRefused(msg) => assert_eq!(msg, "auth needs a name"),
            other => panic!("expected ConnectRefused for {auth}, got {other:?}"),
        }
    }
    assert_eq!(server.socket_count(), 0);
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Input {
    seq: u32,
    r#move: [i8; 2],
    label: String,
    weight: f64,
    big: u64,
}

async fn struct_round_trips_through_ack(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, _events) = server.connect("ana").await;
    let input = Input {
        seq: 5,
        r#move: [1, -1],
        label: "héllo \"quoted\"".into(),
        weight: 0.25,
        big: u64::MAX,
    };
    let ack = client
        .emit_with_ack("echo", &input, ACK)
        .await
        .expect("echo acks");
    assert_eq!(
        decode_value::<Input>(ack).expect("ack decodes as Input"),
        input
    );
}

async fn raw_args_keep_count_and_order(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, _events) = server.connect("ana").await;
    let swapped = client
        .emit_args_with_ack("swap", vec![Value::from(1), Value::from("two")], ACK)
        .await
        .expect("swap acks");
    assert_eq!(swapped, vec![Value::from("two"), Value::from(1)]);
    let nothing = client
        .emit_args_with_ack("no_args", vec![], ACK)
        .await
        .expect("no_args acks");
    assert_eq!(nothing, vec![Value::from("got nothing")]);
    let string = client
        .emit_args_with_ack("echo", vec![Value::from("not a map")], ACK)
        .await
        .expect("echo acks any value");
    assert_eq!(string, vec![Value::from("not a map")]);
}

async fn nan_follows_the_parser(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, _events) = server.connect("ana").await;
    let ack = client
        .emit_args_with_ack("echo", vec![Value::F64(f64::NAN)], ACK)
        .await
        .expect("echo acks");
    match setup.parser {
        ParserKind::MsgPack => assert!(matches!(ack.as_slice(), [Value::F64(x)] if x.is_nan())),
        ParserKind::Common => assert_eq!(ack, vec![Value::Nil], "JSON has only null for NaN"),
    }
}

async fn ack_timeout_then_connection_still_works(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, _events) = server.connect("ana").await;
    let started = tokio::time::Instant::now();
    let err = client
        .emit_with_ack("silent", &1, Duration::from_millis(300))
        .await
        .expect_err("nobody acks 'silent'");
    assert!(matches!(err, ClientError::AckTimeout), "got {err:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let ack = client
        .emit_with_ack("echo", &7, ACK)
        .await
        .expect("later acks still work");
    assert_eq!(ack, Value::from(7));
}

async fn binary_event_arrives_with_exact_bytes(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, mut events) = server.connect("ana").await;
    client.emit("send_bin", &()).expect("emit queued");
    let event = next_event(&mut events).await.expect("bin event");
    assert_eq!(event.name, "bin");
    assert_eq!(event.ack_id, None);
    assert_eq!(event.args, vec![Value::Binary(SERVER_BIN.to_vec())]);
    let bytes: Bytes = decode_value(event.args[0].clone()).expect("binary decodes as Bytes");
    assert_eq!(bytes.as_ref(), SERVER_BIN);
}

async fn binary_arg_reaches_server_intact(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, _events) = server.connect("ana").await;
    // Larger than the client's 16 KiB read buffer, and every byte value.
    let blob: Vec<u8> = (0..100_000u32).map(|i| (i % 256) as u8).collect();
    let meta = Value::Map(vec![("name".into(), "blob".into())]);
    let ack = client
        .emit_args_with_ack(
            "upload",
            vec![meta.clone(), Value::Binary(blob.clone())],
            ACK,
        )
        .await
        .expect("upload acks");
    assert_eq!(
        ack,
        vec![meta, Value::from(blob.len()), Value::Binary(blob)]
    );
}

async fn concurrent_acks_resolve_to_their_own_request(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, _events) = server.connect("ana").await;
    let tasks: Vec<_> = (0..50u32)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { (i, client.emit_with_ack("echo", &i, ACK).await) })
        })
        .collect();
    for task in tasks {
        let (i, ack) = task.await.expect("task finished");
        assert_eq!(ack.expect("acked"), Value::from(i));
    }
}

async fn bursts_fit_a_small_max_payload(setup: Setup) {
    // 40 emits of 1 KB queued at once: over polling they must go out in several POSTs of at
    // most 4 kB each, because engineioxide refuses a larger body with 413 and drops the session.
    let server = TestServer::start_with_max_payload(setup, 4_000).await;
    let (client, _events) = server.connect("ana").await;
    let text = "x".repeat(1_000);
    let acks = (0..40u32).map(|i| {
        let client = client.clone();
        let arg = Value::Array(vec![Value::from(i), Value::from(text.as_str())]);
        async move { client.emit_args_with_ack("echo", vec![arg], ACK).await }
    });
    for (i, ack) in futures_util::future::join_all(acks)
        .await
        .into_iter()
        .enumerate()
    {
        let ack = ack.expect("every emit acked");
        assert_eq!(ack[0].as_array().map(|a| &a[0]), Some(&Value::from(i)));
    }
    assert!(client.is_connected());
}

async fn byte_counters_cover_a_binary_round_trip(setup: Setup) {
    let server = TestServer::start(setup).await;
    let (client, _events) = server.connect("ana").await;
    // The handshake counts too: CONNECT out, open packet and CONNECT answer in.
    let (sent, received) = (client.bytes_sent(), client.bytes_received());
    assert!(
        sent > 0 && received > 0,
        "handshake: {sent} out, {received} in"
    );
    let blob = vec![0xA5u8; 10 * 1024];
    let ack = client
        .emit_args_with_ack("upload", vec![Value::Nil, Value::Binary(blob.clone())], ACK)
        .await
        .expect("upload acks");
    assert_eq!(ack[2], Value::Binary(blob.clone()));
    let sent_now = client.bytes_sent() - sent;
    let received_now = client.bytes_received() - received;
    assert!(sent_now >= blob.len() as u64, "sent {sent_now} bytes");
    assert!(
        received_now >= blob.len() as u64,
        "received {received_now} bytes"
    );
    // Polling carries binary as base64 (4 bytes per 3), plus the envelope.
    if setup.transport == TransportKind::Polling {
        assert!(
            sent_now >= (blob.len() * 4 / 3) as u64,
            "sent {sent_now} bytes"
        );
        assert!(received_now >= (blob.len() * 4 / 3) as u64);
    }
}
