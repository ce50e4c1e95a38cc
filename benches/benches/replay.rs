//! Ticks per second of real recorded play: `replay/<game>` re-simulates a recorded session of
//! each game (`benches/recordings/*.tsrec`: 8 swarm bots in one room for 20 s, made by
//! `benches/recordings/make.sh`) from its header to its end, as `tickstorm-server replay` does:
//! the room's setup, every join, every applied input at its tick, every snapshot encoded and
//! checked against the recorded hashes. Unlike `sim/tick_rooms`, whose inputs are synthetic, the
//! work per tick is what players actually did (orbs picked up, bolts fired, kills, respawns).
//!
//! Throughput is in ticks; criterion prints them per second.

use std::path::PathBuf;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tickstorm_sim::record::{Replay, load_segments};

/// A committed recording, read once.
fn recording(game: &str) -> Vec<Bytes> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("recordings/{game}-8.tsrec"));
    load_segments(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect()
}

fn replay(c: &mut Criterion) {
    let games = tickstorm_server::Games::default();
    let registry = games.registry();
    let mut group = c.benchmark_group("replay");
    for game in ["orbs", "blasters"] {
        let segments = recording(game);
        // Once outside the timing: how long it is, and that this build still plays it the same.
        let mut check = Replay::new(registry, segments.clone()).expect("replayable");
        check.run(false).expect("follows");
        let ticks = check.stats().ticks;
        if let Some(difference) = check.difference() {
            eprintln!(
                "warning: {game}'s recording differs from tick {} on: the game's rules changed; \
                 re-record with benches/recordings/make.sh",
                difference.tick
            );
        }
        group.throughput(Throughput::Elements(ticks));
        group.bench_function(BenchmarkId::from_parameter(game), |b| {
            b.iter(|| {
                let mut replay = Replay::new(registry, segments.clone()).expect("replayable");
                replay.run(false).expect("follows");
                replay.stats().ticks
            })
        });
    }
    group.finish();
}

criterion_group!(benches, replay);
criterion_main!(benches);
