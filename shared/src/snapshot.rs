//! The snapshot codec: the compact positional MessagePack layout of `docs/protocol.md`.
//!
//! ```text
//! [1, tick, server_time_ms, [[player_id, x, y, vx, vy, last_input_seq, score], ...], [[orb_id, x, y], ...]]
//! ```
//!
//! The server encodes with [`SnapshotEncoder`], which writes MessagePack primitives (`rmp`) into a
//! buffer it reuses, so a steady-state tick allocates nothing here. Clients decode with
//! [`Snapshot::decode`] (built on the strict streaming reader [`scan`]); the encoder agrees with
//! rmp-serde's serialization byte for byte, which a test checks.

use serde::{Deserialize, Serialize};

use crate::protocol::{PlayerId, Tick};

/// The only layout version this codec writes and reads.
pub const SNAPSHOT_VERSION: u8 = 1;

/// One player's row in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlayerState {
    /// Player id.
    pub id: PlayerId,
    /// Position x.
    pub x: f32,
    /// Position y.
    pub y: f32,
    /// Velocity x, units per second.
    pub vx: f32,
    /// Velocity y, units per second.
    pub vy: f32,
    /// Highest input `seq` applied at or before this tick.
    pub last_input_seq: u32,
    /// Orbs collected.
    pub score: u32,
}

/// One orb's row in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OrbState {
    /// Orb id (stable for the orb's slot; it keeps its id when it respawns).
    pub id: u32,
    /// Position x.
    pub x: f32,
    /// Position y.
    pub y: f32,
}

/// A decoded snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Layout version, always [`SNAPSHOT_VERSION`].
    pub version: u8,
    /// The tick this state belongs to.
    pub tick: Tick,
    /// Server clock when the tick ran, unix milliseconds.
    pub server_time_ms: u64,
    /// Every seated player.
    pub players: Vec<PlayerState>,
    /// Every orb.
    pub orbs: Vec<OrbState>,
}

/// Why bytes could not be decoded as a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotDecodeError {
    /// A layout version this codec does not know.
    #[error("unsupported snapshot version {0} (expected {SNAPSHOT_VERSION})")]
    UnsupportedVersion(u8),
    /// Not the documented layout.
    #[error("malformed snapshot: {0}")]
    Invalid(String),
}

fn invalid(e: impl std::fmt::Display) -> SnapshotDecodeError {
    SnapshotDecodeError::Invalid(e.to_string())
}

/// Reads a snapshot in one pass without allocating, handing each player and orb row to a
/// callback; returns `(tick, server_time_ms)`. For clients (bots) that need a few fields of every
/// snapshot and cannot afford building a [`Snapshot`] each time. Players come before orbs.
pub fn scan(
    bytes: &[u8],
    mut on_player: impl FnMut(PlayerState),
    mut on_orb: impl FnMut(OrbState),
) -> Result<(Tick, u64), SnapshotDecodeError> {
    use rmp::decode::{read_array_len, read_f32, read_int};
    let rd = &mut &bytes[..];
    let expect_len = |rd: &mut &[u8], wanted: u32| -> Result<(), SnapshotDecodeError> {
        let len = read_array_len(rd).map_err(invalid)?;
        if len == wanted {
            Ok(())
        } else {
            Err(invalid(format!("array of {len}, expected {wanted}")))
        }
    };
    expect_len(rd, 5)?;
    let version: u8 = read_int(rd).map_err(invalid)?;
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotDecodeError::UnsupportedVersion(version));
    }
    let tick: u64 = read_int(rd).map_err(invalid)?;
    let server_time_ms: u64 = read_int(rd).map_err(invalid)?;
    for _ in 0..read_array_len(rd).map_err(invalid)? {
        expect_len(rd, 7)?;
        on_player(PlayerState {
            id: read_int(rd).map_err(invalid)?,
            x: read_f32(rd).map_err(invalid)?,
            y: read_f32(rd).map_err(invalid)?,
            vx: read_f32(rd).map_err(invalid)?,
            vy: read_f32(rd).map_err(invalid)?,
            last_input_seq: read_int(rd).map_err(invalid)?,
            score: read_int(rd).map_err(invalid)?,
        });
    }
    for _ in 0..read_array_len(rd).map_err(invalid)? {
        expect_len(rd, 3)?;
        on_orb(OrbState {
            id: read_int(rd).map_err(invalid)?,
            x: read_f32(rd).map_err(invalid)?,
            y: read_f32(rd).map_err(invalid)?,
        });
    }
    if !rd.is_empty() {
        return Err(invalid(format!("{} bytes after the snapshot", rd.len())));
    }
    Ok((tick, server_time_ms))
}

