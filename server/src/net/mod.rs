//! The network edge: Socket.IO setup, the `/game` namespace and the HTTP routes, all on one axum
//! router. Holds no game state; it turns events into room commands and inputs.

pub mod admin;
pub mod admission;
pub mod assets;
pub mod game;
pub mod handshake;
pub mod http;
pub mod payload;
pub mod player_token;
pub mod rate_limit;
pub mod request_head;

use std::sync::Arc;

use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo, TransportType};
use tickstorm_shared::admin::ADMIN_NAMESPACE;
use tickstorm_shared::protocol::GAME_NAMESPACE;

use crate::config::{Config, ParserKind, Transports};
use crate::metrics::ServerMetrics;
use crate::room::RoomHub;

/// Builds the Socket.IO layer from the configuration and registers namespaces `/game` and
/// `/admin`.
pub fn socket_io(
    config: &Config,
    hub: RoomHub,
    metrics: Arc<ServerMetrics>,
    admin: admin::AdminState,
    admission: Arc<admission::Admission>,
    in_flight: game::InFlight,
) -> (SocketIoLayer, SocketIo) {
    let builder = SocketIo::builder()
        .ping_interval(config.ping_interval)
        .ping_timeout(config.ping_timeout)
        .max_payload(config.max_payload)
        .ws_max_message_size(config.ws_max_message_size)
        .ws_read_buffer_size(config.ws_read_buffer_size)
        .with_state(hub)
        .with_state(metrics.clone())
        .with_state(config.rate_limits())
        .with_state(admission)
        .with_state(in_flight)
        .with_state(player_token::PlayerAuth::new(config.auth_secret.as_ref()))
        .with_state(admin);
    let builder = match config.parser {
        ParserKind::Common => builder.with_parser(ParserConfig::common()),
        ParserKind::Msgpack => builder.with_parser(ParserConfig::msgpack()),
    };
    let builder = match config.transports {
        Transports::All => builder,
        Transports::Websocket => builder.transports([TransportType::Websocket]),
        Transports::Polling => builder.transports([TransportType::Polling]),
    };
    let (layer, io) = builder.build_layer();
    io.ns(
        GAME_NAMESPACE,
        game::GameConnect.with(handshake::authenticate),
    );
    // Registered even when admin is off, so a dashboard hears why instead of "Invalid namespace".
    io.ns(ADMIN_NAMESPACE, admin::connected.with(admin::authenticate));
    (layer, io)
}
