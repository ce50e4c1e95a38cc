// MessagePack decoder/encoder: every format family of the spec, the error cases, and a buffer
// shaped like a server snapshot (decoded by snapshot.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode } from "../js/msgpack.js";
import { decodeFrame, kindLayout, readKind } from "../js/snapshot.js";
import { decodeSnapshot } from "../js/games/orbs.js";

const hex = (s) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (bytes) => Buffer.from(bytes).toString("hex");
const cat = (...parts) => Uint8Array.from(parts.flatMap((p) => [...p]));
const f32 = (v) => { const b = new Uint8Array(5); b[0] = 0xca; new DataView(b.buffer).setFloat32(1, v); return b; };

test("nil, bool and fixints", () => {
  assert.equal(decode(hex("c0")), null);
  assert.equal(decode(hex("c2")), false);
  assert.equal(decode(hex("c3")), true);
  assert.equal(decode(hex("00")), 0);
  assert.equal(decode(hex("7f")), 127);
  assert.equal(decode(hex("e0")), -32);
  assert.equal(decode(hex("ff")), -1);
});

test("unsigned and signed ints of every width", () => {
  assert.equal(decode(hex("cc ff")), 255);
  assert.equal(decode(hex("cd ff ff")), 65535);
  assert.equal(decode(hex("ce ff ff ff ff")), 4294967295);
  assert.equal(decode(hex("cf 00 1f ff ff ff ff ff ff")), Number.MAX_SAFE_INTEGER);
  // Beyond 2^53 a Number rounds: documented precision loss, not an error.
  assert.equal(decode(hex("cf ff ff ff ff ff ff ff ff")), 2 ** 64);
  assert.equal(decode(hex("d0 80")), -128);
  assert.equal(decode(hex("d1 80 00")), -32768);
  assert.equal(decode(hex("d2 80 00 00 00")), -2147483648);
  assert.equal(decode(hex("d3 ff e0 00 00 00 00 00 01")), -Number.MAX_SAFE_INTEGER);
  assert.equal(decode(hex("d3 80 00 00 00 00 00 00 00")), -(2 ** 63));
});

test("float32 and float64", () => {
  assert.equal(decode(hex("ca 3f c0 00 00")), 1.5);
  assert.equal(decode(f32(0.1)), Math.fround(0.1));
  assert.equal(decode(hex("cb 3f b9 99 99 99 99 99 9a")), 0.1);
  assert.ok(Number.isNaN(decode(hex("cb 7f f8 00 00 00 00 00 00"))));
});

test("strings: fixstr, str8/16/32 and UTF-8", () => {
  assert.equal(decode(hex("a0")), "");
  assert.equal(decode(hex("a3 61 6e 61")), "ana");
  assert.equal(decode(hex("d9 02 c3 a9")), "é");
  assert.equal(decode(hex("da 00 01 41")), "A");
  assert.equal(decode(hex("db 00 00 00 04 f0 9f 8e ae")), "🎮");
  assert.throws(() => decode(hex("a1 ff")), /invalid UTF-8/);
});

test("bin8/16/32 decode to an independent Uint8Array", () => {
  const input = hex("c4 03 01 02 03");
  const out = decode(input);
  assert.ok(out instanceof Uint8Array);
  assert.deepEqual([...out], [1, 2, 3]);
  input[2] = 99; // the result is a copy
  assert.equal(out[0], 1);
  assert.deepEqual([...decode(hex("c5 00 02 aa bb"))], [0xaa, 0xbb]);
  assert.deepEqual([...decode(hex("c6 00 00 00 01 cc"))], [0xcc]);
});

test("arrays and maps of every width", () => {
  assert.deepEqual(decode(hex("93 01 a1 78 c0")), [1, "x", null]);
  assert.deepEqual(decode(hex("dc 00 02 c3 c2")), [true, false]);
  assert.deepEqual(decode(hex("dd 00 00 00 01 05")), [5]);
  assert.deepEqual(decode(hex("82 a1 61 01 a1 62 92 02 03")), { a: 1, b: [2, 3] });
  assert.deepEqual(decode(hex("de 00 01 a1 6b c0")), { k: null });
  assert.deepEqual(decode(hex("df 00 00 00 01 a1 6b 07")), { k: 7 });
  // Non-string keys are stringified.
  assert.deepEqual(decode(hex("82 01 a1 61 c3 02")), { 1: "a", true: 2 });
  // A "__proto__" key is data, not a prototype change.
  const tricky = decode(cat(hex("81"), encode("__proto__"), hex("81 a1 78 01")));
  assert.equal(Object.getPrototypeOf(tricky), Object.prototype);
  assert.deepEqual(Object.keys(tricky), ["__proto__"]);
});

