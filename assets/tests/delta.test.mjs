// Delta snapshots (js/delta.js) against vectors written by hand from docs/protocol.md, "Delta
// snapshots (version 3)": the worked example, keys written as steps, spawns and despawns,
// players joining and leaving the envelope, quantized differences (negative, from a value off the grid), exact fields, deltas
// on deltas and on older states, the ring's size, every error the decoder must refuse (and that
// a refused payload changes nothing), the join ack's precision lists, and when to ack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encode } from "../js/msgpack.js";
import { decodeFrame } from "../js/snapshot.js";
import { AckSchedule, RING_SIZE, SnapshotRing, deltaCoding } from "../js/delta.js";
import { view as orbsView } from "../js/games/orbs.js";
import orbs from "../js/games/orbs.js";

// The orb arena's kinds as the join ack announces them (games/orbs/src/components.rs).
const ORB_KINDS = [
  { name: "avatar", fields: ["x", "y", "vx", "vy", "score"], precision: [0.125, 0.125, 1, 1, 1], position: [0, 1] },
  { name: "orb", fields: ["x", "y"], precision: [0.125, 0.125], position: [0, 1] },
];
const T0 = 1_700_000_000_000;

// The worked example's baseline: tick 100, player 7 (avatar 33 at (500, 200) moving at (200, 0),
// score 4, last_input_seq 12), orb 5 at (300, 300) and orb 6.
const KEYFRAME_100 = [2, 100, T0, [[7, 33, 12]], [[[33, 500, 200, 200, 0, 4]], [[5, 300, 300], [6, 10, 20]]]];
const EXAMPLE_103 = [3, 103, 3, 100,
  [[], 7, 0b10, 1],
  [[[], 33, 0b00001, 160],
    [[], 5, 0b11, -1888, 5092]]];

/** A ring of the orb arena holding the worked example's baseline. */
function orbRing() {
  const ring = new SnapshotRing(ORB_KINDS);
  ring.apply(encode(KEYFRAME_100));
  return ring;
}

// A frame as plain data (frames are frozen objects; deepEqual compares their contents).
const plain = (frame) => JSON.parse(JSON.stringify(frame));

test("the worked example of docs/protocol.md", () => {
  // As the contract tells it, the baseline also holds player 8 (seq 40): sent to player 7, the
  // delta leaves player 8's newer seq out, so 7 keeps 40 for it.
  const ring = new SnapshotRing(ORB_KINDS);
  ring.apply(encode([2, 100, T0, [[7, 33, 12], [8, 34, 40]],
    [[[33, 500, 200, 200, 0, 4], [34, 100, 200, 0, 0, 0]], KEYFRAME_100[4][1]]]));
  const { frame, delta } = ring.apply(encode(EXAMPLE_103));
  assert.equal(delta, true);
  assert.deepEqual(plain(frame), {
    tick: 103,
    serverTime: T0 + 100,
    players: [{ id: 7, netId: 33, lastInputSeq: 13 }, { id: 8, netId: 34, lastInputSeq: 40 }],
    kinds: [
      [{ netId: 33, fields: [520, 200, 200, 0, 4] }, { netId: 34, fields: [100, 200, 0, 0, 0] }],
      [{ netId: 5, fields: [64, 936.5] }, { netId: 6, fields: [10, 20] }],
    ],
  });
  assert.equal(ring.baseline, 103);
  // The game module reads it like any keyframe.
  const v = orbsView(frame, orbs.layout(ORB_KINDS));
  assert.deepEqual(v.players, [
    { id: 7, netId: 33, x: 520, y: 200, vx: 200, vy: 0, lastInputSeq: 13, score: 4 },
    { id: 8, netId: 34, x: 100, y: 200, vx: 0, vy: 0, lastInputSeq: 40, score: 0 },
  ]);
  assert.deepEqual(v.orbs, [{ id: 5, x: 64, y: 936.5 }, { id: 6, x: 10, y: 20 }]);
});

