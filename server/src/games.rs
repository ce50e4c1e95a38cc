//! [`Games`]: the games a server hosts. Each is registered once, by value; the simulation gets it
//! through the [`GameRegistry`] and the network edge gets a decoder of the game's input type
//! (the `input` handler decodes a payload only once it knows the seat's game).

use std::sync::Arc;

use tickstorm_sim::{Game, GameRegistry, RegistryError};

use crate::net::input::{InputCodec, TypedInput};

/// The games of one server, in registration order; the first is the default game (of
/// `room:create` and `room:join` without a `game`).
#[derive(Clone, Debug)]
pub struct Games {
    registry: GameRegistry,
    inputs: Vec<Arc<dyn InputCodec>>,
}

impl Default for Games {
    /// What `tickstorm-server` hosts: the orb arena (the default game) and blasters.
    fn default() -> Self {
        let mut games = Games::empty();
        // Fixed, valid, distinct names: registering them into an empty list cannot fail.
        let _ = games.register(tickstorm_orbs::OrbArena);
        let _ = games.register(tickstorm_blasters::Blasters);
        games
    }
}

impl Games {
    /// No game yet (a server refuses to start with none).
    pub fn empty() -> Self {
        Games {
            registry: GameRegistry::new(),
            inputs: Vec::new(),
        }
    }

    /// Adds a game (the first one added is the default).
    pub fn register<G: Game>(&mut self, game: G) -> Result<&mut Self, RegistryError> {
        self.registry.register(game)?;
        self.inputs
            .push(Arc::new(TypedInput::<G::Input>::default()));
        Ok(self)
    }

    /// Builder form of [`register`](Self::register).
    pub fn with<G: Game>(mut self, game: G) -> Result<Self, RegistryError> {
        self.register(game)?;
        Ok(self)
    }

    /// The simulation's view.
    pub fn registry(&self) -> &GameRegistry {
        &self.registry
    }

    /// Registered names, default first.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.registry.names()
    }

    /// Whether no game is registered.
    pub fn is_empty(&self) -> bool {
        self.registry.is_empty()
    }

    /// The input decoder of the game called `name`.
    pub(crate) fn input(&self, name: &str) -> Option<&dyn InputCodec> {
        let index = self.registry.index_of(name)?;
        self.inputs.get(index).map(|codec| &**codec)
    }
}
