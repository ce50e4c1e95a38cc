//! A bot's game brain: what a bot sends and how it reads the game's tables, one module per game,
//! chosen by `--game NAME` through [`brain_for`].
//!
//! The split: everything the swarm *measures* is the framework's and the same for every game
//! (tick numbers, the envelope's `last_input_seq`, acks, the delivery accounting, bytes; see
//! `bot.rs`). A brain only *plays*: it is handed each snapshot's entity rows while the framework
//! reads the envelope in the same pass ([`read_state`]), and builds each input's payload.
//!
//! What is read is the state a snapshot describes, not its bytes: a delta (version 3) only makes
//! sense applied to a state the bot holds, so the bot applies every payload to its seat's
//! [`ClientState`](tickstorm_shared::delta::ClientState) and the resulting state is walked with
//! [`State::visit`], which hands out rows exactly as `scan_snapshot` does for a keyframe. Why a
//! trait object with a row callback: the walk stays one allocation-free pass, and one virtual
//! call per row is noise next to applying the snapshot. An input is an [`Input`]: the framework's
//! fields and the brain's [`GameInput`], serialized straight into the wire format by the session's
//! usual emit path (no JSON tree on the way), so a brain cannot change how inputs travel.

mod blasters;
mod orbs;

use glam::Vec2;
use rand_chacha::ChaCha8Rng;
use tickstorm_shared::delta::State;
use tickstorm_shared::protocol::Tick;
use tickstorm_shared::{Field, PlayerEntry, PlayerId, SnapshotVisitor};

pub use blasters::Blasters;
pub use orbs::Orbs;

/// The games the swarm has a brain for, default first.
pub const GAMES: [&str; 2] = ["orbs", "blasters"];

/// One bot's player of one game (`Sync` because a bot holds `&self` across awaits).
pub trait Brain: Send + Sync {
    /// The game's registered name (what `room:create`/`room:join {game}` say).
    fn game(&self) -> &'static str;

    /// A snapshot of `tick` begins: forget what the previous one showed.
    fn begin(&mut self, tick: u64, server_time_ms: u64);

    /// One entity row of kind `kind` (fields without the `net_id`). `me` is the bot's own entity
    /// from the envelope (0 when it has none), which precedes every row.
    fn entity(&mut self, me: u32, kind: usize, net_id: u32, fields: &[Field]);

    /// The snapshot was read whole: decide what to do next.
    fn end(&mut self);

    /// The input numbered `seq` (without a baseline: the bot's feed adds it); `rng` is the bot's
    /// own seeded generator.
    fn input(&mut self, seq: u32, rng: &mut ChaCha8Rng) -> Input;

    /// What the brain saw of the game so far (counts named by the brain, summed over bots in the
    /// report): evidence that the bots really played, not only that the server answered.
    fn play(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// One `input` event's payload: the framework's fields (docs/protocol.md) next to the game's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Input {
    /// The input's number, increasing per seat.
    pub seq: u32,
    /// The tick of the newest state the bot holds, when it asks for deltas.
    pub baseline: Option<Tick>,
    /// What the brain decided.
    pub game: GameInput,
}

/// The game's own fields of an input, one variant per game the swarm plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GameInput {
    /// The orb arena: `move`, a direction.
    Orbs {
        /// The direction to move in (unit length, or zero).
        movement: Vec2,
    },
    /// Blasters: `move`, `aim` (radians) and `fire`.
    Blasters {
        /// The direction to move in (unit length, or zero).
        movement: Vec2,
        /// Where the blaster points, in radians.
        aim: f32,
        /// Whether to fire.
        fire: bool,
    },
}

impl serde::Serialize for Input {
    /// A map of `seq`, `baseline` (when set) and the game's fields, as the game's `Deserialize`
    /// reads it; written field by field rather than through a derived `flatten`, which would
    /// buffer the map of unknown length.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let game_fields = match self.game {
            GameInput::Orbs { .. } => 1,
            GameInput::Blasters { .. } => 3,
        };
        let len = 1 + usize::from(self.baseline.is_some()) + game_fields;
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("seq", &self.seq)?;
        if let Some(baseline) = self.baseline {
            map.serialize_entry("baseline", &baseline)?;
        }
        match self.game {
            GameInput::Orbs { movement } => {
                map.serialize_entry("move", &movement.to_array())?;
            }
            GameInput::Blasters {
                movement,
                aim,
                fire,
            } => {
                map.serialize_entry("move", &movement.to_array())?;
                map.serialize_entry("aim", &aim)?;
                map.serialize_entry("fire", &fire)?;
            }
        }
        map.end()
    }
}

/// The brain for `game`, or `None` for a game the swarm cannot play.
pub fn brain_for(game: &str) -> Option<Box<dyn Brain>> {
    match game {
        "orbs" => Some(Box::new(Orbs::default())),
        "blasters" => Some(Box::new(Blasters::default())),
        _ => None,
    }
}

