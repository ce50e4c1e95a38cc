//! Blasters' snapshots as typed rows, for Rust clients and tests: the framework's envelope joined
//! with the `fighter`, `bolt` and `round` tables.

use tickstorm_shared::snapshot::{Field, Snapshot, SnapshotDecodeError};
use tickstorm_shared::{PlayerId, Tick};

use crate::Phase;

/// Kind number of fighters.
pub const FIGHTER_KIND: usize = 0;
/// Kind number of bolts.
pub const BOLT_KIND: usize = 1;
/// Kind number of the round clock.
pub const ROUND_KIND: usize = 2;

/// One seated player's fighter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FighterState {
    /// Player id.
    pub id: PlayerId,
    /// The fighter's net id.
    pub net_id: u32,
    /// Position x.
    pub x: f32,
    /// Position y.
    pub y: f32,
    /// Facing angle, radians.
    pub aim: f32,
    /// Health, 0 while dead.
    pub health: u32,
    /// Kills this round.
    pub score: u32,
    /// Ticks until respawn (0 while alive).
    pub respawn: u32,
    /// Highest input `seq` applied.
    pub last_input_seq: u32,
}

/// One bolt in flight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoltState {
    /// Net id (new for every bolt).
    pub net_id: u32,
    /// Position x.
    pub x: f32,
    /// Position y.
    pub y: f32,
    /// Velocity x.
    pub vx: f32,
    /// Velocity y.
    pub vy: f32,
    /// The shooter's fighter net id.
    pub owner: u32,
}

/// The room's round clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundState {
    /// The phase.
    pub phase: Phase,
    /// Ticks until the phase ends.
    pub ticks_left: u32,
    /// Round number, from 1.
    pub number: u32,
    /// Kills that end the round.
    pub kills_to_win: u32,
}

/// A blasters snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct BlastersView {
    /// The tick.
    pub tick: Tick,
    /// Server clock when the tick ran, unix ms.
    pub server_time_ms: u64,
    /// Every seated player's fighter, in join order.
    pub fighters: Vec<FighterState>,
    /// Every bolt in flight, in spawn order.
    pub bolts: Vec<BoltState>,
    /// The round.
    pub round: RoundState,
}

impl BlastersView {
    /// Decodes snapshot bytes of a blasters room.
    pub fn decode(bytes: &[u8]) -> Result<Self, SnapshotDecodeError> {
        Self::from_snapshot(&Snapshot::decode(bytes)?)
    }

    /// Reads a decoded snapshot as a blasters one.
    pub fn from_snapshot(s: &Snapshot) -> Result<Self, SnapshotDecodeError> {
        let wrong =
            |what: &str| SnapshotDecodeError::Invalid(format!("not a blasters snapshot: {what}"));
        if s.kinds.len() != 3 {
            return Err(wrong("it does not have three kinds"));
        }
        let f = |fields: &[Field], i: usize, what: &str| {
            fields
                .get(i)
                .and_then(|v| v.as_f32())
                .ok_or_else(|| wrong(what))
        };
        let u = |fields: &[Field], i: usize, what: &str| {
            fields
                .get(i)
                .and_then(|v| v.as_u32())
                .ok_or_else(|| wrong(what))
        };
        let fighters = s
            .players
            .iter()
            .map(|entry| {
                let row = s
                    .entity(FIGHTER_KIND, entry.net_id)
                    .ok_or_else(|| wrong("a player without a fighter"))?;
                let v = &row.fields;
                Ok(FighterState {
                    id: entry.player_id,
                    net_id: entry.net_id,
                    x: f(v, 0, "fighter x")?,
                    y: f(v, 1, "fighter y")?,
                    aim: f(v, 2, "fighter aim")?,
                    health: u(v, 3, "fighter health")?,
                    score: u(v, 4, "fighter score")?,
                    respawn: u(v, 5, "fighter respawn")?,
                    last_input_seq: entry.last_input_seq,
                })
            })
            .collect::<Result<_, SnapshotDecodeError>>()?;
        let bolts = s.kinds[BOLT_KIND]
            .iter()
            .map(|row| {
                let v = &row.fields;
                Ok(BoltState {
                    net_id: row.net_id,
                    x: f(v, 0, "bolt x")?,
                    y: f(v, 1, "bolt y")?,
                    vx: f(v, 2, "bolt vx")?,
                    vy: f(v, 3, "bolt vy")?,
                    owner: u(v, 4, "bolt owner")?,
                })
            })
            .collect::<Result<_, SnapshotDecodeError>>()?;
        let [row] = s.kinds[ROUND_KIND].as_slice() else {
            return Err(wrong("not exactly one round row"));
        };
        let v = &row.fields;
        let phase = match u(v, 0, "round phase")? {
            0 => Phase::WarmUp,
            1 => Phase::Playing,
            2 => Phase::Over,
            _ => return Err(wrong("unknown round phase")),
        };
        Ok(BlastersView {
            tick: s.tick,
            server_time_ms: s.server_time_ms,
            fighters,
            bolts,
            round: RoundState {
                phase,
                ticks_left: u(v, 1, "round ticks_left")?,
                number: u(v, 2, "round number")?,
                kills_to_win: u(v, 3, "round kills_to_win")?,
            },
        })
    }

    /// The fighter of one player, if seated.
    pub fn fighter(&self, id: PlayerId) -> Option<&FighterState> {
        self.fighters.iter().find(|p| p.id == id)
    }
}
