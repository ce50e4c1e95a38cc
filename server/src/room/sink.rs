//! [`RoomSink`]: how the room driver reaches the players, without knowing the network. The driver
//! says *what* (put this connection into the room's broadcasts, send this event to the room, free
//! that seat); the sink knows *how*: socketioxide and, in a cluster, the other nodes
//! (`cluster::sink::NetSink`). Tests use a sink that records what it was told.
//!
//! This keeps the layers one way: network edge -> cluster -> rooms -> simulation. Nothing in
//! `room/` names the network or the cluster (a test checks it).

use std::future::Future;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use socketioxide::socket::Sid;
use tickstorm_shared::protocol::{CloseReason, RoomClosed};
use tickstorm_shared::{PlayerId, RoomId};

use super::{Conn, NodeId, Recipients, Seat};

/// A seat the driver freed on its own (room closed, player kicked, replaced by a rejoin), as the
/// connection that held it must be told. Crosses the wire between nodes as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The connection that held it, on the node it is connected to.
    pub sid: Sid,
    /// The room.
    pub room_id: RoomId,
    /// Set when the room closed: the connection is told with `room:closed` (a connection to this
    /// node already heard the room's broadcast of it, so the driver leaves it unset for those).
    pub closed: Option<CloseReason>,
    /// Close the connection too (kick, or the seat moved to a newer connection).
    pub evict: bool,
}

/// The driver's way to the players of its rooms.
pub trait RoomSink: Send + Sync + 'static {
    /// Puts a connection to this node into the room's broadcasts (called in the step that seats
    /// it, so nobody seated later is missed).
    fn subscribe(&self, sid: Sid, room: &RoomId);

    /// Sends an event to every member of the room: this node's, and those connected through
    /// `remote`, the other nodes that hold a seat of the room (each named once). Nothing leaves
    /// the node when `remote` is empty.
    fn broadcast<T: Serialize + Sync>(
        &self,
        room: &RoomId,
        event: &'static str,
        data: &T,
        remote: &[NodeId],
    ) -> impl Future<Output = ()> + Send;

    /// Sends one snapshot payload (a keyframe or a delta, encoded once) to `to`: the room's
    /// members (this node's, and those of the `remote` nodes), all but some connections to this
    /// node, or just those.
    fn snapshot(
        &self,
        room: &RoomId,
        bytes: &Bytes,
        to: &Recipients,
        remote: &[NodeId],
    ) -> impl Future<Output = ()> + Send;

    /// Tells this node's members of a room that it closed (each member connected to another node
    /// is told by that node, when the driver's [`release`](Self::release) reaches it).
    fn room_closed_here(&self, closed: &RoomClosed) -> impl Future<Output = ()> + Send;

    /// Frees the seat a connection held: on this node, or through the node it is connected to.
    fn release(&self, conn: &Conn, release: Release);

    /// A seat was granted to a connection of another node: take that node's inputs for it.
    fn keep_remote_seat(&self, seat: &Seat, conn: &Conn);

    /// A seat held through another node is gone or held for rejoin: its inputs stop.
    fn forget_remote_seat(&self, player_id: PlayerId);
}
