//! The simulation: every room of the server in one bevy_ecs `World`, advanced by one chained
//! `Schedule` that ticks only the rooms that are due.
//!
//! No I/O, no wall clock, no thread RNG: the caller says which rooms tick and what time to stamp,
//! and each room draws randomness from its own seeded ChaCha8 generator. So the same seed and the
//! same inputs at the same ticks give the same snapshot bytes, which a test checks.

mod components;
mod input_queue;
mod systems;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::SingleThreadedExecutor;
use bytes::Bytes;
use glam::Vec2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tickstorm_shared::{PlayerId, RoomId, Tick, rules};

pub use bevy_ecs::entity::Entity;
pub use components::{InjectedFault, Orb, Player, Position, Room, RoomInputs, Velocity};
pub use input_queue::{Accepted, InputQueue, PendingInput};
use systems::{Scratch, StepOutput, StepRequest};

/// What [`SimWorld::step_isolating_faults`] produced.
#[derive(Debug, Default)]
pub struct StepOutcome {
    /// One encoded snapshot per room that ticked.
    pub snapshots: Vec<(Entity, Bytes)>,
    /// Rooms whose systems panicked.
    pub failed: Vec<Entity>,
}

/// What a new room is made of.
#[derive(Debug, Clone)]
pub struct RoomSpec {
    /// Public id.
    pub id: RoomId,
    /// Display name.
    pub name: String,
    /// Seats.
    pub max_players: u32,
    /// Ticks per second.
    pub tick_rate: u32,
    /// Seed of the room's RNG.
    pub seed: u64,
}

/// All rooms, players and orbs of a server, and the schedule that ticks them.
pub struct SimWorld {
    world: World,
    schedule: Schedule,
}

impl Default for SimWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SimWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimWorld").finish_non_exhaustive()
    }
}

impl SimWorld {
    /// An empty world.
    pub fn new() -> Self {
        let mut world = World::new();
        world.init_resource::<StepRequest>();
        world.init_resource::<StepOutput>();
        world.init_resource::<Scratch>();
        let mut schedule = Schedule::default();
        // One schedule run ticks many rooms; the systems are chained, so a second thread would
        // only add hand-off cost.
        schedule.set_executor(SingleThreadedExecutor::new());
        schedule.add_systems(
            (
                systems::injected_faults,
                systems::apply_inputs,
                systems::move_players,
                systems::collect_orbs,
                systems::encode_snapshots,
            )
                .chain(),
        );
        Self { world, schedule }
    }

    /// Creates a room with its orbs; returns the room entity.
    pub fn spawn_room(&mut self, spec: RoomSpec, inputs: Arc<InputQueue>) -> Entity {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let orb_positions: Vec<Vec2> = (0..rules::ORBS_PER_ROOM)
            .map(|_| rules::orb_spawn_position(Vec2::new(rng.random(), rng.random())))
            .collect();
        let room = self
            .world
            .spawn((
                Room {
                    id: spec.id,
                    name: spec.name,
                    max_players: spec.max_players,
                    tick_rate: spec.tick_rate,
                    dt: 1.0 / spec.tick_rate.max(1) as f32,
                    tick: 0,
                    rng,
                    players: Vec::new(),
                    orbs: Vec::with_capacity(rules::ORBS_PER_ROOM),
                },
                RoomInputs(inputs),
            ))
            .id();
        let orbs: Vec<Entity> = orb_positions
            .into_iter()
            .zip(0u32..)
            .map(|(position, id)| self.world.spawn((Orb { id }, Position(position))).id())
            .collect();
        if let Some(mut r) = self.world.get_mut::<Room>(room) {
            r.orbs = orbs;
        }
        room
    }

    /// Removes a room with all its players and orbs; returns the player ids that were seated.
    pub fn despawn_room(&mut self, room: Entity) -> Vec<PlayerId> {
        let Some(r) = self.world.get::<Room>(room) else {
            return Vec::new();
        };
        let members: Vec<Entity> = r.players.iter().chain(r.orbs.iter()).copied().collect();
        let mut seated = Vec::new();
        for e in members {
            if let Some(p) = self.world.get::<Player>(e) {
                seated.push(p.id);
            }
            self.world.despawn(e);
        }
        self.world.despawn(room);
        seated
    }

