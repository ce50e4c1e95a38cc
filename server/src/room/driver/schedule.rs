//! The tick schedule and the timers: when the driver wakes, which rooms tick, and the rejoin
//! grace and idle-room timers.

use std::cmp::Reverse;
use std::time::Duration;

use tickstorm_shared::protocol::{CloseReason, LeaveReason};
use tokio::time::Instant;

use super::{Driver, Timer};
use crate::room::replica::{Member, Recipients};
use crate::room::sink::RoomSink;

impl<S: RoomSink> Driver<S> {
    pub(super) fn next_wake(&self) -> Instant {
        let tick = self.ticks.peek().map(|Reverse((at, _))| *at);
        let timer = self.timers.peek().map(|Reverse((at, _))| *at);
        match (tick, timer) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            // Nothing scheduled: sleep until a command arrives.
            (None, None) => Instant::now() + Duration::from_secs(3600),
        }
    }

    pub(super) async fn fire_timers(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, timer))) = self.timers.pop() else {
                break;
            };
            match timer {
                Timer::Grace(player_id) => {
                    let expired = self
                        .players
                        .get(&player_id)
                        .and_then(|r| r.disconnected_at)
                        .is_some_and(|t| now - t >= self.settings.rejoin_grace);
                    if expired {
                        self.remove_player(player_id, LeaveReason::Timeout).await;
                    }
                }
                Timer::Idle(room_id) => {
                    let idle = self
                        .rooms
                        .get(&room_id)
                        .and_then(|r| r.empty_since.filter(|_| r.players.is_empty()))
                        .is_some_and(|t| now - t >= self.settings.room_idle_timeout);
                    if idle {
                        self.close_room(&room_id, CloseReason::Idle).await;
                    }
                }
            }
        }
    }

    pub(super) async fn tick_due_rooms(&mut self, now: Instant) {
        self.due.clear();
        let mut overruns = 0;
        while let Some(&Reverse((at, entity))) = self.ticks.peek() {
            if at > now {
                break;
            }
            self.ticks.pop();
            let Some(room) = self.room_ids.get(&entity).and_then(|id| self.rooms.get(id)) else {
                continue; // closed since it was scheduled
            };
            let mut next = at + room.period;
            if next <= now {
                // More than a whole period late: skip the missed ticks rather than burst them.
                tracing::debug!(room = ?entity, late_ms = (now - at).as_millis() as u64, "tick overrun");
                next = now + room.period;
                overruns += 1;
            }
            self.ticks.push(Reverse((next, entity)));
            self.due.push(entity);
        }
        if self.due.is_empty() {
            return;
        }
        let now_ms = crate::clock::unix_ms();
        let started = Instant::now();
        let outcome = self.sim.step_isolating_faults(&self.due, now_ms);
        let mut members = Vec::new();
        let mut remote = Vec::new();
        for (entity, snapshot) in &outcome.snapshots {
            let Some(room_id) = self.room_ids.get(entity) else {
                continue;
            };
            let Some(room) = self.rooms.get_mut(room_id) else {
                continue;
            };
            members.clear();
            members.extend(room.players.iter().filter_map(|&player_id| {
                let record = self.players.get(&player_id)?;
                let conn = record.conn.as_ref()?;
                Some(Member {
                    player_id,
                    local_sid: conn.node.is_none().then_some(conn.sid),
                    baseline: record.baseline.get(),
                })
            }));
            super::collect_remote_nodes(&room.players, &self.players, &mut remote);
            // Encoded once by the simulation; deltas' kind sections once per baseline (or view).
            for outgoing in room.replica.prepare(snapshot, &members) {
                let recipients = match &outgoing.to {
                    Recipients::Room => room.online,
                    Recipients::RoomExcept(sids) => room.online.saturating_sub(sids.len()),
                    Recipients::Only(sids) => sids.len(),
                };
                self.metrics
                    .record_snapshot(outgoing.bytes.len(), recipients, outgoing.delta);
                self.sink
                    .snapshot(room_id, &outgoing.bytes, &outgoing.to, &remote)
                    .await;
            }
        }
        self.write_recordings();
        for entity in outcome.failed {
            let Some(room_id) = self.room_ids.get(&entity).cloned() else {
                continue;
            };
            tracing::error!(room = %room_id, "the room's simulation panicked; closing it (the server and the other rooms go on)");
            self.metrics.room_faults.inc();
            self.close_room(&room_id, CloseReason::Internal).await;
        }
        self.metrics
            .record_step(started.elapsed(), self.due.len(), overruns);
    }
}
