//! The snapshot codec: the positional MessagePack layout of `docs/protocol.md`, version 2.
//!
//! ```text
//! [2, tick, server_time_ms,
//!  [[player_id, net_id, last_input_seq], ...],            # the framework's envelope, join order
//!  [[[net_id, field, ...], ...], ...]]                    # one table per replicated kind
//! ```
//!
//! The envelope belongs to the framework and is the same for every game: which players sit in the
//! room, the entity that stands for each (`net_id`, 0 when it has none) and the highest input
//! `seq` applied for each, so any client can measure input -> state latency. The tables belong to
//! the game: it declares its replicated kinds (their order is their index) and each kind's fields;
//! a row starts with the entity's `net_id`, which is unique in its room and never reused there.
//! Field values are MessagePack integers, `float 32`/`float 64`, booleans or nil.
//!
//! The server encodes with [`SnapshotWriter`], which writes MessagePack primitives (`rmp`) into
//! buffers it reuses, so a steady-state tick allocates nothing here. Clients decode with
//! [`Snapshot::decode`] or, without allocating, with the strict streaming reader [`scan`].

use crate::protocol::{PlayerId, Tick};

/// The only layout version this codec writes and reads.
pub const SNAPSHOT_VERSION: u8 = 2;

/// One seated player in the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerEntry {
    /// Player id.
    pub player_id: PlayerId,
    /// The replicated entity that stands for the player (its avatar), or 0 when it has none.
    pub net_id: u32,
    /// Highest input `seq` of this player applied at or before this tick.
    pub last_input_seq: u32,
}

/// One value of a replicated row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field {
    /// A non-negative integer.
    Uint(u64),
    /// A negative integer (a non-negative one always reads as `Uint`).
    Int(i64),
    /// A `float 32`.
    F32(f32),
    /// A `float 64`.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// Nil (an absent optional value).
    Nil,
}

impl Field {
    /// The value as a float (integers converted), or `None` for booleans and nil.
    pub fn as_f32(self) -> Option<f32> {
        match self {
            Field::F32(v) => Some(v),
            Field::F64(v) => Some(v as f32),
            Field::Uint(v) => Some(v as f32),
            Field::Int(v) => Some(v as f32),
            Field::Bool(_) | Field::Nil => None,
        }
    }

    /// The value as an `f64` (integers converted), or `None` for booleans and nil.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Field::F32(v) => Some(f64::from(v)),
            Field::F64(v) => Some(v),
            Field::Uint(v) => Some(v as f64),
            Field::Int(v) => Some(v as f64),
            Field::Bool(_) | Field::Nil => None,
        }
    }

    /// The value as an unsigned integer, when it is one that fits.
    pub fn as_u32(self) -> Option<u32> {
        match self {
            Field::Uint(v) => u32::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a boolean, when it is one.
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Field::Bool(v) => Some(v),
            _ => None,
        }
    }
}

/// One replicated entity of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityRow {
    /// The entity's id in its room.
    pub net_id: u32,
    /// Its fields, in the order its kind declares.
    pub fields: Vec<Field>,
}

/// A decoded snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The tick this state belongs to.
    pub tick: Tick,
    /// Server clock when the tick ran, unix milliseconds.
    pub server_time_ms: u64,
    /// Every seated player, in join order.
    pub players: Vec<PlayerEntry>,
    /// One table per replicated kind, in the game's declared order.
    pub kinds: Vec<Vec<EntityRow>>,
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

/// What [`scan`] hands to its visitor.
pub trait SnapshotVisitor {
    /// The header, before anything else.
    fn header(&mut self, _tick: Tick, _server_time_ms: u64) {}
    /// One envelope entry, in join order, before any entity.
    fn player(&mut self, _entry: PlayerEntry) {}
    /// The number of kind tables, after the envelope and before any entity.
    fn tables(&mut self, _count: usize) {}
    /// One entity of kind `kind`; `fields` is only valid during the call.
    fn entity(&mut self, _kind: usize, _net_id: u32, _fields: &[Field]) {}
}

