//! One room of the bare server: its seats and the orb arena's state behind one mutex, and the task
//! that ticks it.
//!
//! The game is the orb arena's in a few lines (players move at 200 units/s in a 1000 x 1000 arena
//! and collect 32 orbs, which respawn elsewhere), replicated in Tickstorm's layout: kind 0
//! `avatar [x, y, vx, vy, score]`, kind 1 `orb [x, y]`, so a keyframe for 8 players is the same
//! ~600 bytes. No ECS: a `Vec` of players and one of orbs.
//!
//! Ticks: the room's task wakes `tick_rate` times a second at its own phase (rooms are spread over
//! the period), steps and encodes under the lock, and broadcasts the snapshot after releasing it.
//! An input is queued under the same lock as the tick counter is read, so its ack's `tick` (the
//! next one) is exact, and a join adds the socket to the Socket.IO room under that lock too, so
//! every tick after the join ack's `tick` reaches the new member.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use socketioxide::SocketIo;
use socketioxide::socket::Sid;
use tickstorm_shared::protocol::{
    GAME_NAMESPACE, KindInfo, LeaveReason, PlayerJoined, PlayerLeft, RoomInfo, events,
};
use tickstorm_shared::{PlayerEntry, SnapshotWriter};
use tokio::time::{Instant, MissedTickBehavior};

use crate::lobby::Lobby;

/// The one game this server plays (what `room:create {game}` and `RoomInfo.game` say).
pub const GAME: &str = "orbs";
/// Side of the square arena, units.
const ARENA: f32 = 1000.0;
/// Player speed, units per second.
const SPEED: f32 = 200.0;
/// A player this close to an orb's centre collects it (player radius 16 + orb radius 12).
const REACH: f32 = 28.0;
/// Orbs per room.
const ORBS: u32 = 32;
/// How long a dropped player's seat is held for `room:rejoin`.
pub const REJOIN_GRACE: Duration = Duration::from_secs(10);
/// How long a room with no seat taken stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Locks a mutex; a panic while it was held leaves plain data, still usable.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The kinds of the join ack: how to read the snapshot's tables (as Tickstorm's orb arena).
pub fn kinds() -> Vec<KindInfo> {
    let kind = |name: &str, fields: &[&str], precision: &[f64]| KindInfo {
        name: name.into(),
        fields: fields.iter().map(|f| (*f).into()).collect(),
        precision: precision.to_vec(),
        position: Some([0, 1]),
    };
    vec![
        kind(
            "avatar",
            &["x", "y", "vx", "vy", "score"],
            &[0.125, 0.125, 1.0, 1.0, 1.0],
        ),
        kind("orb", &["x", "y"], &[0.125, 0.125]),
    ]
}

/// A room: fixed settings, and the state the handlers and the tick task share.
#[derive(Debug)]
pub struct Room {
    /// 8 lowercase letters and digits; also the Socket.IO room of its members.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Seats.
    pub max_players: u32,
    /// Ticks per second.
    pub tick_rate: u32,
    /// Everything that changes.
    pub state: Mutex<RoomState>,
}

/// A seated player (connected, or held for a rejoin).
#[derive(Debug)]
pub struct Player {
    /// Unique in the server.
    pub player_id: u32,
    /// Its avatar's net id.
    pub net_id: u32,
    /// Display name.
    pub name: String,
    /// Its connection; `None` while the seat is held after a disconnect.
    pub sid: Option<Sid>,
    /// What `room:rejoin` must present.
    pub rejoin_token: String,
    /// While held: when the seat is given up.
    pub held_until: Option<Instant>,
    /// Highest input `seq` received; applied at the next tick.
    pub received_seq: u32,
    /// Highest `seq` applied: the envelope's `last_input_seq`.
    applied_seq: u32,
    /// The latest input's movement (length at most 1).
    pub movement: [f32; 2],
    pos: [f32; 2],
    vel: [f32; 2],
    score: u32,
}

#[derive(Debug)]
struct Orb {
    net_id: u32,
    pos: [f32; 2],
}

/// What the lock guards.
#[derive(Debug)]
pub struct RoomState {
    /// The latest completed tick (0: none yet).
    pub tick: u64,
    /// Seats in join order.
    pub players: Vec<Player>,
    orbs: Vec<Orb>,
    next_net_id: u32,
    rng: ChaCha8Rng,
    /// Closed rooms take no one and their task has ended.
    pub closed: bool,
    /// Since when no seat is taken.
    empty_since: Option<Instant>,
}

impl RoomState {
    /// A new room's state: the orbs spread by the room's own generator.
    pub fn new(seed: u64) -> Self {
        let mut state = Self {
            tick: 0,
            players: Vec::new(),
            orbs: Vec::new(),
            next_net_id: 1,
            rng: ChaCha8Rng::seed_from_u64(seed),
            closed: false,
            empty_since: Some(Instant::now()),
        };
        for _ in 0..ORBS {
            let net_id = state.net_id();
            let pos = state.random_spot(12.0);
            state.orbs.push(Orb { net_id, pos });
        }
        state
    }

    fn net_id(&mut self) -> u32 {
        let id = self.next_net_id;
        self.next_net_id += 1;
        id
    }

    /// A uniform number in `0..1`.
    fn random(&mut self) -> f32 {
        self.rng.random()
    }

    fn random_spot(&mut self, margin: f32) -> [f32; 2] {
        let span = ARENA - 2.0 * margin;
        [margin + self.random() * span, margin + self.random() * span]
    }

    /// Seats taken, held ones included.
    pub fn seats(&self) -> u32 {
        self.players.len() as u32
    }

