// Decodes the server's per-tick `snapshot` payload (docs/protocol.md, "Snapshot"): a MessagePack
// array of positional arrays, chosen on the server for size. This turns it into named fields
// once, at the edge, so the rest of the client never indexes into positional rows.

import { decode } from "./msgpack.js";

/** The only snapshot format version this client understands. */
export const SNAPSHOT_VERSION = 1;

/**
 * `[1, tick, server_time_ms, [[id,x,y,vx,vy,last_input_seq,score], ...], [[orb_id,x,y], ...]]`
 * -> `{tick, serverTime, players: [{id,x,y,vx,vy,lastInputSeq,score}], orbs: [{id,x,y}]}`.
 * Throws an Error naming the first thing that does not match.
 */
export function decodeSnapshot(bytes) {
  const root = decode(bytes);
  if (!Array.isArray(root) || root.length !== 5) {
    throw new Error(`snapshot: expected an array of 5 elements, got ${describe(root)}`);
  }
  const [version, tick, serverTime, players, orbs] = root;
  if (version !== SNAPSHOT_VERSION) {
    throw new Error(`snapshot: unsupported format version ${typeof version === "number" ? version : describe(version)} (expected ${SNAPSHOT_VERSION})`);
  }
  number(tick, "tick");
  number(serverTime, "server_time_ms");
  return {
    tick,
    serverTime,
    players: rows(players, 7, "players").map(([id, x, y, vx, vy, lastInputSeq, score]) => ({
      id, x, y, vx, vy, lastInputSeq, score,
    })),
    orbs: rows(orbs, 3, "orbs").map(([id, x, y]) => ({ id, x, y })),
  };
}

// Checks a list of rows of `width` numbers each.
function rows(list, width, what) {
  if (!Array.isArray(list)) throw new Error(`snapshot: ${what} must be an array, got ${describe(list)}`);
  list.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== width) {
      throw new Error(`snapshot: ${what}[${i}] must be an array of ${width} numbers, got ${describe(row)}`);
    }
    row.forEach((v, j) => number(v, `${what}[${i}][${j}]`));
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
