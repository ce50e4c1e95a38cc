// Delta snapshots in the web client (docs/protocol.md, "Delta snapshots (version 3)"). The server
// sends keyframes (version 2, the whole state) until the client says which snapshot it holds
// (`baseline` in an input, or `snapshot:ack {tick}`); from then on it sends deltas: the changes
// from that baseline to this tick. `SnapshotRing` keeps the states of the last 64 snapshots
// received and turns either payload into the frame `decodeFrame` returns, so the game modules,
// prediction and interpolation cannot tell a delta from a keyframe. `AckSchedule` decides when a
// client that is not sending inputs says its baseline with `snapshot:ack`. Pure logic (no DOM,
// no timers, no socket) so node tests cover all of it; js/game.js wires it to the connection.

import { decode } from "./msgpack.js";
import { DELTA_VERSION, SNAPSHOT_VERSION, describe, readKeyframe } from "./snapshot.js";

/** How many received states a client keeps: twice the 32 sends the server may go back. */
export const RING_SIZE = 64;

// A change mask arrives as a JS number, exact up to 2^53, so a kind may have at most 53 fields
// here (the server allows 64; no game comes close).
const MAX_DELTA_FIELDS = 53;

// The envelope as a delta section sees it: rows keyed by player id, fields
// `[net_id, last_input_seq]`, both integers sent as differences.
const ENVELOPE = Object.freeze({ name: "envelope", width: 2, precision: Object.freeze([1, 1]) });
const ENVELOPE_ROWS = {
  key: (p) => p.id,
  fields: (p) => [p.netId, p.lastInputSeq],
  make(id, [netId, lastInputSeq], where) {
    u32(netId, `${where}: net_id`);
    u32(lastInputSeq, `${where}: last_input_seq`);
    return { id, netId, lastInputSeq };
  },
};
const KIND_ROWS = {
  key: (row) => row.netId,
  fields: (row) => row.fields,
  make: (netId, fields) => ({ netId, fields }),
};

/**
 * Reads how deltas code each kind from the join ack's `kinds: [{name, fields, precision}]`:
 * `[{name, width, precision}]`, or `null` when no kind has `precision` (a server from before
 * deltas: it only sends keyframes, so the client never asks for anything else). Throws an Error
 * naming what is malformed, so a mismatch fails at the join rather than garbling positions later.
 */
export function deltaCoding(kinds) {
  if (!Array.isArray(kinds)) throw new Error("join ack: kinds must be an array of {name, fields, precision}");
  kinds.forEach((kind, k) => {
    if (!Array.isArray(kind?.fields)) throw new Error(`join ack: kinds[${k}] has no fields list`);
  });
  const withPrecision = kinds.filter((kind) => kind.precision !== undefined).length;
  if (withPrecision === 0 && kinds.length > 0) return null;
  if (withPrecision !== kinds.length) {
    throw new Error("join ack: some kinds have a precision list and some do not");
  }
  return kinds.map(({ name, fields, precision }, k) => {
    const label = `join ack: kinds[${k}] (${name})`;
    if (!Array.isArray(precision) || precision.length !== fields.length) {
      throw new Error(`${label} must have one precision per field (${fields.length}), got ${describe(precision)}`);
    }
    if (fields.length > MAX_DELTA_FIELDS) {
      throw new Error(`${label} has ${fields.length} fields; this client reads delta masks of at most ${MAX_DELTA_FIELDS}`);
    }
    precision.forEach((p, i) => {
      // 0 (exact) or a power of two: then q = floor(v / p + 0.5) is exact in f64, the same on
      // the server and here.
      const ok = p === 0 || (typeof p === "number" && p > 0 && Number.isFinite(p) && 2 ** Math.round(Math.log2(p)) === p);
      if (!ok) throw new Error(`${label}: precision of "${fields[i]}" must be 0 or a power of two, got ${describe(p)}`);
    });
    return Object.freeze({ name, width: fields.length, precision: Object.freeze([...precision]) });
  });
}

/**
 * The states of the last `size` snapshots received in one seat, by tick. `apply(bytes)` takes a
 * `snapshot` payload, keyframe or delta, and returns `{frame, delta}`: the frame as
 * `decodeFrame` returns it (`{tick, serverTime, players: [{id, netId, lastInputSeq}], kinds:
 * [[{netId, fields}]]}`) and whether it came as a delta. Frames are frozen and share unchanged
 * rows with earlier ones: they are the bases of later deltas, so nothing may edit them.
 *
 * Row order: a keyframe's order is kept; a delta drops removed rows in place and appends the
 * ones that appear (by key ascending), so consumers must look entities up by net id.
 *
 * Strict like decodeFrame: anything off the contract throws an Error naming it, and a failed
 * payload stores nothing.
 */
