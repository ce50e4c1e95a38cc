//! `RoomRouter`: where a `/game` request about a room goes. On a single node, always to this
//! node's room driver. In a cluster, to the driver of the node that runs the room (its owner):
//! directly when that is this node, else as a request over Redis, whose answer comes back here.

use std::future::Future;
use std::time::Duration;

use socketioxide::socket::Sid;
use tickstorm_shared::protocol::{CreateRoomRequest, InputAck, LeaveReason};
use tickstorm_shared::{RoomId, RoomInfo};

use super::Cluster;
use super::GameSocket;
use super::directory::{self, QuickTarget};
use super::wire::{NodeId, NodeReply, NodeRequest, SeatGrant};
use crate::error::GameError;
use crate::room::{Conn, RoomHub, Seat, SeatLink, token_room};

/// How long a join or rejoin waits for an unknown room to appear in the cluster's directory.
const UNKNOWN_ROOM_WAIT: Duration = Duration::from_millis(500);

/// The `/game` handlers' way to the rooms (cheap to clone).
#[derive(Debug, Clone)]
pub struct RoomRouter {
    hub: RoomHub,
    cluster: Option<Cluster>,
}

impl RoomRouter {
    /// Routes to `hub` only, or across `cluster` too.
    pub fn new(hub: RoomHub, cluster: Option<Cluster>) -> Self {
        RoomRouter { hub, cluster }
    }

    /// Every room of the cluster: this node's first, then the others' by node.
    pub fn lobby(&self) -> Vec<RoomInfo> {
        let mut rooms = self.hub.directory().rooms().to_vec();
        if let Some(cluster) = &self.cluster {
            for node in cluster.directory().others() {
                rooms.extend(node.rooms);
            }
        }
        rooms
    }

