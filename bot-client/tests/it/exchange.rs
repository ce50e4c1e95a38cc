//! Connecting, acks in every shape, and binary data in both directions.

use std::time::Duration;

use bytes::Bytes;
use rmpv::Value;
use serde::{Deserialize, Serialize};
use tickstorm_bot_client::{Client, ClientError, ParserKind, decode_value};

use crate::server::{ACK, SERVER_BIN, TestServer, next_event};

crate::for_both_parsers!(
    connect_gives_the_server_sid,
    connect_without_name_is_refused_with_message,
    struct_round_trips_through_ack,
    raw_args_keep_count_and_order,
    nan_follows_the_parser,
    ack_timeout_then_connection_still_works,
    binary_event_arrives_with_exact_bytes,
    binary_arg_reaches_server_intact,
    concurrent_acks_resolve_to_their_own_request,
);

async fn connect_gives_the_server_sid(parser: ParserKind) {
    let server = TestServer::start(parser).await;
    let (client, _events) = server.connect("ana").await;
    assert!(client.is_connected());
    let sid = client.sid().parse().expect("sid is a socketioxide Sid");
    let ns = server.io.of("/game").expect("namespace exists");
    assert!(ns.get_socket(sid).is_some(), "server knows sid {sid}");
}

async fn connect_without_name_is_refused_with_message(parser: ParserKind) {
    let server = TestServer::start(parser).await;
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

async fn struct_round_trips_through_ack(parser: ParserKind) {
    let server = TestServer::start(parser).await;
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

async fn raw_args_keep_count_and_order(parser: ParserKind) {
    let server = TestServer::start(parser).await;
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

async fn nan_follows_the_parser(parser: ParserKind) {
    let server = TestServer::start(parser).await;
    let (client, _events) = server.connect("ana").await;
    let ack = client
        .emit_args_with_ack("echo", vec![Value::F64(f64::NAN)], ACK)
        .await
        .expect("echo acks");
    match parser {
        ParserKind::MsgPack => assert!(matches!(ack.as_slice(), [Value::F64(x)] if x.is_nan())),
        ParserKind::Common => assert_eq!(ack, vec![Value::Nil], "JSON has only null for NaN"),
    }
}

async fn ack_timeout_then_connection_still_works(parser: ParserKind) {
    let server = TestServer::start(parser).await;
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

async fn binary_event_arrives_with_exact_bytes(parser: ParserKind) {
    let server = TestServer::start(parser).await;
    let (client, mut events) = server.connect("ana").await;
    client.emit("send_bin", &()).expect("emit queued");
    let event = next_event(&mut events).await.expect("bin event");
    assert_eq!(event.name, "bin");
    assert_eq!(event.ack_id, None);
    assert_eq!(event.args, vec![Value::Binary(SERVER_BIN.to_vec())]);
    let bytes: Bytes = decode_value(event.args[0].clone()).expect("binary decodes as Bytes");
    assert_eq!(bytes.as_ref(), SERVER_BIN);
}

async fn binary_arg_reaches_server_intact(parser: ParserKind) {
    let server = TestServer::start(parser).await;
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

async fn concurrent_acks_resolve_to_their_own_request(parser: ParserKind) {
    let server = TestServer::start(parser).await;
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
