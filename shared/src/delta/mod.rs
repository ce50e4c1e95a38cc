//! Delta snapshots (layout version 3 of `docs/protocol.md`): a room's state at one tick as a
//! table of rows ([`State`]), the server's encoder of the changes between two states
//! ([`DeltaEncoder`]) and the client's ring of recent states that applies keyframes and deltas
//! ([`ClientState`]).
//!
//! Both sides work on decoded states, not on the game's components: the server parses each
//! keyframe it already encoded (one pass, no allocation once warm) and diffs states; a client
//! applies what it receives to the state it holds. So deltas, visibility and quantization are
//! the framework's, the same for every game, and a game only declares each field's precision
//! ([`KindCoding`]).
//!
//! Quantization is exact on every platform because precisions are powers of two: `q = floor(v /
//! precision + 0.5)` in `f64` rounds the same in Rust and in JavaScript, and both sides compare
//! `q`, never floats.

mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use decode::ClientState;
pub use encode::{DeltaEncoder, View};

use crate::protocol::Tick;
use crate::snapshot::{Field, PlayerEntry, SnapshotDecodeError, SnapshotVisitor, scan};

/// The layout version of a delta snapshot.
pub const DELTA_VERSION: u8 = 3;

/// How many snapshots back the server may take a client's baseline from.
pub const SERVER_BASELINE_WINDOW: usize = 32;

/// How many received states a client keeps (twice the server's window, so a baseline the
/// server may still use is always there).
pub const CLIENT_STATE_RING: usize = 64;

/// The most fields a kind may have (a row's change mask is a `u64`).
pub const MAX_FIELDS: usize = 64;

/// How one kind's fields are coded in deltas, and where its position is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KindCoding {
    /// Per field: `0.0` = exact, else a power of two: the field is sent quantized to it.
    pub precision: Vec<f64>,
    /// The fields that hold the entity's `x` and `y`, for visibility; `None`: always visible.
    pub position: Option<[usize; 2]>,
}

impl KindCoding {
    /// Every field exact, no position.
    pub fn exact(fields: usize) -> Self {
        Self {
            precision: vec![0.0; fields],
            position: None,
        }
    }

    /// The number of fields of a row of this kind.
    pub fn width(&self) -> usize {
        self.precision.len()
    }
}

/// Whether `precision` is one a field may declare: `0` (exact) or a power of two from 2^-20 to
/// 2^20.
pub fn valid_precision(precision: f64) -> bool {
    precision == 0.0
        || (precision.is_finite()
            && precision > 0.0
            && precision.log2().fract() == 0.0
            && precision.log2().abs() <= 20.0)
}

/// The envelope's fields `[net_id, last_input_seq]`: integers, sent as differences.
const ENVELOPE_PRECISION: [f64; 2] = [1.0, 1.0];

/// The envelope field a delta tracks for its receiver only: `last_input_seq`.
const ENVELOPE_SEQ_BIT: u64 = 1 << 1;

/// `floor(v / precision + 0.5)` in `f64`: the integer a quantized field is sent as. A value
/// that is not a number counts as 0 (games declare precision on numeric fields only).
pub fn quantize(field: Field, precision: f64) -> i64 {
    let v = field.as_f64().unwrap_or(0.0);
    floor_to_i64(v / precision + 0.5)
}

/// `x.floor() as i64`, exactly (NaN is 0, out-of-range values saturate, as the cast does), without
/// calling `floor`: on baseline x86-64 (no SSE4.1) that is a libm call, and quantizing is on the
/// server's per-tick path for every field of every row (1.2 % of its CPU at 1,500 clients).
/// Truncation equals the floor except for negative non-integers, one above it.
pub fn floor_to_i64(x: f64) -> i64 {
    let truncated = x as i64;
    if (truncated as f64) > x {
        truncated.saturating_sub(1)
    } else {
        truncated
    }
}

/// The value a client holds for quantized `q`: an integer when the precision is 1 or more (so
/// counters stay integers), else `q * precision`.
pub fn dequantize(q: i64, precision: f64) -> Field {
    if precision >= 1.0 {
        let v = (q as f64 * precision) as i64;
        match u64::try_from(v) {
            Ok(u) => Field::Uint(u),
            Err(_) => Field::Int(v),
        }
    } else {
        Field::F64(q as f64 * precision)
    }
}

/// One kind's rows at one tick, ordered by `net_id`, each `width` fields wide.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    width: usize,
    ids: Vec<u32>,
    values: Vec<Field>,
}

impl Table {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The rows' ids, ascending.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Row `i`'s fields.
    pub fn row(&self, i: usize) -> &[Field] {
        &self.values[i * self.width..(i + 1) * self.width]
    }

    /// The fields of the row with `net_id`, if present.
    pub fn get(&self, net_id: u32) -> Option<&[Field]> {
        self.ids.binary_search(&net_id).ok().map(|i| self.row(i))
    }

    fn clear(&mut self, width: usize) {
        self.width = width;
        self.ids.clear();
        self.values.clear();
    }

    fn push(&mut self, net_id: u32, fields: &[Field]) {
        self.ids.push(net_id);
        self.values.extend_from_slice(fields);
    }

