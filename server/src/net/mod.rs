//! The network edge: Socket.IO setup, the `/game` namespace and the HTTP routes, all on one axum
//! router. Holds no game state; it turns events into room commands and inputs.

pub mod admin;
pub mod admission;
pub mod api;
pub mod assets;
pub mod conn_guard;
pub mod cors;
pub mod game;
pub mod handshake;
pub mod http;
pub(crate) mod input;
pub mod listener;
pub mod payload;
pub mod player_token;
pub mod rate_limit;
pub mod recordings;
pub mod request_head;
pub mod serve;
pub mod social;

use std::sync::Arc;

use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo, TransportType};
use socketioxide_redis::{RedisAdapterConfig, RedisAdapterCtr};
use tickstorm_shared::admin::ADMIN_NAMESPACE;
use tickstorm_shared::protocol::GAME_NAMESPACE;

use crate::cluster::bus::Bus;
use crate::cluster::router::RoomRouter;
use crate::config::{Config, ParserKind, Transports};
use crate::metrics::ServerMetrics;
use crate::room::RoomHub;

pub use crate::cluster::{Adapter, GameSocket, Io};
/// An ack to send back.
pub type Ack = socketioxide::extract::AckSender<Adapter>;

/// What the Socket.IO layer is built from.
#[derive(Debug)]
pub struct SocketIoParts {
    /// This node's rooms.
    pub hub: RoomHub,
    /// Where room requests go (this node, or the room's node).
    pub router: RoomRouter,
    /// The bus the adapter runs on, and its channel prefix.
    pub bus: (Bus, String),
    /// The server's metrics.
    pub metrics: Arc<ServerMetrics>,
    /// Admin token check.
    pub admin: admin::AdminState,
    /// Connection limits.
    pub admission: Arc<admission::Admission>,
    /// Requests being handled.
    pub in_flight: game::InFlight,
    /// The games hosted (their input decoders).
    pub games: crate::games::Games,
}

/// Builds the Socket.IO layer from the configuration and registers namespaces `/game` and
/// `/admin` (with a cluster, once the adapter has subscribed to its Redis channels).
pub async fn socket_io(
    config: &Config,
    parts: SocketIoParts,
) -> anyhow::Result<(SocketIoLayer<Adapter>, Io)> {
    let SocketIoParts {
        hub,
        router,
        bus: (bus, prefix),
        metrics,
        admin,
        admission,
        in_flight,
        games,
    } = parts;
    let adapter = RedisAdapterCtr::new_with_driver(
        bus,
        RedisAdapterConfig::new().with_prefix(format!("{prefix}-socket.io")),
    );
    let builder = SocketIo::builder()
        .with_adapter::<Adapter>(adapter)
        .ping_interval(config.ping_interval)
        .ping_timeout(config.ping_timeout)
        // socketioxide's default is 45 s; a session that never sends CONNECT holds its
        // WebSocket (or its session state) until this closes it.
        .connect_timeout(config.connect_timeout)
        .max_payload(config.max_payload)
        .ws_max_message_size(config.ws_max_message_size)
        .ws_read_buffer_size(config.ws_read_buffer_size)
        .with_state(hub)
        .with_state(router)
        .with_state(metrics.clone())
        .with_state(config.rate_limits())
        .with_state(admission)
        .with_state(in_flight)
        .with_state(games)
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
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot set up the {GAME_NAMESPACE} namespace on Redis: {e}"))?;
    // Registered even when admin is off, so a dashboard hears why instead of "Invalid namespace".
    io.ns(ADMIN_NAMESPACE, admin::connected.with(admin::authenticate))
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot set up the {ADMIN_NAMESPACE} namespace on Redis: {e}")
        })?;
    Ok((layer, io))
}
