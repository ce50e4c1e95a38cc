//! Codec benchmarks: `codec/snapshot_encode/{8,32,64}` players (+32 orbs) with the server's
//! reused-buffer encoder, `codec/snapshot_decode/{8,64}` (full serde decode, what a client does),
//! `codec/snapshot_scan/{8,64}` (the bots' zero-allocation reader), and `codec/input_decode/*`:
//! the `input` payload as each Socket.IO parser delivers it to serde (JSON text, MessagePack map).
//! Deltas: `codec/keyframe_read/{8,64,128,512}` (the server reading back the keyframe it encoded,
//! once per room and sent tick once deltas are on), `codec/delta_encode/{8,64,128,512}` (one
//! delta, 3 ticks after its baseline, every avatar moved, a third of the input seqs advanced,
//! as sent to one player), `codec/delta_member/{8,64,128,512}` (each further member on that
//! baseline: its envelope section and a copy) and `codec/delta_apply/{8,64,128,512}` (that
//! player applying it).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tickstorm_orbs::OrbInput;
use tickstorm_shared::delta::{ClientState, DeltaEncoder, KindCoding, State};
use tickstorm_shared::{
    Field, PlayerEntry, Snapshot, SnapshotVisitor, SnapshotWriter, scan_snapshot,
};

/// Writes an orb arena snapshot of `n` players (avatars: x, y, vx, vy, score) and 32 orbs, as the
/// simulation's replication systems do.
fn write(writer: &mut SnapshotWriter, n: u32) -> usize {
    write_at(writer, n, 0)
}

/// The same room `later` ticks on at 30 Hz: every avatar moved at 200 units/s, a third of the
/// players had an input applied.
fn write_at(writer: &mut SnapshotWriter, n: u32, later: u32) -> usize {
    let players = (0..n).map(|i| PlayerEntry {
        player_id: 1000 + i,
        net_id: 33 + i,
        last_input_seq: 40_000 + i + u32::from(i % 3 == 0) * later,
    });
    writer.begin(
        123_456 + u64::from(later),
        1_790_000_000_000 + 33 * u64::from(later),
        players,
        2,
    );
    writer.kind(0, n as usize, |k| {
        for i in 0..n {
            k.row(33 + i, 5, |r| {
                r.f32(100.0 + i as f32 * 7.25 + 20.0 * later as f32 / 3.0)
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

/// The orb arena's delta coding (the game's `PRECISION` and `POSITION`).
fn orb_layout() -> Vec<KindCoding> {
    vec![
        KindCoding {
            precision: vec![0.125, 0.125, 1.0, 1.0, 1.0],
            position: Some([0, 1]),
        },
        KindCoding {
            precision: vec![0.125, 0.125],
            position: Some([0, 1]),
        },
    ]
}

fn deltas(c: &mut Criterion) {
    let layout = orb_layout();
    let sizes = [8u32, 64, 128, 512];
    let states = |n: u32| {
        let mut writer = SnapshotWriter::new();
        let (mut base, mut current) = (State::default(), State::default());
        write_at(&mut writer, n, 0);
        let keyframe = writer.finish().to_vec();
        base.read_keyframe(&keyframe, &layout, &mut Vec::new())
            .expect("keyframe");
        write_at(&mut writer, n, 3);
        current
            .read_keyframe(writer.finish(), &layout, &mut Vec::new())
            .expect("keyframe");
        (keyframe, base, current)
    };
    let mut group = c.benchmark_group("codec/keyframe_read");
    for n in sizes {
        let (keyframe, _, _) = states(n);
        let (mut state, mut scratch) = (State::default(), Vec::new());
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                state
                    .read_keyframe(&keyframe, &layout, &mut scratch)
                    .is_ok()
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("codec/delta_encode");
    for n in sizes {
        let (keyframe, base, current) = states(n);
        let (mut encoder, mut out) = (DeltaEncoder::new(), Vec::new());
        // As the server sends it: to a player of the room (only its own input seq tracked).
        let viewer = base.players.first().map(|p| p.player_id);
        encoder.delta(&base, &current, &layout, None, viewer, &mut out);
        eprintln!(
            "codec/delta_encode/{n}: keyframe {} bytes, delta {} bytes",
            keyframe.len(),
            out.len()
        );
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                encoder.delta(&base, &current, &layout, None, viewer, &mut out);
                out.len()
            })
        });
    }
    group.finish();
    // Each further member on the same baseline: its envelope section and the shared bytes.
    let mut group = c.benchmark_group("codec/delta_member");
    for n in sizes {
        let (_, base, current) = states(n);
        let (mut encoder, mut out) = (DeltaEncoder::new(), Vec::new());
        encoder.prepare(&base, &current, &layout, None);
        let viewer = base.players.first().map(|p| p.player_id);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                encoder.write_for(viewer, &mut out);
                out.len()
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("codec/delta_apply");
    for n in sizes {
        let (keyframe, base, current) = states(n);
        let mut delta = Vec::new();
        let viewer = base.players.first().map(|p| p.player_id);
        DeltaEncoder::new().delta(&base, &current, &layout, None, viewer, &mut delta);
        let mut client = ClientState::new(layout.clone());
        client.apply(&keyframe).expect("keyframe");
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            // Applying the same delta again is the same work: its base stays in the ring for
            // 63 more applications, then the keyframe is applied again.
            b.iter(|| {
                if client.held() >= 60 {
                    client.reset(layout.clone());
                    client.apply(&keyframe).map(|s| s.tick).ok();
                }
                client.apply(&delta).map(|s| s.tick).ok()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encode, decode, input_decode, deltas);
criterion_main!(benches);
