//! The game's rules as pure functions over `glam` types: movement, arena bounds, orb pickup and
//! scoring. The server's ECS systems call these; so can a client that predicts its own movement.

use glam::Vec2;

/// Side length of the square arena, in world units.
pub const ARENA_SIZE: f32 = 1000.0;
/// Top speed of a player, in units per second, reached with a `move` vector of length 1.
pub const PLAYER_SPEED: f32 = 200.0;
/// Collision radius of a player.
pub const PLAYER_RADIUS: f32 = 16.0;
/// Collision radius of an orb.
pub const ORB_RADIUS: f32 = 12.0;
/// Orbs alive in every room at all times (a picked orb respawns in the same tick).
pub const ORBS_PER_ROOM: usize = 32;
/// Score awarded for one orb.
pub const ORB_SCORE: u32 = 1;

/// Why a `move` vector from a client was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    /// A component was NaN or infinite.
    #[error("move components must be finite numbers")]
    NotFinite,
}

/// Turns a client's `move: [x, y]` into a direction of length at most 1.
///
/// Each component is clamped to `-1..=1` (as the protocol says) and the vector is then capped at
/// length 1, so moving diagonally is not faster than moving straight.
pub fn sanitize_move(raw: [f32; 2]) -> Result<Vec2, MoveError> {
    let v = Vec2::from(raw);
    if !v.is_finite() {
        return Err(MoveError::NotFinite);
    }
    Ok(v.clamp(Vec2::NEG_ONE, Vec2::ONE).clamp_length_max(1.0))
}

/// The velocity a sanitized move direction produces.
pub fn velocity_for(direction: Vec2) -> Vec2 {
    direction * PLAYER_SPEED
}

/// Advances a player by one tick of `dt` seconds and keeps its whole body inside the arena.
pub fn step_position(position: Vec2, velocity: Vec2, dt: f32) -> Vec2 {
    (position + velocity * dt).clamp(
        Vec2::splat(PLAYER_RADIUS),
        Vec2::splat(ARENA_SIZE - PLAYER_RADIUS),
    )
}

/// The velocity actually achieved over a tick (zero on the axis where a wall stopped the player).
pub fn effective_velocity(before: Vec2, after: Vec2, dt: f32) -> Vec2 {
    if dt > 0.0 {
        (after - before) / dt
    } else {
        Vec2::ZERO
    }
}

/// Whether a player at `player` touches an orb at `orb`.
pub fn touches_orb(player: Vec2, orb: Vec2) -> bool {
    let reach = PLAYER_RADIUS + ORB_RADIUS;
    player.distance_squared(orb) <= reach * reach
}

/// Maps a point of the unit square (from a seeded RNG) to a place where an orb can spawn,
/// fully inside the arena.
pub fn orb_spawn_position(unit: Vec2) -> Vec2 {
    let margin = ORB_RADIUS;
    Vec2::splat(margin) + unit.clamp(Vec2::ZERO, Vec2::ONE) * (ARENA_SIZE - 2.0 * margin)
}

/// Maps a point of the unit square (from a seeded RNG) to a player spawn point, fully inside
/// the arena.
pub fn player_spawn_position(unit: Vec2) -> Vec2 {
    let margin = PLAYER_RADIUS;
    Vec2::splat(margin) + unit.clamp(Vec2::ZERO, Vec2::ONE) * (ARENA_SIZE - 2.0 * margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn move_is_clamped_per_component_and_in_length() {
        assert_eq!(sanitize_move([5.0, 0.0]), Ok(Vec2::new(1.0, 0.0)));
        let diag = sanitize_move([1.0, 1.0]).expect("finite");
        assert!((diag.length() - 1.0).abs() < 1e-6);
        assert_eq!(sanitize_move([f32::NAN, 0.0]), Err(MoveError::NotFinite));
        assert_eq!(
            sanitize_move([0.0, f32::INFINITY]),
            Err(MoveError::NotFinite)
        );
    }

    #[test]
    fn players_stay_inside_the_arena() {
        let p = step_position(Vec2::new(990.0, 5.0), Vec2::new(200.0, -200.0), 1.0);
        assert_eq!(p, Vec2::new(ARENA_SIZE - PLAYER_RADIUS, PLAYER_RADIUS));
        let moved = step_position(Vec2::splat(500.0), Vec2::new(200.0, 0.0), 0.5);
        assert_eq!(moved, Vec2::new(600.0, 500.0));
    }

    #[test]
    fn orb_pickup_uses_both_radii() {
        let reach = PLAYER_RADIUS + ORB_RADIUS;
        assert!(touches_orb(Vec2::ZERO, Vec2::new(reach, 0.0)));
        assert!(!touches_orb(Vec2::ZERO, Vec2::new(reach + 0.01, 0.0)));
    }

    #[test]
    fn spawns_are_inside_the_arena() {
        for unit in [Vec2::ZERO, Vec2::ONE, Vec2::splat(2.0), Vec2::splat(-1.0)] {
            let o = orb_spawn_position(unit);
            assert!(
                o.cmpge(Vec2::splat(ORB_RADIUS)).all()
                    && o.cmple(Vec2::splat(ARENA_SIZE - ORB_RADIUS)).all()
            );
            let p = player_spawn_position(unit);
            assert!(p.cmpge(Vec2::splat(PLAYER_RADIUS)).all());
        }
    }

    #[test]
    fn effective_velocity_is_zero_against_a_wall() {
        let before = Vec2::new(ARENA_SIZE - PLAYER_RADIUS, 500.0);
        let after = step_position(before, Vec2::new(200.0, 0.0), 0.1);
        assert_eq!(effective_velocity(before, after, 0.1), Vec2::ZERO);
    }
}
