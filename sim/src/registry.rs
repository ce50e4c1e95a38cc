//! The games of a server: [`GameRegistry`] (by name, the first is the default) and, inside the
//! framework, each game behind the [`ErasedGame`] trait, so the driver and the world handle
//! every game alike without naming its types. A game's typed parts live here too: its rooms'
//! input queues and the system that delivers their inputs.

use std::marker::PhantomData;
use std::sync::Arc;

use bevy_ecs::prelude::*;

use crate::game::{
    Due, Game, GameBuilder, GameIndex, GameInput, KindLayout, PlayerInput, PlayerSetup, RoomSetup,
};
use crate::input_queue::{InputPort, InputQueue, PendingInput};
use crate::record::RoomLog;
use crate::room::{InRoom, Player, Room};
use crate::world::{SimWorld, TickSet};

/// A registered game as the framework drives it, without naming its types.
pub(crate) trait ErasedGame: Send + Sync {
    fn name(&self) -> &'static str;
    fn version(&self) -> &'static str;
    fn validate_options(
        &self,
        raw: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, String>;
    fn install(&self, sim: &mut SimWorld) -> Vec<KindLayout>;
    fn setup_room(
        &self,
        world: &mut World,
        room: Entity,
        options: &serde_json::Value,
    ) -> Arc<dyn InputPort>;
    fn player_joined(&self, world: &mut World, room: Entity, player: Entity);
    fn player_left(&self, world: &mut World, room: Entity, player: Entity);
    fn halt(&self, world: &mut World, player: Entity);
}

pub(crate) struct Registered<G: Game>(pub(crate) Arc<G>);

impl<G: Game> ErasedGame for Registered<G> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn version(&self) -> &'static str {
        self.0.version()
    }

    fn validate_options(
        &self,
        raw: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let options: G::Options = match raw {
            None | Some(serde_json::Value::Null) => G::Options::default(),
            Some(raw) => serde_json::from_value(raw.clone())
                .map_err(|e| format!("invalid options for game {}: {e}", self.0.name()))?,
        };
        self.0.validate_options(&options)?;
        serde_json::to_value(&options).map_err(|e| e.to_string())
    }

    fn install(&self, sim: &mut SimWorld) -> Vec<KindLayout> {
        let index = sim.games_installed();
        sim.parts().0.insert_resource(GameIndex::<G>::new(index));
        let (world, schedule) = sim.parts();
        schedule.add_systems(deliver_inputs::<G>.in_set(TickSet::Input));
        let mut builder = GameBuilder::<G> {
            world,
            schedule,
            game_index: index,
            kinds: Vec::new(),
            marker: PhantomData,
        };
        self.0.build(&mut builder);
        builder.kinds
    }

    fn setup_room(
        &self,
        world: &mut World,
        room: Entity,
        options: &serde_json::Value,
    ) -> Arc<dyn InputPort> {
        let queue = Arc::new(InputQueue::<G::Input>::new(0));
        world
            .entity_mut(room)
            .insert(RoomInputs::<G::Input>(queue.clone()));
        // Validated before the room was asked for; a value that no longer parses falls back to
        // the defaults rather than failing a room that was already promised.
        let options = serde_json::from_value(options.clone()).unwrap_or_default();
        self.0.setup_room(&mut RoomSetup { world, room }, &options);
        queue
    }

    fn player_joined(&self, world: &mut World, room: Entity, player: Entity) {
        world
            .entity_mut(player)
            .insert(PlayerInput::<G::Input>::default());
        self.0.player_joined(&mut PlayerSetup {
            world,
            room,
            player,
        });
    }

    fn player_left(&self, world: &mut World, room: Entity, player: Entity) {
        self.0.player_left(&mut PlayerSetup {
            world,
            room,
            player,
        });
        // Its highest seq and any input still queued go with it.
        if let Some(inputs) = world.get::<RoomInputs<G::Input>>(room) {
            InputPort::forget(&*inputs.0, player);
        }
    }

    fn halt(&self, world: &mut World, player: Entity) {
        if let Some(mut input) = world.get_mut::<PlayerInput<G::Input>>(player) {
            input.0 = G::Input::default();
        }
    }
}

