//! Any bytes through both snapshot decoders (the serde one and the streaming scan): never a
//! panic, the two agree, and whatever decodes re-encodes to bytes that decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickstorm_shared::{Snapshot, SnapshotEncoder, scan_snapshot};

fuzz_target!(|data: &[u8]| {
    let decoded = Snapshot::decode(data);
    let mut players = Vec::new();
    let mut orbs = Vec::new();
    let scanned = scan_snapshot(data, |p| players.push(p), |o| orbs.push(o));
    let Ok(snapshot) = decoded else {
        return;
    };
    // The scanner reads the same layout; where the serde decoder accepts, so must it.
    let (tick, time) = scanned.expect("scan accepts what decode accepts");
    assert_eq!((tick, time), (snapshot.tick, snapshot.server_time_ms));
    assert_eq!(players.len(), snapshot.players.len());
    assert_eq!(orbs.len(), snapshot.orbs.len());
    let mut encoder = SnapshotEncoder::new();
    let bytes = encoder.encode(
        snapshot.tick,
        snapshot.server_time_ms,
        snapshot.players.iter().copied(),
        snapshot.orbs.iter().copied(),
    );
    let again = Snapshot::decode(bytes).expect("our own encoding decodes");
    assert_eq!(again.tick, snapshot.tick);
    assert_eq!(again.players.len(), snapshot.players.len());
    for (a, b) in again.players.iter().zip(&snapshot.players) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.x.to_bits(), b.x.to_bits());
        assert_eq!(a.score, b.score);
    }
});
