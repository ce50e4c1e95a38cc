//! The server's side: [`DeltaEncoder`] writes the delta from a baseline state to the current one
//! (changed fields only, quantized where the game says, explicit appearances and removals) and,
//! for rooms with visibility, keyframes filtered to what one player sees.

use rmp::encode::{write_array_len, write_bool, write_f32, write_f64, write_nil, write_sint};

use super::{
    DELTA_VERSION, ENVELOPE_PRECISION, ENVELOPE_SEQ_BIT, KindCoding, State, Table, envelope_table,
    full_mask, quantize, same_value,
};
use crate::protocol::{PlayerId, Tick};
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
    /// The prepared delta's head, envelope changes and kind sections.
    head: Head,
    envelope: EnvelopeChanges,
    kinds: Vec<u8>,
}

/// The envelope's changes from a baseline, worked out once per baseline so that each member's
/// envelope section costs only the rows it gets (not a walk over every player).
#[derive(Debug, Default)]
struct EnvelopeChanges {
    removed: Vec<u32>,
    /// Every appearing or changed row, ascending keys.
    rows: Vec<EnvelopeRow>,
    /// The indexes in `rows` of those every member gets: appearing rows and changed `net_id`s
    /// (the rest only change a `last_input_seq`, which only its own player is sent).
    shared: Vec<usize>,
    /// One member's rows (scratch).
    picked: Vec<EnvelopeRow>,
}

/// One appearing or changed envelope row, with its values as written (absolute for appearing
/// rows, differences otherwise).
#[derive(Debug, Clone, Copy)]
struct EnvelopeRow {
    key: PlayerId,
    mask: u64,
    values: [i64; 2],
    appearing: bool,
}

/// The integers at the start of a delta after its version.
#[derive(Debug, Default, Clone, Copy)]
struct Head {
    tick: Tick,
    base_age: Tick,
    time_diff_ms: i64,
}

impl DeltaEncoder {
    /// An encoder with empty scratch space.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes into `out` (cleared first) the delta that turns `base` into `current`, both
    /// states of one room whose kinds are coded as `layout` says, for the player `viewer`. With
    /// `view`, positioned kinds hold only the visible entities on each side. With a `viewer`,
    /// other players' `last_input_seq` is only sent when they appear (it matters to its own
    /// player only); `None` sends every change (a complete state, as tests and tools want).
    pub fn delta(
        &mut self,
        base: &State,
        current: &State,
        layout: &[KindCoding],
        view: Option<View<'_>>,
        viewer: Option<PlayerId>,
        out: &mut Vec<u8>,
    ) {
        self.prepare(base, current, layout, view);
        self.write_for(viewer, out);
    }

    /// Encodes what the deltas from `base` to `current` of every member on that baseline (and
    /// view) share: the head and the kind sections, once. [`write_for`](Self::write_for) then
    /// writes each member's delta.
    pub fn prepare(
        &mut self,
        base: &State,
        current: &State,
        layout: &[KindCoding],
        view: Option<View<'_>>,
    ) {
        self.head = Head {
            tick: current.tick,
            base_age: current.tick.saturating_sub(base.tick),
            time_diff_ms: current.server_time_ms as i64 - base.server_time_ms as i64,
        };
        envelope_table(&base.players, &mut self.base_envelope);
        envelope_table(&current.players, &mut self.current_envelope);
        self.envelope
            .work_out(&self.base_envelope, &self.current_envelope);
        let mut kinds = std::mem::take(&mut self.kinds);
        kinds.clear();
        infallible!(write_array_len(&mut kinds, len_u32(layout.len())));
        let empty = Table::default();
        for (kind, coding) in layout.iter().enumerate() {
            let base_table = base.tables.get(kind).unwrap_or(&empty);
            let current_table = current.tables.get(kind).unwrap_or(&empty);
            let filtered = view.filter(|_| coding.position.is_some());
            self.section(
                base_table,
                current_table,
                &coding.precision,
                |id| {
                    filtered.map_or((true, true), |v| {
                        (
                            v.base.binary_search(&id).is_ok(),
                            v.current.binary_search(&id).is_ok(),
                        )
                    })
                },
                &mut kinds,
            );
        }
        self.kinds = kinds;
    }

