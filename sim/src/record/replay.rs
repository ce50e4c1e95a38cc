//! [`Replay`]: re-simulates a recorded room in a world of its own and checks every hash and
//! keyframe the recording holds against the snapshots it computes.
//!
//! The room is rebuilt from the header (game, seed, options, rates), then each entry is applied
//! in order: seats taken, left and halted between ticks exactly where they happened, and each
//! tick stepped with the inputs it applied and the wall clock it stamped, so the snapshots are
//! the server's byte for byte. The first snapshot that differs is the first tick whose state
//! diverged (to the precision of the recording's `hash_every`); the states themselves are
//! compared at the first recorded keyframe from there.

use std::collections::HashMap;
use std::sync::Arc;

use bevy_ecs::entity::Entity;
use bytes::Bytes;
use tickstorm_shared::{PlayerId, RoomId, Tick};

use super::format::{Entry, EntryReader, FormatError, Header, read_header, snapshot_hash};
use crate::game::KindLayout;
use crate::input_queue::InputPort;
use crate::registry::GameRegistry;
use crate::world::{RoomSpec, SimWorld};

/// Why a recording cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Not readable as a recording.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The recording's game is not one this build hosts.
    #[error("the recording is of game {0:?}, which this server does not host")]
    UnknownGame(String),
    /// Segments that do not belong together.
    #[error("segment {index} does not continue the recording: {message}")]
    Segments {
        /// Which file (0-based).
        index: usize,
        /// What does not match.
        message: String,
    },
    /// The recording names something the replay cannot follow (a player never seated, a room
    /// the game refused to make).
    #[error("the recording cannot be followed at tick {tick}: {message}")]
    Inconsistent {
        /// The last tick replayed.
        tick: Tick,
        /// What happened.
        message: String,
    },
}

/// Where a replay first computed something else than the recording says.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The first tick whose snapshot differs.
    pub tick: Tick,
    /// The last checked tick before it whose snapshot was identical.
    pub last_identical: Option<Tick>,
    /// The states at the first recorded keyframe from `tick` on: `(tick, recorded, replayed)`.
    pub states: Option<(Tick, Bytes, Bytes)>,
}

/// What a replay has seen so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayStats {
    /// Ticks simulated.
    pub ticks: u64,
    /// Hashes that matched.
    pub hashes_identical: u64,
    /// Keyframes that matched.
    pub keyframes_identical: u64,
    /// Inputs applied.
    pub inputs: u64,
    /// Seats taken.
    pub joins: u64,
}

/// One replayed tick.
#[derive(Debug, Clone)]
pub struct Ticked {
    /// The tick.
    pub tick: Tick,
    /// The snapshot it encoded (ticks between two sends encode none).
    pub snapshot: Option<Bytes>,
}