test("the worked example's variants: a new orb appears, the avatar leaves view", () => {
  const spawned = orbRing().apply(encode([3, 103, 3, 100, [[]], [[[]], [[], 41, 0b11, 512, 7492]]])).frame;
  assert.deepEqual(plain(spawned.kinds[1]), [
    { netId: 5, fields: [300, 300] }, { netId: 6, fields: [10, 20] }, { netId: 41, fields: [64, 936.5] },
  ]);
  // Out of view: the kind's section removes 33; the envelope still lists the player.
  const hidden = orbRing().apply(encode([3, 103, 3, 100, [[]], [[[33]], [[]]]])).frame;
  assert.deepEqual(plain(hidden.kinds[0]), []);
  assert.deepEqual(plain(hidden.players), [{ id: 7, netId: 33, lastInputSeq: 12 }]);
});

test("keys are steps from the previous key of their list, the first from 0 (the contract's example)", () => {
  const ring = new SnapshotRing([{ name: "thing", fields: ["v"], precision: [1] }]);
  ring.apply(encode([2, 1, T0, [], [[33, 34, 40, 41, 45].map((id) => [id, id])]]));
  // Removed [40, 41, 45] are written [40, 1, 4]; rows for 33 and 34 start with 33 and 1.
  const { frame } = ring.apply(encode([3, 2, 1, 33, [[]], [[[40, 1, 4], 33, 0b1, 1, 1, 0b1, -1]]]));
  assert.deepEqual(plain(frame.kinds[0]), [{ netId: 33, fields: [34] }, { netId: 34, fields: [33] }]);
  // Key 0 is a valid first key (a step of 0 only fails after another key).
  const zero = new SnapshotRing([{ name: "thing", fields: ["v"], precision: [0] }]);
  zero.apply(encode([2, 1, T0, [], [[[0, 5], [3, 6]]]]));
  assert.deepEqual(plain(zero.apply(encode([3, 2, 1, 33, [[]], [[[0, 3]]]])).frame.kinds[0]), []);
  assert.deepEqual(plain(zero.apply(encode([3, 3, 2, 33, [[]], [[[], 0, 0b1, 7, 3, 0b1, 8]]])).frame.kinds[0]),
    [{ netId: 0, fields: [7] }, { netId: 3, fields: [8] }]);
});

test("despawned rows go in place, appearing rows are appended by key, the rest keep their order", () => {
  const ring = new SnapshotRing(ORB_KINDS);
  // Keyframe order is the server's spawn order, not necessarily by net id.
  ring.apply(encode([2, 10, T0, [], [[], [[9, 1, 1], [4, 2, 2], [7, 3, 3], [8, 4, 4]]]]));
  // Removed 4 and 8 (steps 4, 4); rows 7, 12, 15 (steps 7, 5, 3).
  const { frame } = ring.apply(encode([3, 11, 1, 33, [[]], [[[]], [[4, 4], 7, 0b01, 8, 5, 0b11, 40, 48, 3, 0b11, 0, -8]]]));
  assert.deepEqual(plain(frame.kinds[1]), [
    { netId: 9, fields: [1, 1] },
    { netId: 7, fields: [4, 3] }, // x: q 24 + 8 = 32 -> 4.0; y unchanged
    { netId: 12, fields: [5, 6] },
    { netId: 15, fields: [0, -1] },
  ]);
  assert.equal(frame.serverTime, T0 + 33);
});

