//! The wire contract of namespace `/game` (see `docs/protocol.md`): event names, client payloads,
//! acknowledgement bodies, server event payloads and error codes. All are plain serde types, so
//! they travel identically through the default (JSON) and the msgpack Socket.IO parsers.

use serde::{Deserialize, Serialize};

/// A simulation tick number. Tick 0 is the room's initial state; the first step produces tick 1.
pub type Tick = u64;
/// A player's id, unique within one server process for its lifetime.
pub type PlayerId = u32;
/// A room's id: short, URL-safe and also used as the Socket.IO room name.
pub type RoomId = String;

/// The namespace every game client connects to.
pub const GAME_NAMESPACE: &str = "/game";

/// Event names, as constants so that server, clients and tests cannot drift apart.
pub mod events {
    /// client -> server: list open rooms.
    pub const LOBBY_LIST: &str = "lobby:list";
    /// client -> server: create a room.
    pub const ROOM_CREATE: &str = "room:create";
    /// client -> server: join a room, or quick match.
    pub const ROOM_JOIN: &str = "room:join";
    /// client -> server: leave the current room.
    pub const ROOM_LEAVE: &str = "room:leave";
    /// client -> server: take back a seat after a disconnect.
    pub const ROOM_REJOIN: &str = "room:rejoin";
    /// client -> server: movement input.
    pub const INPUT: &str = "input";
    /// both directions: chat message.
    pub const CHAT: &str = "chat";
    /// client -> server: clock sync.
    pub const TIME: &str = "time";
    /// server -> client: binary snapshot (keyframe or delta), every sent tick.
    pub const SNAPSHOT: &str = "snapshot";
    /// client -> server: the newest snapshot tick the client holds (its delta baseline).
    pub const SNAPSHOT_ACK: &str = "snapshot:ack";
    /// server -> client: someone took a seat in your room.
    pub const PLAYER_JOINED: &str = "player:joined";
    /// server -> client: someone left your room.
    pub const PLAYER_LEFT: &str = "player:left";
    /// server -> client: your room is gone.
    pub const ROOM_CLOSED: &str = "room:closed";
    /// server -> client: the server is about to close this connection, and why.
    pub const CONNECTION_CLOSING: &str = "connection:closing";
    /// both directions: a private message to one member of your room.
    pub const CHAT_WHISPER: &str = "chat:whisper";
    /// client -> server: the player started or stopped typing.
    pub const CHAT_TYPING: &str = "chat:typing";
    /// server -> client: another member of your room started or stopped typing.
    pub const PLAYER_TYPING: &str = "player:typing";
    /// client -> server: who is online (cluster-wide with Redis).
    pub const LOBBY_ONLINE: &str = "lobby:online";
    /// server -> client: a notice from the server's operators (HTTP API).
    pub const NOTICE: &str = "notice";
}

/// Limits that the protocol itself defines.
pub mod limits {
    /// Longest player name, in characters, after trimming.
    pub const NAME_MAX_CHARS: usize = 24;
    /// Longest room name, in characters, after trimming.
    pub const ROOM_NAME_MAX_CHARS: usize = 32;
    /// Longest chat message, in characters.
    pub const CHAT_MAX_CHARS: usize = 200;
    /// Longest operator notice, in characters.
    pub const NOTICE_MAX_CHARS: usize = 500;
    /// How long a `player:typing {typing: true}` holds at its receivers without a repeat, in
    /// milliseconds: a client still typing repeats it at least every 3 s, and a client that
    /// hears nothing more treats the player as no longer typing.
    pub const TYPING_HOLD_MS: u64 = 5_000;
    /// Largest `max_players` a room may ask for.
    pub const MAX_PLAYERS_CAP: u32 = 256;
    /// Largest `view_radius` a room may ask for.
    pub const VIEW_RADIUS_CAP: f32 = 1.0e6;

    /// Whether `radius` is a view radius a room may have: a number above 0, at most the cap.
    pub fn valid_view_radius(radius: f32) -> bool {
        radius.is_finite() && radius > 0.0 && radius <= VIEW_RADIUS_CAP
    }
    /// Largest `tick_rate` (Hz) a room may ask for.
    pub const TICK_RATE_CAP: u32 = 128;
}

