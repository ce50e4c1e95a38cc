//! Blasters: a round-based arena shooter, the second game on Tickstorm's public game API (after
//! the orb arena), written to show what the API holds for a game whose entities are born and die
//! every second.
//!
//! Players steer, aim and fire bolts; a bolt flies for a second, dies at a wall or on a hit; three
//! hits kill, the shooter scores, the victim respawns two seconds later at a seeded place. Rooms
//! cycle through rounds: warm-up (no firing; it counts down once two fighters are seated) ->
//! playing (until time is up or someone reaches `kills_to_win`) -> over (the scoreboard; nothing
//! moves) -> the next round with scores reset. Deterministic from the room seed.
//!
//! - input: [`BlasterInput`] `{seq, move: [x, y], aim, fire?}`;
//! - replicated kinds: 0 `fighter` `[net_id, x, y, aim, health, score, respawn]` (the player's own
//!   entity), 1 `bolt` `[net_id, x, y, vx, vy, owner]`, 2 `round`
//!   `[net_id, phase, ticks_left, round, kills_to_win]`;
//! - create options: [`BlasterOptions`] `{round_seconds?, kills_to_win?, warmup_seconds?}`;
//! - lobby metadata: `{"phase": "warmup"|"playing"|"over", "round": n, "top_score": n}`.

mod components;
mod input;
pub mod rules;
mod systems;
mod view;

use bevy_ecs::prelude::*;
use glam::Vec2;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use tickstorm_sim::{Game, GameBuilder, PlayerSetup, RoomMetadata, RoomSetup};

pub use components::{Arena, Bolt, Fighter, Phase, Round};
pub use input::BlasterInput;
pub use view::{BlastersView, BoltState, FighterState, RoundState};

/// The game's registry name.
pub const NAME: &str = "blasters";

/// The game.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blasters;

/// `room:create {game: "blasters", options}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlasterOptions {
    /// Length of a round, seconds (5..=600).
    pub round_seconds: u32,
    /// Kills that end a round early (1..=100).
    pub kills_to_win: u32,
    /// Length of the warm-up once two fighters are seated, seconds (0..=30).
    pub warmup_seconds: u32,
}

impl Default for BlasterOptions {
    fn default() -> Self {
        BlasterOptions {
            round_seconds: 60,
            kills_to_win: 10,
            warmup_seconds: 3,
        }
    }
}

impl Game for Blasters {
    type Input = BlasterInput;
    type Options = BlasterOptions;

    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn build(&self, game: &mut GameBuilder<'_, Self>) {
        game.replicate::<Fighter>()
            .replicate::<Bolt>()
            .replicate::<Round>()
            .add_systems(
                (
                    systems::move_fighters,
                    systems::fly_bolts,
                    systems::fire,
                    systems::advance_round,
                    systems::publish_metadata,
                )
                    .chain(),
            );
    }

    fn validate_options(&self, options: &BlasterOptions) -> Result<(), String> {
        let check = |name: &str, value: u32, range: std::ops::RangeInclusive<u32>| {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "{name} must be {}..={} (got {value})",
                    range.start(),
                    range.end()
                ))
            }
        };
        check("round_seconds", options.round_seconds, 5..=600)?;
        check("kills_to_win", options.kills_to_win, 1..=100)?;
        check("warmup_seconds", options.warmup_seconds, 0..=30)
    }

    fn setup_room(&self, room: &mut RoomSetup<'_>, options: &BlasterOptions) {
        let rate = room.tick_rate();
        let warmup_ticks = options.warmup_seconds * rate;
        let round = room.spawn(Round {
            phase: Phase::WarmUp,
            ticks_left: warmup_ticks,
            number: 1,
            kills_to_win: options.kills_to_win,
            warmup_ticks,
            playing_ticks: options.round_seconds * rate,
            over_ticks: rules::ROUND_OVER_SECS * rate,
        });
        let entity = room.room();
        room.world().entity_mut(entity).insert((
            Arena { round },
            RoomMetadata(serde_json::json!({"phase": "warmup", "round": 1, "top_score": 0})),
        ));
    }

    fn player_joined(&self, player: &mut PlayerSetup<'_>) {
        let unit = Vec2::new(player.rng().random(), player.rng().random());
        let entity = player.player();
        player
            .world()
            .entity_mut(entity)
            .insert(Fighter::spawned_at(rules::spawn_position(unit)));
    }
}

#[cfg(test)]
mod tests;
