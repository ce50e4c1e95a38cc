//! Blasters' components and its three replicated kinds: `fighter` (on each player's entity),
//! `bolt` (spawned by firing, despawned by time, walls and hits) and `round` (one per room).

use bevy_ecs::prelude::*;
use glam::Vec2;
use tickstorm_sim::{Player, Replicate, RowWriter};

/// A player's fighter. Replicated as kind 0, `fighter`:
/// `[net_id, x, y, aim, health, score, respawn]`.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct Fighter {
    /// Where its centre is.
    pub at: Vec2,
    /// Facing angle, radians.
    pub aim: f32,
    /// 0 while dead.
    pub health: u32,
    /// Ticks until a dead fighter respawns (0 while alive).
    pub respawn: u32,
    /// Ticks until it may fire again.
    pub cooldown: u32,
}

impl Fighter {
    /// A fresh fighter at `at`, full health.
    pub fn spawned_at(at: Vec2) -> Self {
        Fighter {
            at,
            aim: 0.0,
            health: crate::rules::MAX_HEALTH,
            respawn: 0,
            cooldown: 0,
        }
    }

    /// Whether it can move, fire and be hit.
    pub fn alive(&self) -> bool {
        self.health > 0
    }
}

impl Replicate for Fighter {
    const NAME: &'static str = "fighter";
    const FIELDS: &'static [&'static str] = &["x", "y", "aim", "health", "score", "respawn"];
    /// Positions to an eighth of a unit, aim to 1/256 radian (a quarter of a degree); the
    /// counters as differences.
    const PRECISION: &'static [f64] = &[0.125, 0.125, 1.0 / 256.0, 1.0, 1.0, 1.0];
    const POSITION: Option<[usize; 2]> = Some([0, 1]);
    type Data = (&'static Fighter, &'static Player);

    fn write((fighter, player): (&Fighter, &Player), row: &mut RowWriter<'_>) {
        row.f32(fighter.at.x)
            .f32(fighter.at.y)
            .f32(fighter.aim)
            .uint(u64::from(fighter.health))
            .uint(u64::from(player.score))
            .uint(u64::from(fighter.respawn));
    }
}

/// A bolt in flight. Replicated as kind 1, `bolt`: `[net_id, x, y, vx, vy, owner]`.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct Bolt {
    /// Where it is.
    pub at: Vec2,
    /// Units per second.
    pub velocity: Vec2,
    /// The shooter's entity (it may have left since).
    pub owner: Entity,
    /// The shooter's fighter `net_id`, for clients.
    pub owner_net_id: u32,
    /// Ticks left to fly.
    pub ticks_left: u32,
}

impl Replicate for Bolt {
    const NAME: &'static str = "bolt";
    const FIELDS: &'static [&'static str] = &["x", "y", "vx", "vy", "owner"];
    const PRECISION: &'static [f64] = &[0.125, 0.125, 0.125, 0.125];
    const POSITION: Option<[usize; 2]> = Some([0, 1]);
    type Data = &'static Bolt;

    fn write(bolt: &Bolt, row: &mut RowWriter<'_>) {
        row.f32(bolt.at.x)
            .f32(bolt.at.y)
            .f32(bolt.velocity.x)
            .f32(bolt.velocity.y)
            .uint(u64::from(bolt.owner_net_id));
    }
}

/// Where a room is in its round cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Fighters move, nobody fires; counts down once two are seated.
    WarmUp = 0,
    /// The round: firing, hits, scores.
    Playing = 1,
    /// The scoreboard: nothing moves.
    Over = 2,
}

impl Phase {
    /// The lobby's name of the phase.
    pub fn name(self) -> &'static str {
        match self {
            Phase::WarmUp => "warmup",
            Phase::Playing => "playing",
            Phase::Over => "over",
        }
    }
}

/// The room's round clock (its own entity, so it replicates). Kind 2, `round`:
/// `[net_id, phase, ticks_left, round, kills_to_win]`.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct Round {
    /// The phase.
    pub phase: Phase,
    /// Ticks until the phase ends (the warm-up holds while fewer than two fighters are seated).
    pub ticks_left: u32,
    /// Round number, from 1.
    pub number: u32,
    /// Kills that end a round early.
    pub kills_to_win: u32,
    /// Length of a warm-up, ticks.
    pub warmup_ticks: u32,
    /// Length of a round, ticks.
    pub playing_ticks: u32,
    /// Length of the scoreboard, ticks.
    pub over_ticks: u32,
}

impl Replicate for Round {
    const NAME: &'static str = "round";
    const FIELDS: &'static [&'static str] = &["phase", "ticks_left", "round", "kills_to_win"];
    /// The countdown as a difference (-1 a tick); the round is always visible.
    const PRECISION: &'static [f64] = &[0.0, 1.0];
    type Data = &'static Round;

    fn write(round: &Round, row: &mut RowWriter<'_>) {
        row.uint(round.phase as u64)
            .uint(u64::from(round.ticks_left))
            .uint(u64::from(round.number))
            .uint(u64::from(round.kills_to_win));
    }
}

/// On the room entity: its round clock's entity.
#[derive(Component, Debug, Clone, Copy)]
pub struct Arena {
    /// The entity with the room's [`Round`].
    pub round: Entity,
}
