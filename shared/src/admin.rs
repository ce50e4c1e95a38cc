//! The wire contract of namespace `/admin` (see `docs/protocol.md`): event names and the
//! payloads of the operator's requests. The pushed `metrics` sample is the server's own type.

use serde::{Deserialize, Serialize};

use crate::protocol::{PlayerId, RoomId, RoomInfo};

/// The namespace dashboards and operators connect to.
pub const ADMIN_NAMESPACE: &str = "/admin";

/// Event names of `/admin`.
pub mod events {
    /// client -> server: server metrics, error totals and every room with its members.
    pub const STATS: &str = "stats";
    /// client -> server: close a room (its players get `room:closed {reason: "admin"}`).
    pub const ROOM_CLOSE: &str = "room:close";
    /// client -> server: remove a player from its room and close its connection.
    pub const PLAYER_KICK: &str = "player:kick";
    /// client -> server: stop a room's recording (`record: false`), or ask for its name
    /// (`true`; refused for a room not recorded from its start).
    pub const ROOM_RECORD: &str = "room:record";
    /// server -> client, every second: the last second's metrics.
    pub const METRICS: &str = "metrics";
}

/// Handshake `auth` of `/admin`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AdminAuth {
    /// Must equal the server's admin token.
    pub token: Option<String>,
}

/// `room:close` payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloseRoomRequest {
    /// The room to close.
    pub room_id: RoomId,
}

/// `room:record` payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordRequest {
    /// The room.
    pub room_id: RoomId,
    /// `false` ends its recording; `true` answers its name.
    pub record: bool,
}

/// `room:record` ack: the recording's name (`null`: the room had none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordAck {
    /// Always `true` (failures are error acks).
    pub ok: bool,
    /// The recording's name (its files are `NAME.N.tsrec` in `--record-dir`).
    pub recording: Option<String>,
}

/// `player:kick` payload.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct KickRequest {
    /// The player to remove.
    pub player_id: PlayerId,
}

/// One seated player, as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Public id.
    pub player_id: PlayerId,
    /// Display name.
    pub name: String,
    /// Score in this room.
    pub score: u32,
    /// False while the seat is held for a dropped connection.
    pub connected: bool,
}

/// A room with its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomDetail {
    /// The public room description.
    #[serde(flatten)]
    pub info: RoomInfo,
    /// Members in join order.
    pub members: Vec<MemberInfo>,
    /// The name of the room's recording while it is recorded (`--record-dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
}