/// Checks a game name, with an error that lists the known ones.
pub fn check_game(game: &str) -> Result<(), String> {
    if GAMES.contains(&game) {
        Ok(())
    } else {
        Err(format!(
            "--game {game:?}: the swarm has no brain for that game (known: {})",
            GAMES.join(", ")
        ))
    }
}

/// What the framework reads of one snapshot while the brain reads the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// The snapshot's tick.
    pub tick: u64,
    /// The bot's `last_input_seq` (None when the bot is not in the envelope).
    pub applied: Option<u32>,
}

/// Reads one state in one pass: the bot's envelope entry for the framework, every row for the
/// brain (then [`Brain::end`]). Allocates nothing.
pub fn read_state(state: &State, me: PlayerId, brain: &mut dyn Brain) -> Envelope {
    let mut frame = Frame {
        me,
        net_id: 0,
        applied: None,
        brain,
    };
    state.visit(&mut frame);
    let applied = frame.applied;
    frame.brain.end();
    Envelope {
        tick: state.tick,
        applied,
    }
}

/// The state of a keyframe whose kinds have `widths` fields, all exact: what a bot holds after
/// applying that keyframe, for the brains' tests.
/// An input as the JSON the common parser sends, for the brains' tests.
#[cfg(test)]
fn as_json(input: Input) -> serde_json::Value {
    serde_json::to_value(input).expect("an input serializes")
}

#[cfg(test)]
fn keyframe_state(bytes: &[u8], widths: &[usize]) -> State {
    let layout: Vec<_> = widths
        .iter()
        .map(|&w| tickstorm_shared::delta::KindCoding::exact(w))
        .collect();
    let mut state = State::default();
    state
        .read_keyframe(bytes, &layout, &mut Vec::new())
        .expect("a keyframe of the brain's game");
    state
}

/// The visitor behind [`read_state`].
struct Frame<'a> {
    me: PlayerId,
    net_id: u32,
    applied: Option<u32>,
    brain: &'a mut dyn Brain,
}

impl SnapshotVisitor for Frame<'_> {
    fn header(&mut self, tick: u64, server_time_ms: u64) {
        self.brain.begin(tick, server_time_ms);
    }

    fn player(&mut self, entry: PlayerEntry) {
        if entry.player_id == self.me {
            self.net_id = entry.net_id;
            self.applied = Some(entry.last_input_seq);
        }
    }

    fn entity(&mut self, kind: usize, net_id: u32, fields: &[Field]) {
        self.brain.entity(self.net_id, kind, net_id, fields);
    }
}

/// A row's `(x, y)` from its first two fields.
fn position(fields: &[Field]) -> Option<glam::Vec2> {
    Some(glam::Vec2::new(
        fields.first()?.as_f32()?,
        fields.get(1)?.as_f32()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_carry_the_framework_fields_next_to_the_games() {
        let orbs = Input {
            seq: 3,
            baseline: Some(5),
            game: GameInput::Orbs {
                movement: Vec2::new(1.0, 0.0),
            },
        };
        assert_eq!(
            as_json(orbs),
            serde_json::json!({ "seq": 3, "baseline": 5, "move": [1.0, 0.0] })
        );
        let stock = Input {
            baseline: None,
            ..orbs
        };
        assert_eq!(
            as_json(stock),
            serde_json::json!({ "seq": 3, "move": [1.0, 0.0] }),
            "no baseline field without a baseline"
        );
        let blasters = Input {
            seq: 4,
            baseline: None,
            game: GameInput::Blasters {
                movement: Vec2::new(0.0, -1.0),
                aim: 0.5,
                fire: true,
            },
        };
        assert_eq!(
            as_json(blasters),
            serde_json::json!({ "seq": 4, "move": [0.0, -1.0], "aim": 0.5, "fire": true })
        );
        // MessagePack writes the map's length first: it must count the entries written.
        for (input, entries) in [(orbs, 3), (stock, 2), (blasters, 4)] {
            let bytes = rmp_serde::to_vec_named(&input).expect("serializes");
            let value = rmpv::decode::read_value(&mut &bytes[..]).expect("one whole value");
            assert_eq!(value.as_map().map(Vec::len), Some(entries), "{input:?}");
        }
    }

    #[test]
    fn every_listed_game_has_a_brain_named_after_it() {
        for game in GAMES {
            assert_eq!(brain_for(game).map(|b| b.game()), Some(game));
            assert!(check_game(game).is_ok());
        }
        assert!(brain_for("chess").is_none());
        let err = check_game("chess").expect_err("an unknown game");
        assert!(
            err.contains("chess") && err.contains("orbs, blasters"),
            "{err}"
        );
    }
}
