//! Plain HTTP routes on the game port: health, the room list as JSON, the HTTP API for a
//! studio's backend (`net::api`), Prometheus metrics and the web assets (game and dashboard). The
//! Socket.IO layer is added on top by the caller, which routes [`socket_io_client`] (under the
//! Socket.IO path) ahead of it.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use serde::Serialize;
use tickstorm_shared::RoomInfo;
use tower_http::compression::CompressionLayer;

use super::api::{self, ApiLimit};
use super::{Io, assets, recordings};
use crate::cluster::Cluster;
use crate::cluster::directory::NodeRecord;
use crate::cluster::router::RoomRouter;
use crate::config::AdminToken;
use crate::config::ParserKind;
use crate::metrics::ServerMetrics;
use crate::room::{RoomHub, ServerCounts};

/// What the HTTP handlers read.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// This node's room list and counts.
    pub hub: RoomHub,
    /// Every node's rooms.
    pub rooms: RoomRouter,
    /// This node's cluster membership, if any.
    pub cluster: Option<Cluster>,
    /// The metrics registry.
    pub metrics: Arc<ServerMetrics>,
    /// The Socket.IO parser, so a web client can tell it cannot talk to a msgpack server.
    pub parser: ParserKind,
    /// The games hosted, default first.
    pub games: Vec<String>,
    /// The Socket.IO server (notices of the HTTP API).
    pub io: Io,
    /// The admin token: the HTTP API exists only with one.
    pub admin_token: Option<AdminToken>,
    /// The HTTP API's rate limit.
    pub api_limit: ApiLimit,
    /// Where recordings are (`--record-dir`).
    pub record_dir: Option<PathBuf>,
    /// The games, to replay recordings.
    pub registry: tickstorm_sim::GameRegistry,
}

/// `GET /healthz` body.
#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    parser: &'static str,
    /// The games hosted, default first.
    games: Vec<String>,
    #[serde(flatten)]
    counts: ServerCounts,
}

/// The HTTP routes; web assets come from the binary, or from `assets_dir` when given.
pub fn routes(state: HttpState, assets_dir: Option<PathBuf>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/rooms", get(rooms).post(api::create_room))
        .route(
            "/api/rooms/{id}",
            get(api::room_players).delete(api::close_room),
        )
        .route("/api/rooms/{id}/players/{player_id}", delete(api::kick))
        .route("/api/rooms/{id}/notice", post(api::room_notice))
        .route(
            "/api/rooms/{id}/recording",
            post(recordings::start).delete(recordings::stop),
        )
        .route("/api/recordings", get(recordings::list))
        .route("/api/recordings/{name}", get(recordings::replayed))
        .route("/api/notice", post(api::notice_all))
        .route("/api/cluster", get(cluster))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(assets::routes(assets_dir))
        // Only these routes are compressed: the Socket.IO layer sits outside this router.
        .layer(CompressionLayer::new().gzip(true))
}

/// The official client's script at `/socket.io/socket.io.js` (and its minified name and source
/// map), compressed like the other assets. These paths lie under the Engine.IO endpoint: the
/// caller puts this router in front of the Socket.IO layer, not inside it.
pub fn socket_io_client(assets_dir: Option<PathBuf>) -> Router {
    assets::client_routes(assets_dir).layer(CompressionLayer::new().gzip(true))
}

async fn healthz(State(state): State<HttpState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        parser: match state.parser {
            ParserKind::Common => "common",
            ParserKind::Msgpack => "msgpack",
        },
        games: state.games.clone(),
        counts: state.hub.directory().counts(),
    })
}

/// Every room this node can seat players in: its own, and in a cluster every node's.
async fn rooms(State(state): State<HttpState>) -> Json<Vec<RoomInfo>> {
    Json(state.rooms.lobby())
}

/// `GET /api/cluster` body: which node this is and what it knows of the others.
#[derive(Debug, Serialize)]
struct ClusterView {
    /// `None` on a single node.
    node_id: Option<String>,
    /// Redis answering (always true on a single node).
    redis_up: bool,
    draining: bool,
    /// This node's rooms.
    rooms: Vec<RoomInfo>,
    /// The other nodes, as last seen.
    others: Vec<NodeRecord>,
}

async fn cluster(State(state): State<HttpState>) -> Json<ClusterView> {
    let cluster = state.cluster.as_ref();
    Json(ClusterView {
        node_id: cluster.map(|c| c.node_id().clone()),
        redis_up: cluster.is_none_or(|c| c.bus().is_up()),
        draining: cluster.is_some_and(Cluster::is_draining),
        rooms: state.hub.directory().rooms().to_vec(),
        others: cluster.map(|c| c.directory().others()).unwrap_or_default(),
    })
}

/// Prometheus scrape endpoint (OpenMetrics text, which Prometheus reads natively).
async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}