    /// Who is online: every room's seats (of every node), per game for each of `games`, and
    /// `connections_here` plus the other nodes' open connections as they last published them.
    pub fn online<'a>(
        &self,
        connections_here: usize,
        games: impl Iterator<Item = &'a str>,
    ) -> tickstorm_shared::protocol::OnlineAck {
        let mut per_game: std::collections::BTreeMap<String, usize> =
            games.map(|g| (g.to_owned(), 0)).collect();
        let rooms = self.lobby();
        for room in &rooms {
            *per_game.entry(room.game.clone()).or_default() += room.players as usize;
        }
        let elsewhere: usize = self.cluster.as_ref().map_or(0, |cluster| {
            cluster
                .directory()
                .others()
                .iter()
                .map(|n| n.connections)
                .sum()
        });
        tickstorm_shared::protocol::OnlineAck {
            ok: true,
            players: rooms.iter().map(|r| r.players as usize).sum(),
            connections: connections_here + elsewhere,
            games: per_game,
        }
    }

    fn is_local(&self, room_id: &str) -> bool {
        self.hub.directory().rooms().iter().any(|r| r.id == room_id)
    }

    /// The node that runs `room_id`, when another node does (waiting a moment for a room this
    /// node has not heard of yet).
    async fn owner_elsewhere(&self, room_id: &str) -> Option<(&Cluster, NodeId)> {
        let cluster = self.cluster.as_ref()?;
        if self.is_local(room_id) {
            return None;
        }
        let owner = cluster
            .directory()
            .wait_for_owner(&room_id.to_owned(), UNKNOWN_ROOM_WAIT)
            .await?;
        Some((cluster, owner))
    }

    /// Creates a room (already validated): here, or on the least loaded node while this one
    /// drains.
    pub async fn create(&self, request: CreateRoomRequest) -> Result<RoomInfo, GameError> {
        let Some(cluster) = self.cluster.as_ref().filter(|c| c.is_draining()) else {
            return self.hub.create(request).await;
        };
        let Some(node) = directory::placement_elsewhere(&cluster.directory().others()) else {
            return Err(GameError::ServerFull(
                "this node is draining and no other node takes rooms".into(),
            ));
        };
        match cluster.request(&node, NodeRequest::Create(request)).await? {
            NodeReply::Room(room) => Ok(room),
            other => Err(unexpected(&other)),
        }
    }

    /// Seats a player in `room_id`, or quick matches across the cluster when `None`.
    pub async fn join(
        &self,
        room_id: Option<RoomId>,
        game: Option<String>,
        name: String,
        socket: &GameSocket,
    ) -> Result<Seat, GameError> {
        let sid = socket.id;
        let local = |room_id| {
            self.hub
                .join(room_id, game.clone(), name.clone(), Conn::local(sid))
        };
        let Some(cluster) = &self.cluster else {
            return local(room_id).await;
        };
        let target = match &room_id {
            Some(id) => match self.owner_elsewhere(id).await {
                Some((_, owner)) => QuickTarget::Node(owner),
                // Here, or nowhere: this node's driver answers `room_not_found`.
                None => QuickTarget::Here,
            },
            // Without Redis no other node can be reached: play here.
            None if !cluster.bus().is_up() => QuickTarget::Here,
            None => directory::quick_target(
                &cluster.own_record(&self.hub),
                &cluster.directory().others(),
            ),
        };
        match target {
            QuickTarget::Here => local(room_id).await,
            QuickTarget::Node(owner) => {
                let known_room = room_id.clone();
                let request = NodeRequest::Join {
                    room_id,
                    game: game.clone(),
                    name: name.clone(),
                    sid,
                };
                let answer = cluster.request(&owner, request);
                listening(socket, known_room.as_deref(), async {
                    remote_seat(answer.await?, owner)
                })
                .await
            }
            QuickTarget::Nowhere => Err(GameError::ServerFull(
                "every node is draining; try again shortly".into(),
            )),
        }
    }

    /// Takes back a held seat, on whichever node runs its room (the token names the room).
    pub async fn rejoin(&self, token: String, socket: &GameSocket) -> Result<Seat, GameError> {
        let sid = socket.id;
        let room = token_room(&token).map(str::to_owned);
        let owner = match &room {
            Some(room) => self.owner_elsewhere(room).await,
            None => None,
        };
        match owner {
            Some((cluster, owner)) => {
                let answer = cluster.request(&owner, NodeRequest::Rejoin { token, sid });
                listening(socket, room.as_deref(), async {
                    remote_seat(answer.await?, owner)
                })
                .await
            }
            None => self.hub.rejoin(token, Conn::local(sid)).await,
        }
    }

    /// The connection of `player_id` when it is seated in `room_id` and connected, on whichever
    /// node runs the room.
    pub async fn member(
        &self,
        room_id: &RoomId,
        player_id: tickstorm_shared::PlayerId,
    ) -> Result<Sid, GameError> {
        match self.owner_elsewhere(room_id).await {
            Some((cluster, owner)) => {
                let request = NodeRequest::Member {
                    room_id: room_id.clone(),
                    player_id,
                };
                match cluster.request(&owner, request).await? {
                    NodeReply::Connection(sid) => Ok(sid),
                    other => Err(GameError::Internal(format!(
                        "unexpected answer to a member lookup: {other:?}"
                    ))),
                }
            }
            None => self
                .hub
                .member(room_id.clone(), player_id)
                .await
                .map(|conn| conn.sid),
        }
    }

    /// Frees a seat the player gives up.
    pub fn leave(&self, seat: &Seat, sid: Sid, reason: LeaveReason) {
        let request = NodeRequest::Leave {
            player_id: seat.player_id,
            sid,
        };
        if !self.tell_owner(seat, request) {
            self.hub.leave(seat.player_id, reason);
        }
    }

    /// Reports that the connection holding `seat` dropped.
    pub fn disconnect(&self, seat: &Seat, sid: Sid) {
        let request = NodeRequest::Disconnect {
            player_id: seat.player_id,
            sid,
        };
        if !self.tell_owner(seat, request) {
            self.hub.disconnect(seat.player_id, sid);
        }
    }

    /// Tells the owner of a remote seat; false for a seat in this node's rooms.
    fn tell_owner(&self, seat: &Seat, request: NodeRequest) -> bool {
        match (&seat.link, &self.cluster) {
            (SeatLink::Remote { owner }, Some(cluster)) => {
                cluster.tell(owner, request);
                true
            }
            _ => false,
        }
    }

    /// Sends an input (already rate limited and validated here) to the node that runs the
    /// seat's room. Sent before this returns, so one connection's inputs keep their order;
    /// the future is the owner's ack.
    pub fn forward_input(
        &self,
        owner: &NodeId,
        seat: &Seat,
        sid: Sid,
        seq: u32,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<InputAck, GameError>> + Send + 'static {
        let sent = self.cluster.as_ref().map(|cluster| {
            cluster.request(
                owner,
                NodeRequest::Input {
                    player_id: seat.player_id,
                    sid,
                    seq,
                    payload: payload.into(),
                },
            )
        });
        async move {
            let Some(sent) = sent else {
                return Err(GameError::Internal("remote seat without a cluster".into()));
            };
            match sent.await? {
                NodeReply::Input(ack) => Ok(ack),
                other => Err(unexpected(&other)),
            }
        }
    }
}

/// Runs a remote join with the socket already in the room's broadcasts (when the room is known
/// in advance), as the owner's driver does for its own connections: whoever is seated after
/// this player, their `player:joined` reaches this connection too. Left again if it fails.
async fn listening(
    socket: &GameSocket,
    room_id: Option<&str>,
    join: impl Future<Output = Result<Seat, GameError>>,
) -> Result<Seat, GameError> {
    if let Some(room_id) = room_id {
        socket.join(room_id.to_owned());
    }
    let seat = join.await;
    if let (Err(_), Some(room_id)) = (&seat, room_id) {
        let seated_there = socket
            .extensions
            .get::<std::sync::Arc<crate::session::Session>>()
            .and_then(|session| session.seat())
            .is_some_and(|held| held.room.id == room_id);
        if !seated_there {
            socket.leave(room_id.to_owned());
        }
    }
    seat
}

fn remote_seat(reply: NodeReply, owner: NodeId) -> Result<Seat, GameError> {
    let NodeReply::Seat(SeatGrant {
        room,
        player_id,
        tick,
        rejoin_token,
        members,
        kinds,
    }) = reply
    else {
        return Err(unexpected(&reply));
    };
    Ok(Seat {
        room,
        player_id,
        link: SeatLink::Remote { owner },
        tick,
        rejoin_token,
        members,
        kinds,
    })
}

fn unexpected(reply: &NodeReply) -> GameError {
    GameError::Internal(format!("unexpected answer from the room's node: {reply:?}"))
}
