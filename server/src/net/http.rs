//! Plain HTTP routes on the game port: health and the room list as JSON.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use tickstorm_shared::RoomInfo;

use crate::room::{RoomHub, ServerCounts};

/// `GET /healthz` body.
#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    #[serde(flatten)]
    counts: ServerCounts,
}

/// The HTTP routes (the Socket.IO layer is added on top by the caller).
pub fn routes(hub: RoomHub) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/rooms", get(rooms))
        .with_state(hub)
}

async fn healthz(State(hub): State<RoomHub>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        counts: hub.directory().counts(),
    })
}

async fn rooms(State(hub): State<RoomHub>) -> Json<Vec<RoomInfo>> {
    Json(hub.directory().rooms().to_vec())
}
