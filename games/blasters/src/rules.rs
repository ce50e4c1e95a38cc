//! Blasters' rules as constants and pure functions over `glam` types, shared by the systems and
//! by any client that predicts its own movement (the web client reads these constants).

use glam::Vec2;

/// Side length of the square arena, in world units.
pub const ARENA_SIZE: f32 = 800.0;
/// Collision radius of a fighter; its centre stays in `[FIGHTER_RADIUS, ARENA_SIZE - FIGHTER_RADIUS]`.
pub const FIGHTER_RADIUS: f32 = 16.0;
/// Speed of a fighter with a `move` vector of length 1, units per second (no inertia).
pub const FIGHTER_SPEED: f32 = 220.0;
/// Health of a fresh fighter.
pub const MAX_HEALTH: u32 = 100;
/// Health a bolt takes (three hits kill).
pub const BOLT_DAMAGE: u32 = 34;
/// Bolt speed, units per second.
pub const BOLT_SPEED: f32 = 600.0;
/// Collision radius of a bolt.
pub const BOLT_RADIUS: f32 = 4.0;
/// How far from the fighter's centre a bolt appears.
pub const MUZZLE: f32 = FIGHTER_RADIUS + BOLT_RADIUS;
/// How long a bolt flies, seconds.
pub const BOLT_LIFETIME_SECS: f32 = 1.0;
/// Time between two bolts of one fighter, seconds.
pub const FIRE_COOLDOWN_SECS: f32 = 0.3;
/// Time a killed fighter waits before it respawns, seconds.
pub const RESPAWN_SECS: f32 = 2.0;
/// How long the scoreboard shows after a round, seconds.
pub const ROUND_OVER_SECS: u32 = 5;
/// Fighters needed before the warm-up counts down (alone, nobody can score).
pub const MIN_FIGHTERS: usize = 2;

/// A duration in whole ticks at `tick_rate` (at least one tick).
pub fn ticks(seconds: f32, tick_rate: u32) -> u32 {
    ((seconds * tick_rate as f32).ceil() as u32).max(1)
}

/// Where a fighter at `at` ends up after moving by `direction` (length <= 1) for `dt` seconds.
pub fn step_fighter(at: Vec2, direction: Vec2, dt: f32) -> Vec2 {
    (at + direction * FIGHTER_SPEED * dt).clamp(
        Vec2::splat(FIGHTER_RADIUS),
        Vec2::splat(ARENA_SIZE - FIGHTER_RADIUS),
    )
}

/// The unit vector of an aim angle (0 = +x, PI/2 = +y).
pub fn aim_direction(aim: f32) -> Vec2 {
    Vec2::from_angle(aim)
}

/// Wraps any finite angle into `[-PI, PI)`.
pub fn wrap_angle(angle: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    if (-PI..PI).contains(&angle) {
        return angle; // exactly what the client sent: no rounding of an angle already in range
    }
    let wrapped = (angle + PI).rem_euclid(TAU) - PI;
    // rem_euclid can round up to TAU itself for inputs just below a multiple of it.
    if wrapped >= PI { -PI } else { wrapped }
}

/// A spawn place from two uniform `[0, 1)` draws of the room's RNG.
pub fn spawn_position(unit: Vec2) -> Vec2 {
    Vec2::splat(FIGHTER_RADIUS) + unit * (ARENA_SIZE - 2.0 * FIGHTER_RADIUS)
}

/// Whether a bolt's centre has left the arena (it hit a wall).
pub fn outside_arena(at: Vec2) -> bool {
    at.x < 0.0 || at.y < 0.0 || at.x > ARENA_SIZE || at.y > ARENA_SIZE
}

/// Whether a bolt at `bolt` touches a fighter at `fighter`.
pub fn bolt_hits(bolt: Vec2, fighter: Vec2) -> bool {
    bolt.distance_squared(fighter) <= (FIGHTER_RADIUS + BOLT_RADIUS).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    #[test]
    fn angles_wrap_into_minus_pi_to_pi() {
        for (raw, want) in [
            (0.0, 0.0),
            (PI, -PI),
            (-PI, -PI),
            (3.0 * PI, -PI),
            (7.0, 7.0 - 2.0 * PI),
        ] {
            assert!(
                (wrap_angle(raw) - want).abs() < 1e-5,
                "{raw} -> {}",
                wrap_angle(raw)
            );
        }
        for raw in [1e9f32, -1e9, 123.456, -0.1] {
            let w = wrap_angle(raw);
            assert!((-PI..PI).contains(&w), "{raw} -> {w}");
        }
    }

    #[test]
    fn fighters_stay_inside_and_bolts_leave() {
        assert_eq!(
            step_fighter(Vec2::new(20.0, 400.0), Vec2::NEG_X, 1.0).x,
            FIGHTER_RADIUS
        );
        assert!(outside_arena(Vec2::new(-0.1, 5.0)) && !outside_arena(Vec2::new(0.0, 800.0)));
        assert!(bolt_hits(Vec2::new(100.0, 100.0), Vec2::new(120.0, 100.0)));
        assert!(!bolt_hits(Vec2::new(100.0, 100.0), Vec2::new(120.1, 100.0)));
        assert_eq!(ticks(0.3, 30), 9);
        assert_eq!(ticks(0.0, 30), 1);
    }
}
