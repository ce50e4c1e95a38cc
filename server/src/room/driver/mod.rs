//! The room driver: one task that owns the simulation world and every room's lifecycle.
//!
//! It wakes when a command arrives, when a room's tick is due, or when a timer (rejoin grace,
//! idle room) fires. Each room ticks on its own schedule, phase-shifted by its creation time, so
//! the snapshots of many rooms are spread over the tick period instead of leaving in one burst
//! (PERFORMANCE-NOTES: same CPU, far better tail latency). All rooms due at one wake-up are
//! stepped by a single schedule run.
//!
//! The driver reaches players only through its [`RoomSink`]. Its parts: [`table`] (rooms:
//! create, quick match, close, drain, the lobby), [`seats`] (join, rejoin, disconnect, leave,
//! tokens), [`schedule`] (ticks and timers).

mod recording;
mod schedule;
mod seats;
mod table;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tickstorm_shared::protocol::{CloseReason, LeaveReason};
use tickstorm_shared::{PlayerId, RoomId, RoomInfo};
use tickstorm_sim::{Entity, GameRegistry, InputPort, SimWorld};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::sink::RoomSink;
use super::{Conn, HubInbox, NodeId, RoomCmd, RoomDirectory};
use crate::config::Config;
use crate::error::GameError;
use crate::metrics::ServerMetrics;

/// The room settings the driver needs from the server configuration.
#[derive(Debug, Clone)]
pub struct DriverSettings {
    /// Tick rate of rooms that do not ask for one.
    pub default_tick_rate: u32,
    /// Seats of rooms that do not ask for a number.
    pub default_max_players: u32,
    /// Snapshots per second of rooms that do not ask (capped at their tick rate); `None`: the
    /// tick rate.
    pub default_send_rate: Option<u32>,
    /// View radius of rooms that do not ask.
    pub default_view_radius: Option<f32>,
    /// Most rooms at once.
    pub max_rooms: usize,
    /// How long a dropped player's seat is held.
    pub rejoin_grace: Duration,
    /// How long an empty room stays open.
    pub room_idle_timeout: Duration,
    /// Base seed; room n gets a seed derived from it and n.
    pub seed: u64,
    /// The games rooms can play (the first is the default).
    pub games: GameRegistry,
    /// Where recordings go (`--record-dir`); `None`: rooms are not recorded.
    pub recorder: Option<Arc<crate::recorder::Recorder>>,
}

impl DriverSettings {
    /// Takes the relevant part of the server configuration, and the games to host.
    pub fn from_config(config: &Config, games: GameRegistry) -> Self {
        Self {
            default_tick_rate: config.tick_rate,
            default_max_players: config.max_players,
            default_send_rate: config.send_rate,
            default_view_radius: config.view_radius,
            max_rooms: config.max_rooms,
            rejoin_grace: config.rejoin_grace,
            room_idle_timeout: config.room_idle_timeout,
            seed: config.seed.unwrap_or_else(rand::random),
            games,
            recorder: None,
        }
    }
}

/// Starts the driver on `tracker`; it stops (closing every room with reason `shutdown`) when
/// `shutdown` is cancelled.
///
/// The hub and its inbox come from [`RoomHub::channel`](super::RoomHub::channel), made before
/// the Socket.IO layer so the handlers can hold the hub while the driver holds the sink.
pub fn spawn_driver<S: RoomSink>(
    settings: DriverSettings,
    inbox: HubInbox,
    sink: S,
    metrics: Arc<ServerMetrics>,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) {
    let HubInbox {
        commands,
        directory,
    } = inbox;
    let driver = Driver::new(settings, sink, directory, metrics);
    tracker.spawn(driver.run(commands, shutdown));
}

/// Commands handled per wake-up before due ticks get their turn, so a join storm cannot starve
/// the rooms that are already playing.
const COMMAND_BATCH: usize = 256;