test("players join and leave the envelope: appended in row order, removed in place", () => {
  const ring = new SnapshotRing(ORB_KINDS);
  ring.apply(encode([2, 50, T0, [[3, 10, 100], [7, 33, 12], [8, 40, 0]],
    [[[10, 1, 1, 0, 0, 0], [33, 2, 2, 0, 0, 5], [40, 3, 3, 0, 0, 1]], []]]));
  // Envelope: 7 leaves; rows 8, 9, 11 (steps 8, 1, 2). Avatars: 33 goes; 50 and 51 (steps 50, 1).
  const { frame } = ring.apply(encode([3, 52, 2, 67,
    [[7], 8, 0b01, 2, 1, 0b11, 50, 0, 2, 0b11, 51, 3],
    [[[33], 50, 0b11111, 800, 800, 0, 0, 0, 1, 0b11111, 8, 16, 0, 0, 2], [[]]]]));
  assert.deepEqual(plain(frame.players), [
    { id: 3, netId: 10, lastInputSeq: 100 },
    { id: 8, netId: 42, lastInputSeq: 0 }, // net_id 40 + 2
    { id: 9, netId: 50, lastInputSeq: 0 },
    { id: 11, netId: 51, lastInputSeq: 3 },
  ]);
  assert.deepEqual(plain(frame.kinds[0]), [
    { netId: 10, fields: [1, 1, 0, 0, 0] },
    { netId: 40, fields: [3, 3, 0, 0, 1] },
    { netId: 50, fields: [100, 100, 0, 0, 0] },
    { netId: 51, fields: [1, 2, 0, 0, 2] },
  ]);
});

test("quantized differences: negative, from a keyframe value off the grid, counters as integers", () => {
  const ring = new SnapshotRing(ORB_KINDS);
  const offGrid = Math.fround(500.03); // a keyframe is exact: q_base = floor(4000.24 + 0.5) = 4000
  ring.apply(encode([2, 1, T0, [[1, 2, 0]], [[[2, offGrid, 200, -200, 0, 41]], []]]));
  const { frame } = ring.apply(encode([3, 2, 1, 33, [[]], [[[], 2, 0b10111, -1, -3, 200, 1], [[]]]]));
  // x: 3999/8; y: (1600 - 3)/8; vx (whole units): -200 + 200 = 0; vy unchanged; score 41 + 1.
  assert.deepEqual([...frame.kinds[0][0].fields], [499.875, 199.625, 0, 0, 42]);
  // A field the delta does not name is carried over as held: still the keyframe's exact value.
  const next = ring.apply(encode([3, 3, 1, 33, [[]], [[[], 2, 0b00010, 1], [[]]]])).frame;
  assert.deepEqual([...next.kinds[0][0].fields], [499.875, 199.75, 0, 0, 42]);
  const moveOnly = new SnapshotRing(ORB_KINDS);
  moveOnly.apply(encode([2, 1, T0, [[1, 2, 0]], [[[2, offGrid, 200, 0, 0, 41]], []]]));
  assert.equal(moveOnly.apply(encode([3, 2, 1, 33, [[]], [[[], 2, 0b00010, -8], [[]]]])).frame.kinds[0][0].fields[0], offGrid);
});

test("q_base is floor(v / precision + 0.5): halves round up, negatives included", () => {
  // Round-half-away-from-zero (Rust's f64::round) or truncation would disagree with the server
  // on exactly these values.
  const ring = new SnapshotRing([{ name: "p", fields: ["a", "b", "c", "d"], precision: [0.125, 0.125, 0.125, 4] }]);
  ring.apply(encode([2, 1, T0, [], [[[1, 0.0625, -0.0625, Math.fround(-200.03), -6]]]]));
  const { frame } = ring.apply(encode([3, 2, 1, 33, [[]], [[[], 1, 0b1111, 0, 0, 0, 0]]]));
  // a: q 1 -> 0.125; b: q 0 -> 0; c: floor(-1600.24 + 0.5) = -1600 -> -200; d: floor(-1.5 + 0.5) = -1 -> -4.
  assert.deepEqual([...frame.kinds[0][0].fields], [0.125, 0, -200, -4]);
});

test("exact fields carry their new value: numbers, booleans and nil", () => {
  // blasters' round (phase exact, ticks_left at 1, the rest exact) and tag's runner (it: a boolean).
  const kinds = [
    { name: "round", fields: ["phase", "ticks_left", "round", "kills_to_win"], precision: [0, 1, 0, 0] },
    { name: "runner", fields: ["x", "y", "it"], precision: [0.125, 0.125, 0] },
  ];
  const ring = new SnapshotRing(kinds);
  ring.apply(encode([2, 5, T0, [], [[[1, 0, 90, 1, 10]], [[2, 10.5, 20.25, true], [3, 1, 1, null]]]]));
  const { frame } = ring.apply(encode([3, 6, 1, 33, [[]], [[[], 1, 0b011, 1, -1], [[], 2, 0b100, false, 1, 0b100, true]]]));
  assert.deepEqual(plain(frame.kinds), [
    [{ netId: 1, fields: [1, 89, 1, 10] }],
    [{ netId: 2, fields: [10.5, 20.25, false] }, { netId: 3, fields: [1, 1, true] }],
  ]);
});

