//! The `/game` namespace of the bare server: the handshake and one ordinary socketioxide async
//! handler per event the swarm bot uses (`room:create`, `room:join`, `room:rejoin`, `input`,
//! `chat`), each answering with one ack of Tickstorm's shapes, and the disconnect (the seat is held
//! for a rejoin). Other events have no handler (a client asking for their ack waits in vain).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use tickstorm_shared::ErrorCode;
use tickstorm_shared::protocol::{
    ChatMessage, ChatRequest, CreateRoomAck, CreateRoomRequest, ErrorAck, GAME_NAMESPACE, GameAuth,
    InputAck, JoinRoomRequest, LeaveReason, OkAck, PlayerJoined, PlayerLeft, RejoinRequest, events,
    limits,
};
use tokio::time::Instant;

use crate::lobby::{Lobby, Seated};
use crate::room::{self, Room, lock};

/// A connection's player: its name and its seat.
#[derive(Debug)]
pub struct Session {
    name: String,
    seat: Mutex<Option<Seat>>,
}

/// Where a connection sits.
#[derive(Debug, Clone)]
struct Seat {
    room: Arc<Room>,
    player_id: u32,
}

/// `input` payload (the orb arena's); a `baseline` or other fields are ignored.
#[derive(Debug, Deserialize)]
struct Input {
    seq: u32,
    #[serde(rename = "move")]
    movement: [f32; 2],
}

fn bad_request(what: &str, error: impl std::fmt::Display) -> ErrorAck {
    ErrorAck::new(ErrorCode::BadRequest, format!("{what}: {error}"))
}

fn not_in_room() -> ErrorAck {
    ErrorAck::new(ErrorCode::NotInRoom, "join a room first")
}

/// Refuses a request that names a game other than the one this server plays.
fn only_our_game(game: Option<&str>) -> Result<(), ErrorAck> {
    match game {
        Some(game) if game != room::GAME => Err(ErrorAck::new(
            ErrorCode::GameNotFound,
            format!("this server only hosts {}", room::GAME),
        )),
        _ => Ok(()),
    }
}

/// Sends the ack, `{ok: true, ...}` or `{ok: false, error}`.
fn reply<T: Serialize>(ack: AckSender, result: Result<T, ErrorAck>) {
    let _ = match result {
        Ok(body) => ack.send(&body),
        Err(error) => ack.send(&error),
    };
}

/// The connect middleware: checks `auth.name` (trimmed, 1..=24 characters, no control
/// characters), creates the session and registers the handlers. A refusal reaches the client as
/// `connect_error` with the reason.
pub async fn handshake(socket: SocketRef, TryData(auth): TryData<GameAuth>) -> Result<(), String> {
    let auth =
        auth.map_err(|e| format!("auth must be an object like {{\"name\": \"ana\"}}: {e}"))?;
    let name = auth.name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty()
        || name.chars().count() > limits::NAME_MAX_CHARS
        || name.chars().any(char::is_control)
    {
        return Err("auth.name is required (1 to 24 characters, no control characters)".into());
    }
    socket.extensions.insert(Arc::new(Session {
        name: name.to_owned(),
        seat: Mutex::new(None),
    }));
    socket.on(events::ROOM_CREATE, room_create);
    socket.on(events::ROOM_JOIN, room_join);
    socket.on(events::ROOM_REJOIN, room_rejoin);
    socket.on(events::INPUT, input);
    socket.on(events::CHAT, chat);
    socket.on_disconnect(disconnected);
    Ok(())
}

/// `room:create {game?, name?, max_players?, tick_rate?}`: a room, nobody seated.
async fn room_create(
    io: SocketIo,
    ack: AckSender,
    State(lobby): State<Arc<Lobby>>,
    TryData(data): TryData<Option<CreateRoomRequest>>,
) {
    let result = (|| {
        let request = data
            .map_err(|e| bad_request("room:create", e))?
            .unwrap_or_default();
        only_our_game(request.game.as_deref())?;
        let max_players = request.max_players.unwrap_or(lobby.room_size);
        let tick_rate = request.tick_rate.unwrap_or(lobby.tick_rate);
        if !(1..=limits::MAX_PLAYERS_CAP).contains(&max_players)
            || !(1..=limits::TICK_RATE_CAP).contains(&tick_rate)
        {
            return Err(bad_request(
                "room:create",
                "max_players or tick_rate out of range",
            ));
        }
        let name = request.name.map(|n| n.trim().to_owned());
        if name
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.chars().count() > limits::ROOM_NAME_MAX_CHARS)
        {
            return Err(bad_request(
                "room:create",
                "name must be 1 to 32 characters",
            ));
        }
        let room = lobby.create(&io, name, max_players, tick_rate);
        let info = room.info(&lock(&room.state));
        Ok(CreateRoomAck {
            ok: true,
            room: info,
        })
    })();
    reply(ack, result);
}

/// Tells the room's other members who arrived, then answers the join (or rejoin).
async fn seated(socket: &SocketRef, session: &Session, ack: AckSender, seated: Seated) {
    let joined = PlayerJoined {
        player_id: seated.ack.player_id,
        name: session.name.clone(),
    };
    let _ = socket
        .to(seated.room.id.clone())
        .emit(events::PLAYER_JOINED, &joined)
        .await;
    let _ = ack.send(&seated.ack);
}