#[derive(Debug)]
struct RoomState {
    entity: Entity,
    /// Creation order, for a stable lobby list.
    seq: u64,
    name: String,
    /// The game's index in the registry, and its name.
    game: (usize, &'static str),
    max_players: u32,
    tick_rate: u32,
    /// Snapshots per second (at most `tick_rate`).
    send_rate: u32,
    /// What each member was sent, for deltas and views (it holds the room's view radius).
    replica: super::replica::Replica,
    period: Duration,
    inputs: Arc<dyn InputPort>,
    players: Vec<PlayerId>,
    /// Members with a live connection (the snapshot's recipients), for the byte counters.
    online: usize,
    /// The room's recording, while it is recorded.
    recording: Option<crate::recorder::Recording>,
    empty_since: Option<Instant>,
}

impl RoomState {
    fn info(&self, id: &RoomId, sim: &SimWorld) -> RoomInfo {
        RoomInfo {
            id: id.clone(),
            name: self.name.clone(),
            players: self.players.len() as u32,
            max_players: self.max_players,
            tick_rate: self.tick_rate,
            send_rate: self.send_rate,
            view_radius: self.replica.view_radius(),
            game: self.game.1.to_owned(),
            metadata: sim
                .metadata(self.entity)
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        }
    }
}

/// How often the directory is republished even when no seat changed (games' lobby metadata).
pub(super) const METADATA_REFRESH: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct SeatRecord {
    entity: Entity,
    room_id: RoomId,
    token: String,
    /// The connection holding the seat; `None` while inside the rejoin grace period.
    conn: Option<Conn>,
    /// What that connection says it holds (replaced on rejoin).
    baseline: Arc<super::replica::Baseline>,
    disconnected_at: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Grace(PlayerId),
    Idle(RoomId),
}

struct Driver<S> {
    settings: DriverSettings,
    /// The way to the players.
    sink: S,
    /// No new rooms; rooms close as they empty.
    draining: bool,
    directory: Arc<RoomDirectory>,
    directory_dirty: bool,
    metrics: Arc<ServerMetrics>,
    sim: SimWorld,
    rooms: HashMap<RoomId, RoomState>,
    room_ids: HashMap<Entity, RoomId>,
    players: HashMap<PlayerId, SeatRecord>,
    tokens: HashMap<String, PlayerId>,
    ticks: BinaryHeap<Reverse<(Instant, Entity)>>,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    next_player_id: PlayerId,
    rooms_created: u64,
    due: Vec<Entity>,
    published_at: Instant,
}

impl<S: RoomSink> Driver<S> {
    /// The other nodes through which players of a room are connected, each once: where the
    /// room's broadcasts must go besides this node. Empty for a room whose players are all here,
    /// which then costs the cluster nothing.
    fn remote_nodes(&self, room_id: &RoomId) -> Vec<NodeId> {
        let mut nodes = Vec::new();
        if let Some(room) = self.rooms.get(room_id) {
            collect_remote_nodes(&room.players, &self.players, &mut nodes);
        }
        nodes
    }

