//! The public game API: what a game crate implements ([`Game`], [`GameInput`]) and what it gets
//! to build its rooms with ([`GameBuilder`], [`RoomSetup`], [`PlayerSetup`], [`Due`]).
//!
//! A game is bevy-native: components and systems in the server's one `World`, run inside its
//! rooms' tick. The framework owns everything around the game: rooms, seats, the input queue and
//! the delivery of each player's latest input, the tick schedule, fault containment, the
//! snapshot envelope and its encoding. A game sees its room's seeded RNG and tick, never a wall
//! clock, so the same seed and inputs give the same snapshots.

use std::marker::PhantomData;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::ScheduleConfigs;
use bevy_ecs::system::{ScheduleSystem, SystemParam};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::replicate::Replicate;
use crate::room::{InRoom, Room};
use crate::world::{StepRequest, TickSet};

/// A game that Tickstorm hosts. One value per server; its methods are the room and player
/// lifecycle hooks, called by the framework with exclusive access to the world.
pub trait Game: Send + Sync + 'static {
    /// The payload of the `input` event (decoded with serde from JSON or MessagePack).
    type Input: GameInput;
    /// The game's part of `room:create` (its `options` member), decoded with serde. Absent
    /// options are `Default::default()`.
    type Options: DeserializeOwned + Serialize + Default + Send + Sync + 'static;

    /// The name in `room:create {game}`, `room:join {game}` and the lobby: lowercase ASCII
    /// letters, digits and `-`.
    fn name(&self) -> &'static str;

    /// The game's version, written into recordings (a replay by another version warns: its
    /// rules may differ). `env!("CARGO_PKG_VERSION")` is a good value.
    fn version(&self) -> &'static str {
        "unversioned"
    }

    /// Registers the game's systems and replicated kinds.
    fn build(&self, game: &mut GameBuilder<'_, Self>)
    where
        Self: Sized;

    /// Checks create options; an error is answered as `bad_request` with this message.
    fn validate_options(&self, _options: &Self::Options) -> Result<(), String> {
        Ok(())
    }

    /// Sets up a new room: spawn its entities (with [`RoomSetup::spawn`]), add the game's own
    /// components to the room entity.
    fn setup_room(&self, _room: &mut RoomSetup<'_>, _options: &Self::Options) {}

    /// A player took a seat: add the game's components to the player's entity.
    fn player_joined(&self, _player: &mut PlayerSetup<'_>) {}

    /// A player is leaving for good (left, kicked, grace over, room closing); the player's entity
    /// is despawned right after this hook.
    fn player_left(&self, _player: &mut PlayerSetup<'_>) {}
}

/// A game's input payload: decoded from the client's `input` event, validated, then delivered to
/// the player's entity as [`PlayerInput`] at the tick its ack names.
pub trait GameInput:
    DeserializeOwned + Serialize + Default + Clone + Send + Sync + std::fmt::Debug + 'static
{
    /// The client's sequence number (only a higher one than already seen is applied).
    fn seq(&self) -> u32;

    /// Validates (and may clamp) the input. An error is answered as `bad_request`; it must never
    /// panic, whatever the client sent.
    fn validate(self) -> Result<Self, String>;
}

/// The latest input of a player, written by the framework at the start of each tick in which the
/// player sent one, and reset to `Default` when the player's connection drops.
#[derive(Component, Debug, Clone, Default)]
pub struct PlayerInput<I: GameInput>(pub I);

/// The rooms of game `G` that tick in this step: the only rooms a game's systems should touch.
///
/// ```ignore
/// fn move_avatars(due: Due<MyGame>, rooms: Query<&Room>, mut avatars: Query<&mut Position>) {
///     for room in due.rooms(&rooms) { for &player in room.players() { /* ... */ } }
/// }
/// ```
#[derive(SystemParam)]
pub struct Due<'w, G: Game> {
    request: Res<'w, StepRequest>,
    game: Res<'w, GameIndex<G>>,
}

impl<G: Game> Due<'_, G> {
    /// The due rooms' entities.
    pub fn entities(&self) -> impl Iterator<Item = Entity> + '_ {
        self.request.of_game(self.game.index).map(|(_, e)| e)
    }

    /// The due rooms, read through `rooms` (rooms that no longer exist are skipped).
    pub fn rooms<'a>(&'a self, rooms: &'a Query<'_, '_, &Room>) -> impl Iterator<Item = &'a Room> {
        self.entities().filter_map(|e| rooms.get(e).ok())
    }

    /// The wall clock of this step, unix milliseconds (what the snapshots carry).
    pub(crate) fn now_ms(&self) -> u64 {
        self.request.now_ms
    }

    /// Due rooms with their slot in this step's snapshot buffers (the framework's encoders).
    pub(crate) fn slots(&self) -> impl Iterator<Item = (usize, Entity)> + '_ {
        self.request.of_game(self.game.index)
    }
}

/// Which registered game `G` is (its index in registration order).
#[derive(Resource, Debug)]
pub(crate) struct GameIndex<G> {
    pub(crate) index: usize,
    marker: PhantomData<fn() -> G>,
}

