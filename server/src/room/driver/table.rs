//! The room table: creating rooms (and quick match), closing them, draining, and what the lobby
//! and the admin see of them.

use std::cmp::Reverse;

use tickstorm_shared::admin::{MemberInfo, RoomDetail};
use tickstorm_shared::protocol::{CloseReason, CreateRoomRequest, RoomClosed};
use tickstorm_shared::{RoomId, RoomInfo};
use tickstorm_sim::{Entity, RoomSpec, SimError};
use tokio::time::Instant;

use super::{Driver, METADATA_REFRESH, RoomState, Timer, room_seed};
use crate::config::Config;
use crate::error::GameError;
use crate::room::sink::RoomSink;
use crate::room::{ServerCounts, ids};

impl<S: RoomSink> Driver<S> {
    pub(super) fn create_room(
        &mut self,
        request: CreateRoomRequest,
    ) -> Result<(RoomId, Entity), GameError> {
        if self.draining {
            return Err(GameError::ServerFull(
                "this node is draining and takes no new rooms".into(),
            ));
        }
        let game = self.game(request.game.as_deref())?;
        let options = self
            .settings
            .games
            .validate_options(game.0, request.options.as_ref())
            .map_err(GameError::BadRequest)?;
        if self.rooms.len() >= self.settings.max_rooms {
            return Err(GameError::ServerFull(format!(
                "the server hosts its maximum of {} rooms",
                self.settings.max_rooms
            )));
        }
        let tick_rate = request.tick_rate.unwrap_or(self.settings.default_tick_rate);
        let send_rate = match (request.send_rate, self.settings.default_send_rate) {
            (Some(asked), _) => asked,
            // The server's default never refuses a room: it is capped at the room's rate.
            (None, Some(default)) => default.min(tick_rate),
            (None, None) => tick_rate,
        };
        if send_rate > tick_rate {
            return Err(GameError::BadRequest(format!(
                "send_rate must be 1..=tick_rate ({tick_rate})"
            )));
        }
        let view_radius = request.view_radius.or(self.settings.default_view_radius);
        let record = self.wants_recording(request.record)?;
        let id = loop {
            let candidate = ids::room_id();
            if !self.rooms.contains_key(&candidate) {
                break candidate;
            }
        };
        self.rooms_created += 1;
        let max_players = request
            .max_players
            .unwrap_or(self.settings.default_max_players);
        let name = request
            .name
            .unwrap_or_else(|| format!("Room {}", self.rooms_created));
        let spec = RoomSpec {
            id: id.clone(),
            game: game.0,
            max_players,
            tick_rate,
            send_rate,
            seed: room_seed(self.settings.seed, self.rooms_created),
            options,
        };
        let (entity, inputs) = self.sim.spawn_room(spec.clone()).map_err(|e| match e {
            SimError::UnknownGame(_) => GameError::GameNotFound(game.1.to_owned()),
            other => {
                tracing::error!(room = %id, game = game.1, error = %other, "the game could not set up a room");
                GameError::Internal(other.to_string())
            }
        })?;
        let now = Instant::now();
        let period = Config::tick_period(tick_rate);
        self.ticks.push(Reverse((now + period, entity)));
        self.timers.push(Reverse((
            now + self.settings.room_idle_timeout,
            Timer::Idle(id.clone()),
        )));
        self.room_ids.insert(entity, id.clone());
        self.rooms.insert(
            id.clone(),
            RoomState {
                entity,
                seq: self.rooms_created,
                name,
                game,
                max_players,
                tick_rate,
                send_rate,
                replica: super::super::replica::Replica::new(
                    self.sim.kinds(game.0).iter().map(|k| k.coding()).collect(),
                    view_radius,
                ),
                period,
                inputs,
                players: Vec::new(),
                online: 0,
                recording: None,
                empty_since: Some(now),
            },
        );
        if record {
            self.start_recording(&id, entity, &spec);
        }
        self.directory_dirty = true;
        tracing::info!(room = %id, game = game.1, tick_rate, max_players, "room created");
        Ok((id, entity))
    }