test("a delta applies to the state it names: on a delta, or on an older state than the newest", () => {
  const ring = orbRing();
  ring.apply(encode(EXAMPLE_103));
  // 104 against 103 (itself a delta).
  const on103 = ring.apply(encode([3, 104, 1, 33, [[], 7, 0b10, 1], [[[], 33, 0b1, 53], [[]]]])).frame;
  assert.equal(on103.kinds[0][0].fields[0], 526.625); // (4160 + 53) / 8
  assert.equal(on103.players[0].lastInputSeq, 14);
  assert.equal(on103.serverTime, T0 + 133);
  // 105 against 100: the server had only heard of 100; 103 and 104 play no part.
  const on100 = ring.apply(encode([3, 105, 5, 167, [[]], [[[], 33, 0b1, 8], [[]]]])).frame;
  assert.deepEqual(plain(on100.players), [{ id: 7, netId: 33, lastInputSeq: 12 }]);
  assert.deepEqual([...on100.kinds[0][0].fields], [501, 200, 200, 0, 4]);
  assert.deepEqual(plain(on100.kinds[1]), [{ netId: 5, fields: [300, 300] }, { netId: 6, fields: [10, 20] }]);
  assert.equal(on100.serverTime, T0 + 167);
  assert.equal(ring.baseline, 105);
  assert.equal(ring.held, 4);
});

test("frames are frozen, share unchanged rows, and a delta leaves its base as it was", () => {
  const ring = orbRing();
  const base = ring.apply(encode(KEYFRAME_100)).frame;
  const before = plain(base);
  const { frame } = ring.apply(encode(EXAMPLE_103));
  assert.equal(frame.kinds[1][1], base.kinds[1][1], "orb 6 did not change: the same row object");
  assert.notEqual(frame.kinds[1][0], base.kinds[1][0]);
  assert.deepEqual(plain(base), before);
  assert.throws(() => { frame.kinds[0][0].fields[0] = 1; }, TypeError);
  assert.throws(() => { frame.players.push({}); }, TypeError);
  assert.throws(() => { frame.tick = 1; }, TypeError);
});

test("the ring keeps the last 64 states received; a re-received tick counts as new", () => {
  const ring = new SnapshotRing(ORB_KINDS);
  assert.equal(RING_SIZE, 64);
  for (let tick = 1; tick <= 65; tick++) ring.apply(encode([2, tick, T0 + tick, [], [[], []]]));
  assert.equal(ring.held, 64);
  assert.equal(ring.has(1), false);
  assert.equal(ring.has(2), true);
  assert.throws(() => ring.apply(encode([3, 66, 65, 0, [[]], [[[]], [[]]]])),
    /delta for tick 66 against tick 1, which this client does not hold \(it holds 64 state\(s\), ticks 2 to 65\)/);
  assert.equal(ring.apply(encode([3, 66, 64, 0, [[]], [[[]], [[]]]])).frame.serverTime, T0 + 2);
  // Tick 3 again: now the newest, so the next one to go is 4.
  ring.apply(encode([2, 3, T0 + 3, [], [[], []]]));
  ring.apply(encode([2, 67, T0 + 67, [], [[], []]]));
  assert.equal(ring.has(3), true);
  assert.equal(ring.has(4), false);
});

