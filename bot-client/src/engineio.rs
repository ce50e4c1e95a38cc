//! Engine.IO v4 text packets, as one WebSocket text frame or one packet of a polling body.
//!
//! Kept apart from Socket.IO because the framing is different: Engine.IO is the first character of
//! a text frame (open, ping, message...), while a binary frame is a raw Engine.IO message with no
//! prefix ([`polling::payload`](crate::polling::payload) maps `b<base64>` packets to such frames).
//! Only the client side is handled, and no transport upgrade.

use std::time::Duration;

use serde::Deserialize;

use crate::error::{ClientError, protocol};

/// One decoded Engine.IO text packet, borrowing its payload from the frame.
#[derive(Debug, PartialEq)]
pub(crate) enum EioPacket<'a> {
    Open(OpenInfo),
    Close,
    /// Server heartbeat; the payload (normally empty) must be echoed in the pong.
    Ping(&'a str),
    Pong(&'a str),
    /// A Socket.IO text packet.
    Message(&'a str),
    Upgrade,
    Noop,
}

/// The JSON body of the open packet.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OpenInfo {
    pub sid: String,
    /// Milliseconds between server pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong.
    pub ping_timeout: u64,
    #[serde(default)]
    pub max_payload: u64,
}

impl OpenInfo {
    /// How long without a ping before the connection counts as dead.
    pub(crate) fn heartbeat_window(&self) -> Duration {
        Duration::from_millis(self.ping_interval.saturating_add(self.ping_timeout))
    }
}

/// The pong frame body for a ping with this payload.
pub(crate) fn pong(payload: &str) -> String {
    let mut s = String::with_capacity(1 + payload.len());
    s.push('3');
    s.push_str(payload);
    s
}

/// Engine.IO close, sent before shutting the transport.
pub(crate) const CLOSE: &str = "1";

/// Decodes an Engine.IO text frame.
pub(crate) fn decode(text: &str) -> Result<EioPacket<'_>, ClientError> {
    let mut chars = text.chars();
    let kind = chars
        .next()
        .ok_or_else(|| protocol("empty Engine.IO packet"))?;
    let rest = chars.as_str();
    Ok(match kind {
        '0' => EioPacket::Open(
            serde_json::from_str(rest).map_err(|e| protocol(format!("bad open packet: {e}")))?,
        ),
        '1' => EioPacket::Close,
        '2' => EioPacket::Ping(rest),
        '3' => EioPacket::Pong(rest),
        '4' => EioPacket::Message(rest),
        '5' => EioPacket::Upgrade,
        '6' => EioPacket::Noop,
        other => return Err(protocol(format!("unknown Engine.IO packet type {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_open_packet() {
        let text = r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let EioPacket::Open(open) = decode(text).expect("valid open") else {
            panic!("expected open");
        };
        assert_eq!(open.sid, "abc");
        assert_eq!(open.max_payload, 1_000_000);
        assert_eq!(open.heartbeat_window(), Duration::from_secs(45));
    }

    #[test]
    fn decodes_simple_packets() {
        assert_eq!(decode("1").expect("close"), EioPacket::Close);
        assert_eq!(decode("2").expect("ping"), EioPacket::Ping(""));
        assert_eq!(decode("2probe").expect("ping"), EioPacket::Ping("probe"));
        assert_eq!(decode("3").expect("pong"), EioPacket::Pong(""));
        assert_eq!(decode("6").expect("noop"), EioPacket::Noop);
        assert_eq!(
            decode(r#"42["a"]"#).expect("message"),
            EioPacket::Message(r#"2["a"]"#)
        );
        assert_eq!(pong("probe"), "3probe");
    }

    #[test]
    fn malformed_packets_are_errors() {
        for bad in ["", "9", "0", "0{}", "0not json", "é"] {
            assert!(
                matches!(decode(bad), Err(ClientError::Protocol(_))),
                "{bad:?}"
            );
        }
    }
}