    fn new(
        settings: DriverSettings,
        sink: S,
        directory: Arc<RoomDirectory>,
        metrics: Arc<ServerMetrics>,
    ) -> Self {
        let sim = SimWorld::new(&settings.games);
        Self {
            settings,
            sink,
            draining: false,
            directory,
            directory_dirty: true,
            metrics,
            sim,
            rooms: HashMap::new(),
            room_ids: HashMap::new(),
            players: HashMap::new(),
            tokens: HashMap::new(),
            ticks: BinaryHeap::new(),
            timers: BinaryHeap::new(),
            next_player_id: 1,
            rooms_created: 0,
            due: Vec::new(),
            published_at: Instant::now(),
        }
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<RoomCmd>,
        shutdown: CancellationToken,
    ) {
        tracing::info!("room driver started");
        loop {
            let wake = self.next_wake();
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                cmd = commands.recv() => {
                    let Some(cmd) = cmd else { break };
                    self.handle(cmd).await;
                    for _ in 1..COMMAND_BATCH {
                        let Ok(cmd) = commands.try_recv() else { break };
                        self.handle(cmd).await;
                    }
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            let now = Instant::now();
            self.tick_due_rooms(now).await;
            self.fire_timers(now).await;
            self.publish_directory();
        }
        commands.close();
        let open: Vec<RoomId> = self.rooms.keys().cloned().collect();
        tracing::info!(rooms = open.len(), "shutting down: closing every room");
        for room_id in open {
            self.close_room(&room_id, CloseReason::Shutdown).await;
        }
        self.publish_directory();
        tracing::info!("room driver stopped");
    }

    async fn handle(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Create { request, reply } => {
                let _ = reply.send(
                    self.create_room(request)
                        .map(|(id, _)| self.rooms[&id].info(&id, &self.sim)),
                );
            }
            RoomCmd::Record {
                room_id,
                record,
                reply,
            } => {
                let _ = reply.send(self.set_recording(&room_id, record));
            }
            RoomCmd::Join {
                room_id,
                game,
                name,
                conn,
                reply,
            } => {
                let _ = reply.send(self.join(room_id, game, name, conn));
            }
            RoomCmd::Rejoin { token, conn, reply } => {
                let _ = reply.send(self.rejoin(&token, conn));
            }
            RoomCmd::Drain => self.drain().await,
            RoomCmd::NodeLost { node } => self.node_lost(&node).await,
            RoomCmd::Leave { player_id, reason } => self.remove_player(player_id, reason).await,
            RoomCmd::Kick { player_id, reply } => {
                let result = if self.players.contains_key(&player_id) {
                    self.remove_player(player_id, LeaveReason::Kicked).await;
                    Ok(())
                } else {
                    Err(GameError::PlayerNotFound(player_id))
                };
                let _ = reply.send(result);
            }
            RoomCmd::InjectFault { room_id, reply } => {
                let result = match self.rooms.get(&room_id) {
                    Some(room) => {
                        self.sim.inject_fault(room.entity);
                        Ok(())
                    }
                    None => Err(GameError::RoomNotFound(room_id)),
                };
                let _ = reply.send(result);
            }
            RoomCmd::Member {
                room_id,
                player_id,
                reply,
            } => {
                let conn = self
                    .players
                    .get(&player_id)
                    .filter(|record| record.room_id == room_id)
                    .and_then(|record| record.conn.clone());
                let _ = reply.send(conn.ok_or(GameError::PlayerNotFound(player_id)));
            }
            RoomCmd::Details { reply } => {
                let _ = reply.send(Ok(self.details()));
            }
            RoomCmd::Disconnect { player_id, sid } => self.disconnect(player_id, sid).await,
            RoomCmd::Close {
                room_id,
                reason,
                reply,
            } => {
                let result = if self.rooms.contains_key(&room_id) {
                    self.close_room(&room_id, reason).await;
                    Ok(())
                } else {
                    Err(GameError::RoomNotFound(room_id))
                };
                let _ = reply.send(result);
            }
        }
    }
}

/// splitmix64 of the base seed and the room's ordinal: distinct, well-mixed seeds per room.
fn room_seed(base: u64, ordinal: u64) -> u64 {
    let mut z = base.wrapping_add(ordinal.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Adds to `nodes` (cleared first) the other nodes the `players` are connected through, each once.
fn collect_remote_nodes(
    players: &[PlayerId],
    records: &HashMap<PlayerId, SeatRecord>,
    nodes: &mut Vec<NodeId>,
) {
    nodes.clear();
    for player_id in players {
        let node = records
            .get(player_id)
            .and_then(|record| record.conn.as_ref())
            .and_then(|conn| conn.node.as_ref());
        if let Some(node) = node
            && !nodes.contains(node)
        {
            nodes.push(node.clone());
        }
    }
}
