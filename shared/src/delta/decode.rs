//! The client's side: [`ClientState`] keeps the states of the last snapshots it received and
//! applies each new one, keyframe (version 2) or delta (version 3), strictly: anything but the
//! documented layout, or a delta that does not fit the state it names, is refused and changes
//! nothing.

use std::collections::VecDeque;

use rmp::decode::{read_array_len, read_int};

use super::{
    CLIENT_STATE_RING, DELTA_VERSION, ENVELOPE_PRECISION, KindCoding, State, Table, dequantize,
    full_mask, quantize,
};
use crate::protocol::Tick;
use crate::snapshot::{Field, PlayerEntry, SNAPSHOT_VERSION, SnapshotDecodeError, read_field};

fn invalid(e: impl std::fmt::Display) -> SnapshotDecodeError {
    SnapshotDecodeError::Invalid(e.to_string())
}

/// One decoded section: removed keys, and rows as `(key, mask, first value index)`.
#[derive(Debug, Default)]
struct Section {
    removed: Vec<u32>,
    rows: Vec<(u32, u64, usize)>,
    values: Vec<Field>,
}

/// The states of the last [`CLIENT_STATE_RING`] snapshots a client received, newest last.
#[derive(Debug)]
pub struct ClientState {
    layout: Vec<KindCoding>,
    ring: VecDeque<State>,
    /// The state being built (a recycled one once the ring is full).
    work: State,
    section: Section,
    scratch: Vec<Field>,
    envelope: Table,
}

impl ClientState {
    /// A client of a room whose kinds are coded as `layout` (from the join ack's `kinds`).
    pub fn new(layout: Vec<KindCoding>) -> Self {
        Self {
            layout,
            ring: VecDeque::with_capacity(CLIENT_STATE_RING),
            work: State::default(),
            section: Section::default(),
            scratch: Vec::new(),
            envelope: Table::default(),
        }
    }

    /// Forgets every state (a new seat starts from a keyframe).
    pub fn reset(&mut self, layout: Vec<KindCoding>) {
        self.layout = layout;
        self.ring.clear();
    }

    /// The newest state, if any.
    pub fn latest(&self) -> Option<&State> {
        self.ring.back()
    }

    /// How many states are held (at most [`CLIENT_STATE_RING`]).
    pub fn held(&self) -> usize {
        self.ring.len()
    }

    /// The tick to tell the server as the baseline: the newest state's, 0 when none.
    pub fn baseline(&self) -> Tick {
        self.ring.back().map_or(0, |s| s.tick)
    }

    /// Whether `bytes` is a delta (version 3) rather than a keyframe; `None` if neither.
    pub fn version(bytes: &[u8]) -> Option<u8> {
        let rd = &mut &bytes[..];
        read_array_len(rd).ok()?;
        read_int(rd).ok()
    }

    /// Applies one `snapshot` payload and returns the state it describes. On error the held
    /// states are unchanged.
    pub fn apply(&mut self, bytes: &[u8]) -> Result<&State, SnapshotDecodeError> {
        match Self::version(bytes) {
            Some(SNAPSHOT_VERSION) => {
                self.work
                    .read_keyframe(bytes, &self.layout, &mut self.scratch)?;
            }
            Some(DELTA_VERSION) => self.read_delta(bytes)?,
            Some(other) => return Err(SnapshotDecodeError::UnsupportedVersion(other)),
            None => return Err(invalid("not a snapshot")),
        }
        let recycled = if self.ring.len() >= CLIENT_STATE_RING {
            self.ring.pop_front()
        } else {
            None
        };
        let state = std::mem::replace(&mut self.work, recycled.unwrap_or_default());
        self.ring.push_back(state);
        Ok(self.ring.back().unwrap_or(&self.work))
    }

