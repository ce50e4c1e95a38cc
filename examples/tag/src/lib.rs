//! Tag, the smallest game on Tickstorm: whoever is "it" chases the others; touching one passes
//! "it" on and scores. Walked through in docs/write-a-game.md; `src/main.rs` serves it.

use bevy_ecs::prelude::*;
use glam::Vec2;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use tickstorm_sim::{
    Due, Game, GameBuilder, GameInput, Player, PlayerInput, PlayerSetup, Replicate, Room, RowWriter,
};

const ARENA: f32 = 500.0;
const SPEED: f32 = 150.0;
const REACH: f32 = 20.0;

/// `input`: `{seq, move: [x, y]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TagInput {
    /// Sequence number.
    pub seq: u32,
    /// Direction, `[x, y]`, at most length 1.
    #[serde(rename = "move")]
    pub movement: [f32; 2],
}

impl GameInput for TagInput {
    fn seq(&self) -> u32 {
        self.seq
    }
    fn validate(self) -> Result<Self, String> {
        let v = Vec2::from(self.movement);
        if !v.is_finite() {
            return Err("move must be two finite numbers".into());
        }
        let movement = v.clamp_length_max(1.0).to_array();
        Ok(Self { movement, ..self })
    }
}

/// A runner (on the player's entity), replicated as `[net_id, x, y, it]`.
#[derive(Component, Debug)]
pub struct Runner {
    /// Where.
    pub at: Vec2,
    /// Whether this runner is "it".
    pub it: bool,
    /// Ticks left standing still after being tagged.
    pub wait: u32,
}

impl Replicate for Runner {
    const NAME: &'static str = "runner";
    const FIELDS: &'static [&'static str] = &["x", "y", "it"];
    const PRECISION: &'static [f64] = &[0.125, 0.125];
    const POSITION: Option<[usize; 2]> = Some([0, 1]);
    type Data = &'static Runner;
    fn write(runner: &Runner, row: &mut RowWriter<'_>) {
        row.f32(runner.at.x).f32(runner.at.y).bool(runner.it);
    }
}

/// The game.
pub struct Tag;

impl Game for Tag {
    type Input = TagInput;
    type Options = ();

    fn name(&self) -> &'static str {
        "tag"
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn build(&self, game: &mut GameBuilder<'_, Self>) {
        game.replicate::<Runner>().add_systems(run_and_tag);
    }

    fn player_joined(&self, player: &mut PlayerSetup<'_>) {
        let at = Vec2::new(player.rng().random(), player.rng().random()) * ARENA;
        let (room, entity) = (player.room(), player.player());
        let world = player.world();
        let first = world
            .get::<Room>(room)
            .is_some_and(|r| r.players().len() == 1);
        world.entity_mut(entity).insert(Runner {
            at,
            it: first,
            wait: 0,
        });
    }
}

/// Moves every runner; "it" tags the first other runner in reach, scores, and the tagged runner,
/// now "it", waits a second before it may move (no tag-backs). A room without "it" gets one.
fn run_and_tag(
    due: Due<Tag>,
    rooms: Query<&Room>,
    mut runners: Query<(&PlayerInput<TagInput>, &mut Runner, &mut Player)>,
) {
    for room in due.rooms(&rooms) {
        for &e in room.players() {
            if let Ok((input, mut runner, _)) = runners.get_mut(e) {
                runner.wait = runner.wait.saturating_sub(1);
                let speed = if runner.wait > 0 { 0.0 } else { SPEED };
                let step = Vec2::from(input.0.movement) * speed * room.dt();
                runner.at = (runner.at + step).clamp(Vec2::ZERO, Vec2::splat(ARENA));
            }
        }
        let is_it = |e: &&Entity| runners.get(**e).is_ok_and(|r| r.1.it);
        let Some(&it) = room.players().iter().find(is_it).or(room.players().first()) else {
            continue;
        };
        let Ok(chaser) = runners.get(it).map(|r| r.1.at) else {
            continue;
        };
        let caught = room.players().iter().copied().find(|&e| {
            e != it
                && runners
                    .get(e)
                    .is_ok_and(|r| r.1.at.distance(chaser) <= REACH)
        });
        match (caught, runners.get_many_mut([it, caught.unwrap_or(it)])) {
            (Some(_), Ok([(_, mut chaser, mut scorer), (_, mut runner, _)])) => {
                (chaser.it, runner.it, runner.wait) = (false, true, room.tick_rate());
                scorer.score += 1;
            }
            _ => {
                if let Ok((_, mut chaser, _)) = runners.get_mut(it) {
                    chaser.it = true;
                }
            }
        }
    }
}