/// Reads a snapshot in one pass, handing each player entry and entity row to `visitor`; returns
/// `(tick, server_time_ms)`. `scratch` holds one row's fields at a time and is reused, so a
/// client that keeps it allocates nothing per snapshot. Refuses anything but the documented
/// layout, trailing bytes included.
pub fn scan(
    bytes: &[u8],
    scratch: &mut Vec<Field>,
    visitor: &mut impl SnapshotVisitor,
) -> Result<(Tick, u64), SnapshotDecodeError> {
    use rmp::decode::{read_array_len, read_int};
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
    visitor.header(tick, server_time_ms);
    for _ in 0..read_array_len(rd).map_err(invalid)? {
        expect_len(rd, 3)?;
        visitor.player(PlayerEntry {
            player_id: read_int(rd).map_err(invalid)?,
            net_id: read_int(rd).map_err(invalid)?,
            last_input_seq: read_int(rd).map_err(invalid)?,
        });
    }
    let tables = read_array_len(rd).map_err(invalid)? as usize;
    // Each table takes at least one byte (its array header): a count beyond what is left is a
    // lie, refused before a visitor sizes anything by it.
    if tables > rd.len() {
        return Err(invalid(format!(
            "{tables} tables announced, {} bytes left",
            rd.len()
        )));
    }
    visitor.tables(tables);
    for kind in 0..tables {
        for _ in 0..read_array_len(rd).map_err(invalid)? {
            let len = read_array_len(rd).map_err(invalid)?;
            if len == 0 {
                return Err(invalid("an entity row without its net_id"));
            }
            let net_id: u32 = read_int(rd).map_err(invalid)?;
            scratch.clear();
            for _ in 1..len {
                scratch.push(read_field(rd)?);
            }
            visitor.entity(kind, net_id, scratch);
        }
    }
    if !rd.is_empty() {
        return Err(invalid(format!("{} bytes after the snapshot", rd.len())));
    }
    Ok((tick, server_time_ms))
}

/// Reads one field value; anything but a number, a boolean or nil is refused.
#[inline]
pub(crate) fn read_field(rd: &mut &[u8]) -> Result<Field, SnapshotDecodeError> {
    use rmp::Marker;
    use rmp::decode::{read_f32, read_f64, read_int, read_marker};
    // Fast paths for the one-byte integers (positive and negative fixint), most of a delta's
    // values: quantized differences are small.
    match rd.split_first() {
        Some((&byte, rest)) if byte <= 0x7f => {
            *rd = rest;
            return Ok(Field::Uint(u64::from(byte)));
        }
        Some((&byte, rest)) if byte >= 0xe0 => {
            *rd = rest;
            return Ok(Field::Int(i64::from(byte.cast_signed())));
        }
        _ => {}
    }
    let marker = rd
        .first()
        .map(|&b| Marker::from_u8(b))
        .ok_or_else(|| invalid("truncated"))?;
    Ok(match marker {
        Marker::F32 => Field::F32(read_f32(rd).map_err(invalid)?),
        Marker::F64 => Field::F64(read_f64(rd).map_err(invalid)?),
        Marker::True | Marker::False | Marker::Null => {
            let _ = read_marker(rd).map_err(|e| invalid(format!("{e:?}")))?;
            match marker {
                Marker::True => Field::Bool(true),
                Marker::False => Field::Bool(false),
                _ => Field::Nil,
            }
        }
        // Fixints were read above.
        Marker::U8 | Marker::U16 | Marker::U32 | Marker::U64 => {
            Field::Uint(read_int(rd).map_err(invalid)?)
        }
        Marker::I8 | Marker::I16 | Marker::I32 | Marker::I64 => {
            // A signed encoding of a non-negative number is the same value as its unsigned one.
            match read_int::<i64, _>(rd).map_err(invalid)? {
                v if v >= 0 => Field::Uint(v as u64),
                v => Field::Int(v),
            }
        }
        other => return Err(invalid(format!("{other:?} is not a field value"))),
    })
}

