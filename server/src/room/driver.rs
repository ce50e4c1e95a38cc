//! The room driver: one task that owns the simulation world and every room's lifecycle.
//!
//! It wakes when a command arrives, when a room's tick is due, or when a timer (rejoin grace,
//! idle room) fires. Each room ticks on its own schedule, phase-shifted by its creation time, so
//! the snapshots of many rooms are spread over the tick period instead of leaving in one burst
//! (PERFORMANCE-NOTES: same CPU, far better tail latency). All rooms due at one wake-up are
//! stepped by a single schedule run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bevy_ecs::entity::Entity;
use socketioxide::socket::Sid;
use tickstorm_shared::admin::{MemberInfo, RoomDetail};
use tickstorm_shared::protocol::{
    CloseReason, CreateRoomRequest, GAME_NAMESPACE, KindInfo, LeaveReason, PlayerJoined,
    PlayerLeft, RoomClosed, events,
};
use tickstorm_shared::{PlayerId, RoomId, RoomInfo};
use tickstorm_sim::{GameRegistry, InputPort, Player, RoomSpec, SimWorld};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Conn, HubInbox, RoomCmd, RoomDirectory, Seat, SeatLink, ServerCounts, ids};
use crate::cluster::Cluster;
use crate::cluster::wire::{NodeId, Release};
use crate::config::Config;
use crate::error::GameError;
use crate::metrics::ServerMetrics;
use crate::net::Io;

/// The room settings the driver needs from the server configuration.
#[derive(Debug, Clone)]
pub struct DriverSettings {
    /// Tick rate of rooms that do not ask for one.
    pub default_tick_rate: u32,
    /// Seats of rooms that do not ask for a number.
    pub default_max_players: u32,
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
}

impl DriverSettings {
    /// Takes the relevant part of the server configuration, and the games to host.
    pub fn from_config(config: &Config, games: GameRegistry) -> Self {
        Self {
            default_tick_rate: config.tick_rate,
            default_max_players: config.max_players,
            max_rooms: config.max_rooms,
            rejoin_grace: config.rejoin_grace,
            room_idle_timeout: config.room_idle_timeout,
            seed: config.seed.unwrap_or_else(rand::random),
            games,
        }
    }
}

/// Starts the driver on `tracker`; it stops (closing every room with reason `shutdown`) when
/// `shutdown` is cancelled.
///
/// The hub and its inbox come from [`RoomHub::channel`](super::RoomHub::channel), made before the Socket.IO layer so the
/// handlers can hold the hub while the driver holds the `SocketIo` handle.
pub fn spawn_driver(
    settings: DriverSettings,
    inbox: HubInbox,
    io: Io,
    cluster: Option<Cluster>,
    metrics: Arc<ServerMetrics>,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) {
    let HubInbox {
        commands,
        directory,
    } = inbox;
    let mut driver = Driver::new(settings, io, directory, metrics);
    driver.cluster = cluster;
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
    period: Duration,
    inputs: Arc<dyn InputPort>,
    players: Vec<PlayerId>,
    /// Members with a live connection (the snapshot's recipients), for the byte counters.
    online: usize,
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
            game: self.game.1.to_owned(),
            metadata: sim
                .metadata(self.entity)
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        }
    }
}

/// How often the directory is republished even when no seat changed (games' lobby metadata).
const METADATA_REFRESH: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct SeatRecord {
    entity: Entity,
    room_id: RoomId,
    token: String,
    /// The connection holding the seat; `None` while inside the rejoin grace period.
    conn: Option<Conn>,
    disconnected_at: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Grace(PlayerId),
    Idle(RoomId),
}

