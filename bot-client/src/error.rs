//! The one error type of the crate.
//!
//! Everything a caller can hit (bad configuration, network failures, protocol violations from the
//! server, refused connections, ack timeouts, decode failures) is a [`ClientError`] variant, so a
//! bot can match on the few cases it handles (e.g. [`ClientError::AckTimeout`]) and log the rest.

use std::time::Duration;

/// Errors returned by the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The configured URL could not be understood.
    #[error("invalid url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `https://` and `wss://` URLs need TLS, which this client does not build in.
    #[error("TLS (https/wss) is not supported by this client; use http:// or ws://")]
    TlsUnsupported,
    /// A socket-level I/O error (TCP connect, socket options).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The WebSocket handshake or transport failed.
    #[error("WebSocket error: {0}")]
    WebSocket(Box<tokio_tungstenite::tungstenite::Error>),
    /// The server sent something that breaks the Engine.IO or Socket.IO protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server answered the namespace CONNECT with CONNECT_ERROR; holds its message.
    #[error("connection refused by the server: {0}")]
    ConnectRefused(String),
    /// The whole connect sequence took longer than [`ClientConfig::connect_timeout`](crate::ClientConfig::connect_timeout).
    #[error("connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// No ack arrived within the timeout given to the emit.
    #[error("no ack received before the timeout")]
    AckTimeout,
    /// The connection is closed (by either side, or found dead by the heartbeat check).
    #[error("connection closed")]
    Closed,
    /// Outgoing data could not be serialized.
    #[error("encode error: {0}")]
    Encode(String),
    /// Incoming data could not be deserialized into the requested type.
    #[error("decode error: {0}")]
    Decode(String),
}

impl From<tokio_tungstenite::tungstenite::Error> for ClientError {
    fn from(err: tokio_tungstenite::tungstenite::Error) -> Self {
        // Boxed because the tungstenite error is large and would bloat every `Result`.
        ClientError::WebSocket(Box::new(err))
    }
}

/// Shorthand for protocol errors built from a message.
pub(crate) fn protocol(msg: impl Into<String>) -> ClientError {
    ClientError::Protocol(msg.into())
}
