//! `RoomHub`: the network layer's handle on the room driver, and the `RoomCmd` it sends.

use std::sync::Arc;

use bevy_ecs::entity::Entity;
use socketioxide::socket::Sid;
use tickstorm_shared::admin::RoomDetail;
use tickstorm_shared::protocol::{CloseReason, CreateRoomRequest, LeaveReason, PlayerJoined};
use tickstorm_shared::{PlayerId, RoomId, RoomInfo, Tick};
use tokio::sync::{mpsc, oneshot};

use super::RoomDirectory;
use crate::error::GameError;
use tickstorm_shared::protocol::KindInfo;
use tickstorm_sim::InputPort;

/// A seat in a room, as handed to the connection that holds it.
#[derive(Debug, Clone)]
pub struct Seat {
    /// The room, as it was when the seat was taken.
    pub room: RoomInfo,
    /// The player's public id.
    pub player_id: PlayerId,
    /// Where the room runs, and so where inputs go.
    pub link: SeatLink,
    /// The room's latest completed tick at the time of joining.
    pub tick: Tick,
    /// Token for `room:rejoin` after a disconnect.
    pub rejoin_token: String,
    /// Everyone seated in the room (this player included), in join order.
    pub members: Vec<PlayerJoined>,
    /// The room's game's replicated kinds (how to read its snapshots).
    pub kinds: Vec<KindInfo>,
}

/// Where a seat's room runs.
#[derive(Debug, Clone)]
pub enum SeatLink {
    /// On this node: inputs go straight into the room's queue.
    Local {
        /// The player's entity in the simulation (inputs are queued by entity).
        player: Entity,
        /// The room's input queue (typed by its game; see `net::input`).
        inputs: Arc<dyn InputPort>,
        /// Where the connection's word on its delta baseline goes (`baseline` in inputs,
        /// `snapshot:ack`); a rejoin starts a new one.
        baseline: Arc<super::replica::Baseline>,
    },
    /// On another node of the cluster: inputs and seat changes are sent to it.
    Remote {
        /// The node that runs the room.
        owner: NodeId,
    },
}

/// The connection that holds (or asks for) a seat: its id, and the node it is connected to
/// when that is not this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    /// The Socket.IO session id (unique across nodes).
    pub sid: Sid,
    /// `None` for a connection to this node.
    pub node: Option<NodeId>,
}

impl Conn {
    /// A connection to this node.
    pub fn local(sid: Sid) -> Self {
        Conn { sid, node: None }
    }
}

/// A node's id in a cluster (`--node-id`).
pub type NodeId = String;

type Reply<T> = oneshot::Sender<Result<T, GameError>>;

/// Everything the room driver can be asked to do.
#[derive(Debug)]
pub enum RoomCmd {
    /// Create a room (payload already validated; absent fields take the server defaults).
    Create {
        /// Requested settings.
        request: CreateRoomRequest,
        /// Where the answer goes.
        reply: Reply<RoomInfo>,
    },
    /// Stop a room's recording (`record: false`), or ask for it (`true`); answers the
    /// recording's name.
    Record {
        /// The room.
        room_id: RoomId,
        /// Whether it should be recorded.
        record: bool,
        /// Where the answer goes.
        reply: Reply<Option<String>>,
    },
    /// Seat a new player in `room_id`, or quick match when `None`.
    Join {
        /// The room, or quick match.
        room_id: Option<RoomId>,
        /// The game to quick match in (the default game when `None`); with `room_id`, the game
        /// the room must play.
        game: Option<String>,
        /// Display name.
        name: String,
        /// The connection that will hold the seat.
        conn: Conn,
        /// Where the answer goes.
        reply: Reply<Seat>,
    },
    /// Give a held seat back to a reconnected player.
    Rejoin {
        /// The token from the join ack.
        token: String,
        /// The new connection.
        conn: Conn,
        /// Where the answer goes.
        reply: Reply<Seat>,
    },
    /// Free a player's seat now.
    Leave {
        /// Who.
        player_id: PlayerId,
        /// Why (`left` or `kicked`).
        reason: LeaveReason,
    },
    /// A connection holding a seat dropped: hold the seat for the grace period.
    Disconnect {
        /// Who.
        player_id: PlayerId,
        /// The connection that dropped (ignored if the seat has moved to another one).
        sid: Sid,
    },
    /// An admin removes a player: seat freed, connection closed, room told `kicked`.
    Kick {
        /// Who.
        player_id: PlayerId,
        /// Where the answer goes (`PlayerNotFound` when nobody has that id).
        reply: Reply<()>,
    },
    /// Make a room's next tick panic (fault-containment tests; not reachable from the network).
    #[doc(hidden)]
    InjectFault {
        /// Which room.
        room_id: RoomId,
        /// Where the answer goes.
        reply: Reply<()>,
    },
    /// Stop taking new rooms; close rooms as they empty (a draining node of a cluster).
    Drain,
    /// Another node is gone: the seats its connections held are held for rejoin, like any
    /// dropped connection's.
    NodeLost {
        /// The lost node.
        node: NodeId,
    },
    /// The connection of a player seated in a room, if it is connected (whispers).
    Member {
        /// The room.
        room_id: RoomId,
        /// The player.
        player_id: PlayerId,
        /// Where the answer goes (`PlayerNotFound` when not seated there or disconnected).
        reply: Reply<Conn>,
    },
    /// Every room with its members, for the admin's room table.
    Details {
        /// Where the answer goes.
        reply: Reply<Vec<RoomDetail>>,
    },
    /// Close a room and free its seats.
    Close {
        /// Which room.
        room_id: RoomId,
        /// Why.
        reason: CloseReason,
        /// Where the answer goes.
        reply: Reply<()>,
    },
}