impl Snapshot {
    /// Decodes one snapshot payload (through the strict streaming reader [`scan`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, SnapshotDecodeError> {
        #[derive(Default)]
        struct Collect {
            players: Vec<PlayerEntry>,
            kinds: Vec<Vec<EntityRow>>,
        }
        impl SnapshotVisitor for Collect {
            fn player(&mut self, entry: PlayerEntry) {
                self.players.push(entry);
            }
            fn tables(&mut self, count: usize) {
                self.kinds.resize_with(count, Vec::new);
            }
            fn entity(&mut self, kind: usize, net_id: u32, fields: &[Field]) {
                if let Some(table) = self.kinds.get_mut(kind) {
                    table.push(EntityRow {
                        net_id,
                        fields: fields.to_vec(),
                    });
                }
            }
        }
        let mut collect = Collect::default();
        let (tick, server_time_ms) = scan(bytes, &mut Vec::new(), &mut collect)?;
        Ok(Snapshot {
            tick,
            server_time_ms,
            players: collect.players,
            kinds: collect.kinds,
        })
    }

    /// The envelope entry of one player, if seated.
    pub fn player(&self, id: PlayerId) -> Option<&PlayerEntry> {
        self.players.iter().find(|p| p.player_id == id)
    }

    /// The row of one entity of a kind, if present.
    pub fn entity(&self, kind: usize, net_id: u32) -> Option<&EntityRow> {
        self.kinds.get(kind)?.iter().find(|e| e.net_id == net_id)
    }
}

/// Writes one room's snapshot into one buffer that is reused from one tick to the next.
///
/// Call [`begin`](Self::begin), then [`kind`](Self::kind) for the kind tables in increasing
/// order (a skipped kind is written as an empty table), then [`finish`](Self::finish). A table's
/// header comes before its rows, so the caller says how many rows it expects (the simulation
/// knows each room's entities per kind); a wrong guess is corrected in place, so the bytes are
/// always the canonical (most compact) encoding, in one buffer.
#[derive(Debug, Default)]
pub struct SnapshotWriter {
    buf: Vec<u8>,
    /// Tables announced by `begin`, and how many are written so far.
    kinds: usize,
    written: usize,
}

/// Writing into a `Vec<u8>` cannot fail, so the `rmp` results carry no information; this keeps
/// the tick loop free of unwraps.
macro_rules! infallible {
    ($e:expr) => {
        let _ = $e;
    };
}

/// Bytes of the largest MessagePack array header (`array 32`).
const ARRAY32_HEADER: usize = 5;

impl SnapshotWriter {
    /// A writer with room for a typical snapshot before it has to grow.
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(1024),
            ..Self::default()
        }
    }

    /// Starts a snapshot: header, the envelope (`players.len()` must be exact) and the number of
    /// kind tables that follow.
    pub fn begin(
        &mut self,
        tick: Tick,
        server_time_ms: u64,
        players: impl ExactSizeIterator<Item = PlayerEntry>,
        kinds: usize,
    ) {
        use rmp::encode::{write_array_len, write_uint};
        let buf = &mut self.buf;
        buf.clear();
        infallible!(write_array_len(buf, 5));
        infallible!(write_uint(buf, u64::from(SNAPSHOT_VERSION)));
        infallible!(write_uint(buf, tick));
        infallible!(write_uint(buf, server_time_ms));
        infallible!(write_array_len(buf, len_u32(players.len())));
        for p in players {
            infallible!(write_array_len(buf, 3));
            infallible!(write_uint(buf, u64::from(p.player_id)));
            infallible!(write_uint(buf, u64::from(p.net_id)));
            infallible!(write_uint(buf, u64::from(p.last_input_seq)));
        }
        infallible!(write_array_len(buf, len_u32(kinds)));
        self.kinds = kinds;
        self.written = 0;
    }

    /// Writes table `kind` with `expected` rows (tables before it that were not written become
    /// empty). A kind beyond the number `begin` announced, or one already written, is ignored.
    /// When `rows` writes another number of rows than `expected`, the table's header is
    /// corrected in place (moving the rows when its size changes): exact, only slower.
    pub fn kind(&mut self, kind: usize, expected: usize, rows: impl FnOnce(&mut KindWriter<'_>)) {
        if kind >= self.kinds || kind < self.written {
            return;
        }
        self.empty_tables_until(kind);
        let start = self.buf.len();
        let expected = len_u32(expected);
        infallible!(rmp::encode::write_array_len(&mut self.buf, expected));
        let reserved = self.buf.len() - start;
        let mut count = 0;
        let mut writer = KindWriter {
            rows: &mut self.buf,
            count: &mut count,
        };
        rows(&mut writer);
        if count != expected {
            self.fix_header(start, reserved, count);
        }
        self.written = kind + 1;
    }

    /// Rewrites the array header at `start` (`reserved` bytes long) for `count` rows.
    fn fix_header(&mut self, start: usize, reserved: usize, count: u32) {
        let mut header = [0u8; ARRAY32_HEADER];
        let mut cursor = &mut header[..];
        infallible!(rmp::encode::write_array_len(&mut cursor, count));
        let used = ARRAY32_HEADER - cursor.len();
        let rows = start + reserved..self.buf.len();
        match used.cmp(&reserved) {
            std::cmp::Ordering::Equal => {}
            std::cmp::Ordering::Less => {
                self.buf.copy_within(rows, start + used);
                self.buf.truncate(self.buf.len() - (reserved - used));
            }
            std::cmp::Ordering::Greater => {
                let grow = used - reserved;
                self.buf.resize(self.buf.len() + grow, 0);
                self.buf.copy_within(rows, start + used);
            }
        }
        self.buf[start..start + used].copy_from_slice(&header[..used]);
    }

    #[inline]
    fn empty_tables_until(&mut self, kind: usize) {
        while self.written < kind {
            infallible!(rmp::encode::write_array_len(&mut self.buf, 0));
            self.written += 1;
        }
    }

    /// The whole snapshot (tables never written are empty), valid until the next `begin`.
    #[inline]
    pub fn finish(&mut self) -> &[u8] {
        self.empty_tables_until(self.kinds);
        &self.buf
    }

    /// Capacity of the reused buffer (for allocation checks in benches).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

/// Writes the rows of one kind (see [`SnapshotWriter::kind`]).
#[derive(Debug)]
pub struct KindWriter<'a> {
    rows: &'a mut Vec<u8>,
    count: &'a mut u32,
}

