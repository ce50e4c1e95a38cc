//! The blasters brain (game `blasters`, /work/notes/blasters-contract.md, docs/protocol.md): a
//! fighter that duels the nearest living other fighter.
//!
//! Tables: kind 0 `fighter` `[x, y, aim, health, score, respawn]` (respawn = ticks until respawn,
//! 0 = alive), kind 1 `bolt` `[x, y, vx, vy, owner]`, kind 2 `round`
//! `[phase, ticks_left, round, kills_to_win]` (phase 0 warm-up, 1 playing, 2 over). Input
//! `{seq, move: [x, y], aim, fire}`.
//!
//! Play: keep 150..250 units from the target (close in when farther, back off when nearer,
//! strafe in between, turning back at walls), aim where the target will be when a bolt (600
//! units/s) gets there, and hold the trigger while the round is `playing` and the bot is alive.
//! Alone (or with everyone else dead) it random-walks, trigger released. Random choices come from
//! the bot's own seeded generator, so a run is repeatable for a `--seed`.

use std::f32::consts::{PI, TAU};

use glam::Vec2;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use tickstorm_shared::Field;

use super::{Brain, GameInput, Input, position};

// The game's rules the brain plays by (games/blasters/src/rules.rs; a test checks they agree).
// Copied, not imported: the bot client stays free of the simulation's dependencies.
/// Arena side (units).
const ARENA: f32 = 800.0;
/// Bolt speed (units/s), for leading the target.
const BOLT_SPEED: f32 = 600.0;
/// The distance band the brain keeps from its target.
const NEAR: f32 = 150.0;
const FAR: f32 = 250.0;
/// Closer than this to a wall, a strafing or wandering bot turns back inward.
const WALL_MARGIN: f32 = 60.0;
/// Fastest plausible fighter speed (units/s); a faster apparent move is a respawn, not motion.
const MAX_SPEED: f32 = 300.0;
/// The `round` phase in which bolts fly.
const PLAYING: u32 = 1;

/// The bot's own fighter in one snapshot.
#[derive(Debug, Clone, Copy)]
struct Me {
    at: Vec2,
    health: u32,
    score: u32,
    alive: bool,
}

/// See the module docs.
#[derive(Debug)]
pub struct Blasters {
    // This snapshot.
    time_ms: u64,
    me: Option<Me>,
    /// Living other fighters (reused buffer: no allocation once grown).
    others: Vec<(u32, Vec2)>,
    phase: Option<u32>,
    // Decisions, kept until the next snapshot.
    moving: Vec2,
    aim: f32,
    fire: bool,
    /// +1 or -1: which way the bot strafes around its target.
    strafe: f32,
    /// Direction of the random walk.
    wander: Vec2,
    /// The target of the last snapshot (net id, place, server time), for its velocity.
    last_target: Option<(u32, Vec2, u64)>,
    // Play evidence.
    last_health: Option<u32>,
    last_score: Option<u32>,
    newest_bolt: u32,
    bolts_seen: u64,
    own_bolts: u64,
    hits_taken: u64,
    kills: u64,
    playing_snapshots: u64,
}

impl Default for Blasters {
    fn default() -> Self {
        Self {
            time_ms: 0,
            me: None,
            others: Vec::with_capacity(16),
            phase: None,
            moving: Vec2::ZERO,
            aim: 0.0,
            fire: false,
            strafe: 1.0,
            wander: Vec2::ZERO,
            last_target: None,
            last_health: None,
            last_score: None,
            newest_bolt: 0,
            bolts_seen: 0,
            own_bolts: 0,
            hits_taken: 0,
            kills: 0,
            playing_snapshots: 0,
        }
    }
}

impl Blasters {
    /// The current decision: `(move, aim, fire)`.
    pub fn decision(&self) -> (Vec2, f32, bool) {
        (self.moving, self.aim, self.fire)
    }

    /// Steering and aim against the target at `at`, moving at `velocity`.
    fn duel(&mut self, me: Vec2, at: Vec2, velocity: Vec2) {
        let to = at - me;
        let distance = to.length();
        let toward = to.normalize_or_zero();
        self.moving = if distance > FAR {
            toward
        } else if distance < NEAR {
            -toward
        } else {
            let side = toward.perp() * self.strafe;
            if near_wall(me, side) {
                self.strafe = -self.strafe;
            }
            toward.perp() * self.strafe
        };
        let lead = at + velocity * (distance / BOLT_SPEED);
        self.aim = wrap_angle((lead - me).to_angle());
    }
}

/// True when `me` is within the margin of a wall that `heading` walks into.
fn near_wall(me: Vec2, heading: Vec2) -> bool {
    (me.x < WALL_MARGIN && heading.x < 0.0)
        || (me.x > ARENA - WALL_MARGIN && heading.x > 0.0)
        || (me.y < WALL_MARGIN && heading.y < 0.0)
        || (me.y > ARENA - WALL_MARGIN && heading.y > 0.0)
}