/// A room's typed input queue, on the room entity.
#[derive(Component, Debug)]
struct RoomInputs<I: GameInput>(Arc<InputQueue<I>>);

/// Delivers each due room's queued inputs to its players and advances the room's tick.
/// A due room as input delivery sees it: its queue, and its log when it is recorded.
type DeliveryRoom<'a, I> = (&'a mut Room, &'a RoomInputs<I>, Option<&'a mut RoomLog>);

/// A recorded room also gets the applied inputs and the tick in its log.
fn deliver_inputs<G: Game>(
    due: Due<G>,
    mut drained: Local<Vec<PendingInput<G::Input>>>,
    mut rooms: Query<DeliveryRoom<G::Input>>,
    mut players: Query<(&mut Player, &mut PlayerInput<G::Input>, &InRoom)>,
) {
    for room_entity in due.entities() {
        let Ok((mut room, inputs, mut log)) = rooms.get_mut(room_entity) else {
            continue;
        };
        room.tick = inputs.0.drain_into(&mut drained);
        for pending in drained.drain(..) {
            // The entity may have left since it was queued; its generation then no longer matches.
            let Ok((mut player, mut input, membership)) = players.get_mut(pending.player) else {
                continue;
            };
            if membership.room() == room_entity {
                if let Some(log) = log.as_deref_mut() {
                    log.input(player.id, &pending.input);
                }
                input.0 = pending.input;
                player.last_input_seq = player.last_input_seq.max(pending.seq);
            }
        }
        if let Some(log) = log.as_deref_mut() {
            log.tick(room.tick, due.now_ms());
        }
    }
}

/// The games a server hosts, in registration order (the first is the default game).
#[derive(Clone, Default)]
pub struct GameRegistry {
    games: Vec<Arc<dyn ErasedGame>>,
}

impl std::fmt::Debug for GameRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// Why a game could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Two games with one name.
    #[error("a game named {0:?} is already registered")]
    Duplicate(&'static str),
    /// A name clients could not type.
    #[error("game name {0:?} must be 1-32 lowercase ASCII letters, digits or '-'")]
    BadName(&'static str),
}

impl GameRegistry {
    /// No games yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a game; the first one added is the default.
    pub fn register<G: Game>(&mut self, game: G) -> Result<&mut Self, RegistryError> {
        let name = game.name();
        let valid = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(RegistryError::BadName(name));
        }
        if self.index_of(name).is_some() {
            return Err(RegistryError::Duplicate(name));
        }
        self.games.push(Arc::new(Registered(Arc::new(game))));
        Ok(self)
    }

    /// The registered names, default first.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.games.iter().map(|g| g.name())
    }

    /// The default game's name, if any game is registered.
    pub fn default_name(&self) -> Option<&'static str> {
        self.games.first().map(|g| g.name())
    }

    /// A game's version ([`Game::version`]), by name.
    pub fn version_of(&self, name: &str) -> Option<&'static str> {
        self.games
            .iter()
            .find(|g| g.name() == name)
            .map(|g| g.version())
    }

    /// A game's index, by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.games.iter().position(|g| g.name() == name)
    }

    /// The games as the framework drives them.
    pub(crate) fn erased(&self) -> &[Arc<dyn ErasedGame>] {
        &self.games
    }

    /// Whether no game is registered.
    pub fn is_empty(&self) -> bool {
        self.games.is_empty()
    }

    /// Parses and checks a game's create options; returns them normalized (defaults filled in),
    /// as [`RoomSpec::options`](crate::RoomSpec::options) wants them. `Err` for an unknown game index or invalid options.
    pub fn validate_options(
        &self,
        game: usize,
        raw: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        self.games
            .get(game)
            .ok_or_else(|| format!("no game number {game}"))?
            .validate_options(raw)
    }
}