    fn read_delta(&mut self, bytes: &[u8]) -> Result<(), SnapshotDecodeError> {
        let rd = &mut &bytes[..];
        let len = read_array_len(rd).map_err(invalid)?;
        if len != 6 {
            return Err(invalid(format!("a delta is an array of 6, not {len}")));
        }
        let _version: u8 = read_int(rd).map_err(invalid)?;
        let tick: u64 = read_int(rd).map_err(invalid)?;
        let age: u64 = read_int(rd).map_err(invalid)?;
        let time_diff: i64 = read_int(rd).map_err(invalid)?;
        if age == 0 || age > tick {
            return Err(invalid(format!("base age {age} at tick {tick}")));
        }
        let base_tick = tick - age;
        let Some(base) = self.ring.iter().rev().find(|s| s.tick == base_tick) else {
            return Err(invalid(format!(
                "delta against tick {base_tick}, which this client does not hold"
            )));
        };
        let work = &mut self.work;
        work.tick = tick;
        work.server_time_ms = base
            .server_time_ms
            .checked_add_signed(time_diff)
            .ok_or_else(|| invalid("server time out of range"))?;

        // The envelope: keyed by player id, kept in join order.
        read_section(rd, &ENVELOPE_PRECISION, &mut self.section)?;
        let section = &self.section;
        super::envelope_table(&base.players, &mut self.envelope);
        check_removed(&section.removed, &self.envelope)?;
        work.players.clear();
        for p in &base.players {
            if section.removed.binary_search(&p.player_id).is_ok() {
                continue;
            }
            let mut entry = *p;
            if let Ok(r) = section.rows.binary_search_by_key(&p.player_id, |r| r.0) {
                let (_, mask, start) = section.rows[r];
                let old = [
                    Field::Uint(u64::from(p.net_id)),
                    Field::Uint(u64::from(p.last_input_seq)),
                ];
                let mut new = old;
                apply_change(
                    &mut new,
                    &old,
                    mask,
                    &section.values[start..],
                    &ENVELOPE_PRECISION,
                )?;
                entry.net_id = as_u32(new[0])?;
                entry.last_input_seq = as_u32(new[1])?;
            }
            work.players.push(entry);
        }
        for &(key, mask, start) in &section.rows {
            if self.envelope.get(key).is_some() {
                continue;
            }
            let mut new = [Field::Nil; 2];
            apply_appearing(
                &mut new,
                mask,
                &section.values[start..],
                &ENVELOPE_PRECISION,
            )?;
            work.players.push(PlayerEntry {
                player_id: key,
                net_id: as_u32(new[0])?,
                last_input_seq: as_u32(new[1])?,
            });
        }

        let kinds = read_array_len(rd).map_err(invalid)? as usize;
        if kinds != self.layout.len() || kinds != base.tables.len() {
            return Err(invalid(format!(
                "{kinds} kind sections, the game has {} kinds",
                self.layout.len()
            )));
        }
        work.tables.resize_with(kinds, Table::default);
        for (kind, coding) in self.layout.iter().enumerate() {
            read_section(rd, &coding.precision, &mut self.section)?;
            merge(
                &base.tables[kind],
                &self.section,
                &coding.precision,
                &mut self.scratch,
                &mut work.tables[kind],
            )
            .map_err(|e| invalid(format!("kind {kind}: {e}")))?;
        }
        if !rd.is_empty() {
            return Err(invalid(format!("{} bytes after the delta", rd.len())));
        }
        Ok(())
    }
}

fn as_u32(field: Field) -> Result<u32, SnapshotDecodeError> {
    field
        .as_u32()
        .ok_or_else(|| invalid(format!("{field:?} is not a u32")))
}

/// Every removed key must be one the baseline holds.
fn check_removed(removed: &[u32], base: &Table) -> Result<(), SnapshotDecodeError> {
    match removed.iter().find(|id| base.get(**id).is_none()) {
        Some(id) => Err(invalid(format!(
            "removes {id}, which the baseline does not hold"
        ))),
        None => Ok(()),
    }
}

/// Reads `[[removed...], key step, mask, value..., ...]`, checking order, masks and value types.
fn read_section(
    rd: &mut &[u8],
    precision: &[f64],
    section: &mut Section,
) -> Result<(), SnapshotDecodeError> {
    section.removed.clear();
    section.rows.clear();
    section.values.clear();
    let len = read_array_len(rd).map_err(invalid)?;
    if len == 0 {
        return Err(invalid("a section without its removed list"));
    }
    let removed = read_array_len(rd).map_err(invalid)?;
    if removed as usize > rd.len() {
        return Err(invalid("removed list longer than the payload"));
    }
    for _ in 0..removed {
        let id = next_key(rd, section.removed.last().copied())?;
        section.removed.push(id);
    }
    let width = precision.len();
    // The rows follow inline: key step, mask, then one value per bit of the mask.
    let mut left = len as usize - 1;
    while left > 0 {
        if left < 2 {
            return Err(invalid("a row cut short: a key step without its mask"));
        }
        let key = next_key(rd, section.rows.last().map(|r| r.0))?;
        let mask: u64 = read_int(rd).map_err(invalid)?;
        // Mask 0 is only a kind without fields (whose appearing rows have every field: none).
        if mask & !full_mask(width) != 0 || (mask == 0 && width > 0) {
            return Err(invalid(format!(
                "row {key}: mask {mask:#x} for {width} fields"
            )));
        }
        let values = mask.count_ones() as usize;
        if values > left - 2 {
            return Err(invalid(format!(
                "row {key}: mask {mask:#x} names {values} fields, the section has {} elements left",
                left - 2
            )));
        }
        left -= 2 + values;
        if section.removed.binary_search(&key).is_ok() {
            return Err(invalid(format!("row {key} is also removed")));
        }
        section.rows.push((key, mask, section.values.len()));
        for (bit, &p) in precision.iter().enumerate() {
            if mask & 1 << bit == 0 {
                continue;
            }
            let value = read_field(rd)?;
            if p != 0.0 && !matches!(value, Field::Uint(_) | Field::Int(_)) {
                return Err(invalid(format!(
                    "row {key}: quantized field {bit} is {value:?}, not an integer"
                )));
            }
            section.values.push(value);
        }
    }
    Ok(())
}