impl Snapshot {
    /// Decodes one snapshot payload.
    pub fn decode(bytes: &[u8]) -> Result<Self, SnapshotDecodeError> {
        // Through the strict streaming reader, not rmp-serde: rmp-serde also takes a `bin` where
        // an array belongs and ignores trailing bytes, so it accepted inputs the documented
        // layout does not allow (found by the `snapshot_codec` fuzz target).
        let mut players = Vec::new();
        let mut orbs = Vec::new();
        let (tick, server_time_ms) = scan(bytes, |p| players.push(p), |o| orbs.push(o))?;
        Ok(Snapshot {
            version: SNAPSHOT_VERSION,
            tick,
            server_time_ms,
            players,
            orbs,
        })
    }

    /// The row of one player, if present.
    pub fn player(&self, id: PlayerId) -> Option<&PlayerState> {
        self.players.iter().find(|p| p.id == id)
    }
}

/// Writes snapshots into a buffer that is reused from one tick to the next.
#[derive(Debug, Default)]
pub struct SnapshotEncoder {
    buf: Vec<u8>,
}

impl SnapshotEncoder {
    /// An encoder with room for a typical snapshot (8 players, 32 orbs) before it has to grow.
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(1024),
        }
    }

    /// Encodes one snapshot and returns the bytes, valid until the next call.
    ///
    /// The iterators' `len()` must be exact: MessagePack writes array lengths first.
    pub fn encode<P, O>(&mut self, tick: Tick, server_time_ms: u64, players: P, orbs: O) -> &[u8]
    where
        P: ExactSizeIterator<Item = PlayerState>,
        O: ExactSizeIterator<Item = OrbState>,
    {
        use rmp::encode::{write_array_len, write_f32, write_uint};
        let buf = &mut self.buf;
        buf.clear();
        // Writing into a Vec<u8> cannot fail, so the results below carry no information; the
        // `let _` keeps the tick loop free of unwraps.
        let _ = write_array_len(buf, 5);
        let _ = write_uint(buf, u64::from(SNAPSHOT_VERSION));
        let _ = write_uint(buf, tick);
        let _ = write_uint(buf, server_time_ms);
        let _ = write_array_len(buf, len_u32(players.len()));
        for p in players {
            let _ = write_array_len(buf, 7);
            let _ = write_uint(buf, u64::from(p.id));
            for f in [p.x, p.y, p.vx, p.vy] {
                let _ = write_f32(buf, f);
            }
            let _ = write_uint(buf, u64::from(p.last_input_seq));
            let _ = write_uint(buf, u64::from(p.score));
        }
        let _ = write_array_len(buf, len_u32(orbs.len()));
        for o in orbs {
            let _ = write_array_len(buf, 3);
            let _ = write_uint(buf, u64::from(o.id));
            let _ = write_f32(buf, o.x);
            let _ = write_f32(buf, o.y);
        }
        &self.buf
    }

    /// Capacity of the reused buffer (for allocation checks in benches).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            tick: 70_000,
            server_time_ms: 1_790_000_000_123,
            players: (0..8)
                .map(|i| PlayerState {
                    id: 1000 + i,
                    x: i as f32 * 10.5,
                    y: 999.0,
                    vx: -200.0,
                    vy: 0.25,
                    last_input_seq: i * 300,
                    score: i,
                })
                .collect(),
            orbs: (0..32)
                .map(|i| OrbState {
                    id: i,
                    x: 12.0 + i as f32,
                    y: 500.5,
                })
                .collect(),
        }
    }

    #[test]
    fn non_canonical_layouts_are_refused_by_both_readers() {
        // Found by the snapshot_codec fuzz target: orbs as an empty `bin` (rmp-serde read it
        // as an empty array) followed by trailing bytes (which rmp-serde ignored).
        let mut crash = vec![0x95, 0x01, 0x76, 0x2c, 0x90, 0xc5, 0x00, 0x00];
        crash.extend_from_slice(&[0x95, 0x01, 0x34, 0x45]);
        assert!(Snapshot::decode(&crash).is_err());
        assert!(scan(&crash, |_| {}, |_| {}).is_err());
        // A valid snapshot with one byte too many.
        let mut encoder = SnapshotEncoder::new();
        let mut bytes = encoder
            .encode(1, 2, std::iter::empty(), std::iter::empty())
            .to_vec();
        assert!(Snapshot::decode(&bytes).is_ok());
        bytes.push(0xc0);
        assert!(Snapshot::decode(&bytes).is_err());
        assert!(scan(&bytes, |_| {}, |_| {}).is_err());
    }

    #[test]
    fn encoder_matches_rmp_serde_byte_for_byte_and_round_trips() {
        let s = sample();
        let mut enc = SnapshotEncoder::new();
        let bytes = enc
            .encode(
                s.tick,
                s.server_time_ms,
                s.players.iter().copied(),
                s.orbs.iter().copied(),
            )
            .to_vec();
        assert_eq!(bytes, rmp_serde::to_vec(&s).expect("serialize"));
        assert_eq!(Snapshot::decode(&bytes).expect("decode"), s);
    }

    #[test]
    fn typical_snapshot_is_compact() {
        let s = sample();
        let mut enc = SnapshotEncoder::new();
        let len = enc
            .encode(
                s.tick,
                s.server_time_ms,
                s.players.iter().copied(),
                s.orbs.iter().copied(),
            )
            .len();
        // 8 players x 28 B + 32 orbs x 13 B + header: well under the ~600 B of the design notes.
        assert!(len < 700, "snapshot is {len} bytes");
    }

    #[test]
    fn buffer_is_reused() {
        let s = sample();
        let mut enc = SnapshotEncoder::new();
        enc.encode(1, 2, s.players.iter().copied(), s.orbs.iter().copied());
        let cap = enc.capacity();
        for tick in 0..100 {
            enc.encode(tick, 2, s.players.iter().copied(), s.orbs.iter().copied());
        }
        assert_eq!(enc.capacity(), cap);
    }

    #[test]
    fn scan_sees_what_decode_sees() {
        let s = sample();
        let bytes = rmp_serde::to_vec(&s).expect("serialize");
        let (mut players, mut orbs) = (Vec::new(), Vec::new());
        let header = scan(&bytes, |p| players.push(p), |o| orbs.push(o)).expect("scan");
        assert_eq!(header, (s.tick, s.server_time_ms));
        assert_eq!((players, orbs), (s.players, s.orbs));
        for cut in 0..bytes.len() {
            assert!(
                scan(&bytes[..cut], |_| {}, |_| {}).is_err(),
                "truncated at {cut} must fail"
            );
        }
        let mut other = sample();
        other.version = 3;
        let bytes = rmp_serde::to_vec(&other).expect("serialize");
        assert!(matches!(
            scan(&bytes, |_| {}, |_| {}),
            Err(SnapshotDecodeError::UnsupportedVersion(3))
        ));
    }

    #[test]
    fn rejects_other_versions_and_garbage() {
        let mut s = sample();
        s.version = 2;
        let bytes = rmp_serde::to_vec(&s).expect("serialize");
        assert!(matches!(
            Snapshot::decode(&bytes),
            Err(SnapshotDecodeError::UnsupportedVersion(2))
        ));
        assert!(matches!(
            Snapshot::decode(&[0xc1, 0x00]),
            Err(SnapshotDecodeError::Invalid(_))
        ));
        assert!(Snapshot::decode(&[]).is_err());
    }
}