test("baseline: 0 until a snapshot is applied and after clear(); keyframes only without precision", () => {
  const ring = new SnapshotRing(ORB_KINDS);
  assert.equal(ring.acceptsDeltas, true);
  assert.equal(ring.baseline, 0);
  ring.apply(encode(KEYFRAME_100));
  assert.equal(ring.baseline, 100);
  ring.clear();
  assert.equal(ring.baseline, 0);
  assert.equal(ring.held, 0);
  assert.throws(() => ring.apply(encode(EXAMPLE_103)), /against tick 100, which this client does not hold \(it holds none\)/);

  // A server from before deltas: no precision lists. Keyframes work; the client asks for nothing.
  const old = new SnapshotRing(ORB_KINDS.map(({ name, fields }) => ({ name, fields })));
  assert.equal(old.acceptsDeltas, false);
  assert.equal(old.apply(encode(KEYFRAME_100)).delta, false);
  assert.equal(old.baseline, 0);
  assert.throws(() => old.apply(encode(EXAMPLE_103)), /gave no precision, so this client never asked for one/);
});

// Each case: a delta against KEYFRAME_100 (or a keyframe) and what its error must say.
const REFUSED = [
  ["an unknown base tick", [3, 103, 2, 67, [[]], [[[]], [[]]]], /against tick 101, which this client does not hold \(it holds 1 state\(s\), ticks 100 to 100\)/],
  ["a change row (not every field) for a key the base does not hold", [3, 103, 3, 100, [[]], [[[], 34, 0b1, 8], [[]]]],
    /kinds\[0\] \(avatar\): row 34: the baseline does not hold 34, so the row must carry all 5 field\(s\), got mask 0b1/],
  ["an envelope row for a new player without every field", [3, 103, 3, 100, [[], 9, 0b10, 1], [[[]], [[]]]],
    /envelope: row 9: the baseline does not hold 9, so the row must carry all 2 field\(s\)/],
  ["row keys going down (a negative step)", [3, 103, 3, 100, [[]], [[[]], [[], 6, 0b1, 1, -1, 0b1, 1]]],
    /kinds\[1\] \(orb\): row 1: a key step must be a non-negative integer, got number -1/],
  ["a key in two rows (a step of 0)", [3, 103, 3, 100, [[]], [[[]], [[], 5, 0b1, 1, 0, 0b10, 1]]],
    /kinds\[1\] \(orb\): row 1: a key step of 0 after key 5 \(keys must be ascending\)/],
  ["a removed key twice (a step of 0)", [3, 103, 3, 100, [[]], [[[]], [[5, 0]]]], /kinds\[1\] \(orb\): removed\[1\]: a key step of 0 after key 5/],
  ["a step to a key the base does not hold", [3, 103, 3, 100, [[]], [[[]], [[5, 5]]]], /kinds\[1\] \(orb\): removes 10, which the baseline does not hold/],
  ["removing a key the base does not hold", [3, 103, 3, 100, [[8]], [[[]], [[]]]], /envelope: removes 8, which the baseline does not hold/],
  ["a row for a removed key", [3, 103, 3, 100, [[]], [[[]], [[5], 5, 0b1, 1]]], /row 5 is also in the removed keys/],
  ["a mask with bits beyond the field count", [3, 103, 3, 100, [[]], [[[]], [[], 5, 0b101, 1, 1]]], /kinds\[1\] \(orb\): row 5: mask 0b101 has bits beyond its 2 field\(s\)/],
  ["an envelope mask beyond its two fields", [3, 103, 3, 100, [[], 7, 0b100, 1], [[[]], [[]]]], /envelope: row 7: mask 0b100 has bits beyond its 2 field\(s\)/],
  ["a change row with mask 0", [3, 103, 3, 100, [[]], [[[]], [[], 5, 0]]], /row 5: mask 0 changes nothing/],
  ["a negative mask", [3, 103, 3, 100, [[]], [[[]], [[], 5, -1, 1]]], /row 5: mask must be a non-negative integer, got number -1/],
  ["fewer values than the mask names", [3, 103, 3, 100, [[]], [[[]], [[], 5, 0b11, 1]]], /row 5: mask 0b11 names 2 field\(s\), the section has 1 value\(s\) left/],
  ["more values than the mask names (the extra one reads as a row cut short)", [3, 103, 3, 100, [[]], [[[]], [[], 5, 0b1, 1, 2]]], /kinds\[1\] \(orb\): row 1 is cut short: a key step without its mask/],
  ["a quantized value that is not an integer", [3, 103, 3, 100, [[]], [[[], 33, 0b1, 1.5], [[]]]], /row 33 field 0 is quantized: it must be an integer, got number 1.5/],
  ["a quantized value that is not a number", [3, 103, 3, 100, [[]], [[[]], [[], 5, 0b1, true]]], /row 5 field 0 is quantized: it must be an integer, got boolean true/],
  ["an envelope value going negative", [3, 103, 3, 100, [[], 7, 0b10, -13], [[[]], [[]]]], /envelope: row 7: last_input_seq would be number -1, not a u32/],
  ["a negative first key", [3, 103, 3, 100, [[]], [[[]], [[], -5, 0b11, 1, 1]]], /row 0: a key step must be a non-negative integer, got number -5/],
  ["a key step that is not an integer", [3, 103, 3, 100, [[]], [[[]], [[1.5]]]], /removed\[0\]: a key step must be a non-negative integer, got number 1.5/],
  ["a delta of 5 elements", [3, 103, 3, 100, [[]]], /a delta must be an array of 6 elements, got an array of 5/],
  ["a missing kind section", [3, 103, 3, 100, [[]], [[[]]]], /must have 2 kind section\(s\), one per kind of the join ack, got an array of 1/],
  ["a section that is not an array", [3, 103, 3, 100, 7, [[[]], [[]]]], /envelope: a section must be \[\[removed step, \.\.\.\], key step, mask, value, \.\.\.\], got number 7/],
  ["a section without its removed list", [3, 103, 3, 100, [[]], [[], [[]]]], /kinds\[0\] \(avatar\): a section must be/],
  ["a row cut short after its key step", [3, 103, 3, 100, [[], 7], [[[]], [[]]]], /envelope: row 0 is cut short: a key step without its mask/],
  ["base_age 0", [3, 103, 0, 0, [[]], [[[]], [[]]]], /base_age must be an integer from 1 to the tick \(103\), got number 0/],
  ["base_age beyond the tick", [3, 103, 104, 0, [[]], [[[]], [[]]]], /base_age must be an integer from 1 to the tick/],
  ["a fractional time_diff_ms", [3, 103, 3, 1.5, [[]], [[[]], [[]]]], /time_diff_ms must be an integer, got number 1.5/],
  ["format version 4", [4, 103, 3, 100, [[]], [[[]], [[]]]], /unsupported format version number 4 \(expected 2, a keyframe, or 3, a delta\)/],
  ["a keyframe row of the wrong width", [2, 104, T0, [[7, 33, 12]], [[[33, 1, 2, 3]], []]], /kinds\[0\]\[0\] \(net_id 33\) has 3 fields, kind "avatar" has 5/],
  ["a keyframe with another number of tables", [2, 104, T0, [], [[]]], /1 tables, the join ack has 2 kinds/],
  ["a keyframe listing a net id twice", [2, 104, T0, [], [[], [[5, 1, 1], [5, 2, 2]]]], /kinds\[1\] \(orb\) lists net_id 5 twice/],
  ["a keyframe listing a player twice", [2, 104, T0, [[7, 33, 1], [7, 34, 1]], [[], []]], /players lists player id 7 twice/],
];