struct Driver {
    settings: DriverSettings,
    io: Io,
    /// Set on a node of a cluster: seats held through other nodes are released through it.
    cluster: Option<Cluster>,
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

impl Driver {
    fn new(
        settings: DriverSettings,
        io: Io,
        directory: Arc<RoomDirectory>,
        metrics: Arc<ServerMetrics>,
    ) -> Self {
        let sim = SimWorld::new(&settings.games);
        Self {
            settings,
            io,
            cluster: None,
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

    fn next_wake(&self) -> Instant {
        let tick = self.ticks.peek().map(|Reverse((at, _))| *at);
        let timer = self.timers.peek().map(|Reverse((at, _))| *at);
        match (tick, timer) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            // Nothing scheduled: sleep until a command arrives.
            (None, None) => Instant::now() + Duration::from_secs(3600),
        }
    }

    async fn handle(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Create { request, reply } => {
                let _ = reply.send(
                    self.create_room(request)
                        .map(|(id, _)| self.rooms[&id].info(&id, &self.sim)),
                );
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

    fn create_room(&mut self, request: CreateRoomRequest) -> Result<(RoomId, Entity), GameError> {
        if self.draining {
            return Err(GameError::ServerFull(
                "this node is draining and takes no new rooms".into(),
            ));
        }
        let game = self.game(request.game.as_deref())?;
        let options = self
            .settings
            .games
            .validate_options(game.0, request.options.as_ref())
            .map_err(GameError::BadRequest)?;
        if self.rooms.len() >= self.settings.max_rooms {
            return Err(GameError::ServerFull(format!(
                "the server hosts its maximum of {} rooms",
                self.settings.max_rooms
            )));
        }
        let id = loop {
            let candidate = ids::room_id();
            if !self.rooms.contains_key(&candidate) {
                break candidate;
            }
        };
        self.rooms_created += 1;
        let tick_rate = request.tick_rate.unwrap_or(self.settings.default_tick_rate);
        let max_players = request
            .max_players
            .unwrap_or(self.settings.default_max_players);
        let name = request
            .name
            .unwrap_or_else(|| format!("Room {}", self.rooms_created));
        let spec = RoomSpec {
            id: id.clone(),
            game: game.0,
            max_players,
            tick_rate,
            seed: room_seed(self.settings.seed, self.rooms_created),
            options,
        };
        let (entity, inputs) = self
            .sim
            .spawn_room(spec)
            .ok_or_else(|| GameError::GameNotFound(game.1.to_owned()))?;
        let now = Instant::now();
        let period = Config::tick_period(tick_rate);
        self.ticks.push(Reverse((now + period, entity)));
        self.timers.push(Reverse((
            now + self.settings.room_idle_timeout,
            Timer::Idle(id.clone()),
        )));
        self.room_ids.insert(entity, id.clone());
        self.rooms.insert(
            id.clone(),
            RoomState {
                entity,
                seq: self.rooms_created,
                name,
                game,
                max_players,
                tick_rate,
                period,
                inputs,
                players: Vec::new(),
                online: 0,
                empty_since: Some(now),
            },
        );
        self.directory_dirty = true;
        tracing::info!(room = %id, game = game.1, tick_rate, max_players, "room created");
        Ok((id, entity))
    }

    /// A registered game by name (the default game for `None`).
    fn game(&self, name: Option<&str>) -> Result<(usize, &'static str), GameError> {
        let name = match name {
            Some(name) => name,
            None => self
                .settings
                .games
                .default_name()
                .ok_or_else(|| GameError::Internal("no game is registered".into()))?,
        };
        let index = self
            .sim
            .game_index(name)
            .ok_or_else(|| GameError::GameNotFound(name.to_owned()))?;
        let name = self.sim.game_name(index).unwrap_or_default();
        Ok((index, name))
    }

    /// Quick match: the fullest room of the game that still has a seat (so rooms fill up), else
    /// a new room of that game.
    fn quick_match(&mut self, game: (usize, &'static str)) -> Result<RoomId, GameError> {
        let best = self
            .rooms
            .iter()
            .filter(|(_, r)| r.game.0 == game.0 && (r.players.len() as u32) < r.max_players)
            .max_by_key(|(_, r)| (r.players.len(), Reverse(r.seq)))
            .map(|(id, _)| id.clone());
        match best {
            Some(id) => Ok(id),
            None => self
                .create_room(CreateRoomRequest {
                    game: Some(game.1.to_owned()),
                    ..CreateRoomRequest::default()
                })
                .map(|(id, _)| id),
        }
    }

    fn join(
        &mut self,
        room_id: Option<RoomId>,
        game: Option<String>,
        name: String,
        conn: Conn,
    ) -> Result<Seat, GameError> {
        let room_id = match room_id {
            Some(id) => {
                let room = self
                    .rooms
                    .get(&id)
                    .ok_or_else(|| GameError::RoomNotFound(id.clone()))?;
                if let Some(wanted) = game.filter(|g| g != room.game.1) {
                    return Err(GameError::BadRequest(format!(
                        "room {id} plays {}, not {wanted}",
                        room.game.1
                    )));
                }
                id
            }
            None => {
                let game = self.game(game.as_deref())?;
                self.quick_match(game)?
            }
        };
        let player_id = self.next_player_id;
        let room = self
            .rooms
            .get_mut(&room_id)
            .ok_or_else(|| GameError::RoomNotFound(room_id.clone()))?;
        if room.players.len() as u32 >= room.max_players {
            return Err(GameError::RoomFull(room_id));
        }
        let entity = self
            .sim
            .spawn_player(room.entity, player_id, name.clone())
            .ok_or_else(|| GameError::RoomFull(room_id.clone()))?;
        self.next_player_id = self.next_player_id.wrapping_add(1).max(1);
        room.players.push(player_id);
        room.online += 1;
        room.empty_since = None;
        let token = ids::rejoin_token(&room_id);
        self.tokens.insert(token.clone(), player_id);
        self.subscribe(&conn, &room_id);
        let holder = conn.clone();
        self.players.insert(
            player_id,
            SeatRecord {
                entity,
                room_id: room_id.clone(),
                token: token.clone(),
                conn: Some(conn),
                disconnected_at: None,
            },
        );
        self.directory_dirty = true;
        tracing::debug!(room = %room_id, player = player_id, %name, "player joined");
        Ok(self.grant(player_id, token, &holder))
    }

    fn rejoin(&mut self, token: &str, conn: Conn) -> Result<Seat, GameError> {
        let player_id = *self.tokens.get(token).ok_or(GameError::RejoinExpired)?;
        let grace = self.settings.rejoin_grace;
        let record = self
            .players
            .get_mut(&player_id)
            .ok_or(GameError::RejoinExpired)?;
        if record.disconnected_at.is_some_and(|t| t.elapsed() >= grace) {
            // The grace timer is about to fire; do not hand out a seat that is already forfeit.
            return Err(GameError::RejoinExpired);
        }
        let previous = record.conn.replace(conn.clone());
        record.disconnected_at = None;
        self.directory_dirty = true;
        if previous.is_none()
            && let Some(room) = self.rooms.get_mut(&record.room_id)
        {
            room.online += 1;
        }
        // Each token works once: a rejoin hands out a fresh one.
        let room_id = record.room_id.clone();
        let token = ids::rejoin_token(&room_id);
        let old_token = std::mem::replace(&mut record.token, token.clone());
        self.tokens.remove(&old_token);
        self.tokens.insert(token.clone(), player_id);
        if let Some(old) = previous.filter(|old| old.sid != conn.sid) {
            // The player came back on a new connection before the old one was noticed dead:
            // the new connection takes the seat, the old one is closed.
            self.release_connection(player_id, &old, &room_id, None, true);
        }
        self.subscribe(&conn, &room_id);
        tracing::debug!(room = %room_id, player = player_id, "player rejoined");
        Ok(self.grant(player_id, token, &conn))
    }

    /// The seat for the reply; one held through another node is also kept by the cluster, in
    /// this same step, for that node's inputs.
    fn grant(&self, player_id: PlayerId, rejoin_token: String, conn: &Conn) -> Seat {
        let seat = self.seat_for(player_id, rejoin_token);
        if let (Some(cluster), Some(node)) = (&self.cluster, &conn.node) {
            cluster.keep_remote_seat(seat.clone(), conn.sid, node.clone());
        }
        seat
    }

    fn seat_for(&self, player_id: PlayerId, rejoin_token: String) -> Seat {
        let record = &self.players[&player_id];
        let room = &self.rooms[&record.room_id];
        Seat {
            room: room.info(&record.room_id, &self.sim),
            player_id,
            link: SeatLink::Local {
                player: record.entity,
                inputs: room.inputs.clone(),
            },
            tick: self.sim.room_tick(room.entity).unwrap_or_default(),
            rejoin_token,
            members: self
                .seated(room)
                .map(|(player_id, _, player)| PlayerJoined {
                    player_id,
                    name: player.name.clone(),
                })
                .collect(),
            kinds: self
                .sim
                .kinds(room.game.0)
                .iter()
                .map(|k| KindInfo {
                    name: k.name.to_owned(),
                    fields: k.fields.iter().map(|f| (*f).to_owned()).collect(),
                })
                .collect(),
        }
    }

    /// A room's seated players in join order, with their seat records and simulation state.
    fn seated<'a>(
        &'a self,
        room: &'a RoomState,
    ) -> impl Iterator<Item = (PlayerId, &'a SeatRecord, &'a Player)> + 'a {
        room.players.iter().filter_map(|&id| {
            let record = self.players.get(&id)?;
            Some((id, record, self.sim.player(record.entity)?))
        })
    }

    /// Every room, oldest first (the lobby's order).
    fn rooms_in_creation_order(&self) -> Vec<(&RoomId, &RoomState)> {
        let mut rooms: Vec<(&RoomId, &RoomState)> = self.rooms.iter().collect();
        rooms.sort_unstable_by_key(|(_, r)| r.seq);
        rooms
    }

    async fn disconnect(&mut self, player_id: PlayerId, sid: Sid) {
        let Some(record) = self.players.get_mut(&player_id) else {
            return;
        };
        if record.conn.as_ref().is_none_or(|c| c.sid != sid) {
            return; // the seat already moved to a newer connection
        }
        let now = Instant::now();
        if let (Some(cluster), Some(Conn { node: Some(_), .. })) = (&self.cluster, &record.conn) {
            cluster.forget_remote_seat(player_id);
        }
        record.conn = None;
        record.disconnected_at = Some(now);
        self.directory_dirty = true;
        let (entity, room_id) = (record.entity, record.room_id.clone());
        if let Some(room) = self.rooms.get_mut(&room_id) {
            room.online = room.online.saturating_sub(1);
        }
        self.sim.halt_player(entity);
        self.timers.push(Reverse((
            now + self.settings.rejoin_grace,
            Timer::Grace(player_id),
        )));
        tracing::debug!(room = %room_id, player = player_id, "player disconnected; seat held");
        self.emit_to_room(
            &room_id,
            events::PLAYER_LEFT,
            &PlayerLeft {
                player_id,
                reason: LeaveReason::Disconnected,
            },
        )
        .await;
    }

    async fn remove_player(&mut self, player_id: PlayerId, reason: LeaveReason) {
        let Some(record) = self.players.remove(&player_id) else {
            return;
        };
        let mut empty_while_draining = false;
        self.tokens.remove(&record.token);
        self.sim.despawn_player(record.entity);
        if let Some(room) = self.rooms.get_mut(&record.room_id) {
            room.players.retain(|&p| p != player_id);
            if record.conn.is_some() {
                room.online = room.online.saturating_sub(1);
            }
            if room.players.is_empty() && self.draining {
                empty_while_draining = true;
            } else if room.players.is_empty() {
                let now = Instant::now();
                room.empty_since = Some(now);
                self.timers.push(Reverse((
                    now + self.settings.room_idle_timeout,
                    Timer::Idle(record.room_id.clone()),
                )));
            }
        }
        if let Some(conn) = &record.conn {
            // A kicked player's connection is closed. One that left keeps its connection and has
            // cleared its own side already (on its own node, for a remote one).
            if reason == LeaveReason::Kicked {
                self.release_connection(player_id, conn, &record.room_id, None, true);
            } else {
                self.forget_remote(player_id, conn);
            }
        }
        self.directory_dirty = true;
        tracing::debug!(room = %record.room_id, player = player_id, ?reason, "player left");
        self.emit_to_room(
            &record.room_id,
            events::PLAYER_LEFT,
            &PlayerLeft { player_id, reason },
        )
        .await;
        if empty_while_draining {
            self.close_room(&record.room_id, CloseReason::Shutdown)
                .await;
        }
    }

    async fn close_room(&mut self, room_id: &RoomId, reason: CloseReason) {
        let Some(room) = self.rooms.remove(room_id) else {
            return;
        };
        // Only this node's connections hear the broadcast; each remote one is told by its own
        // node when the release below arrives, so nobody hears it twice or misses it.
        let closed = RoomClosed {
            room_id: room_id.clone(),
            reason,
        };
        if let Some(namespace) = self.io.of(GAME_NAMESPACE)
            && let Err(e) = namespace
                .local()
                .to(room_id.clone())
                .emit(events::ROOM_CLOSED, &closed)
                .await
        {
            tracing::debug!(room = %room_id, error = %e, "room:closed broadcast failed for some members");
        }
        for player_id in &room.players {
            if let Some(record) = self.players.remove(player_id) {
                self.tokens.remove(&record.token);
                if let Some(conn) = &record.conn {
                    self.release_connection(*player_id, conn, room_id, Some(reason), false);
                }
            }
        }
        self.sim.despawn_room(room.entity);
        self.room_ids.remove(&room.entity);
        self.directory_dirty = true;
        tracing::info!(room = %room_id, ?reason, players = room.players.len(), "room closed");
    }

    /// Puts a connection into the room's broadcasts as it is seated: joining here, in the same
    /// step that lists the members for the ack, means nobody seated later can be missed. A
    /// connection to another node is joined by that node when the seat reaches it.
    fn subscribe(&self, conn: &Conn, room_id: &RoomId) {
        if conn.node.is_some() {
            return;
        }
        if let Some(socket) = self
            .io
            .of(GAME_NAMESPACE)
            .and_then(|ns| ns.get_socket(conn.sid))
        {
            socket.join(room_id.clone());
        }
    }

    /// Clears the seat a connection holds in `room_id` and takes it out of the broadcast room;
    /// tells it the room closed when `closed` is set, and closes the connection when `evict`.
    /// A connection to another node is released by that node.
    fn release_connection(
        &self,
        player_id: PlayerId,
        conn: &Conn,
        room_id: &RoomId,
        closed: Option<CloseReason>,
        evict: bool,
    ) {
        let release = Release {
            sid: conn.sid,
            room_id: room_id.clone(),
            closed,
            evict,
        };
        match &conn.node {
            Some(node) => {
                self.forget_remote(player_id, conn);
                if let Some(cluster) = &self.cluster {
                    cluster.release(node, release);
                }
            }
            // This node's own connection heard `room:closed` from the room's local broadcast.
            None => crate::cluster::release_here(
                &self.io,
                Release {
                    closed: None,
                    ..release
                },
            ),
        }
    }

    /// Drops the owner-side record of a seat held through another node (its inputs stop).
    fn forget_remote(&self, player_id: PlayerId, conn: &Conn) {
        if conn.node.is_some()
            && let Some(cluster) = &self.cluster
        {
            cluster.forget_remote_seat(player_id);
        }
    }

    /// Draining: no new rooms from now on, and rooms nobody sits in close at once.
    async fn drain(&mut self) {
        self.draining = true;
        self.directory_dirty = true;
        let empty: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.players.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        tracing::info!(
            rooms = self.rooms.len(),
            closing_empty = empty.len(),
            "draining: no new rooms"
        );
        for room_id in empty {
            self.close_room(&room_id, CloseReason::Shutdown).await;
        }
    }

    /// Seats held through a lost node become held seats, as if their connections dropped: the
    /// players can rejoin through any other node within the grace period.
    async fn node_lost(&mut self, node: &NodeId) {
        let held: Vec<(PlayerId, Sid)> = self
            .players
            .iter()
            .filter_map(|(&id, r)| {
                let conn = r.conn.as_ref()?;
                (conn.node.as_ref() == Some(node)).then_some((id, conn.sid))
            })
            .collect();
        if !held.is_empty() {
            tracing::warn!(%node, players = held.len(), "node lost: holding its players' seats for rejoin");
        }
        for (player_id, sid) in held {
            self.disconnect(player_id, sid).await;
        }
    }

    async fn tick_due_rooms(&mut self, now: Instant) {
        self.due.clear();
        let mut overruns = 0;
        while let Some(&Reverse((at, entity))) = self.ticks.peek() {
            if at > now {
                break;
            }
            self.ticks.pop();
            let Some(room) = self.room_ids.get(&entity).and_then(|id| self.rooms.get(id)) else {
                continue; // closed since it was scheduled
            };
            let mut next = at + room.period;
            if next <= now {
                // More than a whole period late: skip the missed ticks rather than burst them.
                tracing::debug!(room = ?entity, late_ms = (now - at).as_millis() as u64, "tick overrun");
                next = now + room.period;
                overruns += 1;
            }
            self.ticks.push(Reverse((next, entity)));
            self.due.push(entity);
        }
        if self.due.is_empty() {
            return;
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let Some(namespace) = self.io.of(GAME_NAMESPACE) else {
            return;
        };
        let started = Instant::now();
        let outcome = self.sim.step_isolating_faults(&self.due, now_ms);
        for (entity, snapshot) in &outcome.snapshots {
            let Some(room_id) = self.room_ids.get(entity) else {
                continue;
            };
            if let Some(room) = self.rooms.get(room_id) {
                self.metrics.record_snapshot(snapshot.len(), room.online);
            }
            // Encoded once above; socketioxide frames it once and hands the same bytes to every
            // member's connection.
            // A single node broadcasts locally: the Redis adapter would otherwise encode every
            // snapshot into a request for a bus that sends nothing.
            let members = match self.cluster {
                Some(_) => namespace.clone(),
                None => namespace.clone().local(),
            };
            if let Err(e) = members
                .to(room_id.clone())
                .emit(events::SNAPSHOT, snapshot)
                .await
            {
                tracing::debug!(room = %room_id, error = %e, "snapshot broadcast failed for some members");
            }
        }
        for entity in outcome.failed {
            let Some(room_id) = self.room_ids.get(&entity).cloned() else {
                continue;
            };
            tracing::error!(room = %room_id, "the room's simulation panicked; closing it (the server and the other rooms go on)");
            self.metrics.room_faults.inc();
            self.close_room(&room_id, CloseReason::Internal).await;
        }
        self.metrics
            .record_step(started.elapsed(), self.due.len(), overruns);
    }

    /// Every room with its members, in creation order, for the admin.
    fn details(&self) -> Vec<RoomDetail> {
        self.rooms_in_creation_order()
            .into_iter()
            .map(|(id, room)| RoomDetail {
                info: room.info(id, &self.sim),
                members: self
                    .seated(room)
                    .map(|(player_id, record, player)| MemberInfo {
                        player_id,
                        name: player.name.clone(),
                        score: player.score,
                        connected: record.conn.is_some(),
                    })
                    .collect(),
            })
            .collect()
    }

    async fn fire_timers(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, timer))) = self.timers.pop() else {
                break;
            };
            match timer {
                Timer::Grace(player_id) => {
                    let expired = self
                        .players
                        .get(&player_id)
                        .and_then(|r| r.disconnected_at)
                        .is_some_and(|t| now - t >= self.settings.rejoin_grace);
                    if expired {
                        self.remove_player(player_id, LeaveReason::Timeout).await;
                    }
                }
                Timer::Idle(room_id) => {
                    let idle = self
                        .rooms
                        .get(&room_id)
                        .and_then(|r| r.empty_since.filter(|_| r.players.is_empty()))
                        .is_some_and(|t| now - t >= self.settings.room_idle_timeout);
                    if idle {
                        self.close_room(&room_id, CloseReason::Idle).await;
                    }
                }
            }
        }
    }

