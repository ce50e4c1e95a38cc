//! Socket.IO v5 packets, independent of the parser that puts them on the wire.
//!
//! [`Packet`] is what the connection code works with; [`common`] and [`msgpack`] turn it into
//! WebSocket frames and back. [`Decoder`] hides the one stateful difference between the two
//! parsers: the common parser's binary packets span several frames.

pub(crate) mod common;
pub(crate) mod msgpack;

use bytes::Bytes;
use rmpv::Value;
use serde::ser::SerializeSeq;
use tokio_tungstenite::tungstenite::Message;

use crate::config::ParserKind;
use crate::error::{ClientError, protocol};

/// One Socket.IO packet for one namespace.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Packet {
    pub nsp: String,
    pub kind: PacketKind,
}

/// The packet types; BINARY_EVENT/BINARY_ACK are folded into `Event`/`Ack` because binary
/// values are just [`Value::Binary`] here and only the common parser's framing cares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PacketKind {
    /// Client to server: the auth object; server to client: `{"sid": ...}`. `Nil` when absent.
    Connect(Value),
    Disconnect,
    Event {
        name: String,
        args: Vec<Value>,
        id: Option<u64>,
    },
    Ack {
        id: u64,
        args: Vec<Value>,
    },
    ConnectError(String),
}

impl Packet {
    pub(crate) fn new(nsp: &str, kind: PacketKind) -> Self {
        Self {
            nsp: nsp.to_owned(),
            kind,
        }
    }
}

/// The WebSocket frames of one packet. They must be written back to back: with the common parser
/// a binary packet's attachments follow its text frame, so interleaving would corrupt both packets.
#[derive(Debug)]
pub(crate) enum Frames {
    One(Message),
    Many(Vec<Message>),
}

/// Encodes a packet with the given parser.
pub(crate) fn encode(parser: ParserKind, packet: Packet) -> Result<Frames, ClientError> {
    match parser {
        ParserKind::Common => {
            let (text, attachments) = common::encode(packet)?;
            let text = Message::text(text);
            if attachments.is_empty() {
                return Ok(Frames::One(text));
            }
            let mut frames = Vec::with_capacity(1 + attachments.len());
            frames.push(text);
            frames.extend(
                attachments
                    .into_iter()
                    .map(|a| Message::Binary(Bytes::from(a))),
            );
            Ok(Frames::Many(frames))
        }
        ParserKind::MsgPack => Ok(Frames::One(Message::Binary(Bytes::from(msgpack::encode(
            &packet,
        )?)))),
    }
}

/// Turns incoming Socket.IO frames into packets.
#[derive(Debug)]
pub(crate) struct Decoder {
    parser: ParserKind,
    /// A common-parser binary packet still waiting for attachments.
    partial: Option<common::PartialBinary>,
}

impl Decoder {
    pub(crate) fn new(parser: ParserKind) -> Self {
        Self {
            parser,
            partial: None,
        }
    }

    /// Handles the payload of an Engine.IO text message; `None` while attachments are pending.
    pub(crate) fn text(&mut self, payload: &str) -> Result<Option<Packet>, ClientError> {
        if self.parser == ParserKind::MsgPack {
            return Err(protocol("text Socket.IO packet with the msgpack parser"));
        }
        if self.partial.take().is_some() {
            tracing::warn!("binary packet dropped: a new packet came before all its attachments");
        }
        match common::decode(payload)? {
            common::Decoded::Packet(packet) => Ok(Some(packet)),
            common::Decoded::Partial(partial) => {
                self.partial = Some(partial);
                Ok(None)
            }
        }
    }

    /// Handles a binary WebSocket frame: an attachment (common) or a whole packet (msgpack).
    pub(crate) fn binary(&mut self, frame: Bytes) -> Result<Option<Packet>, ClientError> {
        match self.parser {
            ParserKind::MsgPack => msgpack::decode(&frame).map(Some),
            ParserKind::Common => {
                let mut partial = self
                    .partial
                    .take()
                    .ok_or_else(|| protocol("binary frame without a pending binary packet"))?;
                // Zero-copy when the frame's buffer is not shared; the bytes are never re-encoded.
                if partial.push(Vec::from(frame)) {
                    partial.finish().map(Some)
                } else {
                    self.partial = Some(partial);
                    Ok(None)
                }
            }
        }
    }
}