impl KindWriter<'_> {
    /// Writes one entity's row: its `net_id`, then exactly `fields` values written by `write`.
    ///
    /// # Panics
    /// When `write` writes another number of values than `fields`: the row would corrupt the
    /// snapshot for every client, so the room's tick fails instead (the server closes that room
    /// with reason `internal` and the others play on).
    pub fn row(&mut self, net_id: u32, fields: usize, write: impl FnOnce(&mut RowWriter<'_>)) {
        use rmp::encode::{write_array_len, write_uint};
        infallible!(write_array_len(self.rows, len_u32(fields + 1)));
        infallible!(write_uint(self.rows, u64::from(net_id)));
        let mut row = RowWriter {
            out: self.rows,
            written: 0,
        };
        write(&mut row);
        assert_eq!(
            row.written, fields,
            "a replicated row wrote {} values but its kind declares {fields}",
            row.written
        );
        *self.count += 1;
    }
}

/// Writes the values of one row; integers take MessagePack's most compact form.
#[derive(Debug)]
pub struct RowWriter<'a> {
    out: &'a mut Vec<u8>,
    written: usize,
}

impl RowWriter<'_> {
    /// A `float 32`.
    #[inline]
    pub fn f32(&mut self, v: f32) -> &mut Self {
        infallible!(rmp::encode::write_f32(self.out, v));
        self.written += 1;
        self
    }

    /// A `float 64`.
    #[inline]
    pub fn f64(&mut self, v: f64) -> &mut Self {
        infallible!(rmp::encode::write_f64(self.out, v));
        self.written += 1;
        self
    }

    /// An unsigned integer.
    #[inline]
    pub fn uint(&mut self, v: u64) -> &mut Self {
        infallible!(rmp::encode::write_uint(self.out, v));
        self.written += 1;
        self
    }

    /// A signed integer.
    #[inline]
    pub fn int(&mut self, v: i64) -> &mut Self {
        infallible!(rmp::encode::write_sint(self.out, v));
        self.written += 1;
        self
    }

    /// A boolean.
    #[inline]
    pub fn bool(&mut self, v: bool) -> &mut Self {
        infallible!(rmp::encode::write_bool(self.out, v));
        self.written += 1;
        self
    }

    /// Nil.
    #[inline]
    pub fn nil(&mut self) -> &mut Self {
        infallible!(rmp::encode::write_nil(self.out));
        self.written += 1;
        self
    }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 8 players and two kinds (8 avatars of 5 fields, 32 orbs of 2), like the orb arena.
    fn write_sample(w: &mut SnapshotWriter, tick: Tick) -> Vec<u8> {
        let players = (0..8u32).map(|i| PlayerEntry {
            player_id: 1000 + i,
            net_id: 33 + i,
            last_input_seq: i * 300,
        });
        w.begin(tick, 1_790_000_000_123, players, 2);
        w.kind(0, 8, |k| {
            for i in 0..8u32 {
                k.row(33 + i, 5, |r| {
                    r.f32(i as f32 * 10.5)
                        .f32(999.0)
                        .f32(-200.0)
                        .f32(0.25)
                        .uint(u64::from(i));
                });
            }
        });
        w.kind(1, 32, |k| {
            for i in 1..=32u32 {
                k.row(i, 2, |r| {
                    r.f32(12.0 + i as f32).f32(500.5);
                });
            }
        });
        w.finish().to_vec()
    }

    #[test]
    fn round_trips_through_decode_and_agrees_with_a_generic_msgpack_writer() {
        let bytes = write_sample(&mut SnapshotWriter::new(), 70_000);
        let s = Snapshot::decode(&bytes).expect("decode");
        assert_eq!((s.tick, s.server_time_ms), (70_000, 1_790_000_000_123));
        assert_eq!(s.players.len(), 8);
        assert_eq!(
            s.player(1003),
            Some(&PlayerEntry {
                player_id: 1003,
                net_id: 36,
                last_input_seq: 900
            })
        );
        assert_eq!(s.kinds.len(), 2);
        assert_eq!(s.kinds[1].len(), 32);
        assert_eq!(
            s.entity(0, 35).map(|e| e.fields.clone()),
            Some(vec![
                Field::F32(21.0),
                Field::F32(999.0),
                Field::F32(-200.0),
                Field::F32(0.25),
                Field::Uint(2)
            ])
        );
        // The same structure through rmp-serde (a tuple layout) gives the same bytes.
        type Row = (u32, f32, f32, f32, f32, u32);
        let avatars: Vec<Row> = (0..8u32)
            .map(|i| (33 + i, i as f32 * 10.5, 999.0, -200.0, 0.25, i))
            .collect();
        let orbs: Vec<(u32, f32, f32)> = (1..=32u32).map(|i| (i, 12.0 + i as f32, 500.5)).collect();
        let envelope: Vec<(u32, u32, u32)> =
            (0..8u32).map(|i| (1000 + i, 33 + i, i * 300)).collect();
        let generic = rmp_serde::to_vec(&(
            2u8,
            70_000u64,
            1_790_000_000_123u64,
            envelope,
            (avatars, orbs),
        ))
        .expect("serialize");
        assert_eq!(bytes, generic);
    }

    #[test]
    fn the_sample_has_its_exact_size() {
        // Header: array, version, tick (u32: 5), time (u64: 9) = 16. Envelope: 1 + 8 x (array,
        // id u16 3, net id 1, seq u16 3) - 2 (seq 0 takes 1) = 63. Tables: 1. Avatars: 1 + 8 x
        // (array, net id, 4 x f32, score) = 185. Orbs: 3 (array16) + 32 x 12 = 387.
        let bytes = write_sample(&mut SnapshotWriter::new(), 70_000);
        assert_eq!(bytes.len(), 16 + 63 + 1 + 185 + 387);
    }

    #[test]
    fn empty_tables_survive_decode() {
        let mut w = SnapshotWriter::new();
        w.begin(1, 2, std::iter::empty(), 3);
        let s = Snapshot::decode(w.finish()).expect("decode");
        assert_eq!(s.kinds, vec![Vec::new(), Vec::new(), Vec::new()]);
    }

    #[test]
    fn skipped_kinds_are_empty_and_headers_take_their_compact_form() {
        let mut w = SnapshotWriter::new();
        w.begin(1, 2, std::iter::empty(), 3);
        // Kind 0 is skipped (empty); 20 rows need array16.
        // Announced as 3 rows (a fixarray header): written 20, so the header grows to array16.
        w.kind(1, 3, |k| {
            for id in 0..20 {
                k.row(id, 1, |r| {
                    r.bool(id % 2 == 0);
                });
            }
        });
        w.kind(0, 0, |_| {
            unreachable!("an earlier kind after a later one is ignored")
        });
        // Announced as 300 rows (an array16 header): none written, so the header shrinks.
        w.kind(2, 300, |_| {});
        let bytes = w.finish().to_vec();
        let s = Snapshot::decode(&bytes).expect("decode");
        assert_eq!(s.kinds.len(), 3);
        assert!(s.kinds[0].is_empty() && s.kinds[2].is_empty());
        assert_eq!(s.kinds[1].len(), 20);
        assert_eq!(s.kinds[1][3].fields, vec![Field::Bool(false)]);
        // The same snapshot through a generic MessagePack writer: identical bytes.
        let rows: Vec<(u32, bool)> = (0..20).map(|id| (id, id % 2 == 0)).collect();
        let empty: Vec<(u32,)> = Vec::new();
        let generic = rmp_serde::to_vec(&(
            2u8,
            1u64,
            2u64,
            Vec::<u8>::new(),
            (empty.clone(), rows, empty),
        ))
        .expect("serialize");
        assert_eq!(bytes, generic);
    }

    #[test]
    #[should_panic(expected = "declares 2")]
    fn a_row_with_the_wrong_number_of_values_panics() {
        let mut w = SnapshotWriter::new();
        w.begin(1, 2, std::iter::empty(), 1);
        w.kind(0, 1, |k| {
            k.row(1, 2, |r| {
                r.f32(1.0);
            })
        });
    }

    #[test]
    fn a_table_count_beyond_the_input_is_refused_before_any_allocation() {
        // Found by the snapshot_codec fuzz target: an array32 header claiming 0x95d1_0004
        // tables made the decoder reserve ~60 GB for them before reading a single one.
        let crash = [
            0x95, 0x02, 0x00, 0x00, 0x90, 0xdd, 0x95, 0x95, 0x95, 0xd1, 0x00, 0x04, 0xd5, 0xd5,
            0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0x95, 0xd5, 0xd5, 0xd5, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x80, 0xd5, 0xd5, 0xd5, 0xd5, 0x95, 0x05,
        ];
        let error = Snapshot::decode(&crash).expect_err("refused");
        assert!(error.to_string().contains("tables"), "{error}");
    }

    #[test]
    fn non_canonical_layouts_are_refused() {
        // Found by the snapshot_codec fuzz target (version 1): a `bin` where an array belongs,
        // followed by trailing bytes.
        let crash = [0x95, 0x02, 0x76, 0x2c, 0x90, 0xc5, 0x00, 0x00, 0x95];
        assert!(Snapshot::decode(&crash).is_err());
        let mut w = SnapshotWriter::new();
        w.begin(1, 2, std::iter::empty(), 0);
        let mut bytes = w.finish().to_vec();
        assert!(Snapshot::decode(&bytes).is_ok());
        bytes.push(0xc0);
        assert!(Snapshot::decode(&bytes).is_err());
        // A string is not a field value.
        let text = rmp_serde::to_vec(&(2u8, 1u64, 2u64, Vec::<u8>::new(), ((vec![(1u32, "x")],),)))
            .expect("serialize");
        assert!(Snapshot::decode(&text).is_err());
    }

    #[test]
    fn truncations_and_other_versions_are_refused() {
        let bytes = write_sample(&mut SnapshotWriter::new(), 5);
        for cut in 0..bytes.len() {
            assert!(
                Snapshot::decode(&bytes[..cut]).is_err(),
                "truncated at {cut} must fail"
            );
        }
        let v1 = rmp_serde::to_vec(&(1u8, 1u64, 2u64, Vec::<u8>::new(), Vec::<u8>::new()))
            .expect("serialize");
        assert!(matches!(
            Snapshot::decode(&v1),
            Err(SnapshotDecodeError::UnsupportedVersion(1))
        ));
        assert!(Snapshot::decode(&[]).is_err());
    }

    #[test]
    fn buffers_are_reused() {
        let mut w = SnapshotWriter::new();
        write_sample(&mut w, 1);
        let cap = w.capacity();
        for tick in 0..100 {
            write_sample(&mut w, tick);
        }
        assert_eq!(w.capacity(), cap);
    }
}
