//! Codec benchmarks: `codec/snapshot_encode/{8,32,64}` players (+32 orbs) with the server's
//! reused-buffer encoder, `codec/snapshot_decode/{8,64}` (full serde decode, what a client does),
//! `codec/snapshot_scan/{8,64}` (the bots' zero-allocation reader), and `codec/input_decode/*`:
//! the `input` payload as each Socket.IO parser delivers it to serde (JSON text, MessagePack map).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tickstorm_orbs::OrbInput;
use tickstorm_shared::{
    Field, PlayerEntry, Snapshot, SnapshotVisitor, SnapshotWriter, scan_snapshot,
};

/// Writes an orb arena snapshot of `n` players (avatars: x, y, vx, vy, score) and 32 orbs, as the
/// simulation's replication systems do.
fn write(writer: &mut SnapshotWriter, n: u32) -> usize {
    let players = (0..n).map(|i| PlayerEntry {
        player_id: 1000 + i,
        net_id: 33 + i,
        last_input_seq: 40_000 + i,
    });
    writer.begin(123_456, 1_790_000_000_000, players, 2);
    writer.kind(0, n as usize, |k| {
        for i in 0..n {
            k.row(33 + i, 5, |r| {
                r.f32(100.0 + i as f32 * 7.25)
                    .f32(950.5 - i as f32)
                    .f32(141.42)
                    .f32(-141.42)
                    .uint(u64::from(i * 3));
            });
        }
    });
    writer.kind(1, 32, |k| {
        for i in 1..=32u32 {
            k.row(i, 2, |r| {
                r.f32(12.0 + i as f32 * 30.5).f32(500.25);
            });
        }
    });
    writer.finish().len()
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec/snapshot_encode");
    for n in [8u32, 32, 64] {
        let mut writer = SnapshotWriter::new();
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| write(&mut writer, n))
        });
    }
    group.finish();
}

fn encoded(n: u32) -> Vec<u8> {
    let mut writer = SnapshotWriter::new();
    write(&mut writer, n);
    writer.finish().to_vec()
}

/// What a bot reads: the highest `last_input_seq` of the envelope.
#[derive(Default)]
struct MaxSeq(u32);

impl SnapshotVisitor for MaxSeq {
    fn player(&mut self, entry: PlayerEntry) {
        self.0 = self.0.max(entry.last_input_seq);
    }
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
        let mut scratch: Vec<Field> = Vec::new();
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                let mut seq = MaxSeq::default();
                let header = scan_snapshot(&bytes, &mut scratch, &mut seq);
                (header.is_ok(), seq.0)
            })
        });
    }
    group.finish();
}

fn input_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec/input_decode");
    let json = r#"{"seq":41234,"move":[0.6,-0.8],"buttons":1}"#;
    group.bench_function("common_json", |b| {
        b.iter(|| serde_json::from_str::<OrbInput>(json).map(|i| i.seq))
    });
    let msgpack = rmp_serde::to_vec_named(
        &serde_json::json!({"seq": 41234, "move": [0.6, -0.8], "buttons": 1}),
    )
    .expect("encode sample");
    group.bench_function("msgpack", |b| {
        b.iter(|| rmp_serde::from_slice::<OrbInput>(&msgpack).map(|i| i.seq))
    });
    group.finish();
}

criterion_group!(benches, encode, decode, input_decode);
criterion_main!(benches);
