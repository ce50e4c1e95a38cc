//! `InputQueue`: where a room's inputs wait for the next tick.
//!
//! Socket.IO event handlers run on their own tasks and must ack an input with the tick at which it
//! applies. They push into this queue under a short mutex; the simulation drains it at the start
//! of the room's tick. Because the tick counter lives under the same lock, "the tick an input
//! applies to" is exact: an input pushed before the drain lands in that tick, one pushed after it
//! in the next, and the ack says which.

use std::collections::HashMap;
use std::sync::Mutex;

use bevy_ecs::entity::Entity;
use glam::Vec2;
use tickstorm_shared::Tick;

/// One accepted input, waiting for its tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PendingInput {
    /// The player's entity in the simulation world.
    pub player: Entity,
    /// Client sequence number.
    pub seq: u32,
    /// Sanitized direction (length <= 1).
    pub direction: Vec2,
    /// Button bits.
    pub buttons: u32,
}

/// The outcome of [`InputQueue::submit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The tick at which the input applies (or, when stale, the next tick).
    pub tick: Tick,
    /// A higher `seq` of this player was already accepted; this one was dropped.
    pub stale: bool,
}

#[derive(Debug, Default)]
struct Inner {
    next_tick: Tick,
    pending: Vec<PendingInput>,
    highest_seq: HashMap<Entity, u32>,
}

/// A room's queue of inputs for its next tick.
#[derive(Debug)]
pub struct InputQueue {
    inner: Mutex<Inner>,
}

impl Default for InputQueue {
    fn default() -> Self {
        Self::new(0)
    }
}

impl InputQueue {
    /// A queue for a room whose latest completed tick is `current_tick`.
    pub fn new(current_tick: Tick) -> Self {
        let inner = Inner {
            next_tick: current_tick + 1,
            ..Inner::default()
        };
        Self {
            inner: Mutex::new(inner),
        }
    }

    /// Queues an input unless a higher or equal `seq` of the same player was already accepted.
    /// Within one tick only the player's latest input counts (movement is a state, not an impulse).
    pub fn submit(&self, input: PendingInput) -> Accepted {
        let mut inner = self.lock();
        let tick = inner.next_tick;
        match inner.highest_seq.get(&input.player) {
            Some(&highest) if input.seq <= highest => return Accepted { tick, stale: true },
            _ => {}
        }
        inner.highest_seq.insert(input.player, input.seq);
        match inner.pending.iter_mut().find(|p| p.player == input.player) {
            Some(slot) => *slot = input,
            None => inner.pending.push(input),
        }
        Accepted { tick, stale: false }
    }

    /// Moves the inputs of the coming tick into `out` and advances the tick; returns that tick.
    pub fn drain_into(&self, out: &mut Vec<PendingInput>) -> Tick {
        let mut inner = self.lock();
        let tick = inner.next_tick;
        inner.next_tick += 1;
        out.append(&mut inner.pending);
        tick
    }

    /// Forgets a player who left for good, so the map does not grow with every visitor.
    pub fn forget(&self, player: Entity) {
        let mut inner = self.lock();
        inner.highest_seq.remove(&player);
        inner.pending.retain(|p| p.player != player);
    }

    /// The tick the next accepted input would apply to.
    pub fn next_tick(&self) -> Tick {
        self.lock().next_tick
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` half-updated in a way that matters
        // (every method keeps it consistent before returning), so recover from poisoning.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(player: Entity, seq: u32) -> PendingInput {
        PendingInput {
            player,
            seq,
            direction: Vec2::X,
            buttons: 0,
        }
    }

    #[test]
    fn keeps_the_highest_seq_and_reports_stale_ones() {
        let q = InputQueue::new(10);
        let p = Entity::from_raw_u32(1).expect("valid index");
        assert_eq!(
            q.submit(input(p, 5)),
            Accepted {
                tick: 11,
                stale: false
            }
        );
        assert_eq!(
            q.submit(input(p, 3)),
            Accepted {
                tick: 11,
                stale: true
            }
        );
        assert_eq!(
            q.submit(input(p, 5)),
            Accepted {
                tick: 11,
                stale: true
            }
        );
        assert_eq!(
            q.submit(input(p, 6)),
            Accepted {
                tick: 11,
                stale: false
            }
        );
        let mut out = Vec::new();
        assert_eq!(q.drain_into(&mut out), 11);
        assert_eq!(
            out,
            vec![input(p, 6)],
            "one input per player per tick, the latest"
        );
        assert_eq!(q.submit(input(p, 7)).tick, 12);
    }

    #[test]
    fn forgetting_a_player_drops_their_state() {
        let q = InputQueue::new(0);
        let p = Entity::from_raw_u32(2).expect("valid index");
        q.submit(input(p, 9));
        q.forget(p);
        assert!(!q.submit(input(p, 1)).stale);
    }
}
