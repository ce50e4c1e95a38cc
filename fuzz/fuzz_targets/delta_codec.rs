//! Any bytes as a delta against a fixed baseline: never a panic, a refusal leaves the held
//! states alone, and whatever applies re-encodes (through the server's encoder) to a delta that
//! rebuilds the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickstorm_shared::delta::{ClientState, DeltaEncoder, KindCoding, State, same_value};
use tickstorm_shared::{PlayerEntry, SnapshotWriter};

/// Like the orb arena, plus a kind of exact fields.
fn layout() -> Vec<KindCoding> {
    vec![
        KindCoding {
            precision: vec![0.125, 0.125, 1.0, 1.0, 1.0],
            position: Some([0, 1]),
        },
        KindCoding {
            precision: vec![0.125, 0.125],
            position: Some([0, 1]),
        },
        KindCoding::exact(2),
    ]
}

/// The baseline every input is applied to: tick 100, two players, a few rows of each kind.
fn baseline() -> Vec<u8> {
    let mut w = SnapshotWriter::new();
    let players = [(1u32, 1u32, 10u32), (2, 2, 20)].map(|(player_id, net_id, last_input_seq)| {
        PlayerEntry {
            player_id,
            net_id,
            last_input_seq,
        }
    });
    w.begin(100, 1_790_000_000_000, players.into_iter(), 3);
    w.kind(0, 2, |k| {
        for id in 1..=2u32 {
            k.row(id, 5, |r| {
                r.f32(100.0 * id as f32).f32(50.0).f32(0.0).f32(-200.0).uint(3);
            });
        }
    });
    w.kind(1, 3, |k| {
        for id in 3..=5u32 {
            k.row(id, 2, |r| {
                r.f32(id as f32 * 10.5).f32(999.0);
            });
        }
    });
    w.kind(2, 1, |k| {
        k.row(6, 2, |r| {
            r.bool(true).nil();
        });
    });
    w.finish().to_vec()
}

fn same_state(a: &State, b: &State, layout: &[KindCoding]) -> bool {
    a.tick == b.tick
        && a.server_time_ms == b.server_time_ms
        && a.players == b.players
        && a.tables.iter().zip(&b.tables).zip(layout).all(|((x, y), coding)| {
            x.ids() == y.ids()
                && (0..x.len()).all(|i| {
                    x.row(i)
                        .iter()
                        .zip(y.row(i))
                        .zip(&coding.precision)
                        .all(|((&p, &q), &precision)| same_value(p, q, precision))
                })
        })
}

fuzz_target!(|data: &[u8]| {
    let layout = layout();
    let base_bytes = baseline();
    let mut client = ClientState::new(layout.clone());
    let base = client.apply(&base_bytes).expect("the baseline applies").clone();
    let Ok(state) = client.apply(data).map(Clone::clone) else {
        assert_eq!(client.latest(), Some(&base), "a refusal changes nothing");
        return;
    };
    if state.tick == base.tick {
        return; // a keyframe of the same tick: nothing to re-encode against
    }
    let mut again = Vec::new();
    DeltaEncoder::new().delta(&base, &state, &layout, None, None, &mut again);
    let mut fresh = ClientState::new(layout.clone());
    fresh.apply(&base_bytes).expect("the baseline applies");
    let rebuilt = fresh.apply(&again).expect("our own delta applies").clone();
    assert!(same_state(&rebuilt, &state, &layout), "{state:?}\n{rebuilt:?}");
});