    /// Seats a new player at a seeded spawn point; `None` when the room does not exist or is full.
    pub fn spawn_player(&mut self, room: Entity, id: PlayerId, name: String) -> Option<Entity> {
        let mut r = self.world.get_mut::<Room>(room)?;
        if r.players.len() >= r.max_players as usize {
            return None;
        }
        let unit = Vec2::new(r.rng.random(), r.rng.random());
        let player = Player {
            id,
            room,
            name,
            direction: Vec2::ZERO,
            buttons: 0,
            last_input_seq: 0,
            score: 0,
        };
        let entity = self
            .world
            .spawn((
                player,
                Position(rules::player_spawn_position(unit)),
                Velocity::default(),
            ))
            .id();
        if let Some(mut r) = self.world.get_mut::<Room>(room) {
            r.players.push(entity);
        }
        Some(entity)
    }

    /// Removes a player from its room and the world.
    pub fn despawn_player(&mut self, player: Entity) {
        let Some(room) = self.world.get::<Player>(player).map(|p| p.room) else {
            return;
        };
        if let Some(mut r) = self.world.get_mut::<Room>(room) {
            r.players.retain(|&e| e != player);
        }
        if let Some(inputs) = self.world.get::<RoomInputs>(room) {
            inputs.0.forget(player);
        }
        self.world.despawn(player);
    }

    /// Stops a player (used when its connection drops: its seat stays, its avatar stands still).
    pub fn halt_player(&mut self, player: Entity) {
        if let Some(mut p) = self.world.get_mut::<Player>(player) {
            p.direction = Vec2::ZERO;
        }
    }

    /// Runs one step: ticks the rooms in `due` and returns their encoded snapshots.
    pub fn step(&mut self, due: &[Entity], now_ms: u64) -> &[(Entity, Bytes)] {
        {
            let mut request = self.world.resource_mut::<StepRequest>();
            request.due.clear();
            request.due.extend_from_slice(due);
            request.now_ms = now_ms;
        }
        self.schedule.run(&mut self.world);
        &self.world.resource::<StepOutput>().snapshots
    }

    /// Like [`SimWorld::step`], but a room whose systems panic does not take the others down.
    /// When the shared run panics, each due room is stepped alone to find the failing ones;
    /// they are returned in `failed` (the caller closes them) and the rest get their snapshot.
    /// Rooms that had already advanced in the failed run advance once more in the retry: a
    /// skipped tick under a fault, rather than a dead server.
    pub fn step_isolating_faults(&mut self, due: &[Entity], now_ms: u64) -> StepOutcome {
        let shared = catch_unwind(AssertUnwindSafe(|| self.step(due, now_ms).to_vec()));
        if let Ok(snapshots) = shared {
            return StepOutcome {
                snapshots,
                failed: Vec::new(),
            };
        }
        let mut outcome = StepOutcome::default();
        for &room in due {
            match catch_unwind(AssertUnwindSafe(|| self.step(&[room], now_ms).to_vec())) {
                Ok(snapshots) => outcome.snapshots.extend(snapshots),
                Err(_) => outcome.failed.push(room),
            }
        }
        outcome
    }

    /// Makes the room's next tick panic, for tests of fault containment.
    #[doc(hidden)]
    pub fn inject_fault(&mut self, room: Entity) {
        if let Ok(mut entity) = self.world.get_entity_mut(room) {
            entity.insert(InjectedFault);
        }
    }

    /// A room's component, for reads.
    pub fn room(&self, room: Entity) -> Option<&Room> {
        self.world.get::<Room>(room)
    }

    /// A player's component, for reads.
    pub fn player(&self, player: Entity) -> Option<&Player> {
        self.world.get::<Player>(player)
    }

    /// A room's latest completed tick.
    pub fn room_tick(&self, room: Entity) -> Option<Tick> {
        self.room(room).map(|r| r.tick)
    }

    /// Number of live game entities (rooms + players + orbs), for leak checks.
    pub fn entity_count(&mut self) -> usize {
        self.world
            .query_filtered::<(), Or<(With<Room>, With<Player>, With<Orb>)>>()
            .iter(&self.world)
            .count()
    }
}

#[cfg(test)]
mod tests;