/// Reads a key written as its step from the previous key of its list (from 0 for the first):
/// keys ascend, so a later step of 0 is refused.
fn next_key(rd: &mut &[u8], previous: Option<u32>) -> Result<u32, SnapshotDecodeError> {
    let step: u32 = read_int(rd).map_err(invalid)?;
    if previous.is_some() && step == 0 {
        return Err(invalid("keys not ascending (a step of 0)"));
    }
    previous
        .unwrap_or(0)
        .checked_add(step)
        .ok_or_else(|| invalid("key beyond u32"))
}

/// The integer a quantized field carries.
fn integer(value: Field) -> Result<i64, SnapshotDecodeError> {
    match value {
        Field::Int(v) => Ok(v),
        Field::Uint(v) => i64::try_from(v).map_err(invalid),
        other => Err(invalid(format!("{other:?} is not an integer"))),
    }
}

/// Fills every field of an appearing row (its mask must have them all).
fn apply_appearing(
    new: &mut [Field],
    mask: u64,
    values: &[Field],
    precision: &[f64],
) -> Result<(), SnapshotDecodeError> {
    if mask != full_mask(precision.len()) {
        return Err(invalid("a new row without every field"));
    }
    for (i, (&p, slot)) in precision.iter().zip(new.iter_mut()).enumerate() {
        let value = values[i];
        *slot = if p == 0.0 {
            value
        } else {
            super::dequantize(integer(value)?, p)
        };
    }
    Ok(())
}

/// Applies a change row's fields to `new` (a copy of `old`).
fn apply_change(
    new: &mut [Field],
    old: &[Field],
    mask: u64,
    values: &[Field],
    precision: &[f64],
) -> Result<(), SnapshotDecodeError> {
    let mut next = values.iter();
    for (bit, &p) in precision.iter().enumerate() {
        if mask & 1 << bit == 0 {
            continue;
        }
        let value = *next.next().ok_or_else(|| invalid("row too short"))?;
        new[bit] = if p == 0.0 {
            value
        } else {
            let q = quantize(old[bit], p)
                .checked_add(integer(value)?)
                .ok_or_else(|| invalid("quantized value out of range"))?;
            dequantize(q, p)
        };
    }
    Ok(())
}

/// `out` = `base` with the section applied: removed rows dropped, changes applied, new rows
/// inserted in id order. `row` is scratch space, kept by the caller so a merge allocates nothing.
fn merge(
    base: &Table,
    section: &Section,
    precision: &[f64],
    row: &mut Vec<Field>,
    out: &mut Table,
) -> Result<(), SnapshotDecodeError> {
    let width = precision.len();
    if base.width != width {
        return Err(invalid(format!(
            "baseline rows have {} fields, the kind {width}",
            base.width
        )));
    }
    check_removed(&section.removed, base)?;
    out.clear(width);
    row.clear();
    row.resize(width, Field::Nil);
    let mut rows = section.rows.iter().peekable();
    let mut push_new = |out: &mut Table, key: u32, mask: u64, start: usize| {
        apply_appearing(row, mask, &section.values[start..], precision)?;
        out.push(key, row);
        Ok::<(), SnapshotDecodeError>(())
    };
    for (i, &id) in base.ids.iter().enumerate() {
        while let Some(&&(key, mask, start)) = rows.peek()
            && key < id
        {
            push_new(out, key, mask, start)?;
            rows.next();
        }
        let old = base.row(i);
        if section.removed.binary_search(&id).is_ok() {
            continue;
        }
        if let Some(&&(key, mask, start)) = rows.peek()
            && key == id
        {
            rows.next();
            let at = out.values.len();
            out.push(id, old);
            apply_change(
                &mut out.values[at..at + width],
                old,
                mask,
                &section.values[start..],
                precision,
            )?;
        } else {
            out.push(id, old);
        }
    }
    for &(key, mask, start) in rows {
        push_new(out, key, mask, start)?;
    }
    Ok(())
}
