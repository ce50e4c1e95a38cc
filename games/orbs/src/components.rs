//! The orb arena's components and its two replicated kinds.

use bevy_ecs::prelude::*;
use glam::Vec2;
use tickstorm_sim::{Player, Replicate, RowWriter};

/// A player's avatar (on the framework's player entity). Replicated as kind 0, `avatar`:
/// `[net_id, x, y, vx, vy, score]`.
#[derive(Component, Debug, Default)]
pub struct Avatar;

/// An orb. Replicated as kind 1, `orb`: `[net_id, x, y]`.
#[derive(Component, Debug)]
pub struct Orb;

/// The room's orbs in spawn order (on the room entity), so pickup walks an array instead of
/// querying the world.
#[derive(Component, Debug, Default)]
pub struct OrbField(pub Vec<Entity>);

/// Where something is.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct Position(pub Vec2);

/// How fast an avatar moved during the last tick, in units per second.
#[derive(Component, Debug, Clone, Copy, PartialEq, Default)]
pub struct Velocity(pub Vec2);

impl Replicate for Avatar {
    const NAME: &'static str = "avatar";
    const FIELDS: &'static [&'static str] = &["x", "y", "vx", "vy", "score"];
    /// Positions to an eighth of a unit; velocities (only used to extrapolate between
    /// snapshots) to a unit per second, so steering's tiny corrections are not resent every
    /// tick: a 1 unit/s error moves a drawn avatar by 1/30 unit per 30 Hz tick, less than the
    /// position's own precision. The score as a difference.
    const PRECISION: &'static [f64] = &[0.125, 0.125, 1.0, 1.0, 1.0];
    const POSITION: Option<[usize; 2]> = Some([0, 1]);
    type Data = (&'static Position, &'static Velocity, &'static Player);

    fn write(
        (position, velocity, player): (&Position, &Velocity, &Player),
        row: &mut RowWriter<'_>,
    ) {
        row.f32(position.0.x)
            .f32(position.0.y)
            .f32(velocity.0.x)
            .f32(velocity.0.y)
            .uint(u64::from(player.score));
    }
}

impl Replicate for Orb {
    const NAME: &'static str = "orb";
    const FIELDS: &'static [&'static str] = &["x", "y"];
    const PRECISION: &'static [f64] = &[0.125, 0.125];
    const POSITION: Option<[usize; 2]> = Some([0, 1]);
    type Data = &'static Position;

    fn write(position: &Position, row: &mut RowWriter<'_>) {
        row.f32(position.0.x).f32(position.0.y);
    }
}
