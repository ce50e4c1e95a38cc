//! Namespace `/admin`: what operators and the `/dashboard` page use. The handshake needs the
//! configured admin token (compared in constant time); without a configured token admin is off
//! and every handshake is refused with a `connect_error` that says how to turn it on.
//!
//! Events: `stats` (the latest metrics sample, error totals, every room with its members),
//! `room:close {room_id}` and `player:kick {player_id}`; the server pushes `metrics` every
//! second to every admin connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use socketioxide::extract::{State, TryData};

use super::{Ack, GameSocket as SocketRef, Io};
use subtle::ConstantTimeEq;
use tickstorm_shared::admin::{
    ADMIN_NAMESPACE, AdminAuth, CloseRoomRequest, KickRequest, RecordAck, RecordRequest,
    RoomDetail, events,
};
use tickstorm_shared::protocol::{CloseReason, OkAck};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::game::send_ack;
use super::payload;
use crate::config::AdminToken;
use crate::metrics::{GaugeGuard, MetricsSample, MetricsSampler, ServerMetrics};
use crate::room::RoomHub;

/// What the admin handlers share (socketioxide state).
#[derive(Debug, Clone)]
pub struct AdminState {
    token: Option<AdminToken>,
    latest: Arc<Mutex<MetricsSample>>,
}

impl AdminState {
    /// Admin state for a server with (or without) an admin token.
    pub fn new(token: Option<AdminToken>) -> Self {
        Self {
            token,
            latest: Arc::default(),
        }
    }