/// Cheap, cloneable handle on the room driver.
#[derive(Debug, Clone)]
pub struct RoomHub {
    commands: mpsc::UnboundedSender<RoomCmd>,
    directory: Arc<RoomDirectory>,
}

/// The driver's end of a [`RoomHub`]: the command receiver and the directory it publishes to.
#[derive(Debug)]
pub struct HubInbox {
    pub(super) commands: mpsc::UnboundedReceiver<RoomCmd>,
    pub(super) directory: Arc<RoomDirectory>,
}

impl RoomHub {
    /// A hub and the inbox to give to [`spawn_driver`](super::spawn_driver).
    pub fn channel() -> (RoomHub, HubInbox) {
        let (commands, receiver) = mpsc::unbounded_channel();
        let directory = Arc::new(RoomDirectory::default());
        (
            RoomHub {
                commands,
                directory: directory.clone(),
            },
            HubInbox {
                commands: receiver,
                directory,
            },
        )
    }

    /// The published room list and counts.
    pub fn directory(&self) -> &RoomDirectory {
        &self.directory
    }

    /// Creates a room.
    pub async fn create(&self, request: CreateRoomRequest) -> Result<RoomInfo, GameError> {
        self.ask(|reply| RoomCmd::Create { request, reply }).await
    }

    /// Joins a room, or quick matches when `room_id` is `None`.
    pub async fn join(
        &self,
        room_id: Option<RoomId>,
        game: Option<String>,
        name: String,
        conn: Conn,
    ) -> Result<Seat, GameError> {
        self.ask(|reply| RoomCmd::Join {
            room_id,
            game,
            name,
            conn,
            reply,
        })
        .await
    }

    /// Takes back a held seat.
    pub async fn rejoin(&self, token: String, conn: Conn) -> Result<Seat, GameError> {
        self.ask(|reply| RoomCmd::Rejoin { token, conn, reply })
            .await
    }

    /// Starts draining: no new rooms, rooms close as they empty.
    pub fn drain(&self) {
        self.send(RoomCmd::Drain);
    }

    /// Reports a lost node.
    pub fn node_lost(&self, node: NodeId) {
        self.send(RoomCmd::NodeLost { node });
    }

    /// Closes a room.
    pub async fn close(&self, room_id: RoomId, reason: CloseReason) -> Result<(), GameError> {
        self.ask(|reply| RoomCmd::Close {
            room_id,
            reason,
            reply,
        })
        .await
    }

    /// Stops a room's recording (`record: false`) or asks which it has (`true`); see
    /// `RoomCmd::Record`.
    pub async fn record(&self, room_id: RoomId, record: bool) -> Result<Option<String>, GameError> {
        self.ask(|reply| RoomCmd::Record {
            room_id,
            record,
            reply,
        })
        .await
    }

    /// Kicks a player (admin).
    pub async fn kick(&self, player_id: PlayerId) -> Result<(), GameError> {
        self.ask(|reply| RoomCmd::Kick { player_id, reply }).await
    }

    /// Makes a room's next tick panic, to test that a failing room is closed and the server
    /// lives on. Only callable from Rust (tests, embedders), never from a client.
    #[doc(hidden)]
    pub async fn inject_fault(&self, room_id: RoomId) -> Result<(), GameError> {
        self.ask(|reply| RoomCmd::InjectFault { room_id, reply })
            .await
    }

    /// The connection of `player_id` when it is seated in `room_id` and connected.
    pub async fn member(&self, room_id: RoomId, player_id: PlayerId) -> Result<Conn, GameError> {
        self.ask(|reply| RoomCmd::Member {
            room_id,
            player_id,
            reply,
        })
        .await
    }

    /// Every room with its members, in creation order (admin).
    pub async fn details(&self) -> Result<Vec<RoomDetail>, GameError> {
        self.ask(|reply| RoomCmd::Details { reply }).await
    }

    /// Frees a seat (fire and forget: the driver handles commands in order).
    pub fn leave(&self, player_id: PlayerId, reason: LeaveReason) {
        self.send(RoomCmd::Leave { player_id, reason });
    }

    /// Reports a dropped connection that held a seat.
    pub fn disconnect(&self, player_id: PlayerId, sid: Sid) {
        self.send(RoomCmd::Disconnect { player_id, sid });
    }

    fn send(&self, cmd: RoomCmd) {
        // Fails only once the driver has stopped (shutdown), when there is nothing left to free.
        if self.commands.send(cmd).is_err() {
            tracing::debug!("room driver stopped; command dropped");
        }
    }

    async fn ask<T>(&self, cmd: impl FnOnce(Reply<T>) -> RoomCmd) -> Result<T, GameError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(cmd(reply))
            .map_err(|_| GameError::ServerFull("the server is shutting down".into()))?;
        answer
            .await
            .map_err(|_| GameError::ServerFull("the server is shutting down".into()))?
    }
}
