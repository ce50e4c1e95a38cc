//! Every malformed payload gets an `{ok: false, error}` ack; the connection, the room and the other
//! players carry on. Also the handshake's name rules. Run with both parsers: the msgpack parser can
//! carry NaN and raw binary, the JSON one cannot.

use rmpv::Value;
use serde_json::json;
use tickstorm_bot_client::{Client, ClientConfig, ClientError, ParserKind};
use tickstorm_server::config::ParserKind as ServerParser;
use tickstorm_shared::protocol::{InputAck, events};

use crate::support::{TestClient, TestServer};

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn input(seq: Value, movement: Value) -> Value {
    map(vec![("seq", seq), ("move", movement)])
}

fn pair(x: f64, y: f64) -> Value {
    Value::Array(vec![Value::F64(x), Value::F64(y)])
}

/// `(event, args, expected error code)`: payloads every parser can carry.
fn bad_payloads() -> Vec<(&'static str, Vec<Value>, &'static str)> {
    vec![
        (events::INPUT, vec![], "bad_request"),
        (events::INPUT, vec![Value::from("up")], "bad_request"),
        (
            events::INPUT,
            vec![map(vec![("move", pair(1.0, 0.0))])],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![map(vec![("seq", Value::from(1))])],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![input(Value::from("1"), pair(1.0, 0.0))],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![input(Value::from(-1), pair(1.0, 0.0))],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![input(Value::from(4_294_967_296u64), pair(1.0, 0.0))],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![input(Value::from(1), Value::Array(vec![Value::from(1)]))],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![input(Value::from(1), Value::from("left"))],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![input(Value::from(1), pair(1e300, 0.0))],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![input(
                Value::from(1),
                Value::Array(vec![Value::from("1"), Value::from(0)]),
            )],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![input(
                Value::from(1),
                Value::Array(vec![Value::Nil, Value::from(0)]),
            )],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![map(vec![
                ("seq", Value::from(1)),
                ("move", pair(0.0, 0.0)),
                ("buttons", Value::from("x")),
            ])],
            "bad_request",
        ),
        (
            events::ROOM_CREATE,
            vec![map(vec![("max_players", Value::from(0))])],
            "bad_request",
        ),
        (
            events::ROOM_CREATE,
            vec![map(vec![("max_players", Value::from(257))])],
            "bad_request",
        ),
        (
            events::ROOM_CREATE,
            vec![map(vec![("send_rate", Value::from(0))])],
            "bad_request",
        ),
        (
            events::ROOM_CREATE,
            vec![map(vec![("view_radius", Value::from(-5.0))])],
            "bad_request",
        ),
        (
            events::ROOM_CREATE,
            vec![map(vec![("view_radius", Value::from("far"))])],
            "bad_request",
        ),
        (
            events::ROOM_CREATE,
            vec![map(vec![("max_players", Value::from("8"))])],
            "bad_request",
        ),
        (
            events::ROOM_CREATE,
            vec![map(vec![("tick_rate", Value::from(100_000))])],
            "bad_request",
        ),
        (
            events::ROOM_CREATE,
            vec![map(vec![("name", Value::from(""))])],
            "bad_request",
        ),
        (events::ROOM_CREATE, vec![Value::from(42)], "bad_request"),
        (
            events::ROOM_JOIN,
            vec![map(vec![("room_id", Value::from(5))])],
            "bad_request",
        ),
        (
            events::ROOM_JOIN,
            vec![map(vec![("room_id", Value::from("nope"))])],
            "already_in_room",
        ),
        (events::ROOM_REJOIN, vec![map(vec![])], "bad_request"),
        (
            events::ROOM_REJOIN,
            vec![map(vec![("token", Value::from(5))])],
            "bad_request",
        ),
        (
            events::ROOM_REJOIN,
            vec![map(vec![("token", Value::from("forged"))])],
            "already_in_room",
        ),
        (events::CHAT, vec![map(vec![])], "bad_request"),
        (
            events::CHAT,
            vec![map(vec![("text", Value::from(""))])],
            "bad_request",
        ),
        (
            events::CHAT,
            vec![map(vec![("text", Value::from("x".repeat(201)))])],
            "bad_request",
        ),
        (
            events::CHAT,
            vec![map(vec![("text", Value::from(5))])],
            "bad_request",
        ),
        (
            events::CHAT,
            vec![map(vec![("text", Value::from("bell\u{7}"))])],
            "bad_request",
        ),
        (events::TIME, vec![map(vec![])], "bad_request"),
        // An event no handler knows; also one that only differs in case from a known one.
        ("room:explode", vec![map(vec![])], "bad_request"),
        (
            "INPUT",
            vec![input(Value::from(1), pair(1.0, 0.0))],
            "bad_request",
        ),
        (
            events::TIME,
            vec![map(vec![("client_time", Value::from("now"))])],
            "bad_request",
        ),
    ]
}