/// An angle wrapped into [-PI, PI), as the contract wants (0 for a non-finite one).
fn wrap_angle(angle: f32) -> f32 {
    if (-PI..PI).contains(&angle) {
        return angle;
    }
    let wrapped = (angle + PI).rem_euclid(TAU) - PI;
    match wrapped {
        w if !w.is_finite() => 0.0,
        // rem_euclid can round up to TAU itself just below a multiple of it.
        w if w >= PI => -PI,
        w => w,
    }
}

impl Brain for Blasters {
    fn game(&self) -> &'static str {
        "blasters"
    }

    fn begin(&mut self, _tick: u64, server_time_ms: u64) {
        self.time_ms = server_time_ms;
        self.me = None;
        self.others.clear();
        self.phase = None;
    }

    fn entity(&mut self, me: u32, kind: usize, net_id: u32, fields: &[Field]) {
        let uint = |i: usize| fields.get(i).and_then(|f| f.as_u32());
        match kind {
            0 => {
                let (Some(at), Some(health), Some(score), Some(respawn)) =
                    (position(fields), uint(3), uint(4), uint(5))
                else {
                    return;
                };
                let alive = respawn == 0 && health > 0;
                if net_id == me {
                    self.me = Some(Me {
                        at,
                        health,
                        score,
                        alive,
                    });
                } else if alive {
                    self.others.push((net_id, at));
                }
            }
            // Bolt net ids are never reused: one above the newest seen is a new bolt.
            1 if net_id > self.newest_bolt => {
                self.newest_bolt = net_id;
                self.bolts_seen += 1;
                if me != 0 && uint(4) == Some(me) {
                    self.own_bolts += 1;
                }
            }
            2 => self.phase = uint(0),
            _ => {}
        }
    }

    fn end(&mut self) {
        self.playing_snapshots += u64::from(self.phase == Some(PLAYING));
        let Some(me) = self.me else {
            self.fire = false;
            return;
        };
        if let Some(last) = self.last_health
            && me.health < last
        {
            self.hits_taken += 1;
        }
        if let Some(last) = self.last_score
            && me.score > last
        {
            self.kills += u64::from(me.score - last);
        }
        self.last_health = Some(me.health);
        self.last_score = Some(me.score);
        if !me.alive {
            self.fire = false;
            self.last_target = None;
            return;
        }
        let target = self
            .others
            .iter()
            .min_by(|a, b| {
                me.at
                    .distance_squared(a.1)
                    .total_cmp(&me.at.distance_squared(b.1))
            })
            .copied();
        let Some((id, at)) = target else {
            // Alone: random walk (see `input`), looking where it goes.
            self.fire = false;
            self.last_target = None;
            self.moving = self.wander;
            if self.wander != Vec2::ZERO {
                self.aim = wrap_angle(self.wander.to_angle());
            }
            return;
        };
        let velocity = match self.last_target {
            Some((last_id, last_at, last_ms)) if last_id == id && self.time_ms > last_ms => {
                let v = (at - last_at) / ((self.time_ms - last_ms) as f32 / 1000.0);
                if v.length() <= MAX_SPEED {
                    v
                } else {
                    Vec2::ZERO
                }
            }
            _ => Vec2::ZERO,
        };
        self.last_target = Some((id, at, self.time_ms));
        self.duel(me.at, at, velocity);
        self.fire = self.phase == Some(PLAYING);
    }

    fn input(&mut self, seq: u32, rng: &mut ChaCha8Rng) -> Input {
        // Now and then switch strafing sides, so duels do not settle into circles.
        if rng.random::<f32>() < 0.03 {
            self.strafe = -self.strafe;
        }
        let alone = self.last_target.is_none();
        if alone {
            let at = self.me.map_or(Vec2::splat(ARENA / 2.0), |m| m.at);
            if self.wander == Vec2::ZERO || rng.random::<f32>() < 0.1 {
                self.wander = Vec2::from_angle(rng.random_range(0.0..TAU));
            }
            if near_wall(at, self.wander) {
                self.wander = (Vec2::splat(ARENA / 2.0) - at).normalize_or(Vec2::X);
            }
            self.moving = self.wander;
            self.aim = wrap_angle(self.wander.to_angle());
        }
        Input {
            seq,
            baseline: None,
            game: GameInput::Blasters {
                movement: self.moving,
                aim: self.aim,
                fire: self.fire,
            },
        }
    }

    fn play(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("bolts_seen", self.bolts_seen),
            ("own_bolts_seen", self.own_bolts),
            ("hits_taken", self.hits_taken),
            ("kills", self.kills),
            ("playing_snapshots", self.playing_snapshots),
        ]
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use tickstorm_shared::{PlayerEntry, SnapshotWriter};

    use super::super::{keyframe_state, read_state};
    use super::*;

    /// A fighter row: `(net_id, x, y, health, score, respawn)`.
    type Fighter = (u32, f32, f32, u32, u32, u32);

    /// A blasters snapshot at `time_ms` in which player 7 owns fighter 50.
    fn snapshot(time_ms: u64, fighters: &[Fighter], bolts: &[(u32, u32)], phase: u32) -> Vec<u8> {
        let mut w = SnapshotWriter::new();
        let players = fighters.iter().map(|f| PlayerEntry {
            player_id: f.0 - 43,
            net_id: f.0,
            last_input_seq: 5,
        });
        w.begin(
            time_ms / 33,
            time_ms,
            players.collect::<Vec<_>>().into_iter(),
            3,
        );
        w.kind(0, fighters.len(), |k| {
            for &(id, x, y, health, score, respawn) in fighters {
                k.row(id, 6, |r| {
                    r.f32(x)
                        .f32(y)
                        .f32(0.0)
                        .uint(health.into())
                        .uint(score.into())
                        .uint(respawn.into());
                });
            }
        });
        w.kind(1, bolts.len(), |k| {
            for &(id, owner) in bolts {
                k.row(id, 5, |r| {
                    r.f32(10.0).f32(10.0).f32(600.0).f32(0.0).uint(owner.into());
                });
            }
        });
        w.kind(2, 1, |k| {
            k.row(1, 4, |r| {
                r.uint(phase.into()).uint(100).uint(1).uint(10);
            });
        });
        w.finish().to_vec()
    }

    fn read(brain: &mut Blasters, bytes: &[u8]) -> (Vec2, f32, bool) {
        let envelope = read_state(&keyframe_state(bytes, &[6, 5, 4]), 7, brain);
        assert_eq!(
            envelope.applied,
            Some(5),
            "the framework's part is read too"
        );
        brain.decision()
    }

    fn close(a: Vec2, b: Vec2) -> bool {
        a.distance(b) < 1e-4
    }

    #[test]
    fn closes_in_on_the_nearest_living_fighter_aims_at_it_and_fires_only_while_playing() {
        let me = (50, 400.0, 400.0, 100, 0, 0);
        let far = (51, 700.0, 400.0, 100, 0, 0);
        // Nearer, but dead (respawning): ignored.
        let dead = (52, 420.0, 400.0, 0, 0, 30);
        let mut brain = Blasters::default();
        let (moving, aim, fire) = read(&mut brain, &snapshot(1_000, &[me, far, dead], &[], 1));
        assert!(
            close(moving, Vec2::X),
            "toward the target 300 away: {moving}"
        );
        assert!(aim.abs() < 1e-5, "aims straight at it: {aim}");
        assert!(fire, "fires while playing");
        let (_, _, fire) = read(&mut brain, &snapshot(1_033, &[me, far, dead], &[], 0));
        assert!(!fire, "holds fire in the warm-up");
        let (_, _, fire) = read(&mut brain, &snapshot(1_066, &[me, far, dead], &[], 2));
        assert!(!fire, "holds fire once the round is over");

        let input = super::super::as_json(brain.input(9, &mut ChaCha8Rng::seed_from_u64(3)));
        assert_eq!(input["seq"], 9);
        assert_eq!(input["fire"], false);
        assert!(input["aim"].as_f64().is_some_and(f64::is_finite), "{input}");
        assert_eq!(input["move"].as_array().map(Vec::len), Some(2), "{input}");
    }

    #[test]
    fn keeps_its_distance_strafes_and_leads_a_moving_target() {
        let me = (50, 400.0, 400.0, 100, 0, 0);
        let mut brain = Blasters::default();
        let (moving, _, _) = read(
            &mut brain,
            &snapshot(1_000, &[me, (51, 500.0, 400.0, 100, 0, 0)], &[], 1),
        );
        assert!(close(moving, -Vec2::X), "backs off from 100 away: {moving}");
        let (moving, _, _) = read(
            &mut brain,
            &snapshot(1_000, &[me, (51, 600.0, 400.0, 100, 0, 0)], &[], 1),
        );
        assert!(
            close(moving.abs(), Vec2::Y),
            "strafes at 200 away: {moving}"
        );

        // The target moves 20 units down in 100 ms (200 units/s) and is 300 away: a bolt takes
        // 0.5 s, so the aim leads it by 100 units, to (700, 520).
        let mut brain = Blasters::default();
        read(
            &mut brain,
            &snapshot(1_000, &[me, (51, 700.0, 400.0, 100, 0, 0)], &[], 1),
        );
        let (_, aim, _) = read(
            &mut brain,
            &snapshot(1_100, &[me, (51, 700.0, 420.0, 100, 0, 0)], &[], 1),
        );
        let expected = (120.0f32).atan2(300.0);
        assert!(
            (aim - expected).abs() < 2e-3,
            "aim {aim}, expected {expected}"
        );
    }

    #[test]
    fn strafing_turns_back_at_a_wall() {
        // At the bottom wall, strafing down (+y) around a target to the right turns upward.
        let me = (50, 400.0, 780.0, 100, 0, 0);
        let mut brain = Blasters::default();
        let (moving, _, _) = read(
            &mut brain,
            &snapshot(1_000, &[me, (51, 600.0, 780.0, 100, 0, 0)], &[], 1),
        );
        assert!(
            close(moving, -Vec2::Y),
            "strafes away from the wall: {moving}"
        );
    }

    #[test]
    fn alone_it_walks_at_random_inside_the_arena_without_firing() {
        let mut brain = Blasters::default();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let lonely = snapshot(
            1_000,
            &[(50, 400.0, 400.0, 100, 0, 0), (51, 10.0, 10.0, 0, 0, 9)],
            &[],
            1,
        );
        read(&mut brain, &lonely);
        let mut directions = Vec::new();
        for seq in 1..=60 {
            let input = super::super::as_json(brain.input(seq, &mut rng));
            assert_eq!(input["fire"], false, "nobody to shoot at");
            let (x, y) = (
                input["move"][0].as_f64().expect("a number"),
                input["move"][1].as_f64().expect("a number"),
            );
            assert!((x.hypot(y) - 1.0).abs() < 1e-4, "walks: {input}");
            directions.push((x, y));
        }
        directions.dedup();
        assert!(directions.len() > 1, "and changes direction now and then");
        // In a corner it heads back toward the middle.
        read(
            &mut brain,
            &snapshot(1_033, &[(50, 20.0, 20.0, 100, 0, 0)], &[], 1),
        );
        brain.wander = Vec2::new(-1.0, 0.0);
        let input = super::super::as_json(brain.input(61, &mut rng));
        assert!(
            input["move"][0].as_f64().expect("a number") > 0.0
                && input["move"][1].as_f64().expect("a number") > 0.0,
            "{input}"
        );
    }

    #[test]
    fn counts_bolts_hits_and_kills_as_play_evidence() {
        let mut brain = Blasters::default();
        let foe = (51, 700.0, 400.0, 100, 0, 0);
        read(
            &mut brain,
            &snapshot(
                1_000,
                &[(50, 400.0, 400.0, 100, 0, 0), foe],
                &[(3, 50), (4, 51)],
                1,
            ),
        );
        // The same bolts again, one new: counted once each.
        read(
            &mut brain,
            &snapshot(
                1_033,
                &[(50, 400.0, 400.0, 66, 1, 0), foe],
                &[(3, 50), (4, 51), (5, 50)],
                1,
            ),
        );
        // Killed: health 0 and respawning; a dead fighter holds fire.
        let (_, _, fire) = read(
            &mut brain,
            &snapshot(1_066, &[(50, 400.0, 400.0, 0, 1, 60), foe], &[], 1),
        );
        assert!(!fire);
        let play = brain.play();
        let get = |name: &str| play.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert_eq!(get("bolts_seen"), Some(3));
        assert_eq!(get("own_bolts_seen"), Some(2));
        assert_eq!(get("hits_taken"), Some(2));
        assert_eq!(get("kills"), Some(1));
        assert_eq!(get("playing_snapshots"), Some(3));
    }

    #[test]
    fn the_rules_played_by_are_the_games() {
        use tickstorm_blasters::rules;
        assert_eq!(ARENA, rules::ARENA_SIZE);
        assert_eq!(BOLT_SPEED, rules::BOLT_SPEED);
        const { assert!(MAX_SPEED > rules::FIGHTER_SPEED) };
        const { assert!(WALL_MARGIN > rules::FIGHTER_RADIUS) };
        // The band is within a bolt's range (speed x lifetime).
        const { assert!(FAR < rules::BOLT_SPEED * rules::BOLT_LIFETIME_SECS) };
        for angle in [PI, -PI, 3.0 * PI, 7.0, -0.1, 1e9, TAU - 1e-7] {
            assert_eq!(wrap_angle(angle), rules::wrap_angle(angle), "{angle}");
        }
    }

    #[test]
    fn angles_wrap_into_the_contracts_range() {
        assert!((wrap_angle(PI) + PI).abs() < 1e-6);
        assert!((wrap_angle(-PI) + PI).abs() < 1e-6);
        assert!((wrap_angle(1.0) - 1.0).abs() < 1e-6);
        assert!((wrap_angle(TAU + 0.5) - 0.5).abs() < 1e-5);
        assert_eq!(wrap_angle(f32::NAN), 0.0);
    }
}
