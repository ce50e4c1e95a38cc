//! The orb arena's tick, after the framework has delivered inputs: move avatars -> collect orbs.
//!
//! Every system walks only the due rooms of this game ([`Due`]), and within a room only its
//! members, so a round costs what the due rooms cost, however many rooms exist.

use bevy_ecs::prelude::*;
use glam::Vec2;
use rand::RngExt;
use tickstorm_sim::{Due, Player, PlayerInput, Room};

use crate::components::{OrbField, Position, Velocity};
use crate::{OrbArena, OrbInput, rules};

/// Buffers reused from tick to tick so a steady-state round does not allocate for them.
#[derive(Resource, Debug, Default)]
pub struct Scratch {
    /// A room's orb positions during pickup (`None` for a missing entity) and whether each moved.
    orb_positions: Vec<(Option<Vec2>, bool)>,
}

/// Moves every avatar of a due room by its latest input's direction, inside the arena.
pub fn move_avatars(
    due: Due<OrbArena>,
    rooms: Query<&Room>,
    mut avatars: Query<(&PlayerInput<OrbInput>, &mut Position, &mut Velocity)>,
) {
    for room in due.rooms(&rooms) {
        for &player in room.players() {
            let Ok((input, mut position, mut velocity)) = avatars.get_mut(player) else {
                continue;
            };
            let before = position.0;
            // Validated on arrival (clamped, capped at length 1).
            let wanted = rules::velocity_for(Vec2::from(input.0.movement));
            position.0 = rules::step_position(before, wanted, room.dt());
            velocity.0 = rules::effective_velocity(before, position.0, room.dt());
        }
    }
}

/// Scores orbs touched by avatars and respawns them from the room's seeded RNG.
///
/// The room's orb positions are copied into a scratch buffer first: each avatar is tested against
/// all 32 orbs, and a contiguous array beats 32 entity look-ups per avatar (measured: about a
/// third of the tick cost before this change).
pub fn collect_orbs(
    due: Due<OrbArena>,
    mut scratch: ResMut<Scratch>,
    mut rooms: Query<(&mut Room, &OrbField)>,
    mut avatars: Query<(&mut Player, &Position), Without<crate::Orb>>,
    mut orbs: Query<&mut Position, With<crate::Orb>>,
) {
    let orb_positions = &mut scratch.orb_positions;
    for room_entity in due.entities() {
        let Ok((mut room, field)) = rooms.get_mut(room_entity) else {
            continue;
        };
        let (seated, rng) = room.players_and_rng();
        orb_positions.clear();
        orb_positions.extend(
            field
                .0
                .iter()
                .map(|&e| (orbs.get(e).map(|p| p.0).ok(), false)),
        );
        for &player_entity in seated {
            let Ok((mut player, avatar)) = avatars.get_mut(player_entity) else {
                continue;
            };
            for (orb, moved) in orb_positions.iter_mut() {
                let Some(position) = orb else { continue };
                if rules::touches_orb(avatar.0, *position) {
                    player.score += rules::ORB_SCORE;
                    *position = rules::orb_spawn_position(Vec2::new(rng.random(), rng.random()));
                    *moved = true;
                }
            }
        }
        for (&orb_entity, (position, moved)) in field.0.iter().zip(orb_positions.iter()) {
            if let (true, Some(position), Ok(mut stored)) =
                (*moved, position, orbs.get_mut(orb_entity))
            {
                stored.0 = *position;
            }
        }
    }
}