    /// A registered game by name (the default game for `None`).
    pub(super) fn game(&self, name: Option<&str>) -> Result<(usize, &'static str), GameError> {
        let name = match name {
            Some(name) => name,
            None => self
                .settings
                .games
                .default_name()
                .ok_or_else(|| GameError::Internal("no game is registered".into()))?,
        };
        let index = self
            .sim
            .game_index(name)
            .ok_or_else(|| GameError::GameNotFound(name.to_owned()))?;
        let name = self.sim.game_name(index).unwrap_or_default();
        Ok((index, name))
    }

    /// Quick match: the fullest room of the game that still has a seat (so rooms fill up), else
    /// a new room of that game.
    pub(super) fn quick_match(&mut self, game: (usize, &'static str)) -> Result<RoomId, GameError> {
        let best = self
            .rooms
            .iter()
            .filter(|(_, r)| r.game.0 == game.0 && (r.players.len() as u32) < r.max_players)
            .max_by_key(|(_, r)| (r.players.len(), Reverse(r.seq)))
            .map(|(id, _)| id.clone());
        match best {
            Some(id) => Ok(id),
            None => self
                .create_room(CreateRoomRequest {
                    game: Some(game.1.to_owned()),
                    ..CreateRoomRequest::default()
                })
                .map(|(id, _)| id),
        }
    }

    /// Every room, oldest first (the lobby's order).
    pub(super) fn rooms_in_creation_order(&self) -> Vec<(&RoomId, &RoomState)> {
        let mut rooms: Vec<(&RoomId, &RoomState)> = self.rooms.iter().collect();
        rooms.sort_unstable_by_key(|(_, r)| r.seq);
        rooms
    }

    pub(super) async fn close_room(&mut self, room_id: &RoomId, reason: CloseReason) {
        self.end_recording(room_id, &format!("closed: {reason:?}").to_lowercase());
        let Some(room) = self.rooms.remove(room_id) else {
            return;
        };
        // Only this node's connections hear the broadcast; each remote one is told by its own
        // node when the release below arrives, so nobody hears it twice or misses it.
        let closed = RoomClosed {
            room_id: room_id.clone(),
            reason,
        };
        self.sink.room_closed_here(&closed).await;
        for player_id in &room.players {
            if let Some(record) = self.players.remove(player_id) {
                self.tokens.remove(&record.token);
                if let Some(conn) = &record.conn {
                    self.release_connection(*player_id, conn, room_id, Some(reason), false);
                }
            }
        }
        self.sim.despawn_room(room.entity);
        self.room_ids.remove(&room.entity);
        self.directory_dirty = true;
        tracing::info!(room = %room_id, ?reason, players = room.players.len(), "room closed");
    }

    /// Draining: no new rooms from now on, and rooms nobody sits in close at once.
    pub(super) async fn drain(&mut self) {
        self.draining = true;
        self.directory_dirty = true;
        let empty: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.players.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        tracing::info!(
            rooms = self.rooms.len(),
            closing_empty = empty.len(),
            "draining: no new rooms"
        );
        for room_id in empty {
            self.close_room(&room_id, CloseReason::Shutdown).await;
        }
    }

    /// Every room with its members, in creation order, for the admin.
    pub(super) fn details(&self) -> Vec<RoomDetail> {
        self.rooms_in_creation_order()
            .into_iter()
            .map(|(id, room)| RoomDetail {
                info: room.info(id, &self.sim),
                recording: room.recording.as_ref().map(|r| r.name.clone()),
                members: self
                    .seated(room)
                    .map(|(player_id, record, player)| MemberInfo {
                        player_id,
                        name: player.name.clone(),
                        score: player.score,
                        connected: record.conn.is_some(),
                    })
                    .collect(),
            })
            .collect()
    }

    pub(super) fn publish_directory(&mut self) {
        let now = Instant::now();
        if !self.directory_dirty && now - self.published_at < METADATA_REFRESH {
            return;
        }
        self.directory_dirty = false;
        self.published_at = now;
        let rooms: Vec<RoomInfo> = self
            .rooms_in_creation_order()
            .into_iter()
            .map(|(id, r)| r.info(id, &self.sim))
            .collect();
        let counts = ServerCounts {
            rooms: self.rooms.len(),
            players: self.players.len(),
            disconnected: self.players.values().filter(|p| p.conn.is_none()).count(),
        };
        self.metrics.set_counts(counts);
        self.directory.publish(rooms, counts);
    }
}
