// Decodes the server's per-tick `snapshot` payload (docs/protocol.md, "Snapshot"): a MessagePack
// array of positional arrays, chosen on the server for size. `decodeFrame` reads the framework's
// layout for any game (the envelope of players, then one table per replicated kind);
// `decodeSnapshot` reads it as the orb arena's, with named fields, so the rest of the page never
// indexes into positional rows.

import { decode } from "./msgpack.js";

/** The only snapshot format version this client understands. */
export const SNAPSHOT_VERSION = 2;

/** The orb arena's kind numbers (the join ack's `kinds` names them: avatar, orb). */
export const ORB_KINDS = { avatar: 0, orb: 1 };

/**
 * `[2, tick, server_time_ms, [[player_id, net_id, last_input_seq], ...], [[[net_id, ...fields], ...], ...]]`
 * -> `{tick, serverTime, players: [{id, netId, lastInputSeq}], kinds: [[{netId, fields}]]}`.
 * Throws an Error naming the first thing that does not match.
 */
export function decodeFrame(bytes) {
  const root = decode(bytes);
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
 * An orb arena snapshot: `{tick, serverTime, players: [{id, netId, x, y, vx, vy, lastInputSeq,
 * score}], orbs: [{id, x, y}]}` (an orb's `id` is its net id).
 */
export function decodeSnapshot(bytes) {
  const frame = decodeFrame(bytes);
  if (frame.kinds.length !== 2) throw new Error(`snapshot: the orb arena has 2 kinds, got ${frame.kinds.length}`);
  const avatars = new Map(frame.kinds[ORB_KINDS.avatar].map((row) => [row.netId, row.fields]));
  return {
    tick: frame.tick,
    serverTime: frame.serverTime,
    players: frame.players.map(({ id, netId, lastInputSeq }, i) => {
      const fields = avatars.get(netId);
      if (!fields || fields.length !== 5) throw new Error(`snapshot: players[${i}] has no avatar of 5 fields`);
      const [x, y, vx, vy, score] = fields;
      return { id, netId, x, y, vx, vy, lastInputSeq, score };
    }),
    orbs: frame.kinds[ORB_KINDS.orb].map(({ netId, fields }, i) => {
      if (fields.length !== 2) throw new Error(`snapshot: orbs[${i}] must have 2 fields, got ${fields.length}`);
      return { id: netId, x: fields[0], y: fields[1] };
    }),
  };
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

function describe(v) {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return `${v.length} binary byte(s)`;
  return v === null ? "null" : `${typeof v} ${typeof v === "object" ? "" : String(v)}`.trim();
}
