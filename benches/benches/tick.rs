//! Tick cost benchmarks: `sim/tick_rooms/N` ticks N rooms of 8 players + 32 orbs in the one shared
//! `World` (the server's design); `sim/schedule_per_room/N` ticks the same rooms with a `World` and
//! `Schedule` per room, the alternative the design was chosen against. Both include input apply,
//! movement, orb pickup, scoring and snapshot encoding.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use glam::Vec2;
use tickstorm_server::sim::{Entity, InputQueue, PendingInput, RoomSpec, SimWorld};

const PLAYERS_PER_ROOM: u32 = 8;

struct BenchRoom {
    entity: Entity,
    queue: Arc<InputQueue>,
    players: Vec<Entity>,
}

fn populate(sim: &mut SimWorld, index: u64) -> BenchRoom {
    let queue = Arc::new(InputQueue::new(0));
    let spec = RoomSpec {
        id: format!("room{index}"),
        name: "bench".into(),
        max_players: PLAYERS_PER_ROOM,
        tick_rate: 30,
        seed: index,
    };
    let entity = sim.spawn_room(spec, queue.clone());
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

/// Every player sends a new direction every tick (the worst case for input apply).
fn feed_inputs(rooms: &[BenchRoom], seq: u32) {
    let angle = seq as f32 * 0.1;
    for room in rooms {
        for &player in &room.players {
            room.queue.submit(PendingInput {
                player,
                seq,
                direction: Vec2::from_angle(angle),
                buttons: 0,
            });
        }
    }
}

fn tick_rooms(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim/tick_rooms");
    for n in [1u64, 100, 1000, 10_000] {
        let mut sim = SimWorld::new();
        let rooms: Vec<BenchRoom> = (0..n).map(|i| populate(&mut sim, i)).collect();
        let due: Vec<_> = rooms.iter().map(|r| r.entity).collect();
        let mut seq = 0;
        group.throughput(Throughput::Elements(n));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                seq += 1;
                feed_inputs(&rooms, seq);
                sim.step(&due, 1_790_000_000_000).len()
            })
        });
    }
    group.finish();
}

fn schedule_per_room(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim/schedule_per_room");
    for n in [1u64, 100, 1000] {
        let mut worlds: Vec<(SimWorld, BenchRoom)> = (0..n)
            .map(|i| {
                let mut sim = SimWorld::new();
                let room = populate(&mut sim, i);
                (sim, room)
            })
            .collect();
        let mut seq = 0;
        group.throughput(Throughput::Elements(n));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                seq += 1;
                let mut snapshots = 0;
                for (sim, room) in &mut worlds {
                    feed_inputs(std::slice::from_ref(room), seq);
                    snapshots += sim.step(&[room.entity], 1_790_000_000_000).len();
                }
                snapshots
            })
        });
    }
    group.finish();
}

criterion_group!(benches, tick_rooms, schedule_per_room);
criterion_main!(benches);