/// Serializes as `[name, ...args]`, the data of an EVENT in both parsers.
pub(crate) struct EventArgs<'a> {
    pub name: &'a str,
    pub args: &'a [Value],
}

impl serde::Serialize for EventArgs<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(1 + self.args.len()))?;
        seq.serialize_element(self.name)?;
        for arg in self.args {
            seq.serialize_element(arg)?;
        }
        seq.end()
    }
}

/// Converts any serializable value to an rmpv value, with structs as maps and bytes as binary.
///
/// Goes through MessagePack because `rmpv::ext::to_value` turns structs into arrays, which would
/// reach a JSON server as `[..]` instead of `{..}`.
pub(crate) fn to_value<T: serde::Serialize + ?Sized>(data: &T) -> Result<Value, ClientError> {
    let bytes = rmp_serde::to_vec_named(data).map_err(|e| ClientError::Encode(e.to_string()))?;
    rmpv::decode::read_value(&mut bytes.as_slice()).map_err(|e| ClientError::Encode(e.to_string()))
}

/// Looks up a string key in a map value.
pub(crate) fn map_get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// Splits EVENT data `[name, ...args]` into its parts.
pub(crate) fn split_event(data: Value) -> Result<(String, Vec<Value>), ClientError> {
    let Value::Array(mut items) = data else {
        return Err(protocol("event data is not an array"));
    };
    if items.is_empty() {
        return Err(protocol("event data has no name"));
    }
    match items.remove(0) {
        Value::String(name) => match name.into_str() {
            Some(name) => Ok((name, items)),
            None => Err(protocol("event name is not valid UTF-8")),
        },
        _ => Err(protocol("event name is not a string")),
    }
}

/// The message of a CONNECT_ERROR: `{"message": ...}` in v5, a bare string in older servers.
pub(crate) fn connect_error_message(data: &Value) -> Result<String, ClientError> {
    let msg = map_get(data, "message").unwrap_or(data);
    msg.as_str()
        .map(str::to_owned)
        .ok_or_else(|| protocol("CONNECT_ERROR without a message"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_value_keeps_structs_as_maps_and_bytes_as_binary() {
        #[derive(serde::Serialize)]
        struct Input {
            seq: u32,
            blob: Bytes,
        }
        let v = to_value(&Input {
            seq: 5,
            blob: Bytes::from_static(&[1, 2]),
        })
        .expect("serializable");
        assert_eq!(map_get(&v, "seq"), Some(&Value::from(5)));
        assert_eq!(map_get(&v, "blob"), Some(&Value::Binary(vec![1, 2])));
    }

    #[test]
    fn split_event_checks_shape() {
        let (name, args) =
            split_event(Value::Array(vec!["ev".into(), 1.into()])).expect("valid event");
        assert_eq!((name.as_str(), args), ("ev", vec![Value::from(1)]));
        assert!(split_event(Value::Array(vec![])).is_err());
        assert!(split_event(Value::Array(vec![1.into()])).is_err());
        assert!(split_event(Value::from("ev")).is_err());
    }

    #[test]
    fn common_attachments_complete_a_binary_packet() {
        let mut decoder = Decoder::new(ParserKind::Common);
        let head = decoder
            .text(r#"51-/game,["bin",{"_placeholder":true,"num":0}]"#)
            .expect("valid header");
        assert_eq!(head, None);
        let packet = decoder
            .binary(Bytes::from_static(&[9, 8, 7]))
            .expect("attachment")
            .expect("complete packet");
        assert_eq!(
            packet.kind,
            PacketKind::Event {
                name: "bin".into(),
                args: vec![Value::Binary(vec![9, 8, 7])],
                id: None
            }
        );
        assert!(decoder.binary(Bytes::from_static(&[1])).is_err());
    }
}
