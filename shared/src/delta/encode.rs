//! The server's side: [`DeltaEncoder`] writes the delta from a baseline state to the current one
//! (changed fields only, quantized where the game says, explicit appearances and removals) and,
//! for rooms with visibility, keyframes filtered to what one player sees.

use rmp::encode::{write_array_len, write_bool, write_f32, write_f64, write_nil, write_sint};

use super::{
    DELTA_VERSION, ENVELOPE_PRECISION, KindCoding, State, Table, envelope_table, full_mask,
    quantize, same_value,
};
use crate::snapshot::{Field, SNAPSHOT_VERSION};

/// Writing into a `Vec<u8>` cannot fail.
macro_rules! infallible {
    ($e:expr) => {
        let _ = $e;
    };
}

/// What one client sees of positioned kinds: the ascending `net_id`s visible to it in its
/// baseline and now. Entities of kinds without a position are always visible.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// Visible at the baseline (what the client holds).
    pub base: &'a [u32],
    /// Visible now.
    pub current: &'a [u32],
}

/// Encodes deltas and filtered keyframes into caller buffers; keeps its scratch space, so a warm
/// encoder allocates nothing.
#[derive(Debug, Default)]
pub struct DeltaEncoder {
    rows: Vec<u8>,
    removed: Vec<u32>,
    base_envelope: Table,
    current_envelope: Table,
}

impl DeltaEncoder {
    /// An encoder with empty scratch space.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes into `out` (cleared first) the delta that turns `base` into `current`, both
    /// states of one room whose kinds are coded as `layout` says. With `view`, positioned kinds
    /// hold only the visible entities on each side.
    pub fn delta(
        &mut self,
        base: &State,
        current: &State,
        layout: &[KindCoding],
        view: Option<View<'_>>,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        infallible!(write_array_len(out, 6));
        write_int(out, i64::from(DELTA_VERSION));
        write_int(out, current.tick as i64);
        write_int(out, current.tick.saturating_sub(base.tick) as i64);
        write_int(
            out,
            current.server_time_ms as i64 - base.server_time_ms as i64,
        );
        envelope_table(&base.players, &mut self.base_envelope);
        envelope_table(&current.players, &mut self.current_envelope);
        let (base_envelope, current_envelope) = (
            std::mem::take(&mut self.base_envelope),
            std::mem::take(&mut self.current_envelope),
        );
        self.section(
            &base_envelope,
            &current_envelope,
            &ENVELOPE_PRECISION,
            |_| true,
            |_| true,
            out,
        );
        (self.base_envelope, self.current_envelope) = (base_envelope, current_envelope);
        infallible!(write_array_len(out, len_u32(layout.len())));
        let empty = Table::default();
        for (kind, coding) in layout.iter().enumerate() {
            let base_table = base.tables.get(kind).unwrap_or(&empty);
            let current_table = current.tables.get(kind).unwrap_or(&empty);
            let filtered = view.filter(|_| coding.position.is_some());
            self.section(
                base_table,
                current_table,
                &coding.precision,
                |id| filtered.is_none_or(|v| v.base.binary_search(&id).is_ok()),
                |id| filtered.is_none_or(|v| v.current.binary_search(&id).is_ok()),
                out,
            );
        }
    }

    /// Writes into `out` (cleared first) a version 2 keyframe of `state` holding, of positioned
    /// kinds, only the entities in `visible` (ascending `net_id`s), or all with `None`. (Without
    /// visibility a server sends the keyframe its simulation encoded; this is for per-player
    /// views.)
    pub fn keyframe(
        &self,
        state: &State,
        layout: &[KindCoding],
        visible: Option<&[u32]>,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        infallible!(write_array_len(out, 5));
        write_int(out, i64::from(SNAPSHOT_VERSION));
        write_int(out, state.tick as i64);
        write_int(out, state.server_time_ms as i64);
        infallible!(write_array_len(out, len_u32(state.players.len())));
        for p in &state.players {
            infallible!(write_array_len(out, 3));
            write_int(out, i64::from(p.player_id));
            write_int(out, i64::from(p.net_id));
            write_int(out, i64::from(p.last_input_seq));
        }
        infallible!(write_array_len(out, len_u32(state.tables.len())));
        for (kind, table) in state.tables.iter().enumerate() {
            let positioned = layout.get(kind).is_some_and(|c| c.position.is_some());
            let sees =
                |id: &u32| !positioned || visible.is_none_or(|v| v.binary_search(id).is_ok());
            let count = table.ids.iter().filter(|id| sees(id)).count();
            infallible!(write_array_len(out, len_u32(count)));
            for (i, id) in table.ids.iter().enumerate() {
                if !sees(id) {
                    continue;
                }
                let row = table.row(i);
                infallible!(write_array_len(out, len_u32(row.len() + 1)));
                write_int(out, i64::from(*id));
                for &field in row {
                    write_field(out, field);
                }
            }
        }
    }

