//! The `socket.io-msgpack-parser` wire form: each packet is one binary frame holding the
//! MessagePack map `{"type", "nsp", "data"?, "id"?}`.
//!
//! Keys are written in the order of the official JavaScript encoder, so frames are byte for byte
//! what a browser would send. socketioxide's decoder needs `type`, falls back to an empty
//! namespace without `nsp` (so `nsp` is always written) and reads `id` as any integer.

use rmpv::Value;
use serde::Serialize;
use serde::ser::SerializeSeq;

use super::{EventArgs, Packet, PacketKind, connect_error_message, split_event};
use crate::error::{ClientError, protocol};

#[derive(Serialize)]
struct Wire<'a, D> {
    r#type: u8,
    nsp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<D>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
}

fn write<D: Serialize>(
    r#type: u8,
    nsp: &str,
    data: Option<D>,
    id: Option<u64>,
) -> Result<Vec<u8>, ClientError> {
    rmp_serde::to_vec_named(&Wire {
        r#type,
        nsp,
        data,
        id,
    })
    .map_err(|e| ClientError::Encode(e.to_string()))
}

/// Encodes a packet as the bytes of one binary frame.
pub(crate) fn encode(packet: &Packet) -> Result<Vec<u8>, ClientError> {
    let nsp = packet.nsp.as_str();
    match &packet.kind {
        PacketKind::Connect(Value::Nil) => write::<()>(0, nsp, None, None),
        PacketKind::Connect(auth) => write(0, nsp, Some(auth), None),
        PacketKind::Disconnect => write::<()>(1, nsp, None, None),
        PacketKind::Event { name, args, id } => write(2, nsp, Some(EventArgs { name, args }), *id),
        PacketKind::Ack { id, args } => write(3, nsp, Some(args), Some(*id)),
        PacketKind::ConnectError(message) => {
            #[derive(Serialize)]
            struct Body<'a> {
                message: &'a str,
            }
            write(4, nsp, Some(Body { message }), None)
        }
    }
}

/// Encodes an EVENT with one typed argument straight from serde, skipping the rmpv tree.
pub(crate) fn encode_event<T: Serialize + ?Sized>(
    nsp: &str,
    name: &str,
    data: &T,
    id: Option<u64>,
) -> Result<Vec<u8>, ClientError> {
    struct One<'a, T: ?Sized> {
        name: &'a str,
        data: &'a T,
    }
    impl<T: Serialize + ?Sized> Serialize for One<'_, T> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(2))?;
            seq.serialize_element(self.name)?;
            seq.serialize_element(self.data)?;
            seq.end()
        }
    }
    write(2, nsp, Some(One { name, data }), id)
}

