//! `InputQueue`: where a room's inputs wait for the next tick.
//!
//! Socket.IO event handlers run on their own tasks and must ack an input with the tick at which it
//! applies. They push into this queue under a short mutex; the simulation drains it at the start
//! of the room's tick. Because the tick counter lives under the same lock, "the tick an input
//! applies to" is exact: an input pushed before the drain lands in that tick, one pushed after it
//! in the next, and the ack says which.
//!
//! The queue is typed by the game's input; the network layer reaches it through [`InputPort`],
//! which does not name the type (a server hosts several games).

use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;

use bevy_ecs::entity::Entity;
use tickstorm_shared::Tick;

use crate::game::GameInput;

/// One accepted input, waiting for its tick.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingInput<I> {
    /// The player's entity in the simulation world.
    pub player: Entity,
    /// Client sequence number.
    pub seq: u32,
    /// The validated input.
    pub input: I,
}

/// The outcome of [`InputQueue::submit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The tick at which the input applies (or, when stale, the next tick).
    pub tick: Tick,
    /// A higher `seq` of this player was already accepted; this one was dropped.
    pub stale: bool,
}

/// Why an input was refused (answered as `bad_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input payload: {0}")]
pub struct InputError(pub String);

#[derive(Debug)]
struct Inner<I> {
    next_tick: Tick,
    pending: Vec<PendingInput<I>>,
    highest_seq: HashMap<Entity, u32>,
}

/// A room's queue of inputs for its next tick.
#[derive(Debug)]
pub struct InputQueue<I> {
    inner: Mutex<Inner<I>>,
}

impl<I> Default for InputQueue<I> {
    fn default() -> Self {
        Self::new(0)
    }
}

impl<I> InputQueue<I> {
    /// A queue for a room whose latest completed tick is `current_tick`.
    pub fn new(current_tick: Tick) -> Self {
        let inner = Inner {
            next_tick: current_tick + 1,
            pending: Vec::new(),
            highest_seq: HashMap::new(),
        };
        Self {
            inner: Mutex::new(inner),
        }
    }

    /// Queues an input unless a higher or equal `seq` of the same player was already accepted.
    /// Within one tick only the player's latest input counts (a game reads the input as the
    /// player's current intent; see `PlayerInput`).
    pub fn submit(&self, input: PendingInput<I>) -> Accepted {
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
    pub fn drain_into(&self, out: &mut Vec<PendingInput<I>>) -> Tick {
        let mut inner = self.lock();
        let tick = inner.next_tick;
        inner.next_tick += 1;
        out.append(&mut inner.pending);
        tick
    }

    /// The tick the next accepted input would apply to.
    pub fn next_tick(&self) -> Tick {
        self.lock().next_tick
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<I>> {
        // A panic while holding this lock cannot leave `Inner` half-updated in a way that matters
        // (every method keeps it consistent before returning), so recover from poisoning.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<I: GameInput> InputQueue<I> {
    /// Validates an input with the game's rules and queues it.
    pub fn submit_validated(&self, player: Entity, input: I) -> Result<Accepted, InputError> {
        let input = input.validate().map_err(InputError)?;
        Ok(self.submit(PendingInput {
            player,
            seq: input.seq(),
            input,
        }))
    }
}

/// A room's input queue as the network layer sees it, whatever the game.
pub trait InputPort: Send + Sync + std::fmt::Debug + 'static {
    /// Decodes a MessagePack-encoded input (as forwarded between nodes), validates and queues it.
    fn submit_msgpack(&self, player: Entity, payload: &[u8]) -> Result<Accepted, InputError>;
    /// Queues a recorded input (MessagePack) as it was applied: no validation, no seq check
    /// (a replay gives each tick exactly the inputs the recording says it applied).
    fn replay_msgpack(&self, player: Entity, payload: &[u8]) -> Result<(), InputError>;
    /// Forgets a player who left for good, so the queue does not grow with every visitor.
    fn forget(&self, player: Entity);
    /// The tick the next accepted input would apply to.
    fn next_tick(&self) -> Tick;
    /// The typed queue, for a caller that knows the game (`downcast_ref::<InputQueue<I>>()`).
    fn as_any(&self) -> &dyn Any;
    /// The typed queue, owned (`downcast::<InputQueue<I>>()`).
    fn into_any(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn Any + Send + Sync>;
}

impl<I: GameInput> InputPort for InputQueue<I> {
    fn submit_msgpack(&self, player: Entity, payload: &[u8]) -> Result<Accepted, InputError> {
        let input: I = rmp_serde::from_slice(payload).map_err(|e| InputError(e.to_string()))?;
        self.submit_validated(player, input)
    }

    fn replay_msgpack(&self, player: Entity, payload: &[u8]) -> Result<(), InputError> {
        let input: I = rmp_serde::from_slice(payload).map_err(|e| InputError(e.to_string()))?;
        let seq = input.seq();
        self.lock()
            .pending
            .push(PendingInput { player, seq, input });
        Ok(())
    }

    fn forget(&self, player: Entity) {
        let mut inner = self.lock();
        inner.highest_seq.remove(&player);
        inner.pending.retain(|p| p.player != player);
    }

    fn next_tick(&self) -> Tick {
        InputQueue::next_tick(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn Any + Send + Sync> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(player: Entity, seq: u32) -> PendingInput<u8> {
        PendingInput {
            player,
            seq,
            input: 0,
        }
    }

    #[test]
    fn keeps_the_highest_seq_and_reports_stale_ones() {
        let q = InputQueue::new(10);
        let p = Entity::from_raw_u32(1).expect("valid index");
        let fresh = |tick| Accepted { tick, stale: false };
        let stale = |tick| Accepted { tick, stale: true };
        assert_eq!(q.submit(input(p, 5)), fresh(11));
        assert_eq!(q.submit(input(p, 3)), stale(11));
        assert_eq!(q.submit(input(p, 5)), stale(11));
        assert_eq!(q.submit(input(p, 6)), fresh(11));
        let mut out = Vec::new();
        assert_eq!(q.drain_into(&mut out), 11);
        assert_eq!(
            out,
            vec![input(p, 6)],
            "one input per player per tick, the latest"
        );
        assert_eq!(q.submit(input(p, 7)).tick, 12);
    }
}