/// Error codes carried in `{ok: false, error: {code, message}}` acks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The payload is malformed or out of range.
    BadRequest,
    /// Missing or invalid credentials.
    Unauthorized,
    /// Too many requests; slow down.
    RateLimited,
    /// The event needs a seat in a room and the player has none.
    NotInRoom,
    /// The player already has a seat and must leave first.
    AlreadyInRoom,
    /// No room with that id.
    RoomNotFound,
    /// Every seat of the room is taken.
    RoomFull,
    /// The rejoin token is unknown or its grace period is over.
    RejoinExpired,
    /// The server refuses more load.
    ServerFull,
    /// A server-side fault; nothing was changed.
    Internal,
    /// The node that runs the room cannot be reached right now (scale-out only); nothing was
    /// changed, try again.
    Unavailable,
    /// No game of that name is registered on this server.
    GameNotFound,
    /// No such player is seated (and connected, for a whisper) where the request says.
    PlayerNotFound,
}

impl ErrorCode {
    /// Every code, in the order of the protocol's table.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::RateLimited,
        ErrorCode::NotInRoom,
        ErrorCode::AlreadyInRoom,
        ErrorCode::RoomNotFound,
        ErrorCode::RoomFull,
        ErrorCode::RejoinExpired,
        ErrorCode::ServerFull,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
        ErrorCode::GameNotFound,
        ErrorCode::PlayerNotFound,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::AlreadyInRoom => "already_in_room",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::RejoinExpired => "rejoin_expired",
            ErrorCode::ServerFull => "server_full",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::GameNotFound => "game_not_found",
            ErrorCode::PlayerNotFound => "player_not_found",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Handshake `auth` of namespace `/game`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GameAuth {
    /// Display name, 1..=24 characters after trimming, no control characters.
    #[serde(default)]
    pub name: Option<String>,
    /// A signed token, required only when the server has an auth secret.
    #[serde(default)]
    pub token: Option<String>,
}

/// `room:create` payload.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateRoomRequest {
    /// The game the room plays; the server's default game when absent.
    #[serde(default)]
    pub game: Option<String>,
    /// The game's own create options (a map); the game's defaults when absent.
    #[serde(default)]
    pub options: Option<serde_json::Value>,
    /// Display name of the room; a default is chosen when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Seats, 1..=256; the server default when absent.
    #[serde(default)]
    pub max_players: Option<u32>,
    /// Simulation rate in Hz, 1..=128; the server default when absent.
    #[serde(default)]
    pub tick_rate: Option<u32>,
    /// Snapshots per second, 1..=tick_rate; the tick rate when absent.
    #[serde(default)]
    pub send_rate: Option<u32>,
    /// Players see positioned entities only within this distance of their own (> 0); everyone
    /// sees everything when absent.
    #[serde(default)]
    pub view_radius: Option<f32>,
    /// Whether the room is recorded (`--record-dir`); the server's `--record` when absent.
    /// Only the HTTP API may set it (`room:create` refuses it: recordings use the server's
    /// disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<bool>,
}

/// `room:join` payload; no `room_id` means quick match.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JoinRoomRequest {
    /// The room to join.
    #[serde(default)]
    pub room_id: Option<RoomId>,
    /// Quick match among rooms of this game (the default game when absent); with `room_id`, the
    /// room must play it.
    #[serde(default)]
    pub game: Option<String>,
}

/// `room:rejoin` payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejoinRequest {
    /// The `rejoin_token` from an earlier join ack.
    pub token: String,
}

/// `chat` payload from a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatRequest {
    /// 1..=200 characters.
    pub text: String,
}

/// `chat:whisper` payload from a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WhisperRequest {
    /// The member of the sender's room it is for.
    pub to: PlayerId,
    /// 1..=200 characters, as for `chat`.
    pub text: String,
}