/// Decodes one binary frame.
pub(crate) fn decode(frame: &[u8]) -> Result<Packet, ClientError> {
    let mut rest = frame;
    let value = rmpv::decode::read_value(&mut rest)
        .map_err(|e| protocol(format!("bad MessagePack packet: {e}")))?;
    if !rest.is_empty() {
        return Err(protocol("trailing bytes after MessagePack packet"));
    }
    let Value::Map(entries) = value else {
        return Err(protocol("MessagePack packet is not a map"));
    };
    let (mut ty, mut nsp, mut data, mut id) = (None, None, Value::Nil, None);
    for (key, value) in entries {
        match key.as_str() {
            Some("type") => ty = value.as_u64(),
            Some("nsp") => nsp = Some(value),
            Some("data") => data = value,
            Some("id") if value.is_nil() => id = None,
            Some("id") => id = Some(value.as_u64().ok_or_else(|| protocol("bad ack id"))?),
            _ => {}
        }
    }
    let nsp = match nsp {
        None => "/".to_owned(),
        Some(Value::String(s)) => s
            .into_str()
            .ok_or_else(|| protocol("namespace is not valid UTF-8"))?,
        Some(_) => return Err(protocol("namespace is not a string")),
    };
    // socket.io-msgpack-parser encodes `undefined` as this zero-filled fixext 1.
    if matches!(&data, Value::Ext(0, bytes) if bytes.as_slice() == [0]) {
        data = Value::Nil;
    }
    let kind = match ty.ok_or_else(|| protocol("packet without a valid type"))? {
        0 => PacketKind::Connect(data),
        1 => PacketKind::Disconnect,
        2 | 5 => {
            let (name, args) = split_event(data)?;
            PacketKind::Event { name, args, id }
        }
        3 | 6 => PacketKind::Ack {
            id: id.ok_or_else(|| protocol("ACK without an id"))?,
            args: match data {
                Value::Array(args) => args,
                _ => return Err(protocol("ACK data is not an array")),
            },
        },
        4 => PacketKind::ConnectError(connect_error_message(&data)?),
        other => return Err(protocol(format!("unknown Socket.IO packet type {other}"))),
    };
    Ok(Packet { nsp, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: serde_json::Value) -> Value {
        serde_json::from_value(json).expect("JSON converts to rmpv")
    }

    fn roundtrip(packet: Packet) {
        let bytes = encode(&packet).expect("encodable");
        assert_eq!(decode(&bytes).expect("decodable"), packet);
    }

    /// Bytes produced by the official JavaScript parser (socketioxide's test vector).
    const JS_EVENT_WITH_ACK: &[u8] = &[
        132, 164, 116, 121, 112, 101, 2, 163, 110, 115, 112, 169, 47, 97, 100, 109, 105, 110, 226,
        132, 162, 164, 100, 97, 116, 97, 146, 165, 101, 118, 101, 110, 116, 129, 164, 100, 97, 116,
        97, 168, 118, 97, 108, 117, 101, 226, 132, 162, 162, 105, 100, 1,
    ];

    #[test]
    fn event_matches_official_encoder_byte_for_byte() {
        let packet = Packet::new(
            "/admin™",
            PacketKind::Event {
                name: "event".into(),
                args: vec![v(serde_json::json!({"data": "value™"}))],
                id: Some(1),
            },
        );
        assert_eq!(encode(&packet).expect("encodable"), JS_EVENT_WITH_ACK);
        assert_eq!(decode(JS_EVENT_WITH_ACK).expect("decodable"), packet);
        let typed = encode_event(
            "/admin™",
            "event",
            &serde_json::json!({"data": "value™"}),
            Some(1),
        )
        .expect("encodable");
        assert_eq!(typed, JS_EVENT_WITH_ACK);
    }

    #[test]
    fn connect_without_auth_has_no_data_key() {
        let bytes = encode(&Packet::new("/game", PacketKind::Connect(Value::Nil))).expect("ok");
        let map = rmpv::decode::read_value(&mut bytes.as_slice()).expect("msgpack");
        assert_eq!(
            map,
            Value::Map(vec![
                ("type".into(), 0.into()),
                ("nsp".into(), "/game".into())
            ])
        );
    }

    #[test]
    fn all_packet_types_roundtrip() {
        roundtrip(Packet::new(
            "/game",
            PacketKind::Connect(v(serde_json::json!({"name": "ana"}))),
        ));
        roundtrip(Packet::new("/game", PacketKind::Disconnect));
        roundtrip(Packet::new(
            "/game",
            PacketKind::ConnectError("nope".into()),
        ));
        roundtrip(Packet::new(
            "/game",
            PacketKind::Event {
                name: "bin".into(),
                args: vec![
                    Value::Binary(vec![1, 2, 3]),
                    Value::F64(f64::INFINITY),
                    Value::Nil,
                ],
                id: None,
            },
        ));
        roundtrip(Packet::new(
            "/",
            PacketKind::Ack {
                id: 17,
                args: vec![v(serde_json::json!({"ok": true, "seq": 5, "tick": 912}))],
            },
        ));
    }

    #[test]
    fn binary_is_msgpack_bin_and_nan_survives() {
        let bytes = encode_event("/game", "e", &bytes::Bytes::from_static(&[9, 9]), None)
            .expect("encodable");
        let packet = decode(&bytes).expect("decodable");
        assert_eq!(
            packet.kind,
            PacketKind::Event {
                name: "e".into(),
                args: vec![Value::Binary(vec![9, 9])],
                id: None
            }
        );
        let nan = encode(&Packet::new(
            "/game",
            PacketKind::Ack {
                id: 0,
                args: vec![Value::F64(f64::NAN)],
            },
        ))
        .expect("encodable");
        let PacketKind::Ack { args, .. } = decode(&nan).expect("decodable").kind else {
            panic!("expected ack");
        };
        assert!(matches!(args.as_slice(), [Value::F64(x)] if x.is_nan()));
    }

    #[test]
    fn decodes_server_connect_and_error() {
        let ok = write(0, "/game", Some(serde_json::json!({"sid": "abc"})), None).expect("ok");
        assert_eq!(
            decode(&ok).expect("decodable").kind,
            PacketKind::Connect(v(serde_json::json!({"sid": "abc"})))
        );
        let err = write(4, "/game", Some(serde_json::json!({"message": "no"})), None).expect("ok");
        assert_eq!(
            decode(&err).expect("decodable").kind,
            PacketKind::ConnectError("no".into())
        );
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let ack_without_id = write(3, "/", Some(serde_json::json!([1])), None).expect("ok");
        let event_not_array = write(2, "/", Some(serde_json::json!({"a": 1})), None).expect("ok");
        let bad_type = write(9, "/", Some(serde_json::json!([])), None).expect("ok");
        let mut trailing = write::<()>(1, "/", None, None).expect("ok");
        trailing.push(0);
        for bad in [
            &[][..],
            &[0x92, 1, 2],
            &[0x81, 0xa4, b't'],
            &[0xdf, 0xff, 0xff, 0xff, 0xff],
            &ack_without_id,
            &event_not_array,
            &bad_type,
            &trailing,
            &[0x80],
        ] {
            assert!(
                matches!(decode(bad), Err(ClientError::Protocol(_))),
                "{bad:?} should be a protocol error"
            );
        }
    }

    #[test]
    fn every_truncation_of_a_valid_frame_is_an_error() {
        for end in 0..JS_EVENT_WITH_ACK.len() {
            assert!(
                decode(&JS_EVENT_WITH_ACK[..end]).is_err(),
                "prefix of {end} bytes"
            );
        }
    }
}
