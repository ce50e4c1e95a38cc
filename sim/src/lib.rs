//! Tickstorm's simulation framework and public game API.
//!
//! Every room of a server lives in one bevy_ecs `World` and ticks on its own fixed period. A game
//! is a crate that implements [`Game`]: its components and systems (which run inside its rooms'
//! ticks, see [`Due`]), its input payload ([`GameInput`], delivered as [`PlayerInput`]), room
//! setup from the room's seeded RNG and validated create options, player join and leave hooks,
//! lobby metadata ([`RoomMetadata`]) and what replicates ([`Replicate`]). The framework keeps the
//! rest: rooms and seats, input queueing and per-tick delivery, the tick counter, fault
//! containment and one MessagePack snapshot per room per tick (see `docs/protocol.md`).
//!
//! The server (`tickstorm-server`) hosts any number of games, registered by name in a
//! [`GameRegistry`]; `docs/write-a-game.md` walks through writing one.

mod game;
mod input_queue;
pub mod record;
mod registry;
mod replicate;
mod room;
mod world;

pub use bevy_ecs;
pub use bevy_ecs::entity::Entity;
pub use game::{
    Due, Game, GameBuilder, GameInput, KindLayout, PlayerInput, PlayerSetup, RoomSetup,
};
pub use input_queue::{Accepted, InputError, InputPort, InputQueue, PendingInput};
pub use rand_chacha::ChaCha8Rng;
pub use registry::{GameRegistry, RegistryError};
pub use replicate::{MAX_KINDS, Replicate};
pub use room::{InRoom, InjectedFault, Player, Room, sends_on};
pub use tickstorm_shared::snapshot::RowWriter;
pub use world::{RoomSpec, SimError, SimWorld, StepOutcome, TickSet};

/// Lobby metadata of a room, set by its game on the room entity (any JSON value; the lobby,
/// `/api/rooms` and the dashboard show it). The framework republishes it at least once a second.
#[derive(bevy_ecs::component::Component, Debug, Clone, PartialEq, Default)]
pub struct RoomMetadata(pub serde_json::Value);

#[cfg(test)]
mod tests;
