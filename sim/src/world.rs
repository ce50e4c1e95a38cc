//! [`SimWorld`]: every room of a server in one bevy_ecs `World`, advanced by one `Schedule` that
//! ticks only the rooms that are due, for every registered game.
//!
//! No I/O, no wall clock, no thread RNG: the caller says which rooms tick and what time to stamp,
//! and each room draws randomness from its own seeded ChaCha8 generator. So the same seed and the
//! same inputs at the same ticks give the same snapshot bytes, which a test checks.
//!
//! One step runs these sets in order: [`TickSet::Input`] (the framework delivers each player's
//! latest input and advances the room's tick), [`TickSet::Simulate`] (the games' systems),
//! [`TickSet::Replicate`] (envelopes, then each kind's table) and [`TickSet::Finish`].

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{ScheduleLabel, SingleThreadedExecutor};
use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tickstorm_shared::{PlayerId, RoomId, Tick};

use crate::game::KindLayout;
use crate::input_queue::InputPort;
use crate::record::{FORMAT_NAME, FORMAT_VERSION, Header, RecordError, RecordSettings, RoomLog};
use crate::registry::{ErasedGame, GameRegistry};
use crate::replicate::{self, SnapshotBuffers};
use crate::room::{InRoom, InjectedFault, Player, Room};

/// The parts of a tick, run in this order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TickSet {
    /// The framework delivers inputs and advances each due room's tick.
    Input,
    /// The games' systems.
    Simulate,
    /// The framework encodes each due room's snapshot.
    Replicate,
    /// The snapshots are handed out.
    Finish,
}

#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
struct TickSchedule;

/// What the caller asks of one step: which rooms tick, and the wall-clock time to stamp.
#[derive(Resource, Debug, Default)]
pub(crate) struct StepRequest {
    /// Room entities whose tick is due; a room's position here is its slot.
    pub(crate) due: Vec<Entity>,
    /// Server time for the snapshots, unix ms (passed in: the simulation reads no clock).
    pub(crate) now_ms: u64,
    /// Per game, the slots of its due rooms.
    by_game: Vec<Vec<usize>>,
}

impl StepRequest {
    pub(crate) fn of_game(&self, game: usize) -> impl Iterator<Item = (usize, Entity)> + '_ {
        self.by_game
            .get(game)
            .into_iter()
            .flatten()
            .filter_map(|&slot| Some((slot, *self.due.get(slot)?)))
    }
}

/// The step's result: one encoded snapshot per ticked room that sends this tick.
#[derive(Resource, Debug, Default)]
pub(crate) struct StepOutput {
    /// `(room entity, snapshot bytes)` in the order of [`StepRequest::due`].
    pub(crate) snapshots: Vec<(Entity, Bytes)>,
}

/// What [`SimWorld::step_isolating_faults`] produced.
#[derive(Debug, Default)]
pub struct StepOutcome {
    /// One encoded snapshot per room that ticked.
    pub snapshots: Vec<(Entity, Bytes)>,
    /// Rooms whose systems panicked.
    pub failed: Vec<Entity>,
}

/// Why a room or a seat could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// No game with that index is registered.
    #[error("no game number {0}")]
    UnknownGame(usize),
    /// The room entity does not exist.
    #[error("no such room")]
    NoRoom,
    /// Every seat is taken.
    #[error("the room is full")]
    RoomFull,
    /// The game's hook panicked; what it had half made was removed again.
    #[error("the game failed in its {0} hook")]
    GameFault(&'static str),
}

/// Runs a game's hook; a panic is contained to the room or seat being made.
fn contained<T>(hook: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(hook)).ok()
}

/// What a new room is made of.
#[derive(Debug, Clone)]
pub struct RoomSpec {
    /// Public id.
    pub id: RoomId,
    /// The game, by its index in the registry (see [`SimWorld::game_index`]).
    pub game: usize,
    /// Seats.
    pub max_players: u32,
    /// Ticks per second.
    pub tick_rate: u32,
    /// Snapshots per second (capped at `tick_rate`): the other ticks are simulated, not encoded.
    pub send_rate: u32,
    /// Seed of the room's RNG.
    pub seed: u64,
    /// The game's create options, as validated by [`GameRegistry::validate_options`].
    pub options: serde_json::Value,
}

/// Panics in a due room that carries [`InjectedFault`]: the way tests prove that a failing room
/// is closed while the others play on. Nothing on the network can add the marker.
fn injected_faults(request: Res<StepRequest>, rooms: Query<&Room, With<InjectedFault>>) {
    for &room_entity in &request.due {
        if let Ok(room) = rooms.get(room_entity) {
            panic!("fault injected into room {}", room.id());
        }
    }
}