/// `chat:typing` payload from a client.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TypingRequest {
    /// Whether the player is typing now.
    pub typing: bool,
}

/// `snapshot:ack` payload, and the framework's own field of every `input`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct BaselineAck {
    /// The newest snapshot tick the client has fully applied (0: none, send keyframes).
    pub tick: u64,
}

/// The framework's fields of an `input`, next to the game's own.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct InputFrame {
    /// The client's delta baseline (see `snapshot:ack`).
    #[serde(default)]
    pub baseline: Option<u64>,
}

/// `time` payload.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TimeRequest {
    /// The client's clock, echoed back.
    pub client_time: f64,
}

/// Public description of a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// Room id.
    pub id: RoomId,
    /// Display name.
    pub name: String,
    /// Seats taken (including players inside their rejoin grace period).
    pub players: u32,
    /// Seats in all.
    pub max_players: u32,
    /// Simulation rate in Hz.
    pub tick_rate: u32,
    /// Snapshots per second (0 from a server before send rates: the tick rate).
    #[serde(default)]
    pub send_rate: u32,
    /// The room's view radius, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_radius: Option<f32>,
    /// The game the room plays.
    #[serde(default)]
    pub game: String,
    /// What the game tells the lobby about the room (any JSON value; null when it says nothing).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub metadata: serde_json::Value,
}

/// The `error` member of a failed ack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
}

/// A failed ack: `{ok: false, error: {code, message}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAck {
    /// Always false.
    pub ok: bool,
    /// What went wrong.
    pub error: ErrorBody,
}

impl ErrorAck {
    /// Builds a failed ack.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            ok: false,
            error: ErrorBody {
                code,
                message: message.into(),
            },
        }
    }
}

/// A bare success ack: `{ok: true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OkAck {
    /// Always true.
    pub ok: bool,
}

impl OkAck {
    /// `{ok: true}`.
    pub const OK: OkAck = OkAck { ok: true };
}

/// Ack of `lobby:list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LobbyAck {
    /// Always true.
    pub ok: bool,
    /// Rooms, most recently created last.
    pub rooms: Vec<RoomInfo>,
}

/// Ack of `lobby:online`: who is online on this server (every node of a cluster).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineAck {
    /// Always true.
    pub ok: bool,
    /// Seats taken in every room (players in their rejoin grace period included).
    pub players: usize,
    /// Open `/game` connections, seated or not.
    pub connections: usize,
    /// Seats taken per game, for every game hosted (0 when nobody plays it).
    pub games: std::collections::BTreeMap<String, usize>,
}

/// Ack of `room:create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateRoomAck {
    /// Always true.
    pub ok: bool,
    /// The new room.
    pub room: RoomInfo,
}

/// Ack of `room:join` and `room:rejoin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinAck {
    /// Always true.
    pub ok: bool,
    /// The room joined.
    pub room: RoomInfo,
    /// Your player id in snapshots.
    pub player_id: PlayerId,
    /// The room's latest completed tick.
    pub tick: Tick,
    /// Present this with `room:rejoin` after a disconnect to keep your seat.
    pub rejoin_token: String,
    /// Everyone seated in the room at the time of joining, you included, in join order: the
    /// names that snapshots (ids only) leave out. Later arrivals come as `player:joined`.
    #[serde(default)]
    pub members: Vec<PlayerJoined>,
    /// The game's replicated kinds, in snapshot table order: how to read the snapshot's tables.
    #[serde(default)]
    pub kinds: Vec<KindInfo>,
}

/// One replicated kind, as the join ack announces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindInfo {
    /// The kind's name.
    pub name: String,
    /// Its fields after `net_id`, in row order.
    pub fields: Vec<String>,
    /// Per field, how deltas send it: `0` exact, else quantized to this power of two. Absent
    /// (a server before deltas): every field exact.
    #[serde(default)]
    pub precision: Vec<f64>,
    /// The fields holding the entity's `x` and `y`, when the kind is subject to visibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<[usize; 2]>,
}