test("ext types come back as {type, data}", () => {
  assert.deepEqual(decode(hex("d4 05 aa")), { type: 5, data: hex("aa") });
  assert.deepEqual(decode(hex("d5 ff 01 02")), { type: -1, data: hex("01 02") });
  assert.equal(decode(hex("d6 01 00 00 00 00")).data.length, 4);
  assert.equal(decode(hex("d7 01" + "00".repeat(8))).data.length, 8);
  assert.equal(decode(hex("d8 01" + "00".repeat(16))).data.length, 16);
  assert.deepEqual(decode(hex("c7 02 07 01 02")), { type: 7, data: hex("01 02") });
  assert.deepEqual(decode(hex("c8 00 01 07 09")), { type: 7, data: hex("09") });
  assert.deepEqual(decode(hex("c9 00 00 00 00 07")), { type: 7, data: hex("") });
});

test("accepts ArrayBuffer, Node Buffer and views at an offset", () => {
  assert.deepEqual(decode(hex("92 01 02").buffer), [1, 2]);
  assert.deepEqual(decode(Buffer.from([0x92, 0x01, 0x02])), [1, 2]);
  const padded = hex("ff ff 92 01 cd 01 00 ff");
  assert.deepEqual(decode(new DataView(padded.buffer, 2, 5)), [1, 256]);
  assert.throws(() => decode("92"), TypeError);
});

test("truncated input, 0xc1 and trailing bytes throw clear errors", () => {
  for (const bad of ["", "cd 01", "a3 61 62", "92 01", "c4 05 01", "cb 00 00", "d4 01", "dd ff ff ff ff 01", "81 a1 61"]) {
    assert.throws(() => decode(hex(bad)), /msgpack: truncated input/, bad);
  }
  assert.throws(() => decode(hex("c1")), /0xc1 .*never used/);
  assert.throws(() => decode(hex("91 c1")), /0xc1 at offset 1/);
  assert.throws(() => decode(hex("01 02")), /1 trailing byte/);
});

test("encode picks the most compact format and round-trips", () => {
  const cases = [
    [null, "c0"], [true, "c3"], [false, "c2"], [0, "00"], [127, "7f"], [128, "cc80"], [256, "cd0100"],
    [65536, "ce00010000"], [2 ** 32, "cf0000000100000000"], [-1, "ff"], [-32, "e0"], [-33, "d0df"],
    [-129, "d1ff7f"], [-32769, "d2ffff7fff"], [-(2 ** 31) - 1, "d3ffffffff7fffffff"], [1.5, "cb3ff8000000000000"],
    ["", "a0"], ["x".repeat(32), "d920" + "78".repeat(32)], [new Uint8Array([1, 2]), "c4020102"],
    [[1, 2], "920102"], [{ a: 1 }, "81a16101"],
  ];
  for (const [value, expected] of cases) {
    assert.equal(toHex(encode(value)), expected, String(value));
    assert.deepEqual(decode(encode(value)), value);
  }
  assert.equal(toHex(encode(undefined)), "c0");
  assert.ok(Object.is(decode(encode(-0)), -0));
  assert.throws(() => encode(() => 1), TypeError);
});

test("encode uses 16- and 32-bit lengths for big strings, bins, arrays and maps", () => {
  const cases = [
    ["x".repeat(300), "da"], ["x".repeat(70000), "db"], [new Uint8Array(300), "c5"], [new Uint8Array(70000), "c6"],
    [new Array(16).fill(0), "dc"], [new Array(70000).fill(1), "dd"],
    [Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])), "de"],
    [Object.fromEntries(Array.from({ length: 70000 }, (_, i) => [`k${i}`, i])), "df"],
  ];
  for (const [value, tag] of cases) {
    const bytes = encode(value);
    assert.equal(toHex(bytes.subarray(0, 1)), tag);
    assert.deepEqual(decode(bytes), value);
  }
  const nested = { players: [[1, 2.5, "ä"], { deep: [null, true, -70000] }], bin: new Uint8Array([9]) };
  assert.deepEqual(decode(encode(nested)), nested);
});

