//! The bare server's rooms: creation (each with its tick task, phases spread over the tick
//! period), lookup, quick match (the fullest room with a free seat, the oldest on a tie, so rooms
//! fill in order as players arrive; a new room when none has one), seating and rejoining.
//!
//! Locks: the lobby's list, then a room's state, never the other way round (a room's task only
//! takes its own).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tickstorm_shared::ErrorCode;
use tickstorm_shared::protocol::{ErrorAck, JoinAck};

use crate::room::{self, Room, RoomState, lock};

/// The rooms, in creation order.
#[derive(Debug, Default)]
struct Rooms {
    list: Vec<Arc<Room>>,
    by_id: HashMap<String, Arc<Room>>,
}

/// Every room of the server and the counters ids come from.
#[derive(Debug)]
pub struct Lobby {
    /// `--room-size`: seats of rooms created without `max_players`.
    pub room_size: u32,
    /// `--tick-rate`.
    pub tick_rate: u32,
    rooms: Mutex<Rooms>,
    opened: AtomicU64,
    next_player_id: AtomicU32,
}

/// A new seat, for the handler to finish (`player:joined`, the ack).
pub struct Seated {
    /// The room.
    pub room: Arc<Room>,
    /// The ack to send.
    pub ack: JoinAck,
}

impl Lobby {
    /// No rooms yet.
    pub fn new(room_size: u32, tick_rate: u32) -> Self {
        Self {
            room_size,
            tick_rate,
            rooms: Mutex::default(),
            opened: AtomicU64::new(0),
            next_player_id: AtomicU32::new(1),
        }
    }

    /// Opens a room and starts its task. The lobby's lock is held by the caller (`rooms`).
    fn open(
        self: &Arc<Self>,
        rooms: &mut Rooms,
        io: &SocketIo,
        name: Option<String>,
        max_players: u32,
        tick_rate: u32,
    ) -> Arc<Room> {
        let ordinal = self.opened.fetch_add(1, Ordering::Relaxed);
        let mut id = base36(rand::random::<u64>(), 8);
        while rooms.by_id.contains_key(&id) {
            id = base36(rand::random::<u64>(), 8);
        }
        let room = Arc::new(Room {
            id: id.clone(),
            name: name.unwrap_or_else(|| format!("Room {}", ordinal + 1)),
            max_players,
            tick_rate,
            state: Mutex::new(RoomState::new(rand::random::<u64>())),
        });
        rooms.list.push(room.clone());
        rooms.by_id.insert(id, room.clone());
        // Golden-ratio phases: however many rooms there are, their ticks stay spread over the
        // period instead of every room sending at once.
        let period = 1.0 / f64::from(tick_rate);
        let phase = Duration::from_secs_f64((ordinal as f64 * 0.618_033_988_75).fract() * period);
        tokio::spawn(room::run(room.clone(), self.clone(), io.clone(), phase));
        room
    }

    /// `room:create`: a new room (nobody seated yet).
    pub fn create(
        self: &Arc<Self>,
        io: &SocketIo,
        name: Option<String>,
        max_players: u32,
        tick_rate: u32,
    ) -> Arc<Room> {
        let mut rooms = lock(&self.rooms);
        self.open(&mut rooms, io, name, max_players, tick_rate)
    }

