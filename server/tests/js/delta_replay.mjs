// Replays snapshot payloads a real server sent through the web client's SnapshotRing
// (assets/js/delta.js) and compares every frame with what the Rust reference ring made of the
// same payload, field for field and exactly; where a client that names no baseline got the same
// tick, also with its keyframe, quantized fields compared as `q`. The fixture comes from
// server/tests/it/js_deltas.rs:
//
//   node delta_replay.mjs FIXTURE.json
//
// FIXTURE = {sessions: [{name, kinds (the join ack's), player (the recording client's id), steps: [{payload: hex, delta, state:
// {tick, serverTime, players: [[id, net_id, seq]], tables: [[[net_id, ...fields]]]}, keyframe?:
// hex}]}]}. Prints one JSON summary line; exits 1 with the first difference.
import { readFileSync } from "node:fs";
import { SnapshotRing } from "../../../assets/js/delta.js";
import { decodeFrame } from "../../../assets/js/snapshot.js";
import { check, fail } from "./harness.mjs";

const [file] = process.argv.slice(2);
if (!file) {
  console.error("usage: node delta_replay.mjs FIXTURE.json");
  process.exit(2);
}

const bytes = (hex) => Uint8Array.from(Buffer.from(hex, "hex"));
const byNetId = (table) => [...table].sort((a, b) => a.netId - b.netId);
const q = (v, p) => Math.floor(v / p + 0.5);

/** The frame exactly as the reference state: same players in the same order, same rows by id. */
function sameAsReference(frame, truth, where) {
  check(frame.tick === truth.tick && frame.serverTime === truth.serverTime,
    `${where}: tick/time ${frame.tick}/${frame.serverTime}, the reference ${truth.tick}/${truth.serverTime}`);
  const players = frame.players.map((p) => [p.id, p.netId, p.lastInputSeq]);
  check(JSON.stringify(players) === JSON.stringify(truth.players),
    `${where}: players ${JSON.stringify(players)}, the reference ${JSON.stringify(truth.players)}`);
  check(frame.kinds.length === truth.tables.length, `${where}: ${frame.kinds.length} kinds, the reference ${truth.tables.length}`);
  frame.kinds.forEach((table, k) => {
    const rows = byNetId(table).map((r) => [r.netId, ...r.fields]);
    const expected = truth.tables[k];
    check(rows.length === expected.length,
      `${where}: kind ${k} has net ids ${rows.map((r) => r[0])}, the reference ${expected.map((r) => r[0])}`);
    rows.forEach((row, i) => {
      // `===`, not JSON: -0 and 0 are the same value here.
      const same = row.length === expected[i].length && row.every((v, j) => v === expected[i][j]);
      check(same, `${where}: kind ${k} row ${JSON.stringify(row)}, the reference ${JSON.stringify(expected[i])}`);
    });
  });
}

/**
 * The frame as a keyframe of the same tick says, quantized fields compared as q; other players'
 * `lastInputSeq` aside (deltas track only the receiver's, `me`).
 */
function matchesKeyframe(frame, keyframe, precision, me, where) {
  check(keyframe.tick === frame.tick && keyframe.serverTime === frame.serverTime, `${where}: the keyframe is of tick ${keyframe.tick}`);
  const envelope = (players) => players.map((p) => [p.id, p.netId, p.id === me ? p.lastInputSeq : "-"]);
  check(JSON.stringify(envelope(frame.players)) === JSON.stringify(envelope(keyframe.players)),
    `${where}: players ${JSON.stringify(frame.players)}, the keyframe ${JSON.stringify(keyframe.players)} (player ${me} receiving)`);
  keyframe.kinds.forEach((table, k) => {
    const mine = byNetId(frame.kinds[k]);
    const theirs = byNetId(table);
    check(mine.map((r) => r.netId).join() === theirs.map((r) => r.netId).join(),
      `${where}: kind ${k} net ids ${mine.map((r) => r.netId)}, the keyframe ${theirs.map((r) => r.netId)}`);
    mine.forEach((row, i) => row.fields.forEach((v, f) => {
      const p = precision[k][f];
      const w = theirs[i].fields[f];
      check(p === 0 ? v === w : q(v, p) === q(w, p), `${where}: kind ${k} net id ${row.netId} field ${f}: ${v}, the keyframe ${w} (precision ${p})`);
    }));
  });
}

const fixture = JSON.parse(readFileSync(file, "utf8"));
const summary = { ok: false, sessions: [] };
for (const { name, kinds, player, steps } of fixture.sessions) {
  const ring = new SnapshotRing(kinds);
  const precision = kinds.map((k) => k.precision);
  const seen = { name, states: 0, deltas: 0, keyframesCompared: 0, appeared: 0, removed: 0 };
  let previous = null;
  steps.forEach((step, i) => {
    const where = `${name}, step ${i} (tick ${step.state.tick})`;
    let applied;
    try {
      applied = ring.apply(bytes(step.payload));
    } catch (err) {
      fail(`${where}: SnapshotRing refused what the reference applied: ${err.message}`);
    }
    check(applied.delta === step.delta, `${where}: read as a ${applied.delta ? "delta" : "keyframe"}`);
    sameAsReference(applied.frame, step.state, where);
    if (step.keyframe) {
      matchesKeyframe(applied.frame, decodeFrame(bytes(step.keyframe)), precision, player, where);
      seen.keyframesCompared++;
    }
    // What the session exercised: entities appearing in and leaving tables between snapshots.
    if (previous) {
      applied.frame.kinds.forEach((table, k) => {
        const before = new Set(previous.kinds[k].map((r) => r.netId));
        const now = new Set(table.map((r) => r.netId));
        seen.appeared += [...now].filter((id) => !before.has(id)).length;
        seen.removed += [...before].filter((id) => !now.has(id)).length;
      });
    }
    previous = applied.frame;
    seen.states++;
    if (applied.delta) seen.deltas++;
  });
  summary.sessions.push(seen);
}
summary.ok = true;
console.log(JSON.stringify(summary));
