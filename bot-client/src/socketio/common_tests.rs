//! Unit tests of the common parser, against the exact frames of SOCKETIO-WIRE.md.

use super::*;
use crate::engineio::{self, EioPacket};

/// Parses JSON text (not `json!`, whose maps sort their keys) so key order is as written.
fn v(json: &str) -> Value {
    serde_json::from_str(json).expect("valid JSON")
}

/// Decodes a whole WebSocket text frame, as the connection does.
fn decode_frame(frame: &str) -> Result<Decoded, ClientError> {
    match engineio::decode(frame)? {
        EioPacket::Message(payload) => decode(payload),
        other => panic!("not a message: {other:?}"),
    }
}

fn decode_packet(frame: &str) -> Packet {
    match decode_frame(frame).expect("valid packet") {
        Decoded::Packet(p) => p,
        Decoded::Partial(_) => panic!("unexpected attachments"),
    }
}

fn encode_text(packet: Packet) -> String {
    let (text, attachments) = encode(packet).expect("encodable");
    assert!(attachments.is_empty());
    text
}

#[test]
fn encodes_connect_with_and_without_auth() {
    let auth = v(r#"{"name":"ana"}"#);
    assert_eq!(
        encode_text(Packet::new("/game", PacketKind::Connect(auth))),
        r#"40/game,{"name":"ana"}"#
    );
    assert_eq!(
        encode_text(Packet::new("/game", PacketKind::Connect(Value::Nil))),
        "40/game,"
    );
    assert_eq!(
        encode_text(Packet::new("/", PacketKind::Connect(Value::Nil))),
        "40"
    );
}

#[test]
fn encodes_event_with_ack_id() {
    let packet = Packet::new(
        "/game",
        PacketKind::Event {
            name: "input".into(),
            args: vec![v(r#"{"seq":5,"move":[1,0]}"#)],
            id: Some(17),
        },
    );
    assert_eq!(
        encode_text(packet),
        r#"42/game,17["input",{"seq":5,"move":[1,0]}]"#
    );
    let root = Packet::new(
        "/",
        PacketKind::Event {
            name: "e".into(),
            args: vec![],
            id: None,
        },
    );
    assert_eq!(encode_text(root), r#"42["e"]"#);
}

#[test]
fn encodes_ack_and_disconnect() {
    let ack = Packet::new(
        "/game",
        PacketKind::Ack {
            id: 17,
            args: vec![v(r#"{"ok":true,"seq":5,"tick":912}"#)],
        },
    );
    assert_eq!(
        encode_text(ack),
        r#"43/game,17[{"ok":true,"seq":5,"tick":912}]"#
    );
    assert_eq!(
        encode_text(Packet::new("/game", PacketKind::Disconnect)),
        "41/game,"
    );
    assert_eq!(
        encode_text(Packet::new("/game", PacketKind::ConnectError("no".into()))),
        r#"44/game,{"message":"no"}"#
    );
}

#[test]
fn encodes_binary_event_with_placeholders() {
    let packet = Packet::new(
        "/game",
        PacketKind::Event {
            name: "snapshot".into(),
            args: vec![Value::Binary(vec![1, 2, 3])],
            id: None,
        },
    );
    let (text, attachments) = encode(packet).expect("encodable");
    assert_eq!(
        text,
        r#"451-/game,["snapshot",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(attachments, vec![vec![1, 2, 3]]);

    let nested = Packet::new(
        "/game",
        PacketKind::Ack {
            id: 3,
            args: vec![
                v(r#"{"a":1}"#),
                Value::Array(vec![Value::Binary(vec![4]), Value::Binary(vec![5])]),
            ],
        },
    );
    let (text, attachments) = encode(nested).expect("encodable");
    assert_eq!(
        text,
        r#"462-/game,3[{"a":1},[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]"#
    );
    assert_eq!(attachments, vec![vec![4], vec![5]]);
}

#[test]
fn nan_is_written_as_null() {
    let packet = Packet::new(
        "/game",
        PacketKind::Event {
            name: "x".into(),
            args: vec![Value::F64(f64::NAN)],
            id: Some(0),
        },
    );
    assert_eq!(encode_text(packet), r#"42/game,0["x",null]"#);
}

#[test]
fn decodes_connect_and_connect_error() {
    let ok = decode_packet(r#"40/game,{"sid":"abc"}"#);
    assert_eq!(ok.nsp, "/game");
    assert_eq!(ok.kind, PacketKind::Connect(v(r#"{"sid":"abc"}"#)));
    let refused = decode_packet(r#"44/game,{"message":"name required"}"#);
    assert_eq!(
        refused.kind,
        PacketKind::ConnectError("name required".into())
    );
    assert_eq!(decode_packet("40").kind, PacketKind::Connect(Value::Nil));
}

#[test]
fn decodes_event_ack_and_disconnect() {
    let event = decode_packet(r#"42/game,17["input",{"seq":5,"move":[1,0]}]"#);
    assert_eq!(
        event,
        Packet::new(
            "/game",
            PacketKind::Event {
                name: "input".into(),
                args: vec![v(r#"{"seq":5,"move":[1,0]}"#)],
                id: Some(17),
            }
        )
    );
    let ack = decode_packet(r#"43/game,17[{"ok":true,"seq":5,"tick":912}]"#);
    assert_eq!(
        ack.kind,
        PacketKind::Ack {
            id: 17,
            args: vec![v(r#"{"ok":true,"seq":5,"tick":912}"#)],
        }
    );
    for frame in ["41/game,", "41/game"] {
        assert_eq!(
            decode_packet(frame),
            Packet::new("/game", PacketKind::Disconnect)
        );
    }
    let root = decode_packet(r#"42["e",-1,2.5,"s"]"#);
    assert_eq!(root.nsp, "/");
    let PacketKind::Event { args, .. } = root.kind else {
        panic!("expected event");
    };
    assert_eq!(
        args,
        vec![Value::from(-1), Value::F64(2.5), Value::from("s")]
    );
}

#[test]
fn decodes_binary_event_and_fills_placeholders() {
    let Decoded::Partial(mut partial) =
        decode_frame(r#"451-/game,["snapshot",{"_placeholder":true,"num":0}]"#).expect("valid")
    else {
        panic!("expected attachments to be awaited");
    };
    assert!(partial.push(vec![7, 7]));
    let packet = partial.finish().expect("complete");
    assert_eq!(
        packet.kind,
        PacketKind::Event {
            name: "snapshot".into(),
            args: vec![Value::Binary(vec![7, 7])],
            id: None,
        }
    );

    let Decoded::Partial(mut partial) = decode_frame(
        r#"462-/game,4[{"num":1,"_placeholder":true},{"b":{"_placeholder":true,"num":0}}]"#,
    )
    .expect("valid") else {
        panic!("expected attachments to be awaited");
    };
    assert!(!partial.push(vec![0]));
    assert!(partial.push(vec![1]));
    let packet = partial.finish().expect("complete");
    assert_eq!(
        packet.kind,
        PacketKind::Ack {
            id: 4,
            args: vec![
                Value::Binary(vec![1]),
                Value::Map(vec![("b".into(), Value::Binary(vec![0]))]),
            ],
        }
    );
}

#[test]
fn bad_placeholders_are_errors() {
    let Decoded::Partial(mut partial) =
        decode_frame(r#"451-/game,["e",{"_placeholder":true,"num":3}]"#).expect("valid")
    else {
        panic!("expected attachments to be awaited");
    };
    partial.push(vec![1]);
    assert!(matches!(partial.finish(), Err(ClientError::Protocol(_))));
}

#[test]
fn malformed_packets_are_errors_not_panics() {
    for bad in [
        "4",
        "49",
        "42/game,[",
        "42/game,{}",
        "42/game,[1]",
        "42/game,[]",
        "43/game,[1]",
        "43/game,1{}",
        "45-/game,[\"e\"]",
        "45x",
        "42/game,99999999999999999999999[\"e\"]",
        "44/game,{}",
        "40/game,{",
        "42/é,[\"é\"]é",
        "4é",
    ] {
        assert!(
            matches!(decode_frame(bad), Err(ClientError::Protocol(_))),
            "{bad:?} should be a protocol error"
        );
    }
}

#[test]
fn every_truncation_of_valid_frames_is_handled_without_panic() {
    for frame in [
        r#"42/gamé,17["input",{"seq":5,"move":[1,0]}]"#,
        r#"462-/game,4[{"_placeholder":true,"num":0},"é"]"#,
        r#"44/game,{"message":"é"}"#,
    ] {
        for (end, _) in frame.char_indices().skip(1) {
            let _ = decode(&frame[1..end]);
        }
        assert!(decode(&frame[1..]).is_ok(), "{frame} is valid");
    }
}