/// A recorded room being re-simulated.
pub struct Replay {
    sim: SimWorld,
    room: Entity,
    game: usize,
    inputs: Arc<dyn InputPort>,
    header: Header,
    segments: Vec<EntryReader>,
    segment: usize,
    lookahead: Option<Entry>,
    seated: HashMap<PlayerId, Entity>,
    now_ms: u64,
    tick: Tick,
    last_snapshot: Option<(Tick, Bytes)>,
    stats: ReplayStats,
    difference: Option<Difference>,
    last_identical: Option<Tick>,
    end: Option<String>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("header", &self.header)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl Replay {
    /// A replay of the recording in `segments` (each a whole segment file, in order), with the
    /// games of `registry`.
    pub fn new(registry: &GameRegistry, segments: Vec<Bytes>) -> Result<Self, ReplayError> {
        let mut readers = Vec::with_capacity(segments.len());
        let mut header: Option<Header> = None;
        for (index, bytes) in segments.into_iter().enumerate() {
            let (this, start) = read_header(&bytes)?;
            if let Some(first) = &header {
                let expected = first.for_segment(index as u32);
                if this != expected {
                    return Err(ReplayError::Segments {
                        index,
                        message: format!(
                            "header of room {} segment {} (expected room {} segment {index})",
                            this.room_id, this.segment, first.room_id
                        ),
                    });
                }
            } else if this.segment != 0 {
                return Err(ReplayError::Segments {
                    index,
                    message: format!("the first file is segment {}", this.segment),
                });
            }
            header.get_or_insert(this);
            readers.push(EntryReader::new(bytes, start));
        }
        let header =
            header.ok_or_else(|| FormatError::NotARecording("no segment to read".to_owned()))?;
        let mut sim = SimWorld::new(registry);
        let game = sim
            .game_index(&header.game)
            .ok_or_else(|| ReplayError::UnknownGame(header.game.clone()))?;
        let spec = RoomSpec {
            id: RoomId::from(header.room_id.clone()),
            game,
            max_players: header.max_players,
            tick_rate: header.tick_rate,
            send_rate: header.send_rate,
            seed: header.seed,
            options: header.options.clone(),
        };
        let (room, inputs) = sim
            .spawn_room(spec)
            .map_err(|e| ReplayError::Inconsistent {
                tick: 0,
                message: format!("the game did not make the room: {e}"),
            })?;
        Ok(Self {
            sim,
            room,
            game,
            inputs,
            now_ms: header.started_unix_ms,
            header,
            segments: readers,
            segment: 0,
            lookahead: None,
            seated: HashMap::new(),
            tick: 0,
            last_snapshot: None,
            stats: ReplayStats::default(),
            difference: None,
            last_identical: None,
            end: None,
        })
    }

    /// The recording's header (segment 0).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The replayed game's replicated kinds (to read its snapshots).
    pub fn kinds(&self) -> &[KindLayout] {
        self.sim.kinds(self.game)
    }

    /// Counts so far.
    pub fn stats(&self) -> &ReplayStats {
        &self.stats
    }

    /// The first difference found so far.
    pub fn difference(&self) -> Option<&Difference> {
        self.difference.as_ref()
    }

    /// The last tick checked identical before any difference.
    pub fn last_identical(&self) -> Option<Tick> {
        self.last_identical
    }

    /// Why the recording ended (its `End` entry), once read; `None` for a recording cut short.
    pub fn end_reason(&self) -> Option<&str> {
        self.end.as_deref()
    }

    /// Whether the last segment ends inside an entry (the server stopped mid-write).
    pub fn truncated(&self) -> bool {
        self.segments.last().is_some_and(EntryReader::truncated)
    }

    /// The world being replayed (to inspect a game's state).
    pub fn sim(&self) -> &SimWorld {
        &self.sim
    }

    /// The replayed room's entity.
    pub fn room(&self) -> Entity {
        self.room
    }

    fn read(&mut self) -> Result<Option<Entry>, ReplayError> {
        if let Some(entry) = self.lookahead.take() {
            return Ok(Some(entry));
        }
        while let Some(reader) = self.segments.get_mut(self.segment) {
            if let Some(entry) = reader.next()? {
                return Ok(Some(entry));
            }
            self.segment += 1;
        }
        Ok(None)
    }

    fn inconsistent(&self, message: String) -> ReplayError {
        ReplayError::Inconsistent {
            tick: self.tick,
            message,
        }
    }

    /// Applies the recording up to and including its next tick, and checks what it recorded of
    /// that tick. `None` at the end of the recording.
    pub fn next_tick(&mut self) -> Result<Option<Ticked>, ReplayError> {
        loop {
            let Some(entry) = self.read()? else {
                return Ok(None);
            };
            match entry {
                Entry::Join { player_id, name } => {
                    self.stats.joins += 1;
                    // A join the game's hook refused was refused the same way when recorded.
                    if let Ok(player) = self.sim.spawn_player(self.room, player_id, name) {
                        self.seated.insert(player_id, player);
                    }
                }
                Entry::Leave { player_id } => {
                    if let Some(player) = self.seated.remove(&player_id) {
                        self.sim.despawn_player(player);
                    }
                }
                Entry::Halt { player_id } => {
                    if let Some(&player) = self.seated.get(&player_id) {
                        self.sim.halt_player(player);
                    }
                }
                Entry::Tick {
                    tick,
                    ms_since_previous,
                    inputs,
                } => return self.step(tick, ms_since_previous, &inputs).map(Some),
                // A check of the last tick after seat entries: the final keyframe, written when
                // the recording ends, after the players who left at the end.
                Entry::Hash { tick, .. } | Entry::Keyframe { tick, .. }
                    if self.stats.ticks > 0 && tick == self.tick =>
                {
                    self.compare(tick, entry);
                }
                Entry::Hash { tick, .. } | Entry::Keyframe { tick, .. } => {
                    return Err(self.inconsistent(format!(
                        "a check of tick {tick} that does not follow its tick"
                    )));
                }
                Entry::End { reason } => {
                    self.end = Some(reason);
                    return Ok(None);
                }
            }
        }
    }

    fn step(
        &mut self,
        tick: Tick,
        ms_since_previous: i64,
        inputs: &[(PlayerId, Bytes)],
    ) -> Result<Ticked, ReplayError> {
        for (player_id, input) in inputs {
            let player = *self.seated.get(player_id).ok_or_else(|| {
                self.inconsistent(format!("an input of player {player_id}, who is not seated"))
            })?;
            self.inputs
                .replay_msgpack(player, input)
                .map_err(|e| self.inconsistent(format!("an input that does not decode: {e}")))?;
        }
        self.stats.inputs += inputs.len() as u64;
        self.now_ms = self.now_ms.saturating_add_signed(ms_since_previous);
        let snapshot = self
            .sim
            .step(&[self.room], self.now_ms)
            .first()
            .map(|(_, bytes)| bytes.clone());
        self.tick = self.sim.room_tick(self.room).unwrap_or(0);
        self.stats.ticks += 1;
        if self.tick != tick {
            return Err(self.inconsistent(format!(
                "the recording says tick {tick}, the room reached {}",
                self.tick
            )));
        }
        if let Some(snapshot) = &snapshot {
            self.last_snapshot = Some((tick, snapshot.clone()));
        }
        self.check(tick)?;
        Ok(Ticked { tick, snapshot })
    }

    /// Reads the hash and keyframe entries that follow the tick and compares them.
    fn check(&mut self, tick: Tick) -> Result<(), ReplayError> {
        while let Some(entry) = self.read()? {
            if let Some(other) = self.compare(tick, entry) {
                self.lookahead = Some(other);
                break;
            }
        }
        Ok(())
    }

    /// Compares a hash or keyframe entry of `tick` with the replayed snapshot of `tick`;
    /// hands back any other entry.
    fn compare(&mut self, tick: Tick, entry: Entry) -> Option<Entry> {
        let ours = self
            .last_snapshot
            .as_ref()
            .filter(|(t, _)| *t == tick)
            .map(|(_, bytes)| bytes.clone());
        let (identical, recorded) = match entry {
            Entry::Hash { tick: t, hash } if t == tick => (
                ours.as_ref().is_some_and(|o| snapshot_hash(o) == hash),
                None,
            ),
            Entry::Keyframe { tick: t, snapshot } if t == tick => {
                (ours.as_ref() == Some(&snapshot), Some(snapshot))
            }
            other => return Some(other),
        };
        match (&mut self.difference, identical) {
            (None, true) => {
                self.last_identical = Some(tick);
                match recorded {
                    Some(_) => self.stats.keyframes_identical += 1,
                    None => self.stats.hashes_identical += 1,
                }
            }
            (None, false) => {
                self.difference = Some(Difference {
                    tick,
                    last_identical: self.last_identical,
                    states: recorded.map(|r| (tick, r, ours.unwrap_or_default())),
                });
            }
            (Some(difference), _) => {
                if difference.states.is_none()
                    && let Some(recorded) = recorded
                {
                    difference.states = Some((tick, recorded, ours.unwrap_or_default()));
                }
            }
        }
        None
    }

    /// Replays to the end of the recording, or, once a difference is found, to the keyframe
    /// that shows it (`stop_at_difference`).
    pub fn run(&mut self, stop_at_difference: bool) -> Result<(), ReplayError> {
        while self.next_tick()?.is_some() {
            if stop_at_difference && self.difference.as_ref().is_some_and(|d| d.states.is_some()) {
                break;
            }
        }
        Ok(())
    }
}
