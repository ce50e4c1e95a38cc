//! Any bytes through the strict snapshot reader: never a panic, and whatever decodes re-encodes
//! (through the server's writer) to bytes that decode to the same snapshot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickstorm_shared::{Field, Snapshot, SnapshotWriter};

fuzz_target!(|data: &[u8]| {
    let Ok(snapshot) = Snapshot::decode(data) else {
        return;
    };
    let mut writer = SnapshotWriter::new();
    writer.begin(
        snapshot.tick,
        snapshot.server_time_ms,
        snapshot.players.iter().copied(),
        snapshot.kinds.len(),
    );
    for (kind, rows) in snapshot.kinds.iter().enumerate() {
        writer.kind(kind, rows.len(), |table| {
            for row in rows {
                table.row(row.net_id, row.fields.len(), |w| {
                    for field in &row.fields {
                        match *field {
                            Field::Uint(v) => w.uint(v),
                            Field::Int(v) => w.int(v),
                            Field::F32(v) => w.f32(v),
                            Field::F64(v) => w.f64(v),
                            Field::Bool(v) => w.bool(v),
                            Field::Nil => w.nil(),
                        };
                    }
                });
            }
        });
    }
    let again = Snapshot::decode(writer.finish()).expect("our own encoding decodes");
    assert_eq!(again.tick, snapshot.tick);
    assert_eq!(again.players, snapshot.players);
    assert_eq!(again.kinds.len(), snapshot.kinds.len());
    for (a, b) in again.kinds.iter().flatten().zip(snapshot.kinds.iter().flatten()) {
        assert_eq!(a.net_id, b.net_id);
        assert_eq!(a.fields.len(), b.fields.len());
        for (x, y) in a.fields.iter().zip(&b.fields) {
            // Bit for bit, so NaN payloads count too.
            let bits = |f: &Field| match *f {
                Field::F32(v) => u64::from(v.to_bits()),
                Field::F64(v) => v.to_bits(),
                Field::Uint(v) => v,
                Field::Int(v) => v as u64,
                Field::Bool(v) => u64::from(v),
                Field::Nil => u64::MAX,
            };
            assert_eq!(std::mem::discriminant(x), std::mem::discriminant(y));
            assert_eq!(bits(x), bits(y));
        }
    }
});