    /// The seat of `player_id`.
    pub fn player_mut(&mut self, player_id: u32) -> Option<&mut Player> {
        self.players.iter_mut().find(|p| p.player_id == player_id)
    }

    /// Seats a new player (connection `sid`) and returns its index.
    pub fn seat(&mut self, player_id: u32, name: String, sid: Sid, rejoin_token: String) -> usize {
        let net_id = self.net_id();
        let pos = self.random_spot(16.0);
        self.players.push(Player {
            player_id,
            net_id,
            name,
            sid: Some(sid),
            rejoin_token,
            held_until: None,
            received_seq: 0,
            applied_seq: 0,
            movement: [0.0; 2],
            pos,
            vel: [0.0; 2],
            score: 0,
        });
        self.empty_since = None;
        self.players.len() - 1
    }

    /// Everyone seated, in join order.
    pub fn members(&self) -> Vec<PlayerJoined> {
        self.players
            .iter()
            .map(|p| PlayerJoined {
                player_id: p.player_id,
                name: p.name.clone(),
            })
            .collect()
    }

    /// Gives up the seats held past their grace; returns who left.
    fn expire_held(&mut self, now: Instant) -> Vec<u32> {
        let mut gone = Vec::new();
        self.players.retain(|p| {
            let expired = p.held_until.is_some_and(|until| until <= now);
            if expired {
                gone.push(p.player_id);
            }
            !expired
        });
        if self.players.is_empty() && self.empty_since.is_none() {
            self.empty_since = Some(now);
        }
        gone
    }

    /// One tick: the latest inputs apply, players move, collected orbs respawn.
    fn step(&mut self, dt: f32) {
        self.tick += 1;
        for p in &mut self.players {
            p.applied_seq = p.received_seq;
            let movement = if p.sid.is_some() {
                p.movement
            } else {
                [0.0; 2]
            };
            p.vel = [movement[0] * SPEED, movement[1] * SPEED];
            for axis in 0..2 {
                p.pos[axis] = (p.pos[axis] + p.vel[axis] * dt).clamp(16.0, ARENA - 16.0);
            }
        }
        for i in 0..self.players.len() {
            for o in 0..self.orbs.len() {
                let (p, orb) = (self.players[i].pos, self.orbs[o].pos);
                let (dx, dy) = (p[0] - orb[0], p[1] - orb[1]);
                if dx * dx + dy * dy < REACH * REACH {
                    self.players[i].score += 1;
                    self.orbs[o].pos = self.random_spot(12.0);
                }
            }
        }
    }

    /// Writes this tick's keyframe (snapshot version 2).
    fn encode<'w>(&self, writer: &'w mut SnapshotWriter) -> &'w [u8] {
        let envelope = self.players.iter().map(|p| PlayerEntry {
            player_id: p.player_id,
            net_id: p.net_id,
            last_input_seq: p.applied_seq,
        });
        writer.begin(self.tick, unix_ms(), envelope, 2);
        writer.kind(0, self.players.len(), |k| {
            for p in &self.players {
                k.row(p.net_id, 5, |r| {
                    r.f32(p.pos[0])
                        .f32(p.pos[1])
                        .f32(p.vel[0])
                        .f32(p.vel[1])
                        .uint(u64::from(p.score));
                });
            }
        });
        writer.kind(1, self.orbs.len(), |k| {
            for orb in &self.orbs {
                k.row(orb.net_id, 2, |r| {
                    r.f32(orb.pos[0]).f32(orb.pos[1]);
                });
            }
        });
        writer.finish()
    }
}

impl Room {
    /// The room's public description (send rate = tick rate: every tick is sent).
    pub fn info(&self, state: &RoomState) -> RoomInfo {
        RoomInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            players: state.seats(),
            max_players: self.max_players,
            tick_rate: self.tick_rate,
            send_rate: self.tick_rate,
            view_radius: None,
            game: GAME.into(),
            metadata: serde_json::Value::Null,
        }
    }
}

/// The room's task: ticks at `tick_rate` from `phase` on until the room closes (idle for 30 s).
/// Late wake-ups skip ticks rather than bursting them, as Tickstorm does.
pub async fn run(room: Arc<Room>, lobby: Arc<Lobby>, io: SocketIo, phase: Duration) {
    let period = Duration::from_secs_f64(1.0 / f64::from(room.tick_rate));
    let dt = period.as_secs_f32();
    let mut ticks = tokio::time::interval_at(Instant::now() + phase, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut writer = SnapshotWriter::new();
    loop {
        let now = ticks.tick().await;
        let (snapshot, gone, idle) = {
            let mut state = lock(&room.state);
            if state.closed {
                return;
            }
            let gone = state.expire_held(now);
            state.step(dt);
            let snapshot = Bytes::copy_from_slice(state.encode(&mut writer));
            let idle = state
                .empty_since
                .is_some_and(|since| now.duration_since(since) >= IDLE_TIMEOUT);
            (snapshot, gone, idle)
        };
        let Some(members) = io.of(GAME_NAMESPACE).map(|ns| ns.to(room.id.clone())) else {
            return;
        };
        let _ = members.emit(events::SNAPSHOT, &snapshot).await;
        for player_id in gone {
            let left = PlayerLeft {
                player_id,
                reason: LeaveReason::Timeout,
            };
            if let Some(ns) = io.of(GAME_NAMESPACE) {
                let _ = ns
                    .to(room.id.clone())
                    .emit(events::PLAYER_LEFT, &left)
                    .await;
            }
        }
        if idle && lobby.close_if_empty(&room) {
            return;
        }
    }
}