for (const [what, payload, message] of REFUSED) {
  test(`refused, changing nothing: ${what}`, () => {
    const ring = orbRing();
    assert.throws(() => ring.apply(encode(payload)), message);
    assert.equal(ring.held, 1);
    assert.equal(ring.baseline, 100);
    // The base is untouched: the worked example still gives its result.
    assert.deepEqual(plain(ring.apply(encode(EXAMPLE_103)).frame.kinds[1][0]), { netId: 5, fields: [64, 936.5] });
  });
}

test("a quantized change on a base value that is not a number is refused", () => {
  const ring = new SnapshotRing([{ name: "thing", fields: ["v"], precision: [1] }]);
  ring.apply(encode([2, 1, T0, [], [[[1, null]]]]));
  assert.throws(() => ring.apply(encode([3, 2, 1, 33, [[]], [[[], 1, 0b1, 1]]])),
    /row 1 field 0 is quantized but the baseline holds null, not a number/);
});

test("an exact field must be a number, a boolean or nil", () => {
  const ring = new SnapshotRing([{ name: "thing", fields: ["v"], precision: [0] }]);
  ring.apply(encode([2, 1, T0, [], [[[1, 5]]]]));
  assert.throws(() => ring.apply(encode([3, 2, 1, 33, [[]], [[[], 1, 0b1, "five"]]])), /row 1 field 0 must be a finite number, a boolean or nil, got string five/);
});