impl<G> GameIndex<G> {
    pub(crate) fn new(index: usize) -> Self {
        Self {
            index,
            marker: PhantomData,
        }
    }
}

/// One replicated kind of a game, as announced to clients (the join ack's `kinds`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindLayout {
    /// The kind's name.
    pub name: &'static str,
    /// Its fields after `net_id`, in row order.
    pub fields: &'static [&'static str],
    /// Per field: `0` exact, else the power of two deltas quantize it to.
    pub precision: Vec<f64>,
    /// The fields holding `x` and `y`, when the kind is subject to visibility.
    pub position: Option<[usize; 2]>,
}

impl KindLayout {
    /// The kind as the join ack announces it.
    pub fn info(&self) -> tickstorm_shared::protocol::KindInfo {
        tickstorm_shared::protocol::KindInfo {
            name: self.name.to_owned(),
            fields: self.fields.iter().map(|f| (*f).to_owned()).collect(),
            precision: self.precision.clone(),
            position: self.position,
        }
    }

    /// How deltas code the kind.
    pub fn coding(&self) -> tickstorm_shared::delta::KindCoding {
        tickstorm_shared::delta::KindCoding {
            precision: self.precision.clone(),
            position: self.position,
        }
    }
}

/// What a game registers itself with (see [`Game::build`]).
pub struct GameBuilder<'a, G: Game> {
    pub(crate) world: &'a mut World,
    pub(crate) schedule: &'a mut Schedule,
    pub(crate) game_index: usize,
    pub(crate) kinds: Vec<KindLayout>,
    pub(crate) marker: PhantomData<fn() -> G>,
}

impl<G: Game> GameBuilder<'_, G> {
    /// Adds systems to the game's part of every tick (after inputs are delivered, before the
    /// snapshot is encoded). Use [`Due`] in them to find the rooms that tick.
    pub fn add_systems<M>(
        &mut self,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        let configs: ScheduleConfigs<ScheduleSystem> = systems.into_configs();
        self.schedule.add_systems(configs.in_set(TickSet::Simulate));
        self
    }

    /// Replicates entities that have component `K` (and [`InRoom`]): every tick, each one is a
    /// row of `K`'s table in its room's snapshot. Kinds are numbered in the order they are
    /// registered, from 0.
    ///
    /// # Panics
    /// When `K` is already replicated (by this or another game) or has hooks of its own, or when
    /// the game already replicates [`MAX_KINDS`](crate::MAX_KINDS) kinds.
    pub fn replicate<K: Replicate>(&mut self) -> &mut Self {
        let index = self.kinds.len();
        crate::replicate::register::<G, K>(self.world, self.schedule, self.game_index, index);
        self.kinds.push(crate::replicate::layout::<K>());
        self
    }

    /// The server's world, to insert the game's own resources.
    pub fn world(&mut self) -> &mut World {
        self.world
    }
}

/// A new room being set up (see [`Game::setup_room`]).
pub struct RoomSetup<'w> {
    pub(crate) world: &'w mut World,
    pub(crate) room: Entity,
}

impl RoomSetup<'_> {
    /// The room's entity (add the game's own components to it with [`world`](Self::world)).
    pub fn room(&self) -> Entity {
        self.room
    }

    /// The room's ticks per second (to turn a game's seconds into ticks).
    pub fn tick_rate(&self) -> u32 {
        self.world.get::<Room>(self.room).map_or(1, Room::tick_rate)
    }

    /// Spawns an entity in this room (it gets [`InRoom`] and so a `net_id`).
    pub fn spawn(&mut self, bundle: impl Bundle) -> Entity {
        self.world.spawn((InRoom::new(self.room), bundle)).id()
    }

    /// The room's seeded RNG: the only randomness a game may use.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        room_rng(self.world, self.room)
    }

    /// The world.
    pub fn world(&mut self) -> &mut World {
        self.world
    }
}

/// A player joining or leaving (see [`Game::player_joined`]).
pub struct PlayerSetup<'w> {
    pub(crate) world: &'w mut World,
    pub(crate) room: Entity,
    pub(crate) player: Entity,
}

impl PlayerSetup<'_> {
    /// The room's entity.
    pub fn room(&self) -> Entity {
        self.room
    }

    /// The player's entity (it carries [`Player`](crate::Player) and [`InRoom`]).
    pub fn player(&self) -> Entity {
        self.player
    }

    /// The room's seeded RNG.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        room_rng(self.world, self.room)
    }

    /// The world.
    pub fn world(&mut self) -> &mut World {
        self.world
    }
}

fn room_rng(world: &mut World, room: Entity) -> &mut ChaCha8Rng {
    // The framework only hands out setups for rooms that exist; a game that despawned its own
    // room panics here, inside the framework's containment of its hooks.
    let room = world
        .get_mut::<Room>(room)
        .expect("a room being set up exists")
        .into_inner();
    room.rng()
}
