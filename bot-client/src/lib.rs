//! Headless Engine.IO v4 + Socket.IO v5 client over WebSocket or HTTP long-polling, for tests and
//! bot swarms.
//!
//! [`Client::connect`] opens one namespace and hands back a [`Client`] (cheap to clone, emits
//! from any task) and a receiver of server [`Event`]s. Both Socket.IO parsers are supported
//! ([`ParserKind`]); arguments are [`rmpv::Value`]s either way, binary ones as
//! [`rmpv::Value::Binary`], and [`decode_value`] turns them into your types. Both transports
//! ([`TransportKind`]) behave the same through the API; a polling client never upgrades to
//! WebSocket.
//!
//! The client knows nothing of Tickstorm's payloads: a game's `snapshot` event is one
//! [`rmpv::Value::Binary`] argument, a keyframe or (once the client says a `baseline` in its
//! inputs) a delta, which only makes sense applied to the states the client holds; keep a
//! `tickstorm_shared::delta::ClientState` per seat for that, as the swarm's bots do.
//!
//! Module map: `config` (settings, URL), `engineio` (Engine.IO framing), `socketio` (packets and
//! the two parsers), `transport` (frame source/sink over either transport, byte counters),
//! `polling` (long-polling: HTTP/1.1 connection, payload codec), `client` (handshake and public
//! API), `connection` (reader/writer tasks), `session` ([`Session`]: the same connection driven by
//! its owner's task, no tasks or channels of its own; what the swarm's bots use), `error`.

mod client;
mod config;
mod connection;
mod engineio;
mod error;
mod polling;
mod session;
mod socketio;
mod transport;

pub mod swarm;

pub use client::Client;
pub use config::{ClientConfig, ParserKind, TransportKind};
pub use error::ClientError;
pub use rmpv;
pub use session::{Session, SessionEvent};

/// A server-sent event on the client's namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Event name.
    pub name: String,
    /// Arguments in order; binary attachments are [`rmpv::Value::Binary`] where they stood.
    pub args: Vec<rmpv::Value>,
    /// Set when the server waits for an ack; answer with [`Client::ack`].
    pub ack_id: Option<u64>,
}

/// Deserializes an event or ack argument into `T` (structs from maps, `bytes::Bytes` from
/// binary, enums from their variant names).
///
/// Goes through MessagePack bytes and `rmp-serde` because `rmpv`'s own deserializer cannot read a
/// unit enum variant from a string (e.g. `"reason": "left"`), which the protocol uses.
pub fn decode_value<T: serde::de::DeserializeOwned>(v: rmpv::Value) -> Result<T, ClientError> {
    let mut bytes = Vec::with_capacity(64);
    rmpv::encode::write_value(&mut bytes, &v).map_err(|e| ClientError::Decode(e.to_string()))?;
    rmp_serde::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Reason {
        Left,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Left {
        player_id: u32,
        reason: Reason,
    }

    #[test]
    fn decodes_structs_with_enum_names() {
        let v = rmpv::Value::Map(vec![
            (rmpv::Value::from("player_id"), rmpv::Value::from(3)),
            (rmpv::Value::from("reason"), rmpv::Value::from("left")),
        ]);
        let decoded: Left = decode_value(v).expect("decodes");
        assert_eq!(
            decoded,
            Left {
                player_id: 3,
                reason: Reason::Left
            }
        );
        assert!(decode_value::<Left>(rmpv::Value::from("x")).is_err());
    }
}