export class SnapshotRing {
  #kinds; // per kind {name, width, precision}; precision null when deltas are not available
  #deltas; // whether the join ack said how deltas are coded
  #size;
  #states = new Map(); // tick -> frozen frame, oldest received first
  #newest = null; // the frame most recently applied

  /** `kinds`: the join (or rejoin) ack's `kinds`. Throws when they are malformed. */
  constructor(kinds, { size = RING_SIZE } = {}) {
    const coding = deltaCoding(kinds);
    this.#deltas = coding !== null;
    this.#kinds = coding ?? kinds.map(({ name, fields }) => ({ name, width: fields.length, precision: null }));
    this.#size = size;
  }

  /** Whether this seat can read deltas (the join ack gave every kind's precision). */
  get acceptsDeltas() { return this.#deltas; }

  /**
   * The tick to tell the server (`baseline`, `snapshot:ack`): the newest snapshot fully
   * applied, or 0 ("none: send keyframes") when nothing is held or deltas are not available.
   */
  get baseline() { return this.#deltas && this.#newest ? this.#newest.tick : 0; }

  /** How many states are held. */
  get held() { return this.#states.size; }

  /** Whether the state of `tick` is held. */
  has(tick) { return this.#states.has(tick); }

  /** Forgets every state: a new seat, or a delta that failed (the server then sends a keyframe). */
  clear() {
    this.#states.clear();
    this.#newest = null;
  }

  /** Applies one `snapshot` payload (bytes); returns `{frame, delta}`. */
  apply(bytes) {
    const root = decode(bytes);
    if (!Array.isArray(root)) throw new Error(`snapshot: expected an array, got ${describe(root)}`);
    const version = root[0];
    if (version !== SNAPSHOT_VERSION && version !== DELTA_VERSION) {
      throw new Error(`snapshot: unsupported format version ${describe(version)} (expected ${SNAPSHOT_VERSION}, a keyframe, or ${DELTA_VERSION}, a delta)`);
    }
    const delta = version === DELTA_VERSION;
    const frame = freezeFrame(delta ? this.#readDelta(root) : this.#checkKeyframe(readKeyframe(root)));
    // Re-received ticks move to the newest end; the oldest go once the ring is full.
    this.#states.delete(frame.tick);
    this.#states.set(frame.tick, frame);
    while (this.#states.size > this.#size) this.#states.delete(this.#states.keys().next().value);
    this.#newest = frame;
    return { frame, delta };
  }

  // A keyframe must fit the join ack's layout: later deltas address its fields by position.
  #checkKeyframe(frame) {
    if (frame.kinds.length !== this.#kinds.length) {
      throw new Error(`snapshot: ${frame.kinds.length} tables, the join ack has ${this.#kinds.length} kinds`);
    }
    unique(frame.players.map((p) => p.id), "snapshot: players lists player id");
    frame.kinds.forEach((table, k) => {
      const { name, width } = this.#kinds[k];
      table.forEach(({ netId, fields }, i) => {
        if (fields.length !== width) {
          throw new Error(`snapshot: kinds[${k}][${i}] (net_id ${netId}) has ${fields.length} fields, kind "${name}" has ${width}`);
        }
      });
      unique(table.map((row) => row.netId), `snapshot: kinds[${k}] (${name}) lists net_id`);
    });
    return frame;
  }

  // `[3, tick, base_age, time_diff_ms, envelope_section, [kind_section, ...]]`
  #readDelta(root) {
    if (!this.#deltas) {
      throw new Error("snapshot: a delta, but the join ack's kinds gave no precision, so this client never asked for one");
    }
    if (root.length !== 6) throw new Error(`snapshot: a delta must be an array of 6 elements, got ${describe(root)}`);
    const [, tick, baseAge, timeDiff, envelope, sections] = root;
    if (!Number.isSafeInteger(tick) || tick < 1) throw new Error(`snapshot: delta tick must be a positive integer, got ${describe(tick)}`);
    if (!Number.isSafeInteger(baseAge) || baseAge < 1 || baseAge > tick) {
      throw new Error(`snapshot: delta base_age must be an integer from 1 to the tick (${tick}), got ${describe(baseAge)}`);
    }
    if (!Number.isSafeInteger(timeDiff)) throw new Error(`snapshot: delta time_diff_ms must be an integer, got ${describe(timeDiff)}`);
    const baseTick = tick - baseAge;
    const base = this.#states.get(baseTick);
    if (!base) {
      const ticks = [...this.#states.keys()];
      const held = ticks.length ? `it holds ${ticks.length} state(s), ticks ${Math.min(...ticks)} to ${Math.max(...ticks)}` : "it holds none";
      throw new Error(`snapshot: delta for tick ${tick} against tick ${baseTick}, which this client does not hold (${held})`);
    }
    const at = `snapshot: delta ${baseTick} -> ${tick}`;
    if (!Array.isArray(sections) || sections.length !== this.#kinds.length) {
      throw new Error(`${at}: must have ${this.#kinds.length} kind section(s), one per kind of the join ack, got ${describe(sections)}`);
    }
    return {
      tick,
      serverTime: base.serverTime + timeDiff,
      players: applySection(base.players, envelope, ENVELOPE, `${at}, envelope`, ENVELOPE_ROWS),
      kinds: sections.map((section, k) => applySection(base.kinds[k], section, this.#kinds[k], `${at}, kinds[${k}] (${this.#kinds[k].name})`, KIND_ROWS)),
    };
  }
}

/**
 * `base` (rows of one table of the baseline) with `section` applied:
 * `[[removed step, ...], key step, mask, value, ..., key step, mask, value, ...]` (a row's mask
 * says how many values follow it), each list's keys written as steps
 * from the previous key (the first from 0). Removed rows go, changed rows are replaced (new
 * objects), unchanged ones are kept as they are, appearing rows are appended.
 */
function applySection(base, section, coding, where, rows) {
  if (!Array.isArray(section) || section.length < 1 || !Array.isArray(section[0])) {
    throw new Error(`${where}: a section must be [[removed step, ...], key step, mask, value, ...], got ${describe(section)}`);
  }
  const index = new Map(base.map((row, i) => [rows.key(row), i]));
  const removed = [];
  section[0].forEach((step, i) => {
    const key = nextKey(removed[i - 1], step, `${where}: removed[${i}]`);
    if (!index.has(key)) throw new Error(`${where}: removes ${key}, which the baseline does not hold`);
    removed.push(key);
  });
  const gone = new Set(removed);
  const changed = new Map();
  const appearing = [];
  let key;
  // Rows follow the removed list inline: key step, mask, then one value per bit of the mask.
  for (let pos = 1, r = 0; pos < section.length; r++) {
    if (pos + 1 >= section.length) throw new Error(`${where}: row ${r} is cut short: a key step without its mask`);
    key = nextKey(key, section[pos], `${where}: row ${r}`);
    const mask = section[pos + 1];
    const label = `${where}: row ${key}`;
    if (gone.has(key)) throw new Error(`${label} is also in the removed keys`);
    const bits = maskBits(mask, coding.width, label);
    if (pos + 2 + bits.length > section.length) {
      throw new Error(`${label}: mask 0b${mask.toString(2)} names ${bits.length} field(s), the section has ${section.length - pos - 2} value(s) left`);
    }
    const row = section.slice(pos, pos + 2 + bits.length);
    pos += 2 + bits.length;
    const at = index.get(key);
    if (at === undefined) {
      // Not in the baseline: the entity appears (spawned, or entered view), with every field.
      if (bits.length !== coding.width) {
        throw new Error(`${label}: the baseline does not hold ${key}, so the row must carry all ${coding.width} field(s), got mask 0b${mask.toString(2)}`);
      }
      appearing.push(rows.make(key, bits.map((f, j) => absolute(row[2 + j], coding.precision[f], `${label} field ${f}`)), label));
    } else {
      if (bits.length === 0) throw new Error(`${label}: mask 0 changes nothing (an unchanged key has no row)`);
      const old = rows.fields(base[at]);
      const next = [...old];
      bits.forEach((f, j) => { next[f] = updated(old[f], row[2 + j], coding.precision[f], `${label} field ${f}`); });
      changed.set(key, rows.make(key, next, label));
    }
  }
  const out = [];
  for (const row of base) {
    const key = rows.key(row);
    if (!gone.has(key)) out.push(changed.get(key) ?? row);
  }
  out.push(...appearing);
  return out;
}

// The fields a mask names, in order; bit i is field i (after the key).
function maskBits(mask, width, label) {
  if (!Number.isSafeInteger(mask) || mask < 0) throw new Error(`${label}: mask must be a non-negative integer, got ${describe(mask)}`);
  if (mask >= 2 ** width) throw new Error(`${label}: mask 0b${mask.toString(2)} has bits beyond its ${width} field(s)`);
  const bits = [];
  for (let f = 0; f < width; f++) if (Math.floor(mask / 2 ** f) % 2 === 1) bits.push(f);
  return bits;
}

// A field of an appearing row: exact as sent, or quantized `q` (absolute).
function absolute(value, precision, label) {
  if (precision === 0) return exact(value, label);
  return quantized(value, label) * precision;
}

// A field of a change row: exact as sent, or quantized `q - q_base` added to the baseline's `q`.
function updated(old, value, precision, label) {
  if (precision === 0) return exact(value, label);
  const diff = quantized(value, label);
  if (typeof old !== "number" || !Number.isFinite(old)) {
    throw new Error(`${label} is quantized but the baseline holds ${describe(old)}, not a number`);
  }
  const q = Math.floor(old / precision + 0.5) + diff;
  if (!Number.isSafeInteger(q)) throw new Error(`${label}: quantized value out of range`);
  return q * precision;
}

function quantized(value, label) {
  if (!Number.isSafeInteger(value)) throw new Error(`${label} is quantized: it must be an integer, got ${describe(value)}`);
  return value;
}

// What a keyframe's game field may hold: a finite number, a boolean or nil.
function exact(value, label) {
  const ok = typeof value === "boolean" || value === null || (typeof value === "number" && Number.isFinite(value));
  if (!ok) throw new Error(`${label} must be a finite number, a boolean or nil, got ${describe(value)}`);
  return value;
}

// The key a step leads to: keys ascend, so the first step is the key itself (0 or more) and
// every later one is at least 1.
function nextKey(previous, step, label) {
  if (!Number.isSafeInteger(step) || step < 0) throw new Error(`${label}: a key step must be a non-negative integer, got ${describe(step)}`);
  if (previous === undefined) return step;
  if (step === 0) throw new Error(`${label}: a key step of 0 after key ${previous} (keys must be ascending)`);
  const key = previous + step;
  if (!Number.isSafeInteger(key)) throw new Error(`${label}: key ${previous} + ${step} is out of range`);
  return key;
}

function u32(value, label) {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`${label} would be ${describe(value)}, not a u32`);
}

function unique(keys, label) {
  const seen = new Set();
  for (const key of keys) {
    if (seen.has(key)) throw new Error(`${label} ${key} twice`);
    seen.add(key);
  }
}

// Frames are the bases of later deltas and rows are shared between them: a consumer that
// edited one would corrupt every later state silently, so editing throws instead (ES modules
// are strict mode).
function freezeFrame(frame) {
  for (const player of frame.players) Object.freeze(player);
  Object.freeze(frame.players);
  for (const table of frame.kinds) {
    for (const row of table) {
      Object.freeze(row.fields);
      Object.freeze(row);
    }
    Object.freeze(table);
  }
  Object.freeze(frame.kinds);
  return Object.freeze(frame);
}

/**
 * When to send `snapshot:ack {tick}`. Inputs carry the baseline, so while they flow nothing
 * else is needed; once none has gone for `idleMs` the client acks on snapshot arrival, at most
 * once per `intervalMs` (the ack is charged to the input rate limit, and a baseline a few ticks
 * old is as good as the newest). A snapshot that failed to apply is acked (with tick 0) at once,
 * inputs or not and whenever the last idle ack went, so the server turns to keyframes before
 * more deltas are refused; such acks have their own budget of one per `intervalMs`. Times are
 * any monotonic milliseconds (performance.now()).
 */
export class AckSchedule {
  #idleMs;
  #intervalMs;
  #lastInput = -Infinity;
  #lastAck = -Infinity;
  #lastFailureAck = -Infinity;

  constructor({ idleMs = 200, intervalMs = 200 } = {}) {
    this.#idleMs = idleMs;
    this.#intervalMs = intervalMs;
  }

  /** An input (carrying the baseline) was sent at `nowMs`. */
  inputSent(nowMs) {
    this.#lastInput = nowMs;
  }

  /** A snapshot arrived at `nowMs` (`failed`: refused); true = send `snapshot:ack` now. */
  due(nowMs, { failed = false } = {}) {
    if (failed) {
      if (nowMs - this.#lastFailureAck < this.#intervalMs) return false;
      this.#lastFailureAck = nowMs;
    } else if (nowMs - this.#lastAck < this.#intervalMs || nowMs - this.#lastInput < this.#idleMs) {
      return false;
    }
    this.#lastAck = nowMs;
    return true;
  }

  /** Forgets the history (a new seat). */
  reset() {
    this.#lastInput = -Infinity;
    this.#lastAck = -Infinity;
    this.#lastFailureAck = -Infinity;
  }
}