    /// Restores id order after rows were pushed out of order (rare: a kind added to an entity
    /// after later ones were spawned).
    fn sort(&mut self) {
        if self.ids.is_sorted() {
            return;
        }
        let width = self.width;
        let mut rows: Vec<(u32, Vec<Field>)> = self
            .ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, self.values[i * width..(i + 1) * width].to_vec()))
            .collect();
        rows.sort_by_key(|(id, _)| *id);
        self.ids.clear();
        self.values.clear();
        for (id, fields) in rows {
            self.push(id, &fields);
        }
    }
}

/// A room's whole replicated state at one tick: what a keyframe says, or what a client holds
/// after applying a delta.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    /// The tick.
    pub tick: Tick,
    /// Server clock of the tick, unix ms.
    pub server_time_ms: u64,
    /// The envelope, in join order.
    pub players: Vec<PlayerEntry>,
    /// One table per kind.
    pub tables: Vec<Table>,
}

impl State {
    /// Reads a version 2 keyframe whose kinds have the widths `layout` gives, reusing this
    /// state's buffers. A row of another width, or another number of tables, is refused.
    pub fn read_keyframe(
        &mut self,
        bytes: &[u8],
        layout: &[KindCoding],
        scratch: &mut Vec<Field>,
    ) -> Result<(), SnapshotDecodeError> {
        struct Fill<'a> {
            state: &'a mut State,
            layout: &'a [KindCoding],
            error: Option<String>,
        }
        impl SnapshotVisitor for Fill<'_> {
            fn player(&mut self, entry: PlayerEntry) {
                self.state.players.push(entry);
            }
            fn tables(&mut self, count: usize) {
                if count != self.layout.len() {
                    self.error.get_or_insert_with(|| {
                        format!("{count} tables, the game has {} kinds", self.layout.len())
                    });
                }
                let layout = self.layout;
                self.state.tables.resize_with(layout.len(), Table::default);
                for (table, coding) in self.state.tables.iter_mut().zip(layout) {
                    table.clear(coding.width());
                }
            }
            fn entity(&mut self, kind: usize, net_id: u32, fields: &[Field]) {
                match self.state.tables.get_mut(kind) {
                    Some(table) if table.width == fields.len() => table.push(net_id, fields),
                    _ => {
                        self.error.get_or_insert_with(|| {
                            format!("row {net_id} of kind {kind} has {} fields", fields.len())
                        });
                    }
                }
            }
        }
        self.players.clear();
        let mut fill = Fill {
            state: self,
            layout,
            error: None,
        };
        let (tick, time) = scan(bytes, scratch, &mut fill)?;
        if let Some(error) = fill.error {
            return Err(SnapshotDecodeError::Invalid(error));
        }
        self.tick = tick;
        self.server_time_ms = time;
        for table in &mut self.tables {
            table.sort();
        }
        Ok(())
    }

    /// Walks the state as [`scan`] walks a keyframe: header, envelope, tables, rows by id.
    pub fn visit(&self, visitor: &mut impl SnapshotVisitor) {
        visitor.header(self.tick, self.server_time_ms);
        for &entry in &self.players {
            visitor.player(entry);
        }
        visitor.tables(self.tables.len());
        for (kind, table) in self.tables.iter().enumerate() {
            for (i, &net_id) in table.ids.iter().enumerate() {
                visitor.entity(kind, net_id, table.row(i));
            }
        }
    }

    /// The envelope entry of a player.
    pub fn player(&self, player_id: u32) -> Option<&PlayerEntry> {
        self.players.iter().find(|p| p.player_id == player_id)
    }

    /// The position of entity `net_id` per `layout`, if it is of a positioned kind.
    pub fn position(&self, layout: &[KindCoding], net_id: u32) -> Option<(f64, f64)> {
        self.tables
            .iter()
            .zip(layout)
            .find_map(|(table, coding)| Some((table.get(net_id)?, coding.position?)))
            .and_then(|(row, [x, y])| Some((row.get(x)?.as_f64()?, row.get(y)?.as_f64()?)))
    }
}

/// Whether two values are the same as far as a field of `precision` is concerned: equal `q`
/// for a quantized field, the same value (bit for bit for floats) for an exact one.
pub fn same_value(a: Field, b: Field, precision: f64) -> bool {
    if precision != 0.0 {
        return quantize(a, precision) == quantize(b, precision);
    }
    match (a, b) {
        (Field::F32(x), Field::F32(y)) => x.to_bits() == y.to_bits(),
        (Field::F64(x), Field::F64(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// The envelope as a table keyed by player id: `[net_id, last_input_seq]`.
pub(crate) fn envelope_table(players: &[PlayerEntry], table: &mut Table) {
    table.clear(ENVELOPE_PRECISION.len());
    for p in players {
        table.push(
            p.player_id,
            &[
                Field::Uint(u64::from(p.net_id)),
                Field::Uint(u64::from(p.last_input_seq)),
            ],
        );
    }
    table.sort();
}

/// The mask with a bit for each of `width` fields.
pub(crate) fn full_mask(width: usize) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}
