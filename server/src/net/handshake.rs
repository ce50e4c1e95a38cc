//! The `/game` handshake: a connect middleware that validates `auth`, creates the [`Session`]
//! and registers the event handlers. A middleware (not an extractor in the connect handler, which socketioxide would
//! silently skip on failure) so that a refused client gets a `connect_error` saying why.

use std::sync::Arc;

use socketioxide::extract::{State, TryData};

use super::GameSocket as SocketRef;
use crate::cluster::router::RoomRouter;
use tickstorm_shared::protocol::{GameAuth, limits};

use super::admission::Admission;
use super::player_token::PlayerAuth;
use super::rate_limit::RateLimitConfig;
use crate::metrics::{GaugeGuard, ServerMetrics};
use crate::session::Session;

/// Why a handshake was refused; the message reaches the client as `connect_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// `auth` is not an object of the documented shape.
    #[error("auth must be an object like {{\"name\": \"ana\"}}: {0}")]
    Malformed(String),
    /// The name is missing or breaks the name rules.
    #[error("{0}")]
    InvalidName(&'static str),
    /// A signed token was required and is missing or invalid.
    #[error("{0}")]
    Token(#[from] super::player_token::TokenError),
    /// A connection limit was reached.
    #[error("{0}")]
    Refused(#[from] super::admission::Refusal),
}

/// Applies the protocol's name rules: trimmed, 1..=24 characters, no control characters.
pub fn validate_name(raw: Option<&str>) -> Result<String, HandshakeError> {
    let raw = raw.ok_or(HandshakeError::InvalidName(
        "auth.name is required (1 to 24 characters)",
    ))?;
    let name = raw.trim();
    if name.is_empty() {
        return Err(HandshakeError::InvalidName("auth.name must not be empty"));
    }
    if name.chars().count() > limits::NAME_MAX_CHARS {
        return Err(HandshakeError::InvalidName(
            "auth.name must be at most 24 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(HandshakeError::InvalidName(
            "auth.name must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Connect middleware of `/game`.
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per socketioxide extractor, as handlers are written"
)]
pub async fn authenticate(
    socket: SocketRef,
    State(metrics): State<Arc<ServerMetrics>>,
    State(limits): State<RateLimitConfig>,
    State(admission): State<Arc<Admission>>,
    State(player_auth): State<PlayerAuth>,
    State(rooms): State<RoomRouter>,
    State(games): State<crate::games::Games>,
    TryData(auth): TryData<GameAuth>,
) -> Result<(), HandshakeError> {
    let admitted = auth
        .map_err(|e| HandshakeError::Malformed(e.to_string()))
        .and_then(|auth| {
            let identity = player_auth.identity(auth.token.as_deref())?;
            let name = validate_name(auth.name.as_deref())?;
            let ip = admission.client_ip(socket.req_parts());
            let slot = admission.admit(ip)?;
            tracing::debug!(sid = %socket.id, ?ip, %name, ?identity, "handshake accepted");
            Ok((name, identity, slot))
        });
    let (name, identity, slot) = admitted.inspect_err(|e| {
        metrics.handshakes_refused.inc();
        tracing::debug!(sid = %socket.id, reason = %e, "handshake refused");
    })?;
    super::conn_guard::ConnWatch::joined(socket.req_parts());
    // Both freed when the socket is dropped, however the connection ends.
    socket.extensions.insert(Arc::new(slot));
    socket
        .extensions
        .insert(Arc::new(GaugeGuard::new(&metrics.game_connections)));
    socket
        .extensions
        .insert(Arc::new(Session::new(name, identity, limits)));
    // Here, not in the connect handler: see `GameConnect` for the race this avoids.
    super::game::register_handlers(&socket, metrics, rooms, games);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_protocol_rules() {
        assert_eq!(validate_name(Some("  ana ")), Ok("ana".into()));
        assert_eq!(validate_name(Some(&"é".repeat(24))), Ok("é".repeat(24)));
        assert!(validate_name(Some(&"x".repeat(25))).is_err());
        assert!(validate_name(Some("   ")).is_err());
        assert!(validate_name(Some("a\u{7}b")).is_err());
        assert!(validate_name(None).is_err());
    }
}
