//! What nodes say to each other on their Redis channels (`{prefix}:node:{id}`), as MessagePack
//! maps: requests from the node a player is connected to (the *edge*) to the node that runs the
//! room (the *owner*), the owner's replies, the owner's notices about seats it freed; and, on
//! `{prefix}:room:{id}`, the owner's snapshots and room events for the players connected through
//! the receiving node.
//!
//! A room's traffic goes only to the nodes that have players of it: a room whose players are all
//! on its owner sends nothing here. Events a player's own node broadcasts (`player:joined`,
//! `chat`, `player:typing`) still go through socketioxide's Redis adapter, to every node.

use serde::{Deserialize, Serialize};
use socketioxide::socket::Sid;
use tickstorm_shared::protocol::{CreateRoomRequest, InputAck, KindInfo, PlayerJoined};
use tickstorm_shared::{ErrorCode, PlayerId, RoomId, RoomInfo, Tick};

use crate::error::GameError;

/// A node's id in the cluster.
pub use crate::room::NodeId;

/// One message on a node's channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending node (replies go to its channel).
    pub from: NodeId,
    /// What it says.
    pub body: Body,
}

/// Requests, replies and notices.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Body {
    /// Asks the receiving node to do something; answered by a `Reply` with the same id.
    Request {
        /// Chosen by the sender, unique among its open requests.
        id: u64,
        /// What to do.
        request: NodeRequest,
    },
    /// The answer to a request.
    Reply {
        /// The request's id.
        id: u64,
        /// The outcome.
        result: Result<NodeReply, WireError>,
    },
    /// Tells a node that a seat one of its connections held is gone; not answered.
    Released(Release),
    /// Something the owner sends to every member of one of its rooms, for the receiving node to
    /// hand to its own members of that room; not answered.
    Room {
        /// The room (its broadcast room on the receiving node).
        room_id: RoomId,
        /// What to hand over.
        message: RoomMessage,
    },
}

/// What an owner sends to a room's members on another node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RoomMessage {
    /// A snapshot (always a keyframe: deltas are made only for the owner's own connections).
    Snapshot(bytes::Bytes),
    /// An event and its one argument.
    Event {
        /// The event's name.
        event: String,
        /// Its argument, as the owner serialized it.
        data: rmpv::Value,
    },
}

/// What an edge node asks a room's owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum NodeRequest {
    /// Create a room here (a draining node places new rooms elsewhere).
    Create(CreateRoomRequest),
    /// Seat a player (quick match on the owner when `room_id` is `None`).
    Join {
        /// The room, or quick match.
        room_id: Option<RoomId>,
        /// The game to quick match in, or the game the room must play.
        #[serde(default)]
        game: Option<String>,
        /// Display name.
        name: String,
        /// The player's connection on the edge node.
        sid: Sid,
    },
    /// Give a held seat back.
    Rejoin {
        /// The token from the join ack.
        token: String,
        /// The new connection on the edge node.
        sid: Sid,
    },
    /// One input, already rate limited by the edge.
    Input {
        /// Who.
        player_id: PlayerId,
        /// Their connection (must be the one holding the seat).
        sid: Sid,
        /// The input's `seq`.
        seq: u32,
        /// The game's input, MessagePack (validated on the edge, and again here).
        payload: bytes::Bytes,
    },
    /// The player left the room.
    Leave {
        /// Who.
        player_id: PlayerId,
        /// Their connection.
        sid: Sid,
    },
    /// The player's connection dropped: hold the seat.
    Disconnect {
        /// Who.
        player_id: PlayerId,
        /// The connection that dropped.
        sid: Sid,
    },
    /// The seats the sender's connections hold in the receiver's rooms, sent every heartbeat
    /// (a lease): the owner holds for rejoin any seat of the sender that is missing, and
    /// releases any listed seat it does not know. Messages between nodes can be lost (Redis
    /// pub/sub is at most once); this is what makes both sides agree again.
    Holding {
        /// `(player, connection, room)` for each seat.
        seats: Vec<(PlayerId, Sid, RoomId)>,
    },
    /// The connection of a player seated in one of the receiver's rooms (a whisper's target).
    Member {
        /// The room.
        room_id: RoomId,
        /// The player.
        player_id: PlayerId,
    },
}

/// A successful answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum NodeReply {
    /// The room created.
    Room(RoomInfo),
    /// A seat, for join and rejoin.
    Seat(SeatGrant),
    /// The input's ack.
    Input(InputAck),
    /// Done, nothing to say.
    Done,
    /// A player's connection (every connection is in the Socket.IO room named by its sid, on
    /// whichever node it is).
    Connection(Sid),
}

/// A seat granted by the owner, as the edge node needs it for the join ack.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeatGrant {
    /// The room, as it was when the seat was taken.
    pub room: RoomInfo,
    /// The player's id.
    pub player_id: PlayerId,
    /// The room's latest tick.
    pub tick: Tick,
    /// For `room:rejoin`.
    pub rejoin_token: String,
    /// Everyone seated.
    pub members: Vec<PlayerJoined>,
    /// The game's replicated kinds.
    #[serde(default)]
    pub kinds: Vec<KindInfo>,
}

/// A seat the owner freed on its own (room closed, player kicked, replaced by a rejoin): the
/// driver's [`Release`], sent to the node the connection is on.
pub use crate::room::Release;

/// An error as it crosses the wire: code and message, shown to the client unchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireError {
    /// The error code.
    pub code: ErrorCode,
    /// The message.
    pub message: String,
}

impl From<&GameError> for WireError {
    fn from(error: &GameError) -> Self {
        WireError {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

impl From<WireError> for GameError {
    fn from(error: WireError) -> Self {
        GameError::Relayed {
            code: error.code,
            message: error.message,
        }
    }
}

/// Encodes with field names, so optional fields the protocol types skip stay unambiguous.
pub fn encode(envelope: &Envelope) -> Vec<u8> {
    // Serializing these plain types into a Vec cannot fail.
    rmp_serde::to_vec_named(envelope).unwrap_or_default()
}

/// Decodes a message from another node.
pub fn decode(bytes: &[u8]) -> Result<Envelope, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_survive_the_wire() {
        let sent = Envelope {
            from: "node-a".into(),
            body: Body::Reply {
                id: 7,
                result: Ok(NodeReply::Input(InputAck {
                    ok: true,
                    seq: 3,
                    tick: 99,
                    stale: false,
                })),
            },
        };
        let got = decode(&encode(&sent)).expect("decodes");
        assert_eq!(got.from, "node-a");
        let Body::Reply {
            id: 7,
            result: Ok(NodeReply::Input(ack)),
        } = got.body
        else {
            panic!("wrong body: {:?}", got.body);
        };
        assert_eq!((ack.seq, ack.tick, ack.stale), (3, 99, false));
        assert!(decode(b"\x93garbage").is_err());
    }
}