    async fn emit_to_room<T: serde::Serialize>(&self, room_id: &RoomId, event: &str, data: &T) {
        let Some(namespace) = self.io.of(GAME_NAMESPACE) else {
            return;
        };
        if let Err(e) = namespace.to(room_id.clone()).emit(event, data).await {
            tracing::debug!(room = %room_id, event, error = %e, "broadcast failed for some members");
        }
    }

    fn publish_directory(&mut self) {
        let now = Instant::now();
        if !self.directory_dirty && now - self.published_at < METADATA_REFRESH {
            return;
        }
        self.directory_dirty = false;
        self.published_at = now;
        let rooms: Vec<RoomInfo> = self
            .rooms_in_creation_order()
            .into_iter()
            .map(|(id, r)| r.info(id, &self.sim))
            .collect();
        let counts = ServerCounts {
            rooms: self.rooms.len(),
            players: self.players.len(),
            disconnected: self.players.values().filter(|p| p.conn.is_none()).count(),
        };
        self.metrics.set_counts(counts);
        self.directory.publish(rooms, counts);
    }
}

/// splitmix64 of the base seed and the room's ordinal: distinct, well-mixed seeds per room.
fn room_seed(base: u64, ordinal: u64) -> u64 {
    let mut z = base.wrapping_add(ordinal.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
