//! Codec benchmarks: `codec/snapshot_encode/{8,32,64}` players (+32 orbs) with the server's
//! reused-buffer encoder, `codec/snapshot_decode/{8,64}` (full serde decode, what a client does),
//! `codec/snapshot_scan/{8,64}` (the bots' zero-allocation reader), and `codec/input_decode/*`:
//! the `input` payload as each Socket.IO parser delivers it to serde (JSON text, MessagePack map).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tickstorm_shared::protocol::InputRequest;
use tickstorm_shared::{OrbState, PlayerState, Snapshot, SnapshotEncoder, scan_snapshot};

fn players(n: u32) -> Vec<PlayerState> {
    (0..n)
        .map(|i| PlayerState {
            id: 1000 + i,
            x: 100.0 + i as f32 * 7.25,
            y: 950.5 - i as f32,
            vx: 141.42,
            vy: -141.42,
            last_input_seq: 40_000 + i,
            score: i * 3,
        })
        .collect()
}

fn orbs() -> Vec<OrbState> {
    (0..32)
        .map(|i| OrbState {
            id: i,
            x: 12.0 + i as f32 * 30.5,
            y: 500.25,
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec/snapshot_encode");
    let orbs = orbs();
    for n in [8u32, 32, 64] {
        let players = players(n);
        let mut encoder = SnapshotEncoder::new();
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                encoder
                    .encode(
                        123_456,
                        1_790_000_000_000,
                        players.iter().copied(),
                        orbs.iter().copied(),
                    )
                    .len()
            })
        });
    }
    group.finish();
}

fn encoded(n: u32) -> Vec<u8> {
    let mut encoder = SnapshotEncoder::new();
    encoder
        .encode(
            123_456,
            1_790_000_000_000,
            players(n).into_iter(),
            orbs().into_iter(),
        )
        .to_vec()
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec/snapshot_decode");
    for n in [8u32, 64] {
        let bytes = encoded(n);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| Snapshot::decode(&bytes).map(|s| s.players.len()))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("codec/snapshot_scan");
    for n in [8u32, 64] {
        let bytes = encoded(n);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                let mut seq = 0;
                let header = scan_snapshot(&bytes, |p| seq = seq.max(p.last_input_seq), |_| {});
                (header.is_ok(), seq)
            })
        });
    }
    group.finish();
}

fn input_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec/input_decode");
    let json = r#"{"seq":41234,"move":[0.6,-0.8],"buttons":1}"#;
    group.bench_function("common_json", |b| {
        b.iter(|| serde_json::from_str::<InputRequest>(json).map(|i| i.seq))
    });
    let msgpack = rmp_serde::to_vec_named(
        &serde_json::json!({"seq": 41234, "move": [0.6, -0.8], "buttons": 1}),
    )
    .expect("encode sample");
    group.bench_function("msgpack", |b| {
        b.iter(|| rmp_serde::from_slice::<InputRequest>(&msgpack).map(|i| i.seq))
    });
    group.finish();
}

criterion_group!(benches, encode, decode, input_decode);
criterion_main!(benches);
