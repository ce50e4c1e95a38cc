//! The ECS data of the simulation: one entity per room, per player and per orb.
//!
//! All rooms live in one `World` (see ARCHITECTURE.md for the measurement behind that choice). A
//! room entity lists its players and orbs, so systems touch only the members of rooms whose tick
//! is due, without scanning the whole world.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use glam::Vec2;
use rand_chacha::ChaCha8Rng;
use tickstorm_shared::{PlayerId, RoomId, Tick};

use super::InputQueue;

/// A room: its settings, clock, seeded RNG and members.
#[derive(Component, Debug)]
pub struct Room {
    /// Public id (also the Socket.IO room name).
    pub id: RoomId,
    /// Display name.
    pub name: String,
    /// Seats.
    pub max_players: u32,
    /// Ticks per second.
    pub tick_rate: u32,
    /// Seconds per tick.
    pub dt: f32,
    /// Latest completed tick.
    pub tick: Tick,
    /// The room's only source of randomness, so a seed and an input sequence fix the outcome.
    pub rng: ChaCha8Rng,
    /// Seated players in join order (the snapshot order).
    pub players: Vec<Entity>,
    /// Orbs in id order.
    pub orbs: Vec<Entity>,
}

/// The room's input queue, shared with the network handlers.
#[derive(Component, Debug, Clone)]
pub struct RoomInputs(pub Arc<InputQueue>);

/// A seated player.
#[derive(Component, Debug)]
pub struct Player {
    /// Public id.
    pub id: PlayerId,
    /// The room entity this player sits in.
    pub room: Entity,
    /// Display name.
    pub name: String,
    /// Current movement direction (length <= 1), set by the latest input.
    pub direction: Vec2,
    /// Button bits of the latest input.
    pub buttons: u32,
    /// Highest input `seq` applied so far.
    pub last_input_seq: u32,
    /// Orbs collected.
    pub score: u32,
}

/// An orb; it keeps its id when it respawns.
#[derive(Component, Debug)]
pub struct Orb {
    /// Public id, 0..ORBS_PER_ROOM.
    pub id: u32,
}

/// Where something is.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct Position(pub Vec2);

/// How fast a player moved during the last tick, in units per second.
#[derive(Component, Debug, Clone, Copy, PartialEq, Default)]
pub struct Velocity(pub Vec2);

/// Marks a room whose next tick panics (see `SimWorld::inject_fault`); for fault-containment
/// tests only.
#[derive(Component, Debug, Clone, Copy)]
pub struct InjectedFault;