    /// Writes one section: `[[removed...], row...]`, by merging the two id-ordered tables.
    fn section(
        &mut self,
        base: &Table,
        current: &Table,
        precision: &[f64],
        in_base: impl Fn(u32) -> bool,
        in_current: impl Fn(u32) -> bool,
        out: &mut Vec<u8>,
    ) {
        self.rows.clear();
        self.removed.clear();
        let mut rows = 0u32;
        let mut previous_key = 0;
        let (mut i, mut j) = (0, 0);
        while i < base.len() || j < current.len() {
            let base_id = base.ids.get(i).copied();
            let current_id = current.ids.get(j).copied();
            let id = match (base_id, current_id) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            let old = (base_id == Some(id)).then(|| {
                i += 1;
                base.row(i - 1)
            });
            let new = (current_id == Some(id)).then(|| {
                j += 1;
                current.row(j - 1)
            });
            let old = old.filter(|_| in_base(id));
            let new = new.filter(|_| in_current(id));
            match (old, new) {
                (Some(_), None) => self.removed.push(id),
                (None, Some(new)) => {
                    let mask = full_mask(new.len());
                    write_row(
                        &mut self.rows,
                        id - previous_key,
                        mask,
                        new,
                        None,
                        precision,
                    );
                    previous_key = id;
                    rows += 1;
                }
                (Some(old), Some(new)) => {
                    let mask = old
                        .iter()
                        .zip(new)
                        .zip(precision)
                        .enumerate()
                        .filter(|(_, ((a, b), p))| !same_value(**a, **b, **p))
                        .fold(0u64, |mask, (bit, _)| mask | 1 << bit);
                    if mask != 0 {
                        write_row(
                            &mut self.rows,
                            id - previous_key,
                            mask,
                            new,
                            Some(old),
                            precision,
                        );
                        previous_key = id;
                        rows += 1;
                    }
                }
                (None, None) => {}
            }
        }
        infallible!(write_array_len(out, rows + 1));
        infallible!(write_array_len(out, len_u32(self.removed.len())));
        // Keys as differences from the previous key (ascending, so small and positive).
        let mut previous = 0;
        for &id in &self.removed {
            write_int(out, i64::from(id - previous));
            previous = id;
        }
        out.extend_from_slice(&self.rows);
    }
}

/// `[key step, mask, value...]`: the key as its difference from the previous row's, the fields in
/// `mask`; quantized ones as differences from `old` when there is one, absolute otherwise.
fn write_row(
    out: &mut Vec<u8>,
    key_step: u32,
    mask: u64,
    new: &[Field],
    old: Option<&[Field]>,
    precision: &[f64],
) {
    infallible!(write_array_len(out, mask.count_ones() + 2));
    write_int(out, i64::from(key_step));
    infallible!(rmp::encode::write_uint(out, mask));
    for (bit, (&field, &p)) in new.iter().zip(precision).enumerate() {
        if mask & 1 << bit == 0 {
            continue;
        }
        if p == 0.0 {
            write_field(out, field);
        } else {
            let q = quantize(field, p);
            let base = old.map_or(0, |old| quantize(old[bit], p));
            write_int(out, q.wrapping_sub(base));
        }
    }
}

/// An integer in MessagePack's most compact form (unsigned forms for non-negative values).
fn write_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        infallible!(rmp::encode::write_uint(out, v as u64));
    } else {
        infallible!(write_sint(out, v));
    }
}

/// A value as a keyframe writes it.
fn write_field(out: &mut Vec<u8>, field: Field) {
    match field {
        Field::Uint(v) => {
            infallible!(rmp::encode::write_uint(out, v));
        }
        Field::Int(v) => write_int(out, v),
        Field::F32(v) => {
            infallible!(write_f32(out, v));
        }
        Field::F64(v) => {
            infallible!(write_f64(out, v));
        }
        Field::Bool(v) => {
            infallible!(write_bool(out, v));
        }
        Field::Nil => {
            infallible!(write_nil(out));
        }
    }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}