/// `room:join {room_id}` or quick match (`{}`, `{game}`).
async fn room_join(
    socket: SocketRef,
    io: SocketIo,
    ack: AckSender,
    State(lobby): State<Arc<Lobby>>,
    Extension(session): Extension<Arc<Session>>,
    TryData(data): TryData<Option<JoinRoomRequest>>,
) {
    let result = (|| {
        let request = data
            .map_err(|e| bad_request("room:join", e))?
            .unwrap_or_default();
        only_our_game(request.game.as_deref())?;
        let mut seat = lock(&session.seat);
        if seat.is_some() {
            return Err(ErrorAck::new(
                ErrorCode::AlreadyInRoom,
                "leave your room first",
            ));
        }
        let taken = match request.room_id {
            Some(id) => {
                let room = lobby
                    .get(&id)
                    .ok_or_else(|| ErrorAck::new(ErrorCode::RoomNotFound, "no such room"))?;
                lobby.join(room, &session.name, &socket)?
            }
            None => lobby.quick_match(&io, &session.name, &socket),
        };
        *seat = Some(Seat {
            room: taken.room.clone(),
            player_id: taken.ack.player_id,
        });
        Ok(taken)
    })();
    match result {
        Ok(taken) => seated(&socket, &session, ack, taken).await,
        Err(error) => reply::<()>(ack, Err(error)),
    }
}

/// `room:rejoin {token}`: the seat held since a disconnect (or still open on another connection,
/// which is then closed).
async fn room_rejoin(
    socket: SocketRef,
    io: SocketIo,
    ack: AckSender,
    State(lobby): State<Arc<Lobby>>,
    Extension(session): Extension<Arc<Session>>,
    TryData(data): TryData<RejoinRequest>,
) {
    let result = (|| {
        let request = data.map_err(|e| bad_request("room:rejoin", e))?;
        let mut seat = lock(&session.seat);
        if seat.is_some() {
            return Err(ErrorAck::new(
                ErrorCode::AlreadyInRoom,
                "leave your room first",
            ));
        }
        let (taken, previous) = lobby.rejoin(&request.token, &socket)?;
        *seat = Some(Seat {
            room: taken.room.clone(),
            player_id: taken.ack.player_id,
        });
        Ok((taken, previous))
    })();
    match result {
        Ok((taken, previous)) => {
            if let Some(old) = previous.filter(|old| *old != socket.id)
                && let Some(old) = io.of(GAME_NAMESPACE).and_then(|ns| ns.get_socket(old))
            {
                let _ = old.disconnect();
            }
            seated(&socket, &session, ack, taken).await;
        }
        Err(error) => reply::<()>(ack, Err(error)),
    }
}

/// `input {seq, move: [x, y]}`: queued for the room's next tick, acked with that tick.
async fn input(
    ack: AckSender,
    Extension(session): Extension<Arc<Session>>,
    TryData(data): TryData<Input>,
) {
    let result = (|| {
        let seat = lock(&session.seat).clone().ok_or_else(not_in_room)?;
        let input = data.map_err(|e| bad_request("input", e))?;
        let [x, y] = input.movement;
        if !x.is_finite() || !y.is_finite() {
            return Err(bad_request("input", "move must be finite"));
        }
        let (x, y) = (x.clamp(-1.0, 1.0), y.clamp(-1.0, 1.0));
        let length = x.hypot(y).max(1.0);
        let mut state = lock(&seat.room.state);
        let tick = state.tick + 1;
        let player = state.player_mut(seat.player_id).ok_or_else(not_in_room)?;
        let stale = input.seq <= player.received_seq;
        if !stale {
            player.received_seq = input.seq;
            player.movement = [x / length, y / length];
        }
        Ok(InputAck {
            ok: true,
            seq: input.seq,
            tick,
            stale,
        })
    })();
    reply(ack, result);
}

/// `chat {text}`: to the whole room, sender included.
async fn chat(
    socket: SocketRef,
    ack: AckSender,
    Extension(session): Extension<Arc<Session>>,
    TryData(data): TryData<ChatRequest>,
) {
    let result = (|| {
        let seat = lock(&session.seat).clone().ok_or_else(not_in_room)?;
        let text = data.map_err(|e| bad_request("chat", e))?.text;
        let text = text.trim();
        if text.is_empty()
            || text.chars().count() > limits::CHAT_MAX_CHARS
            || text.chars().any(char::is_control)
        {
            return Err(bad_request("chat", "text must be 1 to 200 characters"));
        }
        let message = ChatMessage {
            player_id: seat.player_id,
            name: session.name.clone(),
            text: text.to_owned(),
            time: room::unix_ms(),
        };
        Ok((seat.room, message))
    })();
    match result {
        Ok((room, message)) => {
            let _ = socket
                .within(room.id.clone())
                .emit(events::CHAT, &message)
                .await;
            reply(ack, Ok(OkAck::OK));
        }
        Err(error) => reply::<()>(ack, Err(error)),
    }
}

/// A dropped connection: its seat is held for [`room::REJOIN_GRACE`] (the room's task gives it
/// up after), and the room hears `player:left {reason: "disconnected"}`.
async fn disconnected(
    socket: SocketRef,
    io: SocketIo,
    Extension(session): Extension<Arc<Session>>,
) {
    let Some(seat) = lock(&session.seat).take() else {
        return;
    };
    let held = {
        let mut state = lock(&seat.room.state);
        match state.player_mut(seat.player_id) {
            // Not when a rejoin already moved the seat to another connection.
            Some(player) if player.sid == Some(socket.id) => {
                player.sid = None;
                player.held_until = Some(Instant::now() + room::REJOIN_GRACE);
                true
            }
            _ => false,
        }
    };
    if held && let Some(ns) = io.of(GAME_NAMESPACE) {
        let left = PlayerLeft {
            player_id: seat.player_id,
            reason: LeaveReason::Disconnected,
        };
        let _ = ns
            .to(seat.room.id.clone())
            .emit(events::PLAYER_LEFT, &left)
            .await;
    }
}