    fn latest(&self) -> MetricsSample {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Why an admin handshake was refused; the message reaches the client as `connect_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminRefusal {
    /// The server has no admin token.
    #[error(
        "admin is disabled on this server (start it with --admin-token or TICKSTORM_ADMIN_TOKEN)"
    )]
    Disabled,
    /// Missing or wrong token.
    #[error("invalid admin token")]
    InvalidToken,
}

/// How long a refused admin handshake waits before its `connect_error`. socketioxide handles one
/// CONNECT per connection at a time, so this caps guessing at one try per second per connection.
const REFUSAL_DELAY: Duration = Duration::from_secs(1);

/// Checks a presented token against the configured one. Both are hashed first and the digests
/// compared in constant time, so the time taken reveals neither where they differ nor the
/// token's length.
pub fn check_token(
    configured: Option<&AdminToken>,
    presented: Option<&str>,
) -> Result<(), AdminRefusal> {
    let configured = configured.ok_or(AdminRefusal::Disabled)?;
    let presented = presented.ok_or(AdminRefusal::InvalidToken)?;
    let (want, got) = (
        Sha256::digest(configured.expose()),
        Sha256::digest(presented),
    );
    if bool::from(want.as_slice().ct_eq(got.as_slice())) {
        Ok(())
    } else {
        Err(AdminRefusal::InvalidToken)
    }
}

/// Connect middleware of `/admin`: token check, then the handlers (registered here, before
/// CONNECT is sent, for the reason given on `net::game::GameConnect`).
pub async fn authenticate(
    socket: SocketRef,
    State(state): State<AdminState>,
    State(metrics): State<Arc<ServerMetrics>>,
    TryData(auth): TryData<AdminAuth>,
) -> Result<(), AdminRefusal> {
    let presented = auth.ok().and_then(|a| a.token);
    if let Err(refusal) = check_token(state.token.as_ref(), presented.as_deref()) {
        metrics.handshakes_refused.inc();
        // The presented token is never logged (and main.rs keeps socketioxide's own debug
        // logs, which print CONNECT payloads, off unless asked for by name).
        tracing::info!(sid = %socket.id, reason = %refusal, "admin handshake refused");
        if refusal == AdminRefusal::InvalidToken {
            tokio::time::sleep(REFUSAL_DELAY).await;
        }
        return Err(refusal);
    }
    super::conn_guard::ConnWatch::joined(socket.req_parts());
    socket.on(events::STATS, stats);
    socket.on(events::ROOM_CLOSE, room_close);
    socket.on(events::PLAYER_KICK, player_kick);
    socket.on(events::ROOM_RECORD, room_record);
    // Counted for as long as the socket lives (see `GaugeGuard`).
    socket
        .extensions
        .insert(Arc::new(GaugeGuard::new(&metrics.admin_connections)));
    Ok(())
}

/// Connect handler of `/admin`: everything happened in [`authenticate`].
pub async fn connected(socket: SocketRef) {
    tracing::info!(sid = %socket.id, "admin connected");
}

/// The `stats` ack.
#[derive(Debug, Serialize)]
struct StatsAck {
    ok: bool,
    #[serde(flatten)]
    sample: MetricsSample,
    errors_by_code: serde_json::Map<String, serde_json::Value>,
    rooms_detail: Vec<RoomDetail>,
}

async fn stats(
    ack: Ack,
    State(state): State<AdminState>,
    State(hub): State<RoomHub>,
    State(metrics): State<Arc<ServerMetrics>>,
) {
    let result = hub.details().await.map(|rooms_detail| StatsAck {
        ok: true,
        sample: state.latest(),
        errors_by_code: metrics
            .errors_by_code()
            .into_iter()
            .map(|(code, n)| (code.to_owned(), n.into()))
            .collect(),
        rooms_detail,
    });
    send_ack(ack, result);
}

// Admin acks go through `send_ack`, not the game's `reply`: they are not player traffic and
// must not show up in the game's ack and error counters.

async fn room_close(
    ack: Ack,
    State(hub): State<RoomHub>,
    TryData(data): TryData<CloseRoomRequest>,
) {
    let result = async {
        let request = data.map_err(|e| payload::malformed(events::ROOM_CLOSE, e))?;
        hub.close(request.room_id.clone(), CloseReason::Admin)
            .await?;
        tracing::info!(room = %request.room_id, "room closed by admin");
        Ok(OkAck::OK)
    };
    send_ack(ack, result.await);
}

async fn player_kick(ack: Ack, State(hub): State<RoomHub>, TryData(data): TryData<KickRequest>) {
    let result = async {
        let request = data.map_err(|e| payload::malformed(events::PLAYER_KICK, e))?;
        hub.kick(request.player_id).await?;
        tracing::info!(player = request.player_id, "player kicked by admin");
        Ok(OkAck::OK)
    };
    send_ack(ack, result.await);
}

async fn room_record(ack: Ack, State(hub): State<RoomHub>, TryData(data): TryData<RecordRequest>) {
    let result = async {
        let request = data.map_err(|e| payload::malformed(events::ROOM_RECORD, e))?;
        let recording = hub.record(request.room_id.clone(), request.record).await?;
        if !request.record {
            tracing::info!(room = %request.room_id, ?recording, "recording stopped by admin");
        }
        Ok(RecordAck {
            ok: true,
            recording,
        })
    };
    send_ack(ack, result.await);
}

/// Every second: samples the metrics, keeps the sample for `stats` and pushes it to every
/// admin connection. Runs only when admin is on.
pub fn spawn_metrics_push(
    io: Io,
    state: AdminState,
    metrics: Arc<ServerMetrics>,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) {
    if state.token.is_none() {
        return;
    }
    tracker.spawn(async move {
        let mut sampler = MetricsSampler::new(&metrics);
        let mut every_second = tokio::time::interval(Duration::from_secs(1));
        every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every_second.tick().await; // the first tick is immediate
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = every_second.tick() => {}
            }
            let sample = sampler.sample(&metrics);
            *state.latest.lock().unwrap_or_else(|e| e.into_inner()) = sample.clone();
            let Some(admins) = io.of(ADMIN_NAMESPACE) else {
                continue;
            };
            // This node's numbers go to this node's dashboards only, not the whole cluster's.
            if let Err(e) = admins.local().emit(events::METRICS, &sample).await {
                tracing::debug!(error = %e, "metrics push failed for some admin connections");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_admin_can_be_off() {
        let token = AdminToken::new("correct horse");
        assert_eq!(check_token(Some(&token), Some("correct horse")), Ok(()));
        assert_eq!(
            check_token(Some(&token), Some("correct horsf")),
            Err(AdminRefusal::InvalidToken)
        );
        assert_eq!(
            check_token(Some(&token), Some("correct")),
            Err(AdminRefusal::InvalidToken)
        );
        assert_eq!(
            check_token(Some(&token), None),
            Err(AdminRefusal::InvalidToken)
        );
        assert_eq!(
            check_token(None, Some("anything")),
            Err(AdminRefusal::Disabled)
        );
    }
}
