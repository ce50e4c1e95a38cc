//! Simulation and room benchmarks.
//!
//! `sim/movement/N`: the movement rule (`tickstorm_orbs::rules::step_position`) as a bevy_ecs query over N
//! entities, the floor of any per-entity system. `room/create` and `room/join`: spawning a room
//! (with its 32 orbs) and seating a player, each undone in the same iteration so the world stays
//! the same size. `sim/tick_rooms/N` ticks N rooms of 8 players + 32 orbs in the one shared
//! `World` (the server's design); `sim/schedule_per_room/N` ticks the same rooms with a `World` and
//! `Schedule` per room, the alternative the design was chosen against. Both include input apply,
//! movement, orb pickup, scoring and snapshot encoding. `sim/tick_rooms/blasters/N` ticks N
//! blasters rooms of 8 in a busy round (everyone moving and firing: bolts born and despawned
//! every tick, hits, kills, respawns).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use glam::Vec2;
use tickstorm_benches::{
    BenchRoom, blasters_world, empty_room, feed_blaster_inputs, feed_inputs, orb_world, populate,
    populate_blasters, populate_recorded,
};
use tickstorm_sim::{Entity, SimWorld};

fn tick_rooms(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim/tick_rooms");
    for n in [1u64, 100, 1000, 10_000] {
        let mut sim = orb_world();
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

/// The rooms of `tick_rooms/1000`, each recorded as `--record-dir` records it, the entries taken
/// after every step as the driver takes them (the writer thread's work is not in it): the tick
/// thread's cost of recording.
fn tick_recorded_rooms(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim/tick_rooms_recorded");
    let n = 1000u64;
    let mut sim = orb_world();
    let rooms: Vec<BenchRoom> = (0..n).map(|i| populate_recorded(&mut sim, i)).collect();
    let due: Vec<_> = rooms.iter().map(|r| r.entity).collect();
    let mut seq = 0;
    let mut written = 0usize;
    group.throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| {
            seq += 1;
            feed_inputs(&rooms, seq);
            sim.step(&due, 1_790_000_000_000);
            for &room in &due {
                if let Some((bytes, _)) = sim.take_recording(room) {
                    written += bytes.len();
                }
            }
        })
    });
    group.finish();
    std::hint::black_box(written);
}

fn tick_blasters_rooms(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim/tick_rooms/blasters");
    for n in [1u64, 100, 1000] {
        let mut sim = blasters_world();
        let rooms: Vec<_> = (0..n).map(|i| populate_blasters(&mut sim, i)).collect();
        let due: Vec<_> = rooms.iter().map(|r| r.entity).collect();
        let mut seq = 0;
        // Into the steady state of a busy round: the bolts of the last second are in flight.
        // Ten seconds of it, reported once: the snapshot bytes a client of such a room gets.
        let (mut bytes, mut bolts, mut snapshots) = (0usize, 0usize, 0usize);
        for _ in 0..300 {
            seq += 1;
            feed_blaster_inputs(&rooms, seq);
            for (_, snapshot) in sim.step(&due, 1_790_000_000_000) {
                bytes += snapshot.len();
                snapshots += 1;
                if n == 1 {
                    let view = tickstorm_blasters::BlastersView::decode(snapshot);
                    bolts += view.map_or(0, |v| v.bolts.len());
                }
            }
        }
        if n == 1 {
            eprintln!(
                "blasters, 8 fighters in a busy round, 300 ticks: {:.0} snapshot bytes per tick, \
                 {:.1} bolts in flight (mean)",
                bytes as f64 / snapshots as f64,
                bolts as f64 / snapshots as f64
            );
        }
        group.throughput(Throughput::Elements(n));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                seq += 1;
                feed_blaster_inputs(&rooms, seq);
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
                let mut sim = orb_world();
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

fn movement(c: &mut Criterion) {
    use bevy_ecs::prelude::*;
    use tickstorm_orbs::{Position, Velocity, rules};

    fn step(mut movers: Query<(&mut Position, &Velocity)>) {
        for (mut position, velocity) in &mut movers {
            position.0 = rules::step_position(position.0, velocity.0, 1.0 / 30.0);
        }
    }

    let mut group = c.benchmark_group("sim/movement");
    for (label, n) in [("1k", 1_000u32), ("100k", 100_000)] {
        let mut world = World::new();
        world.spawn_batch((0..n).map(|i| {
            let angle = i as f32 * 0.01;
            (
                Position(Vec2::new(500.0, 500.0)),
                Velocity(Vec2::from_angle(angle) * 200.0),
            )
        }));
        let mut schedule = Schedule::default();
        schedule.add_systems(step);
        schedule.run(&mut world);
        group.throughput(Throughput::Elements(u64::from(n)));
        group.bench_function(label, |b| b.iter(|| schedule.run(&mut world)));
    }
    group.finish();
}

fn room_ops(c: &mut Criterion) {
    let mut group = c.benchmark_group("room");
    let mut sim = orb_world();
    // A populated world, so the numbers are not those of an empty one.
    let rooms: Vec<BenchRoom> = (0..1000).map(|i| populate(&mut sim, i)).collect();
    let mut next = 10_000u64;
    group.bench_function("create", |b| {
        b.iter(|| {
            next += 1;
            let room = populate_empty(&mut sim, next);
            sim.despawn_room(room)
        })
    });
    let (host, _) = empty_room(&mut sim, 1, 64);
    group.bench_function("join", |b| {
        b.iter(|| {
            let player = sim.spawn_player(host, 7, "bot".into()).expect("free seat");
            sim.despawn_player(player);
        })
    });
    group.finish();
    drop(rooms);
}

fn populate_empty(sim: &mut SimWorld, index: u64) -> Entity {
    empty_room(sim, index, 8).0
}

criterion_group!(
    benches,
    movement,
    tick_rooms,
    tick_recorded_rooms,
    tick_blasters_rooms,
    schedule_per_room,
    room_ops
);
criterion_main!(benches);