    /// Writes into `out` (cleared first) the delta last [`prepare`](Self::prepare)d, for
    /// `viewer` (see [`delta`](Self::delta)): the head, the envelope section, the kind sections.
    pub fn write_for(&mut self, viewer: Option<PlayerId>, out: &mut Vec<u8>) {
        out.clear();
        infallible!(write_array_len(out, 6));
        write_int(out, i64::from(DELTA_VERSION));
        write_int(out, self.head.tick as i64);
        write_int(out, self.head.base_age as i64);
        write_int(out, self.head.time_diff_ms);
        self.envelope.write_for(viewer, out);
        out.extend_from_slice(&self.kinds);
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

    /// Writes one section: `[[removed...], key step, mask, value..., ...]`, by merging the two
    /// id-ordered tables. `visible(key)` says whether the client sees the key in the base and
    /// now.
    fn section(
        &mut self,
        base: &Table,
        current: &Table,
        precision: &[f64],
        visible: impl Fn(u32) -> (bool, bool),
        out: &mut Vec<u8>,
    ) {
        self.rows.clear();
        self.removed.clear();
        // The section's elements after the removed list: each row's key step, mask and values.
        let mut elements = 0u32;
        let mut previous_key = 0;
        for (id, old, new) in merged(base, current) {
            let (in_base, in_current) = visible(id);
            let old = old.filter(|_| in_base);
            let new = new.filter(|_| in_current);
            match (old, new) {
                (Some(_), None) => self.removed.push(id),
                (None, Some(new)) => {
                    let mask = full_mask(new.len());
                    elements += write_row(
                        &mut self.rows,
                        id - previous_key,
                        mask,
                        new,
                        None,
                        precision,
                    );
                    previous_key = id;
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
                        elements += write_row(
                            &mut self.rows,
                            id - previous_key,
                            mask,
                            new,
                            Some(old),
                            precision,
                        );
                        previous_key = id;
                    }
                }
                (None, None) => {}
            }
        }
        infallible!(write_array_len(out, elements.saturating_add(1)));
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

impl EnvelopeChanges {
    /// Merges the two envelopes (tables keyed by player id, ascending).
    fn work_out(&mut self, base: &Table, current: &Table) {
        self.removed.clear();
        self.rows.clear();
        self.shared.clear();
        for (id, old, new) in merged(base, current) {
            let q = |row: &[Field], f: usize| quantize(row[f], ENVELOPE_PRECISION[f]);
            let row = match (old, new) {
                (Some(_), None) => {
                    self.removed.push(id);
                    continue;
                }
                (None, Some(new)) => EnvelopeRow {
                    key: id,
                    mask: full_mask(2),
                    values: [q(new, 0), q(new, 1)],
                    appearing: true,
                },
                (Some(old), Some(new)) => {
                    let values = [
                        q(new, 0).wrapping_sub(q(old, 0)),
                        q(new, 1).wrapping_sub(q(old, 1)),
                    ];
                    let mask = u64::from(values[0] != 0) | u64::from(values[1] != 0) << 1;
                    if mask == 0 {
                        continue;
                    }
                    EnvelopeRow {
                        key: id,
                        mask,
                        values,
                        appearing: false,
                    }
                }
                (None, None) => continue,
            };
            if row.appearing || row.mask & !ENVELOPE_SEQ_BIT != 0 {
                self.shared.push(self.rows.len());
            }
            self.rows.push(row);
        }
    }

    /// Writes the envelope section `viewer` gets (every change with `None`).
    fn write_for(&mut self, viewer: Option<PlayerId>, out: &mut Vec<u8>) {
        self.picked.clear();
        match viewer {
            None => self.picked.extend_from_slice(&self.rows),
            Some(viewer) => {
                for &i in &self.shared {
                    let mut row = self.rows[i];
                    if row.key != viewer && !row.appearing {
                        row.mask &= !ENVELOPE_SEQ_BIT;
                    }
                    self.picked.push(row);
                }
                if let Ok(i) = self.rows.binary_search_by_key(&viewer, |r| r.key)
                    && let Err(at) = self.picked.binary_search_by_key(&viewer, |r| r.key)
                {
                    self.picked.insert(at, self.rows[i]);
                }
            }
        }
        let elements: u32 = self.picked.iter().map(|r| 2 + r.mask.count_ones()).sum();
        infallible!(write_array_len(out, elements + 1));
        infallible!(write_array_len(out, len_u32(self.removed.len())));
        let mut previous = 0;
        for &id in &self.removed {
            write_int(out, i64::from(id - previous));
            previous = id;
        }
        let mut previous = 0;
        for row in &self.picked {
            write_int(out, i64::from(row.key - previous));
            previous = row.key;
            infallible!(rmp::encode::write_uint(out, row.mask));
            for (bit, &value) in row.values.iter().enumerate() {
                if row.mask & 1 << bit != 0 {
                    write_int(out, value);
                }
            }
        }
    }
}

/// The keys of two id-ordered tables in ascending order, each with its row in `base` and in
/// `current` (either may be missing): the merge every section is written from.
fn merged<'a>(
    base: &'a Table,
    current: &'a Table,
) -> impl Iterator<Item = (u32, Option<&'a [Field]>, Option<&'a [Field]>)> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || {
        let (base_id, current_id) = (base.ids.get(i).copied(), current.ids.get(j).copied());
        let id = match (base_id, current_id) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return None,
        };
        let old = (base_id == Some(id)).then(|| {
            i += 1;
            base.row(i - 1)
        });
        let new = (current_id == Some(id)).then(|| {
            j += 1;
            current.row(j - 1)
        });
        Some((id, old, new))
    })
}

/// `key step, mask, value...`, inline in its section (the mask says how many values follow, so a
/// row needs no array of its own): the key as its difference from the previous row's, the
/// fields in `mask`; quantized ones as differences from `old` when there is one, absolute
/// otherwise. Returns the number of elements written.
fn write_row(
    out: &mut Vec<u8>,
    key_step: u32,
    mask: u64,
    new: &[Field],
    old: Option<&[Field]>,
    precision: &[f64],
) -> u32 {
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
    mask.count_ones() + 2
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