    /// The open room `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Room>> {
        lock(&self.rooms).by_id.get(id).cloned()
    }

    /// `room:join {room_id}`: a seat in that room.
    pub fn join(
        &self,
        room: Arc<Room>,
        name: &str,
        socket: &SocketRef,
    ) -> Result<Seated, ErrorAck> {
        let mut state = lock(&room.state);
        if state.closed {
            return Err(ErrorAck::new(ErrorCode::RoomNotFound, "no such room"));
        }
        if state.seats() >= room.max_players {
            return Err(ErrorAck::new(ErrorCode::RoomFull, "every seat is taken"));
        }
        let ack = self.seat(&room, &mut state, name, socket);
        drop(state);
        Ok(Seated { room, ack })
    }

    /// `room:join` without an id: the fullest room with a free seat (the oldest on a tie), or a
    /// new one.
    pub fn quick_match(self: &Arc<Self>, io: &SocketIo, name: &str, socket: &SocketRef) -> Seated {
        let mut rooms = lock(&self.rooms);
        let mut best: Option<(u32, Arc<Room>)> = None;
        for room in &rooms.list {
            let state = lock(&room.state);
            let seats = state.seats();
            if !state.closed
                && seats < room.max_players
                && best.as_ref().is_none_or(|(most, _)| seats > *most)
            {
                best = Some((seats, room.clone()));
            }
        }
        if let Some((_, room)) = best {
            let mut state = lock(&room.state);
            // A `room:join {room_id}` (which does not take the lobby's lock) may have taken the
            // last seat since the scan.
            if !state.closed && state.seats() < room.max_players {
                let ack = self.seat(&room, &mut state, name, socket);
                drop(state);
                return Seated { room, ack };
            }
        }
        let room = self.open(&mut rooms, io, None, self.room_size, self.tick_rate);
        let mut state = lock(&room.state);
        let ack = self.seat(&room, &mut state, name, socket);
        drop(state);
        Seated { room, ack }
    }

    /// Seats a player in `room` (its state locked) and joins its connection to the room's
    /// broadcasts, under the lock: every tick after the ack's `tick` reaches it.
    fn seat(&self, room: &Room, state: &mut RoomState, name: &str, socket: &SocketRef) -> JoinAck {
        let player_id = self.next_player_id.fetch_add(1, Ordering::Relaxed);
        let token = self.token(room);
        state.seat(player_id, name.to_owned(), socket.id, token.clone());
        socket.join(room.id.clone());
        self.ack(room, state, player_id, token)
    }

    /// A rejoin token: `{room_id}.{32 hex digits}`.
    fn token(&self, room: &Room) -> String {
        format!(
            "{}.{:016x}{:016x}",
            room.id,
            rand::random::<u64>(),
            rand::random::<u64>()
        )
    }

    fn ack(&self, room: &Room, state: &RoomState, player_id: u32, token: String) -> JoinAck {
        JoinAck {
            ok: true,
            room: room.info(state),
            player_id,
            tick: state.tick,
            rejoin_token: token,
            members: state.members(),
            kinds: room::kinds(),
        }
    }

    /// `room:rejoin {token}`: the seat back, on connection `sid`. Returns the seat and the
    /// connection that held it until now, if it was still open (the caller closes it).
    pub fn rejoin(
        &self,
        token: &str,
        socket: &SocketRef,
    ) -> Result<(Seated, Option<Sid>), ErrorAck> {
        let expired = || ErrorAck::new(ErrorCode::RejoinExpired, "unknown or used token");
        let room_id = token.split('.').next().unwrap_or_default();
        let room = self.get(room_id).ok_or_else(expired)?;
        let new_token = self.token(&room);
        let mut state = lock(&room.state);
        if state.closed {
            return Err(expired());
        }
        let player = state
            .players
            .iter_mut()
            .find(|p| p.rejoin_token == token)
            .ok_or_else(expired)?;
        let previous = player.sid.replace(socket.id);
        player.held_until = None;
        player.rejoin_token = new_token.clone();
        let player_id = player.player_id;
        socket.join(room.id.clone());
        let ack = self.ack(&room, &state, player_id, new_token);
        drop(state);
        Ok((Seated { room, ack }, previous))
    }

    /// Closes `room` if still nobody is seated; true when it did.
    pub fn close_if_empty(&self, room: &Arc<Room>) -> bool {
        let mut rooms = lock(&self.rooms);
        let mut state = lock(&room.state);
        if !state.players.is_empty() {
            return false;
        }
        state.closed = true;
        rooms.by_id.remove(&room.id);
        rooms.list.retain(|r| !Arc::ptr_eq(r, room));
        true
    }

    /// What `/healthz` says: rooms open now (with their seats and tick), players, rooms opened
    /// since the start.
    pub fn health(&self) -> serde_json::Value {
        let rooms = lock(&self.rooms);
        let mut players = 0;
        let list: Vec<serde_json::Value> = rooms
            .list
            .iter()
            .map(|room| {
                let state = lock(&room.state);
                players += state.seats();
                serde_json::json!({ "id": room.id, "players": state.seats(), "tick": state.tick })
            })
            .collect();
        serde_json::json!({
            "status": "ok",
            "server": "tickstorm-bare",
            "rooms": list.len(),
            "players": players,
            "rooms_opened": self.opened.load(Ordering::Relaxed),
            "room_list": list,
        })
    }
}

/// `n` lowercase base-36 digits of `value`.
fn base36(mut value: u64, n: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..n)
        .map(|_| {
            let digit = DIGITS[(value % 36) as usize];
            value /= 36;
            char::from(digit)
        })
        .collect()
}
