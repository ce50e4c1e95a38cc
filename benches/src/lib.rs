//! Criterion benchmarks live in `benches/`; this library holds what they and the allocation test
//! share: rooms of 8 players in a [`SimWorld`] (the orb arena's, and blasters' in a busy round),
//! fed a new input per player per tick.

use std::sync::Arc;

use tickstorm_blasters::{BlasterInput, Blasters};
use tickstorm_orbs::{OrbArena, OrbInput};
use tickstorm_sim::{Entity, GameRegistry, InputQueue, PendingInput, RoomSpec, SimWorld};

/// Seats per bench room.
pub const PLAYERS_PER_ROOM: u32 = 8;

/// One populated room (of the orb arena unless said otherwise).
#[derive(Debug)]
pub struct BenchRoom<I = OrbInput> {
    /// The room entity.
    pub entity: Entity,
    /// Its typed input queue.
    pub queue: Arc<InputQueue<I>>,
    /// Its players' entities.
    pub players: Vec<Entity>,
}

/// A world hosting the orb arena.
pub fn orb_world() -> SimWorld {
    let mut registry = GameRegistry::new();
    // A fixed, valid name into an empty registry: cannot fail.
    let _ = registry.register(OrbArena);
    SimWorld::new(&registry)
}

/// The spec of bench room `index` (an orb arena room of `max_players`).
pub fn room_spec(index: u64, max_players: u32) -> RoomSpec {
    RoomSpec {
        id: format!("room{index}"),
        game: 0,
        max_players,
        tick_rate: 30,
        send_rate: 30,
        seed: index,
        options: serde_json::json!({}),
    }
}

/// Spawns an empty room; returns its entity and typed queue.
pub fn empty_room(
    sim: &mut SimWorld,
    index: u64,
    max_players: u32,
) -> (Entity, Arc<InputQueue<OrbInput>>) {
    let (entity, port) = sim
        .spawn_room(room_spec(index, max_players))
        .expect("the orb arena is registered");
    // The port is the orb arena's own queue; keep it typed so feeding costs what the server pays
    // after decoding (no per-input downcast).
    let queue = port
        .into_any()
        .downcast::<InputQueue<OrbInput>>()
        .expect("the orb arena's queue");
    (entity, queue)
}

/// Spawns a room of [`PLAYERS_PER_ROOM`] players.
pub fn populate(sim: &mut SimWorld, index: u64) -> BenchRoom {
    let (entity, queue) = empty_room(sim, index, PLAYERS_PER_ROOM);
    seat_players(sim, entity, queue, index)
}

/// Spawns a room of [`PLAYERS_PER_ROOM`] players that is recorded from its start (the default
/// capture settings of `--record-dir`: a hash of every snapshot, a keyframe every 300 ticks).
pub fn populate_recorded(sim: &mut SimWorld, index: u64) -> BenchRoom {
    let (entity, queue) = empty_room(sim, index, PLAYERS_PER_ROOM);
    sim.start_recording(
        entity,
        &room_spec(index, PLAYERS_PER_ROOM),
        tickstorm_sim::record::RecordSettings::default(),
        1_790_000_000_000,
    )
    .expect("a new room can be recorded");
    seat_players(sim, entity, queue, index)
}

/// Seats [`PLAYERS_PER_ROOM`] players in room `entity` (player ids `index * 100 + p`).
fn seat_players<I>(
    sim: &mut SimWorld,
    entity: Entity,
    queue: Arc<InputQueue<I>>,
    index: u64,
) -> BenchRoom<I> {
    let players = (0..PLAYERS_PER_ROOM)
        .map(|p| {
            sim.spawn_player(entity, (index as u32) * 100 + p, "bot".into())
                .expect("seat")
        })
        .collect();
    BenchRoom {
        entity,
        queue,
        players,
    }
}

/// Every player sends a new direction every tick (the worst case for input delivery). Queued as
/// the server queues a decoded, validated input.
pub fn feed_inputs(rooms: &[BenchRoom], seq: u32) {
    let angle = seq as f32 * 0.1;
    for room in rooms {
        for &player in &room.players {
            room.queue.submit(PendingInput {
                player,
                seq,
                input: OrbInput {
                    seq,
                    movement: [angle.cos(), angle.sin()],
                    buttons: 0,
                },
            });
        }
    }
}

/// A world hosting blasters alone.
pub fn blasters_world() -> SimWorld {
    let mut registry = GameRegistry::new();
    // A fixed, valid name into an empty registry: cannot fail.
    let _ = registry.register(Blasters);
    SimWorld::new(&registry)
}

/// Spawns blasters room `index` with 8 fighters, in a round that starts at once and lasts ten
/// minutes (kills still end it at 100: a long bench sees the scoreboard too, as real play does).
pub fn populate_blasters(sim: &mut SimWorld, index: u64) -> BenchRoom<BlasterInput> {
    let spec = RoomSpec {
        options: serde_json::json!({"warmup_seconds": 0, "round_seconds": 600, "kills_to_win": 100}),
        ..room_spec(index, PLAYERS_PER_ROOM)
    };
    let (entity, port) = sim.spawn_room(spec).expect("blasters is registered");
    let queue = port
        .into_any()
        .downcast::<InputQueue<BlasterInput>>()
        .expect("blasters' queue");
    seat_players(sim, entity, queue, index)
}

/// A busy round: every fighter turns, moves and holds the trigger every tick, so each fires at
/// the cooldown rate (about 11 bolts in flight per room of 8: walls and hits end many early).
pub fn feed_blaster_inputs(rooms: &[BenchRoom<BlasterInput>], seq: u32) {
    for room in rooms {
        for (i, &player) in room.players.iter().enumerate() {
            let angle = seq as f32 * 0.1 + i as f32;
            room.queue.submit(PendingInput {
                player,
                seq,
                input: BlasterInput {
                    seq,
                    movement: [angle.cos(), angle.sin()],
                    aim: tickstorm_blasters::rules::wrap_angle(angle * 0.7),
                    fire: true,
                },
            });
        }
    }
}
