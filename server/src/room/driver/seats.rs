//! Seats and rejoin tokens: joining, rejoining, dropped connections held for the grace period,
//! leaving, and the seats of connections to other nodes.

use std::cmp::Reverse;
use std::sync::Arc;

use socketioxide::socket::Sid;
use tickstorm_shared::PlayerId;
use tickstorm_shared::RoomId;
use tickstorm_shared::protocol::{CloseReason, LeaveReason, PlayerJoined, PlayerLeft, events};
use tickstorm_sim::{Player, SimError};
use tokio::time::Instant;

use super::{Driver, RoomState, SeatRecord, Timer};
use crate::error::GameError;
use crate::room::sink::{Release, RoomSink};
use crate::room::{Conn, NodeId, Seat, SeatLink, ids};

impl<S: RoomSink> Driver<S> {
    pub(super) fn join(
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
            .map_err(|e| match e {
                SimError::RoomFull => GameError::RoomFull(room_id.clone()),
                SimError::NoRoom => GameError::RoomNotFound(room_id.clone()),
                other => {
                    tracing::error!(room = %room_id, error = %other, "the game could not seat a player");
                    GameError::Internal(other.to_string())
                }
            })?;
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
                baseline: Arc::default(),
                disconnected_at: None,
            },
        );
        self.directory_dirty = true;
        tracing::debug!(room = %room_id, player = player_id, %name, "player joined");
        Ok(self.grant(player_id, token, &holder))
    }

    pub(super) fn rejoin(&mut self, token: &str, conn: Conn) -> Result<Seat, GameError> {
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
        // The new connection holds no snapshot yet: it starts from a keyframe.
        record.baseline = Arc::default();
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
    pub(super) fn grant(&self, player_id: PlayerId, rejoin_token: String, conn: &Conn) -> Seat {
        let seat = self.seat_for(player_id, rejoin_token);
        if conn.node.is_some() {
            self.sink.keep_remote_seat(&seat, conn);
        }
        seat
    }

    pub(super) fn seat_for(&self, player_id: PlayerId, rejoin_token: String) -> Seat {
        let record = &self.players[&player_id];
        let room = &self.rooms[&record.room_id];
        Seat {
            room: room.info(&record.room_id, &self.sim),
            player_id,
            link: SeatLink::Local {
                player: record.entity,
                inputs: room.inputs.clone(),
                baseline: record.baseline.clone(),
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
                .map(|k| k.info())
                .collect(),
        }
    }

    /// A room's seated players in join order, with their seat records and simulation state.
    pub(super) fn seated<'a>(
        &'a self,
        room: &'a RoomState,
    ) -> impl Iterator<Item = (PlayerId, &'a SeatRecord, &'a Player)> + 'a {
        room.players.iter().filter_map(|&id| {
            let record = self.players.get(&id)?;
            Some((id, record, self.sim.player(record.entity)?))
        })
    }

    pub(super) async fn disconnect(&mut self, player_id: PlayerId, sid: Sid) {
        let Some(record) = self.players.get_mut(&player_id) else {
            return;
        };
        if record.conn.as_ref().is_none_or(|c| c.sid != sid) {
            return; // the seat already moved to a newer connection
        }
        let now = Instant::now();
        if record.conn.as_ref().is_some_and(|c| c.node.is_some()) {
            self.sink.forget_remote_seat(player_id);
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
        let remote = self.remote_nodes(&room_id);
        self.sink
            .broadcast(
                &room_id,
                events::PLAYER_LEFT,
                &PlayerLeft {
                    player_id,
                    reason: LeaveReason::Disconnected,
                },
                &remote,
            )
            .await;
    }

    pub(super) async fn remove_player(&mut self, player_id: PlayerId, reason: LeaveReason) {
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
        let remote = self.remote_nodes(&record.room_id);
        self.sink
            .broadcast(
                &record.room_id,
                events::PLAYER_LEFT,
                &PlayerLeft { player_id, reason },
                &remote,
            )
            .await;
        if empty_while_draining {
            self.close_room(&record.room_id, CloseReason::Shutdown)
                .await;
        }
    }

    /// Clears the seat a connection holds in `room_id` and takes it out of the broadcast room;
    /// tells it the room closed when `closed` is set, and closes the connection when `evict`.
    /// A connection to another node is released by that node.
    pub(super) fn release_connection(
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
            Some(_) => {
                self.forget_remote(player_id, conn);
                self.sink.release(conn, release);
            }
            // This node's own connection heard `room:closed` from the room's local broadcast.
            None => self.sink.release(
                conn,
                Release {
                    closed: None,
                    ..release
                },
            ),
        }
    }

    /// Drops the owner-side record of a seat held through another node (its inputs stop).
    pub(super) fn forget_remote(&self, player_id: PlayerId, conn: &Conn) {
        if conn.node.is_some() {
            self.sink.forget_remote_seat(player_id);
        }
    }

    /// Seats held through a lost node become held seats, as if their connections dropped: the
    /// players can rejoin through any other node within the grace period.
    pub(super) async fn node_lost(&mut self, node: &NodeId) {
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

    /// Puts a connection into the room's broadcasts as it is seated: joining here, in the same
    /// step that lists the members for the ack, means nobody seated later can be missed. A
    /// connection to another node is joined by that node when the seat reaches it.
    pub(super) fn subscribe(&self, conn: &Conn, room_id: &RoomId) {
        if conn.node.is_none() {
            self.sink.subscribe(conn.sid, room_id);
        }
    }
}
