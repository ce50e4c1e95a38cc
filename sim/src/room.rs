//! The framework's ECS data: one entity per room, one per seated player, and the [`InRoom`]
//! membership that every entity of a room carries.
//!
//! All rooms live in one `World` (see ARCHITECTURE.md for the measurement behind that choice). A
//! room lists its players, its entities and, per replicated kind, the entities of that kind, so
//! systems and the snapshot encoder touch only the members of rooms whose tick is due, without
//! scanning the whole world. The lists are kept by component hooks, so a game that spawns or
//! despawns entities (with `Commands` or `World`) never maintains them itself.

use bevy_ecs::lifecycle::HookContext;
use bevy_ecs::prelude::*;
use bevy_ecs::world::DeferredWorld;
use rand_chacha::ChaCha8Rng;
use tickstorm_shared::{PlayerId, RoomId, Tick};

/// A room: its settings, clock, seeded RNG and members. Games read it (and draw from its RNG);
/// the framework alone changes the rest.
#[derive(Component, Debug)]
pub struct Room {
    pub(crate) id: RoomId,
    pub(crate) game: usize,
    pub(crate) max_players: u32,
    pub(crate) tick_rate: u32,
    /// Snapshots per second (at most `tick_rate`).
    pub(crate) send_rate: u32,
    pub(crate) dt: f32,
    pub(crate) tick: Tick,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) players: Vec<Entity>,
    /// Every entity in the room (players included), in spawn order.
    pub(crate) entities: Vec<Entity>,
    /// Per replicated kind of the room's game, its entities in spawn order.
    pub(crate) kinds: Vec<Vec<Entity>>,
    /// The next `net_id`; ids are never reused within a room (0 means none).
    pub(crate) next_net_id: u32,
}

impl Room {
    /// Public id (also the Socket.IO room name).
    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// Seats.
    pub fn max_players(&self) -> u32 {
        self.max_players
    }

    /// Ticks per second.
    pub fn tick_rate(&self) -> u32 {
        self.tick_rate
    }

    /// Snapshots per second.
    pub fn send_rate(&self) -> u32 {
        self.send_rate
    }

    /// Whether the tick being simulated is encoded and sent (see [`sends_on`]).
    pub fn sends_this_tick(&self) -> bool {
        sends_on(self.tick, self.send_rate, self.tick_rate)
    }

    /// Seconds per tick.
    pub fn dt(&self) -> f32 {
        self.dt
    }

    /// The tick being simulated (during a step) or the latest completed one (between steps).
    pub fn tick(&self) -> Tick {
        self.tick
    }

    /// Seated players' entities, in join order.
    pub fn players(&self) -> &[Entity] {
        &self.players
    }

    /// Every entity in the room, in spawn order.
    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    /// The room's only source of randomness, so a seed and an input sequence fix the outcome.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// The highest score among the seated players, 0 in an empty room (what a lobby shows).
    pub fn top_score(&self, players: &Query<'_, '_, &Player>) -> u32 {
        self.players
            .iter()
            .filter_map(|&p| players.get(p).ok())
            .map(|p| p.score)
            .max()
            .unwrap_or(0)
    }

    /// The players and the RNG at once (a system that walks the players and draws for each).
    pub fn players_and_rng(&mut self) -> (&[Entity], &mut ChaCha8Rng) {
        (&self.players, &mut self.rng)
    }
}

/// A seated player. The framework spawns it (with [`InRoom`]) when a seat is taken and despawns
/// it when the seat is freed; a game adds its own components in `Game::player_joined`.
#[derive(Component, Debug)]
pub struct Player {
    /// Public id.
    pub id: PlayerId,
    /// Display name.
    pub name: String,
    /// Highest input `seq` applied so far (the snapshot envelope carries it).
    pub last_input_seq: u32,
    /// The score the lobby, the admin and the dashboard show; the game keeps it.
    pub score: u32,
}

/// Membership of a room. Every entity a room owns carries it: the framework despawns them with
/// the room, and only entities with it are replicated. The `net_id` is assigned when it is added:
/// unique in the room, never reused there.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
#[component(on_add = in_room_added, on_remove = in_room_removed)]
pub struct InRoom {
    room: Entity,
    net_id: u32,
}

impl InRoom {
    /// Membership of `room` (its `net_id` is assigned when the component is added).
    pub fn new(room: Entity) -> Self {
        Self { room, net_id: 0 }
    }

    /// The room's entity.
    pub fn room(&self) -> Entity {
        self.room
    }

    /// The entity's id on the wire, unique in its room.
    pub fn net_id(&self) -> u32 {
        self.net_id
    }
}

fn in_room_added(mut world: DeferredWorld, ctx: HookContext) {
    let Some(room_entity) = world.get::<InRoom>(ctx.entity).map(|m| m.room) else {
        return;
    };
    let Some(game) = world.get::<Room>(room_entity).map(|room| room.game) else {
        return; // a room that does not exist: nothing to list it in
    };
    let kinds = crate::replicate::kinds_of(&world, ctx.entity, game);
    let Some(mut room) = world.get_mut::<Room>(room_entity) else {
        return;
    };
    room.next_net_id = room.next_net_id.wrapping_add(1).max(1);
    let net_id = room.next_net_id;
    room.entities.push(ctx.entity);
    for (kind, list) in room.kinds.iter_mut().enumerate() {
        if kinds & (1 << kind) != 0 && !list.contains(&ctx.entity) {
            list.push(ctx.entity);
        }
    }
    if let Some(mut membership) = world.get_mut::<InRoom>(ctx.entity) {
        membership.net_id = net_id;
    }
}

fn in_room_removed(mut world: DeferredWorld, ctx: HookContext) {
    let Some(room_entity) = world.get::<InRoom>(ctx.entity).map(|m| m.room) else {
        return;
    };
    if let Some(mut room) = world.get_mut::<Room>(room_entity) {
        room.entities.retain(|&e| e != ctx.entity);
        room.players.retain(|&e| e != ctx.entity);
        for list in &mut room.kinds {
            list.retain(|&e| e != ctx.entity);
        }
    }
}

/// Marks a room whose next tick panics (see `SimWorld::inject_fault`); for fault-containment
/// tests only.
#[derive(Component, Debug, Clone, Copy)]
pub struct InjectedFault;

/// Whether a room ticking at `tick_rate` sends the snapshot of `tick` at `send_rate` per second:
/// when `floor(tick * send_rate / tick_rate)` grew, so exactly `send_rate` a second, evenly
/// spread (20 of 60: every third tick).
pub fn sends_on(tick: Tick, send_rate: u32, tick_rate: u32) -> bool {
    if send_rate >= tick_rate || tick == 0 {
        return true;
    }
    let (s, r) = (u64::from(send_rate), u64::from(tick_rate.max(1)));
    tick * s / r > (tick - 1) * s / r
}