/// A registered game inside one [`SimWorld`].
struct Installed {
    game: Arc<dyn ErasedGame>,
    kinds: Vec<KindLayout>,
}

/// All rooms, players and game entities of a server, and the schedule that ticks them.
pub struct SimWorld {
    world: World,
    schedule: Schedule,
    games: Vec<Installed>,
    /// Each due room's game during `step` (kept to reuse its allocation).
    game_of: Vec<Option<usize>>,
    /// Rooms with a [`RoomLog`]: when none, a step looks for none.
    recording: usize,
}

impl std::fmt::Debug for SimWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimWorld")
            .field(
                "games",
                &self.games.iter().map(|g| g.game.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl SimWorld {
    /// A world that hosts the registry's games.
    pub fn new(registry: &GameRegistry) -> Self {
        let mut world = World::new();
        world.init_resource::<StepRequest>();
        world.init_resource::<StepOutput>();
        world.init_resource::<SnapshotBuffers>();
        let mut schedule = Schedule::new(TickSchedule);
        // One schedule run ticks many rooms; a second thread would only add hand-off cost.
        schedule.set_executor(SingleThreadedExecutor::new());
        schedule.configure_sets(
            (
                TickSet::Input,
                TickSet::Simulate,
                TickSet::Replicate,
                TickSet::Finish,
            )
                .chain(),
        );
        schedule.add_systems((
            injected_faults.before(TickSet::Input),
            replicate::write_envelopes
                .in_set(TickSet::Replicate)
                .before(ReplicateRows),
            replicate::finish_snapshots.in_set(TickSet::Finish),
        ));
        schedule.configure_sets(ReplicateRows.in_set(TickSet::Replicate));
        let mut sim = Self {
            world,
            schedule,
            games: Vec::new(),
            game_of: Vec::new(),
            recording: 0,
        };
        for game in registry.erased() {
            let kinds = game.install(&mut sim);
            sim.games.push(Installed {
                game: game.clone(),
                kinds,
            });
        }
        sim
    }

    /// How many games are installed (the next one's index).
    pub(crate) fn games_installed(&self) -> usize {
        self.games.len()
    }

    /// The world and the schedule, for installing a game.
    pub(crate) fn parts(&mut self) -> (&mut World, &mut Schedule) {
        (&mut self.world, &mut self.schedule)
    }

    /// A registered game's index, by name.
    pub fn game_index(&self, name: &str) -> Option<usize> {
        self.games.iter().position(|g| g.game.name() == name)
    }

    /// A registered game's name.
    pub fn game_name(&self, game: usize) -> Option<&'static str> {
        self.games.get(game).map(|g| g.game.name())
    }

    /// A registered game's replicated kinds, in table order.
    pub fn kinds(&self, game: usize) -> &[KindLayout] {
        self.games.get(game).map_or(&[], |g| &g.kinds)
    }

    /// Creates a room of `spec.game` and lets the game set it up; returns the room entity and
    /// its input queue. A game whose setup panics gets no room (nothing of it is left behind).
    pub fn spawn_room(&mut self, spec: RoomSpec) -> Result<(Entity, Arc<dyn InputPort>), SimError> {
        let installed = self
            .games
            .get(spec.game)
            .ok_or(SimError::UnknownGame(spec.game))?;
        let game = installed.game.clone();
        let room = self
            .world
            .spawn(Room {
                id: spec.id,
                game: spec.game,
                max_players: spec.max_players,
                tick_rate: spec.tick_rate,
                send_rate: spec.send_rate.clamp(1, spec.tick_rate.max(1)),
                dt: 1.0 / spec.tick_rate.max(1) as f32,
                tick: 0,
                rng: ChaCha8Rng::seed_from_u64(spec.seed),
                players: Vec::new(),
                entities: Vec::new(),
                kinds: vec![Vec::new(); installed.kinds.len()],
                next_net_id: 0,
            })
            .id();
        let world = &mut self.world;
        match contained(|| game.setup_room(world, room, &spec.options)) {
            Some(inputs) => Ok((room, inputs)),
            None => {
                self.despawn_room(room);
                Err(SimError::GameFault("setup_room"))
            }
        }
    }

    /// Removes a room with all its entities; returns the player ids that were seated.
    pub fn despawn_room(&mut self, room: Entity) -> Vec<PlayerId> {
        if self.world.get::<RoomLog>(room).is_some() {
            self.recording -= 1;
        }
        let Some(r) = self.world.get::<Room>(room) else {
            return Vec::new();
        };
        let members = r.entities.clone();
        let seated: Vec<Entity> = r.players.clone();
        let ids = seated
            .iter()
            .filter_map(|&e| self.world.get::<Player>(e).map(|p| p.id))
            .collect();
        for player in seated {
            self.despawn_player(player);
        }
        for e in members {
            // Already gone if it was a player (or despawned by a game's leave hook).
            if let Ok(entity) = self.world.get_entity_mut(e) {
                entity.despawn();
            }
        }
        self.world.despawn(room);
        ids
    }

    /// Seats a new player and lets the game add its components. A game whose join hook panics
    /// gets no player (the seat stays free).
    pub fn spawn_player(
        &mut self,
        room: Entity,
        id: PlayerId,
        name: String,
    ) -> Result<Entity, SimError> {
        let r = self.world.get::<Room>(room).ok_or(SimError::NoRoom)?;
        if r.players.len() >= r.max_players as usize {
            return Err(SimError::RoomFull);
        }
        let game = self
            .games
            .get(r.game)
            .ok_or(SimError::UnknownGame(r.game))?
            .game
            .clone();
        if let Some(mut log) = self.world.get_mut::<RoomLog>(room) {
            log.join(id, &name);
        }
        let player = Player {
            id,
            name,
            last_input_seq: 0,
            score: 0,
        };
        let entity = self.world.spawn((InRoom::new(room), player)).id();
        if let Some(mut r) = self.world.get_mut::<Room>(room) {
            r.players.push(entity);
        }
        let world = &mut self.world;
        if contained(|| game.player_joined(world, room, entity)).is_none() {
            self.despawn_player(entity);
            return Err(SimError::GameFault("player_joined"));
        }
        Ok(entity)
    }

    /// Lets the game see the player leave, then removes it from its room and the world.
    pub fn despawn_player(&mut self, player: Entity) {
        let Some(room) = self.world.get::<InRoom>(player).map(|m| m.room()) else {
            return;
        };
        self.log_seat(room, player, RoomLog::leave);
        if let Some(game) = self
            .world
            .get::<Room>(room)
            .and_then(|r| self.games.get(r.game))
            .map(|g| g.game.clone())
        {
            // The player goes whatever the hook does.
            let world = &mut self.world;
            let _ = contained(|| game.player_left(world, room, player));
        }
        if let Ok(entity) = self.world.get_entity_mut(player) {
            entity.despawn();
        }
    }

    /// Clears a player's input (its connection dropped: its seat stays, it does nothing).
    pub fn halt_player(&mut self, player: Entity) {
        if let Some(room) = self.world.get::<InRoom>(player).map(|m| m.room()) {
            self.log_seat(room, player, RoomLog::halt);
        }
        let Some(game) = self
            .world
            .get::<InRoom>(player)
            .and_then(|m| self.world.get::<Room>(m.room()))
            .and_then(|r| self.games.get(r.game))
            .map(|g| g.game.clone())
        else {
            return;
        };
        game.halt(&mut self.world, player);
    }

    /// Runs one step: ticks the rooms in `due` and returns the encoded snapshots of those whose
    /// send rate sends this tick (all of them at the default send rate).
    pub fn step(&mut self, due: &[Entity], now_ms: u64) -> &[(Entity, Bytes)] {
        {
            let games = self.games.len();
            let world = &mut self.world;
            let game_of = &mut self.game_of;
            game_of.clear();
            game_of.extend(due.iter().map(|&e| world.get::<Room>(e).map(|r| r.game)));
            let mut request = world.resource_mut::<StepRequest>();
            request.due.clear();
            request.due.extend_from_slice(due);
            request.now_ms = now_ms;
            request.by_game.resize_with(games, Vec::new);
            for slots in &mut request.by_game {
                slots.clear();
            }
            for (slot, &game) in game_of.iter().enumerate() {
                if let Some(slots) = game.and_then(|g| request.by_game.get_mut(g)) {
                    slots.push(slot);
                }
            }
        }
        self.schedule.run(&mut self.world);
        if self.recording > 0 {
            self.log_snapshots();
        }
        &self.world.resource::<StepOutput>().snapshots
    }

    /// Gives each recorded room's log the snapshot its tick encoded.
    fn log_snapshots(&mut self) {
        self.world.resource_scope(|world, output: Mut<StepOutput>| {
            for (room, snapshot) in &output.snapshots {
                let Some(tick) = world.get::<Room>(*room).map(|r| r.tick) else {
                    continue;
                };
                if let Some(mut log) = world.get_mut::<RoomLog>(*room) {
                    log.snapshot(tick, snapshot);
                }
            }
        });
    }

    /// Writes a seat event of `player` into its room's log, if the room is recorded.
    fn log_seat(&mut self, room: Entity, player: Entity, write: fn(&mut RoomLog, PlayerId)) {
        if self.recording == 0 {
            return;
        }
        let Some(id) = self.world.get::<Player>(player).map(|p| p.id) else {
            return;
        };
        if let Some(mut log) = self.world.get_mut::<RoomLog>(room) {
            write(&mut log, id);
        }
    }

    /// Starts recording a room that was just made (no tick run, nobody seated: a recording is
    /// only replayable from its room's start). Returns the recording's header; the entries then
    /// come from [`take_recording`](Self::take_recording).
    pub fn start_recording(
        &mut self,
        room: Entity,
        spec: &RoomSpec,
        settings: RecordSettings,
        started_unix_ms: u64,
    ) -> Result<Header, RecordError> {
        let r = self.world.get::<Room>(room).ok_or(RecordError::NoRoom)?;
        if r.tick > 0 || !r.players.is_empty() {
            return Err(RecordError::NotAtStart);
        }
        if self.world.get::<RoomLog>(room).is_some() {
            return Err(RecordError::AlreadyRecording);
        }
        let game = self.games.get(spec.game).ok_or(RecordError::NoRoom)?;
        let header = Header {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
            segment: 0,
            framework_version: env!("CARGO_PKG_VERSION").to_owned(),
            game: game.game.name().to_owned(),
            game_version: game.game.version().to_owned(),
            room_id: spec.id.to_string(),
            seed: spec.seed,
            options: spec.options.clone(),
            max_players: spec.max_players,
            tick_rate: spec.tick_rate,
            send_rate: r.send_rate,
            hash_every: settings.hash_every.max(1),
            keyframe_every: settings.keyframe_every.max(1),
            started_unix_ms,
        };
        self.world
            .entity_mut(room)
            .insert(RoomLog::new(settings, started_unix_ms));
        self.recording += 1;
        Ok(header)
    }

    /// The entries a recorded room wrote since the last call, and whether its recording has
    /// ended (then it is no longer recorded); `None` when the room is not recorded.
    pub fn take_recording(&mut self, room: Entity) -> Option<(Vec<u8>, bool)> {
        let mut log = self.world.get_mut::<RoomLog>(room)?;
        let taken = log.take();
        if taken.1 {
            self.world.entity_mut(room).remove::<RoomLog>();
            self.recording -= 1;
        }
        Some(taken)
    }

    /// Ends a room's recording with `reason` (`closed`, `stopped`, ...): returns its last
    /// entries (the final snapshot and the `End` entry); `None` when it is not recorded.
    pub fn end_recording(&mut self, room: Entity, reason: &str) -> Option<Vec<u8>> {
        self.world.get_mut::<RoomLog>(room)?.end(reason);
        self.take_recording(room).map(|(bytes, _)| bytes)
    }

    /// Whether a room is being recorded.
    pub fn is_recording(&self, room: Entity) -> bool {
        self.world.get::<RoomLog>(room).is_some()
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
        // The shared run stopped part-way: the rooms it had reached advanced in a way no replay
        // can follow, so their recordings end here.
        for &room in due {
            if let Some(mut log) = self.world.get_mut::<RoomLog>(room) {
                log.end("fault: a step panicked; the room's state from here is not replayable");
            }
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

    /// A room's game index.
    pub fn room_game(&self, room: Entity) -> Option<usize> {
        self.room(room).map(|r| r.game)
    }

    /// The lobby metadata a room's game has set on it ([`RoomMetadata`](crate::RoomMetadata)).
    pub fn metadata(&self, room: Entity) -> Option<&serde_json::Value> {
        self.world.get::<crate::RoomMetadata>(room).map(|m| &m.0)
    }

    /// Number of live room entities and entities in rooms, for leak checks.
    pub fn entity_count(&mut self) -> usize {
        self.world
            .query_filtered::<(), Or<(With<Room>, With<InRoom>)>>()
            .iter(&self.world)
            .count()
    }

    /// The world, for tests and tools that inspect a game's state.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world, mutably (tests; a running server never hands it out).
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

/// Where each kind's table is written (after the envelopes, before finishing).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ReplicateRows;