impl KindInfo {
    /// How deltas code this kind (a missing or short `precision` list means exact fields).
    pub fn coding(&self) -> crate::delta::KindCoding {
        let mut precision = self.precision.clone();
        precision.resize(self.fields.len(), 0.0);
        crate::delta::KindCoding {
            precision,
            position: self.position,
        }
    }
}

/// The delta layout of a room from its join ack's `kinds`.
pub fn delta_layout(kinds: &[KindInfo]) -> Vec<crate::delta::KindCoding> {
    kinds.iter().map(KindInfo::coding).collect()
}

/// Ack of `input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputAck {
    /// Always true.
    pub ok: bool,
    /// The acknowledged sequence number.
    pub seq: u32,
    /// The tick at which the input applies (for a stale input: the next tick, where it does not).
    pub tick: Tick,
    /// Set when a higher `seq` was already received; this input was dropped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// Ack of `time`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TimeAck {
    /// Always true.
    pub ok: bool,
    /// Echo of the request.
    pub client_time: f64,
    /// Server clock, unix milliseconds.
    pub server_time: u64,
}

/// `player:joined` server event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerJoined {
    /// The new player's id.
    pub player_id: PlayerId,
    /// Their display name.
    pub name: String,
}

/// Why a player left a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// Sent `room:leave`.
    Left,
    /// Lost the connection (the seat is held for the grace period).
    Disconnected,
    /// The grace period ran out.
    Timeout,
    /// Removed by an admin.
    Kicked,
}

/// `player:left` server event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerLeft {
    /// Who left.
    pub player_id: PlayerId,
    /// Why.
    pub reason: LeaveReason,
}

/// `player:typing` server event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerTyping {
    /// Who.
    pub player_id: PlayerId,
    /// Typing now (a `true` holds for [`limits::TYPING_HOLD_MS`] unless repeated).
    pub typing: bool,
}

/// `notice` server event: a message from the server's operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// 1..=500 characters.
    pub text: String,
    /// `info`, `warning` or `critical`.
    pub level: NoticeLevel,
}

/// How a client should show a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeLevel {
    /// For information (the default).
    #[default]
    Info,
    /// Something players should act on (e.g. a restart soon).
    Warning,
    /// Something happening now.
    Critical,
}

/// `chat` server event (also `chat:whisper`, to its one receiver).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Sender.
    pub player_id: PlayerId,
    /// Sender's name.
    pub name: String,
    /// The message.
    pub text: String,
    /// Server clock, unix milliseconds.
    pub time: u64,
}

/// Why a room was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Nobody played in it for the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
    /// Closed by an admin.
    Admin,
    /// The simulation failed; the server lives on.
    Internal,
    /// The node that ran the room stopped answering (scale-out only): join another room.
    NodeLost,
}

/// `connection:closing` server event: sent just before the server closes a connection itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionClosing {
    /// Machine-readable reason, e.g. `rate_limited`.
    pub reason: std::borrow::Cow<'static, str>,
    /// Human-readable explanation.
    pub message: String,
}

/// `room:closed` server event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomClosed {
    /// The room that closed.
    pub room_id: RoomId,
    /// Why.
    pub reason: CloseReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_ack_has_the_documented_shape() {
        let v = serde_json::to_value(ErrorAck::new(ErrorCode::RoomFull, "full")).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"ok": false, "error": {"code": "room_full", "message": "full"}})
        );
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::RejoinExpired,
            ErrorCode::ServerFull,
        ] {
            assert_eq!(
                serde_json::to_value(code).expect("json"),
                serde_json::json!(code.as_str())
            );
        }
    }

    #[test]
    fn stale_flag_only_appears_when_set() {
        let fresh = InputAck {
            ok: true,
            seq: 3,
            tick: 9,
            stale: false,
        };
        assert_eq!(
            serde_json::to_value(fresh).expect("json"),
            serde_json::json!({"ok": true, "seq": 3, "tick": 9})
        );
        let stale = InputAck {
            stale: true,
            ..fresh
        };
        assert_eq!(
            serde_json::to_value(stale).expect("json")["stale"],
            serde_json::json!(true)
        );
    }
}