/// Payloads only MessagePack can carry.
fn msgpack_only_payloads() -> Vec<(&'static str, Vec<Value>, &'static str)> {
    vec![
        (
            events::INPUT,
            vec![input(Value::from(1), pair(f64::NAN, 0.0))],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![input(Value::from(1), pair(0.0, f64::INFINITY))],
            "bad_request",
        ),
        (
            events::INPUT,
            vec![input(Value::from(1), Value::Binary(vec![1, 2, 3]))],
            "bad_request",
        ),
        (
            events::TIME,
            vec![map(vec![("client_time", Value::F64(f64::NAN))])],
            "bad_request",
        ),
    ]
}

async fn bad_payloads_are_refused_and_nothing_breaks(
    parser: ParserKind,
    server_parser: ServerParser,
) {
    // This test is about validation: the attacker's 35 quick requests must each reach the
    // checks, so the rate limits (tested on their own in `limits.rs`) are raised here.
    let server = TestServer::start(|c| {
        c.parser = server_parser;
        c.request_rate = 1000.0;
        c.chat_rate = 1000.0;
    })
    .await;
    let mut victim = TestClient::connect_with(&server.url, "victim", parser).await;
    let attacker = TestClient::connect_with(&server.url, "attacker", parser).await;
    let victim_id = victim.quick_join().await.player_id;
    attacker.quick_join().await;
    let valid: InputAck = victim
        .ack(events::INPUT, json!({ "seq": 1, "move": [0.5, 0.5] }))
        .await;
    assert!(valid.ok);

    let mut cases = bad_payloads();
    if parser == ParserKind::MsgPack {
        cases.extend(msgpack_only_payloads());
    }
    for (event, args, expected) in cases {
        let description = format!("{event} {args:?}");
        let ack = attacker.raw_ack(event, args).await;
        let ack: serde_json::Value = tickstorm_bot_client::decode_value(ack).expect("ack is a map");
        assert_eq!(ack["ok"], false, "accepted: {description} -> {ack}");
        assert_eq!(ack["error"]["code"], expected, "{description} -> {ack}");
        assert!(
            ack["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{description} -> {ack}"
        );
    }

    // The attacker's connection and seat still work, and the victim never noticed.
    let fine: InputAck = attacker
        .ack(events::INPUT, json!({ "seq": 7, "move": [0, 1] }))
        .await;
    assert!(fine.ok && !fine.stale);
    victim.drain();
    let snapshot = victim.snapshot_where(|s| s.tick >= fine.tick).await;
    assert_eq!(
        snapshot.player(victim_id).expect("victim").last_input_seq,
        1,
        "victim's state untouched"
    );
    assert_eq!(snapshot.players.len(), 2);
    assert!(victim.client.is_connected() && attacker.client.is_connected());
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_common_parser() {
    bad_payloads_are_refused_and_nothing_breaks(ParserKind::Common, ServerParser::Common).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_msgpack_parser() {
    bad_payloads_are_refused_and_nothing_breaks(ParserKind::MsgPack, ServerParser::Msgpack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_without_a_valid_name_get_connect_error() {
    let server = TestServer::start_default().await;
    for (auth, fragment) in [
        (json!(null), "name"),
        (json!({}), "name"),
        (json!({ "name": "   " }), "empty"),
        (json!({ "name": "x".repeat(25) }), "24"),
        (json!({ "name": "a\u{1b}[31m" }), "control"),
        (json!({ "name": 7 }), "auth must be an object"),
        (json!("ana"), "auth must be an object"),
    ] {
        let config = ClientConfig::new(&server.url, "/game").with_auth(auth.clone());
        match Client::connect(config).await {
            Err(ClientError::ConnectRefused(message)) => {
                assert!(
                    message.contains(fragment),
                    "{auth} refused with `{message}`, expected `{fragment}`"
                )
            }
            Err(other) => panic!("{auth}: expected connect_error, got {other}"),
            Ok(_) => panic!("{auth}: a bad handshake was accepted"),
        }
    }
    let ok = TestClient::connect(&server.url, "  ok name ").await;
    assert!(ok.client.is_connected());
    server.stop().await.expect("clean shutdown");
}