test("decodeFrame alone refuses a delta and says what reads it", () => {
  assert.throws(() => decodeFrame(encode(EXAMPLE_103)), /format version 3 is a delta, which only a SnapshotRing \(js\/delta\.js\) can apply/);
});

test("the join ack's precision lists: one per field, 0 or a power of two, on every kind or none", () => {
  assert.deepEqual(deltaCoding(ORB_KINDS).map((k) => [k.name, k.width, [...k.precision]]),
    [["avatar", 5, [0.125, 0.125, 1, 1, 1]], ["orb", 2, [0.125, 0.125]]]);
  assert.equal(deltaCoding([{ name: "a", fields: ["x"] }]), null);
  assert.deepEqual(deltaCoding([]), []);
  const bad = (kinds, message) => assert.throws(() => new SnapshotRing(kinds), message);
  bad([{ name: "a", fields: ["x", "y"], precision: [0.125] }], /kinds\[0\] \(a\) must have one precision per field \(2\), got an array of 1/);
  bad([{ name: "a", fields: ["x"], precision: [0.3] }], /precision of "x" must be 0 or a power of two, got number 0.3/);
  bad([{ name: "a", fields: ["x"], precision: [-0.5] }], /must be 0 or a power of two/);
  bad([{ name: "a", fields: ["x"], precision: ["1"] }], /must be 0 or a power of two, got string 1/);
  bad([{ name: "a", fields: ["x"], precision: [1] }, { name: "b", fields: [] }], /some kinds have a precision list and some do not/);
  bad([{ name: "a" }], /kinds\[0\] has no fields list/);
  bad(null, /kinds must be an array/);
  bad([{ name: "wide", fields: Array.from({ length: 54 }, (_, i) => `f${i}`), precision: Array(54).fill(0) }], /has 54 fields; this client reads delta masks of at most 53/);
});

test("acks: none while inputs flow, then at most one per interval", () => {
  const acks = new AckSchedule({ idleMs: 200, intervalMs: 200 });
  assert.equal(acks.due(0), true, "no input ever sent: ack");
  assert.equal(acks.due(100), false, "within the interval");
  acks.inputSent(150);
  assert.equal(acks.due(300), false, "an input 150 ms ago carried the baseline");
  assert.equal(acks.due(349), false);
  assert.equal(acks.due(350), true, "200 ms without inputs");
  assert.equal(acks.due(500), false, "only 150 ms after the last ack");
  assert.equal(acks.due(550), true);
  acks.reset();
  assert.equal(acks.due(551), true, "a new seat starts afresh");
});

test("acks: a refused snapshot is acked at once, at most once per interval", () => {
  const acks = new AckSchedule({ idleMs: 200, intervalMs: 200 });
  assert.equal(acks.due(0), true);
  acks.inputSent(10);
  assert.equal(acks.due(20, { failed: true }), true, "right after an ack, with inputs flowing");
  assert.equal(acks.due(100, { failed: true }), false, "the next failure within the interval waits");
  assert.equal(acks.due(220, { failed: true }), true);
  assert.equal(acks.due(300), false, "a failure's ack counts for the idle acks' interval too");
  assert.equal(acks.due(420), true);
});