// The server's layout (version 2): ints compact, positions and velocities float32.
function snapshotBytes({ version = 2, tick = 912, time = 1_700_000_000_123 } = {}) {
  return cat(
    hex("95"), encode(version), encode(tick), encode(time),
    // envelope: [player_id, net_id, last_input_seq]
    hex("92"), cat(hex("93"), encode(1), encode(33), encode(17)), cat(hex("93"), encode(2), encode(34), encode(0)),
    // two kinds: avatars [net_id, x, y, vx, vy, score], orbs [net_id, x, y]
    hex("92"),
    hex("92"),
    cat(hex("96"), encode(33), f32(100.5), f32(200.25), f32(200), f32(0), encode(3)),
    cat(hex("96"), encode(34), f32(16), f32(984), f32(0), f32(-200), encode(0)),
    hex("93"), cat(hex("93 01"), f32(10), f32(20)), cat(hex("93 02"), f32(30.5), f32(40)), cat(hex("93 20"), f32(988), f32(12)),
  );
}

test("a snapshot-shaped buffer decodes to named fields", () => {
  const bytes = snapshotBytes();
  assert.equal(bytes[5], 0xcf, "a unix-ms time needs uint64");
  assert.deepEqual(decodeSnapshot(bytes), {
    tick: 912,
    serverTime: 1_700_000_000_123,
    players: [
      { id: 1, netId: 33, x: 100.5, y: 200.25, vx: 200, vy: 0, lastInputSeq: 17, score: 3 },
      { id: 2, netId: 34, x: 16, y: 984, vx: 0, vy: -200, lastInputSeq: 0, score: 0 },
    ],
    orbs: [{ id: 1, x: 10, y: 20 }, { id: 2, x: 30.5, y: 40 }, { id: 32, x: 988, y: 12 }],
  });
  assert.equal(decodeSnapshot(bytes.buffer).tick, 912);
  const frame = decodeFrame(bytes);
  assert.deepEqual(frame.players[0], { id: 1, netId: 33, lastInputSeq: 17 });
  assert.deepEqual(frame.kinds[1][2], { netId: 32, fields: [988, 12] });
});

test("decodeSnapshot rejects other versions and shapes", () => {
  assert.throws(() => decodeSnapshot(snapshotBytes({ version: 1 })), /unsupported format version 1/);
  assert.throws(() => decodeSnapshot(encode({ tick: 1 })), /expected an array of 5 elements/);
  assert.throws(() => decodeSnapshot(encode([2, 2, 3, [], []].slice(0, 4))), /array of 5/);
  assert.throws(() => decodeSnapshot(encode([2, "x", 3, [], []])), /tick must be a finite number/);
  assert.throws(() => decodeSnapshot(encode([2, 1, 3, {}, []])), /players must be an array/);
  assert.throws(() => decodeSnapshot(encode([2, 1, 3, [[1, 2]], []])), /players\[0\] must be an array of 3/);
  assert.throws(() => decodeSnapshot(encode([2, 1, 3, [], [[], [[1, 1, "x"]]]])), /kinds\[1\]\[0\]\[2\] must be a finite number/);
  assert.throws(() => decodeSnapshot(encode([2, 1, 3, [[1, 9, 0]], [[], []]])), /players\[0\] has no avatar/);
  assert.throws(() => decodeSnapshot(encode([2, 1, 3, [], [[]]])), /the orb arena has 2 kinds/);
  assert.throws(() => decodeSnapshot(snapshotBytes().subarray(0, 20)), /truncated/);
  assert.deepEqual(decodeSnapshot(encode([2, 0, 5, [], [[], []]])), { tick: 0, serverTime: 5, players: [], orbs: [] });
  assert.deepEqual(decodeFrame(encode([2, 0, 5, [], [[[7, true, null]]]])).kinds, [[{ netId: 7, fields: [true, null] }]]);
});
