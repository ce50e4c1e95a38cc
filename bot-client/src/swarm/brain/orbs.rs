//! The orb arena's brain (game `orbs`): head for the nearest orb, as the swarm's bots always did.
//!
//! Tables (docs/protocol.md): kind 0 `avatar` `[x, y, vx, vy, score]`, kind 1 `orb` `[x, y]`;
//! avatars come first, so the bot knows where it is before it sees the orbs. Input
//! `{seq, move: [x, y]}`. Before the first snapshot shows an orb (or on a game without orbs) the
//! bot walks a random direction drawn from its own seeded generator.

use glam::Vec2;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use tickstorm_shared::Field;

use super::{Brain, GameInput, Input, position};

/// See the module docs.
#[derive(Debug, Default)]
pub struct Orbs {
    /// Where the bot walks (unit length, or zero before the first decision).
    direction: Vec2,
    /// This snapshot: the bot's avatar and the nearest orb so far (squared distance, place).
    me: Option<Vec2>,
    nearest: Option<(f32, Vec2)>,
    /// Orb rows seen over the run (play evidence).
    orbs_seen: u64,
}

impl Orbs {
    /// Where the bot walks now.
    pub fn direction(&self) -> Vec2 {
        self.direction
    }
}

impl Brain for Orbs {
    fn game(&self) -> &'static str {
        "orbs"
    }

    fn begin(&mut self, _tick: u64, _server_time_ms: u64) {
        self.me = None;
        self.nearest = None;
    }

    fn entity(&mut self, me: u32, kind: usize, net_id: u32, fields: &[Field]) {
        match kind {
            0 if net_id == me => self.me = position(fields),
            1 => {
                self.orbs_seen += 1;
                if let (Some(me), Some(orb)) = (self.me, position(fields)) {
                    let d = me.distance_squared(orb);
                    if self.nearest.is_none_or(|(best, _)| d < best) {
                        self.nearest = Some((d, orb));
                    }
                }
            }
            _ => {}
        }
    }

    fn end(&mut self) {
        if let (Some(me), Some((_, orb))) = (self.me, self.nearest) {
            self.direction = (orb - me).normalize_or_zero();
        }
    }

    fn input(&mut self, seq: u32, rng: &mut ChaCha8Rng) -> Input {
        if self.direction == Vec2::ZERO {
            self.direction = Vec2::from_angle(rng.random_range(0.0..std::f32::consts::TAU));
        }
        Input {
            seq,
            baseline: None,
            game: GameInput::Orbs {
                movement: self.direction,
            },
        }
    }

    fn play(&self) -> Vec<(&'static str, u64)> {
        vec![("orb_rows_seen", self.orbs_seen)]
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use tickstorm_shared::{PlayerEntry, SnapshotWriter};

    use super::super::{keyframe_state, read_state};
    use super::*;

    /// Player 7 (avatar net id 40) at (100, 100); another avatar right next to it; orbs at
    /// (100, 400), (300, 100) and (130, 60).
    fn arena() -> Vec<u8> {
        let mut w = SnapshotWriter::new();
        let players =
            [(7, 40, 12), (8, 41, 3)].map(|(player_id, net_id, last_input_seq)| PlayerEntry {
                player_id,
                net_id,
                last_input_seq,
            });
        w.begin(99, 1_000, players.into_iter(), 2);
        w.kind(0, 2, |k| {
            k.row(40, 5, |r| {
                r.f32(100.0).f32(100.0).f32(0.0).f32(0.0).uint(3);
            });
            k.row(41, 5, |r| {
                r.f32(101.0).f32(100.0).f32(0.0).f32(0.0).uint(0);
            });
        });
        w.kind(1, 3, |k| {
            for (id, x, y) in [(1, 100.0, 400.0), (2, 300.0, 100.0), (3, 130.0, 60.0)] {
                k.row(id, 2, |r| {
                    r.f32(x).f32(y);
                });
            }
        });
        w.finish().to_vec()
    }

    #[test]
    fn heads_for_the_nearest_orb_and_reads_the_envelope() {
        let mut brain = Orbs::default();
        let envelope = read_state(&keyframe_state(&arena(), &[5, 2]), 7, &mut brain);
        assert_eq!((envelope.tick, envelope.applied), (99, Some(12)));
        // The orb at (130, 60) is 50 away: the direction is (30, -40) / 50.
        assert!(
            brain.direction().distance(Vec2::new(0.6, -0.8)) < 1e-5,
            "{:?}",
            brain.direction()
        );
        let input = super::super::as_json(brain.input(13, &mut ChaCha8Rng::seed_from_u64(1)));
        assert_eq!(input["seq"], 13);
        assert!(
            (input["move"][0].as_f64().expect("a number") - 0.6).abs() < 1e-5,
            "{input}"
        );
        assert!(
            (input["move"][1].as_f64().expect("a number") + 0.8).abs() < 1e-5,
            "{input}"
        );
        assert_eq!(brain.play(), vec![("orb_rows_seen", 3)]);
    }

    #[test]
    fn a_player_missing_from_the_envelope_wanders_and_applies_nothing() {
        let mut brain = Orbs::default();
        let envelope = read_state(&keyframe_state(&arena(), &[5, 2]), 99, &mut brain);
        assert_eq!(envelope.applied, None);
        assert_eq!(brain.direction(), Vec2::ZERO, "no avatar, no orb chosen");
        let input = super::super::as_json(brain.input(1, &mut ChaCha8Rng::seed_from_u64(1)));
        let (x, y) = (
            input["move"][0].as_f64().expect("a number"),
            input["move"][1].as_f64().expect("a number"),
        );
        assert!(
            (x.hypot(y) - 1.0).abs() < 1e-5,
            "a random unit move: {input}"
        );
    }
}
