//! Capturing a room's recording inside the simulation: [`RoomLog`] on the room entity collects
//! the room's entries as they happen (seats from [`SimWorld`](crate::SimWorld)'s methods, applied
//! inputs from the input delivery system, hashes and keyframes after each step). The server takes
//! the bytes after each step ([`SimWorld::take_recording`](crate::SimWorld::take_recording)) and
//! writes them off the tick thread.

use bevy_ecs::prelude::*;
use bytes::Bytes;
use tickstorm_shared::{PlayerId, Tick};

use super::format::{EntryWriter, snapshot_hash};

/// How often a recording checks its room's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSettings {
    /// Record the hash of every n-th encoded snapshot (1: every one).
    pub hash_every: u32,
    /// Record a whole snapshot every n ticks (and the last one when the recording ends), so a
    /// replay that differs can show both states.
    pub keyframe_every: u32,
}

impl Default for RecordSettings {
    fn default() -> Self {
        Self {
            hash_every: 1,
            keyframe_every: 300,
        }
    }
}

/// The recording of one room, while it runs.
#[derive(Component, Debug)]
pub(crate) struct RoomLog {
    settings: RecordSettings,
    /// Entries not yet taken by the server.
    pending: Vec<u8>,
    /// One tick's inputs, before its entry header can be written.
    inputs: Vec<u8>,
    /// One input being serialized (reused: no allocation per input).
    scratch: Vec<u8>,
    input_count: u32,
    /// Wall clock of the previous tick (the room's start before the first).
    last_ms: u64,
    /// Encoded snapshots seen since the last hash.
    since_hash: u32,
    last_keyframe: Option<Tick>,
    /// The latest snapshot, recorded whole when the recording ends.
    last_snapshot: Option<(Tick, Bytes)>,
    /// An `End` entry was written; nothing more is.
    ended: bool,
}

impl RoomLog {
    pub(crate) fn new(settings: RecordSettings, started_ms: u64) -> Self {
        Self {
            settings: RecordSettings {
                hash_every: settings.hash_every.max(1),
                keyframe_every: settings.keyframe_every.max(1),
            },
            pending: Vec::with_capacity(1024),
            inputs: Vec::new(),
            scratch: Vec::new(),
            input_count: 0,
            last_ms: started_ms,
            since_hash: 0,
            last_keyframe: None,
            last_snapshot: None,
            ended: false,
        }
    }

    fn writer(&mut self) -> Option<EntryWriter<'_>> {
        (!self.ended).then_some(EntryWriter(&mut self.pending))
    }

    pub(crate) fn join(&mut self, player_id: PlayerId, name: &str) {
        if let Some(mut w) = self.writer() {
            w.join(player_id, name);
        }
    }

    pub(crate) fn leave(&mut self, player_id: PlayerId) {
        if let Some(mut w) = self.writer() {
            w.leave(player_id);
        }
    }

    pub(crate) fn halt(&mut self, player_id: PlayerId) {
        if let Some(mut w) = self.writer() {
            w.halt(player_id);
        }
    }

    /// One input applied in the tick being delivered (before [`tick`](Self::tick)).
    pub(crate) fn input<I: serde::Serialize>(&mut self, player_id: PlayerId, input: &I) {
        if self.ended {
            return;
        }
        self.scratch.clear();
        match rmp_serde::encode::write_named(&mut self.scratch, input) {
            Ok(()) => {
                EntryWriter::input(&mut self.inputs, player_id, &self.scratch);
                self.input_count += 1;
            }
            // A game input that serde cannot write cannot be replayed: say so once, in the log.
            Err(e) => self.end(&format!("input not recordable: {e}")),
        }
    }

    /// The room ticked at `now_ms` with the inputs given to [`input`](Self::input) since.
    pub(crate) fn tick(&mut self, tick: Tick, now_ms: u64) {
        if self.ended {
            return;
        }
        let ms = now_ms as i64 - self.last_ms as i64;
        self.last_ms = now_ms;
        EntryWriter(&mut self.pending).tick(tick, ms, self.input_count, &self.inputs);
        self.inputs.clear();
        self.input_count = 0;
    }

    /// The snapshot the tick encoded: hashed every `hash_every`, kept whole every
    /// `keyframe_every` ticks.
    pub(crate) fn snapshot(&mut self, tick: Tick, snapshot: &Bytes) {
        if self.ended {
            return;
        }
        self.since_hash += 1;
        if self.since_hash >= self.settings.hash_every {
            self.since_hash = 0;
            EntryWriter(&mut self.pending).hash(tick, snapshot_hash(snapshot));
        }
        let keyframe_due = self
            .last_keyframe
            .is_none_or(|last| tick >= last + u64::from(self.settings.keyframe_every));
        if keyframe_due {
            self.last_keyframe = Some(tick);
            EntryWriter(&mut self.pending).keyframe(tick, snapshot);
            self.last_snapshot = None;
        } else {
            self.last_snapshot = Some((tick, snapshot.clone()));
        }
    }

    /// Ends the recording: the last snapshot whole (unless it already is), then `End`.
    pub(crate) fn end(&mut self, reason: &str) {
        if self.ended {
            return;
        }
        if let Some((tick, snapshot)) = self.last_snapshot.take() {
            EntryWriter(&mut self.pending).keyframe(tick, &snapshot);
        }
        EntryWriter(&mut self.pending).end(reason);
        self.ended = true;
    }

    /// The entries written since the last call, and whether the recording has ended.
    pub(crate) fn take(&mut self) -> (Vec<u8>, bool) {
        // The next step writes about as much: size the new buffer for it (one allocation, not
        // a growing series).
        let next = Vec::with_capacity(self.pending.len().max(64));
        (std::mem::replace(&mut self.pending, next), self.ended)
    }
}
