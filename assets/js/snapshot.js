// Decodes the server's per-tick `snapshot` payload (docs/protocol.md, "Snapshot"): a MessagePack
// array of positional arrays, chosen on the server for size. `decodeFrame` reads the framework's
// layout for any game (the envelope of players, then one table per replicated kind);
// `kindLayout` and `readKind` name a kind's fields from the join ack's `kinds`, so the game
// modules (js/games/) never index into positional rows. Deltas (format version 3) need the
// states of earlier snapshots: js/delta.js keeps them and reads keyframes with `readKeyframe`.

import { decode } from "./msgpack.js";

/** The keyframe format version: the whole state, readable on its own. */
export const SNAPSHOT_VERSION = 2;

/** The delta format version (docs/protocol.md, "Delta snapshots"); js/delta.js applies them. */
export const DELTA_VERSION = 3;

/**
 * `[2, tick, server_time_ms, [[player_id, net_id, last_input_seq], ...], [[[net_id, ...fields], ...], ...]]`
 * -> `{tick, serverTime, players: [{id, netId, lastInputSeq}], kinds: [[{netId, fields}]]}`.
 * Throws an Error naming the first thing that does not match.
 */
export function decodeFrame(bytes) {
  return readKeyframe(decode(bytes));
}

/**
 * The same as decodeFrame for a payload already decoded from MessagePack (js/delta.js decodes
 * once, then reads a keyframe here or a delta itself).
 */
export function readKeyframe(root) {
  if (Array.isArray(root) && root[0] === DELTA_VERSION) {
    throw new Error(`snapshot: format version ${DELTA_VERSION} is a delta, which only a SnapshotRing (js/delta.js) can apply`);
  }
  if (!Array.isArray(root) || root.length !== 5) {
    throw new Error(`snapshot: expected an array of 5 elements, got ${describe(root)}`);
  }
  const [version, tick, serverTime, players, kinds] = root;
  if (version !== SNAPSHOT_VERSION) {
    throw new Error(`snapshot: unsupported format version ${typeof version === "number" ? version : describe(version)} (expected ${SNAPSHOT_VERSION})`);
  }
  number(tick, "tick");
  number(serverTime, "server_time_ms");
  if (!Array.isArray(kinds)) throw new Error(`snapshot: kinds must be an array, got ${describe(kinds)}`);
  return {
    tick,
    serverTime,
    players: rows(players, 3, "players").map(([id, netId, lastInputSeq]) => ({ id, netId, lastInputSeq })),
    kinds: kinds.map((table, k) => rows(table, null, `kinds[${k}]`).map(([netId, ...fields]) => ({ netId, fields }))),
  };
}

/**
 * Reads the join ack's `kinds: [{name, fields}]` for a game that needs `wanted`
 * (`{kindName: [fieldName, ...]}`): `{kindName: {index, fields}}` where `fields` are all the
 * kind's field names in row order. Throws an Error naming what the server does not send, so a
 * client and a server that disagree fail at the join, not with garbled drawings.
 */
export function kindLayout(kinds, wanted) {
  if (!Array.isArray(kinds)) throw new Error("join ack: kinds must be an array of {name, fields}");
  const layout = {};
  for (const [name, needed] of Object.entries(wanted)) {
    const index = kinds.findIndex((k) => k?.name === name);
    if (index < 0) throw new Error(`join ack: no replicated kind "${name}" (got ${kinds.map((k) => k?.name).join(", ")})`);
    const fields = kinds[index].fields ?? [];
    for (const field of needed) {
      if (!fields.includes(field)) throw new Error(`join ack: kind "${name}" has no field "${field}" (got ${fields.join(", ")})`);
    }
    layout[name] = { index, fields };
  }
  return layout;
}

/** The rows of one kind of a decoded frame as objects: `{id: net_id, <field name>: value, ...}`. */
export function readKind(frame, kind) {
  const table = frame.kinds[kind.index];
  if (!table) throw new Error(`snapshot: no table for kind ${kind.index}`);
  return table.map(({ netId, fields }, i) => {
    if (fields.length !== kind.fields.length) {
      throw new Error(`snapshot: kinds[${kind.index}][${i}] must have ${kind.fields.length} fields, got ${fields.length}`);
    }
    const row = { id: netId };
    kind.fields.forEach((name, j) => { row[name] = fields[j]; });
    return row;
  });
}

// Checks a list of rows of numbers (of `width` each, or at least 1 when `width` is null).
function rows(list, width, what) {
  if (!Array.isArray(list)) throw new Error(`snapshot: ${what} must be an array, got ${describe(list)}`);
  list.forEach((row, i) => {
    const ok = Array.isArray(row) && (width === null ? row.length >= 1 : row.length === width);
    if (!ok) {
      throw new Error(`snapshot: ${what}[${i}] must be an array of ${width ?? "1 or more"} numbers, got ${describe(row)}`);
    }
    row.forEach((v, j) => {
      if (j > 0 && width === null && (typeof v === "boolean" || v === null)) return; // game fields
      number(v, `${what}[${i}][${j}]`);
    });
  });
  return list;
}

function number(v, what) {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new Error(`snapshot: ${what} must be a finite number, got ${describe(v)}`);
  }
}

export function describe(v) {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return `${v.length} binary byte(s)`;
  return v === null ? "null" : `${typeof v} ${typeof v === "object" ? "" : String(v)}`.trim();
}
