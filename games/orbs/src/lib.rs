//! The orb arena: Tickstorm's default game, written only against the public game API
//! (`tickstorm-sim`), as any studio's game would be.
//!
//! A top-down arena (1000 x 1000 units). Players move at up to 200 units/s by `move` and stay
//! fully inside the arena; touching an orb scores 1 and the orb respawns at a seeded random
//! place; 32 orbs per room.
//!
//! - input: [`OrbInput`] `{seq, move: [x, y], buttons?}`;
//! - replicated kinds: 0 `avatar` `[net_id, x, y, vx, vy, score]` (the player's own entity, so
//!   the envelope's `net_id` finds it), 1 `orb` `[net_id, x, y]`;
//! - create options: none (`{}`);
//! - lobby metadata: `{"top_score": n}`.

mod components;
mod input;
pub mod rules;
mod systems;
mod view;

use bevy_ecs::prelude::*;
use glam::Vec2;
use rand::RngExt;
use tickstorm_sim::{Due, Game, GameBuilder, Player, PlayerSetup, Room, RoomMetadata, RoomSetup};

pub use components::{Avatar, Orb, OrbField, Position, Velocity};
pub use input::OrbInput;
pub use systems::Scratch;
pub use view::{AvatarState, OrbState, OrbView};

/// The game's registry name.
pub const NAME: &str = "orbs";

/// The orb arena.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrbArena;

/// The orb arena takes no create options.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrbOptions {}

impl Game for OrbArena {
    type Input = OrbInput;
    type Options = OrbOptions;

    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn build(&self, game: &mut GameBuilder<'_, Self>) {
        game.world().init_resource::<Scratch>();
        game.replicate::<Avatar>().replicate::<Orb>().add_systems(
            (
                systems::move_avatars,
                systems::collect_orbs,
                publish_top_score,
            )
                .chain(),
        );
    }

    fn setup_room(&self, room: &mut RoomSetup<'_>, _options: &OrbOptions) {
        let orbs: Vec<Entity> = (0..rules::ORBS_PER_ROOM)
            .map(|_| {
                let unit = Vec2::new(room.rng().random(), room.rng().random());
                room.spawn((Orb, Position(rules::orb_spawn_position(unit))))
            })
            .collect();
        let entity = room.room();
        room.world().entity_mut(entity).insert((
            OrbField(orbs),
            RoomMetadata(serde_json::json!({"top_score": 0})),
        ));
    }

    fn player_joined(&self, player: &mut PlayerSetup<'_>) {
        let unit = Vec2::new(player.rng().random(), player.rng().random());
        let entity = player.player();
        player.world().entity_mut(entity).insert((
            Avatar,
            Position(rules::player_spawn_position(unit)),
            Velocity::default(),
        ));
    }
}

/// Keeps the lobby's `top_score` current; writes only when it changed, so the metadata is not
/// marked changed every tick.
fn publish_top_score(
    due: Due<OrbArena>,
    rooms: Query<&Room>,
    players: Query<&Player>,
    mut metadata: Query<&mut RoomMetadata>,
) {
    for entity in due.entities() {
        let Ok(room) = rooms.get(entity) else {
            continue;
        };
        let top = room.top_score(&players);
        let Ok(mut meta) = metadata.get_mut(entity) else {
            continue;
        };
        if meta.0.get("top_score").and_then(serde_json::Value::as_u64) == Some(u64::from(top)) {
            continue;
        }
        // In place: a number does not allocate, a new map would (the tick stays allocation-free).
        match meta.0.get_mut("top_score") {
            Some(value) => *value = top.into(),
            None => meta.0 = serde_json::json!({ "top_score": top }),
        }
    }
}

#[cfg(test)]
mod tests;
