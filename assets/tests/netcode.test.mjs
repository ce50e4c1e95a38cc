// Netcode helpers: the mirrored movement rules (the orb arena's, js/games/orbs.js), prediction
// and reconciliation, interpolation and clock sync.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { sanitizeMove, tickSeconds, Predictor as BasePredictor, Interpolator, ClockSync, interpolationDelayMs } from "../js/netcode.js";
import { ARENA_SIZE, PLAYER_SPEED, PLAYER_RADIUS, ORB_RADIUS, rules } from "../js/games/orbs.js";

const { velocityFor, stepPosition } = rules;
// The orb arena's predictor, as the page builds it from the game module.
class Predictor extends BasePredictor {
  constructor(options = {}) {
    super({ ...options, rules });
  }
}

const f = Math.fround;

// The server's rules are the single source: the constants are read from the Rust file itself,
// so changing one there fails this test until netcode.js follows.
const RULES_RS = new URL("../../games/orbs/src/rules.rs", import.meta.url);

// The value of `pub const NAME: f32 = <literal>;` in rules.rs, as the f32 the server uses.
function rustF32(source, name) {
  const m = new RegExp(`^pub const ${name}: f32 = ([0-9_.eE+-]+)(?:_?f32)?;`, "m").exec(source);
  assert.ok(m, `"pub const ${name}: f32 = <number>;" not found in ${RULES_RS.pathname}`);
  const value = Number(m[1].replaceAll("_", ""));
  assert.ok(Number.isFinite(value), `${name} = ${m[1]} in rules.rs is not a plain number literal`);
  return Math.fround(value);
}

test("the orb arena's constants match games/orbs/src/rules.rs", () => {
  const source = readFileSync(RULES_RS, "utf8");
  const js = { ARENA_SIZE, PLAYER_SPEED, PLAYER_RADIUS, ORB_RADIUS };
  // The same numbers the predictor steps with.
  assert.deepEqual([rules.arenaSize, rules.speed, rules.radius], [ARENA_SIZE, PLAYER_SPEED, PLAYER_RADIUS]);
  for (const [name, value] of Object.entries(js)) {
    assert.equal(value, rustF32(source, name), `${name} in netcode.js vs rules.rs`);
  }
});

test("sanitizeMove clamps each component then caps the length (rules.rs cases)", () => {
  assert.deepEqual(sanitizeMove([5, 0]), [1, 0]);
  assert.deepEqual(sanitizeMove([0.25, -0.5]), [0.25, -0.5]);
  const [x, y] = sanitizeMove([1, 1]);
  assert.equal(x, f(1 / f(Math.SQRT2)));
  assert.equal(y, x);
  assert.ok(Math.abs(Math.hypot(x, y) - 1) < 1e-6);
  const [cx, cy] = sanitizeMove([-3, 0.5]); // clamped to (-1, 0.5) first, then scaled
  assert.ok(Math.abs(cx / cy + 2) < 1e-6);
  assert.throws(() => sanitizeMove([NaN, 0]), RangeError);
  assert.throws(() => sanitizeMove([0, Infinity]), RangeError);
  assert.throws(() => sanitizeMove([1e300, 0]), RangeError, "infinite once read as f32, as on the server");
});

test("stepPosition moves by velocity * dt and keeps the body inside the arena (rules.rs cases)", () => {
  assert.deepEqual(stepPosition([990, 5], [200, -200], 1), [ARENA_SIZE - PLAYER_RADIUS, PLAYER_RADIUS]);
  assert.deepEqual(stepPosition([500, 500], [200, 0], 0.5), [600, 500]);
  assert.deepEqual(velocityFor([1, -0.5]), [200, -100]);
  assert.equal(tickSeconds(30), f(1 / 30));
});

// A reference written out the long way, f32 per operation as the server computes it: read the
// move as f32, clamp, cap the length, then position += dir * 200 * dt inside [16, 984].
function reference(start, moves, tickRate) {
  const dt = f(1 / tickRate);
  let [x, y] = start.map(f);
  for (const move of moves) {
    let [dx, dy] = move.map((v) => Math.min(Math.max(f(v), -1), 1));
    const lenSq = f(f(dx * dx) + f(dy * dy));
    if (lenSq > 1) [dx, dy] = [f(dx / f(Math.sqrt(lenSq))), f(dy / f(Math.sqrt(lenSq)))];
    x = Math.min(Math.max(f(x + f(f(dx * 200) * dt)), 16), 984);
    y = Math.min(Math.max(f(y + f(f(dy * 200) * dt)), 16), 984);
  }
  return { x, y };
}

test("prediction matches a step-by-step reference exactly", () => {
  const p = new Predictor({ tickRate: 30 });
  p.reset(500.5, 20);
  const dirs = [[1, 0], [1, 0], [0.6, -0.8], [0, -1], [0, -1], [-1, 0], [0, 0], [0.3, 0.3], [2, 2]];
  const seen = [];
  dirs.forEach((d, i) => {
    p.predict(i + 1, d);
    seen.push(p.position);
  });
  dirs.forEach((_, i) => assert.deepEqual(seen[i], reference([500.5, 20], dirs.slice(0, i + 1), 30), `tick ${i + 1}, bit-exact f32`));
  assert.equal(seen[4].y, 16, "the wall stopped it");
  assert.equal(p.pendingCount, dirs.length);
});

test("reconcile drops acknowledged inputs and replays only the pending ones", () => {
  const p = new Predictor({ tickRate: 20 });
  p.reset(100, 100);
  for (let seq = 1; seq <= 5; seq++) p.predict(seq, [1, 0]);
  assert.deepEqual(p.position, reference([100, 100], Array(5).fill([1, 0]), 20));
  // The server applied inputs 1..3, but was blocked a little: it reports x = 125.
  p.reconcile(125, 100, 3);
  assert.equal(p.pendingCount, 2);
  assert.deepEqual(p.position, reference([125, 100], [[1, 0], [1, 0]], 20)); // 145
  // Older acks change nothing more; a full ack empties the queue.
  p.reconcile(145, 100, 5);
  assert.equal(p.pendingCount, 0);
  assert.deepEqual(p.position, { x: 145, y: 100 });
});

test("a correction is smoothed: the drawn position starts where it was and decays", () => {
  const p = new Predictor({ tickRate: 10, smoothingMs: 100 });
  p.reset(500, 500);
  p.predict(1, [1, 0]); // 520
  p.predict(2, [1, 0]); // 540
  p.reconcile(510, 500, 1); // server: 510 after input 1, replay input 2 -> 530
  assert.deepEqual(p.position, { x: 530, y: 500 });
  assert.deepEqual(p.renderPosition(0), { x: 540, y: 500 }, "no snap");
  const after100 = p.renderPosition(100).x;
  assert.ok(Math.abs(after100 - (530 + 10 * Math.exp(-1))) < 1e-9);
  const later = p.renderPosition(2000);
  assert.deepEqual(later, { x: 530, y: 500 }, "settles exactly on the prediction");
  assert.deepEqual(p.error, { x: 0, y: 0 });
  p.reset(1, 2);
  assert.deepEqual(p.position, { x: 1, y: 2 });
  assert.throws(() => p.predict(3, [NaN, 0]), RangeError);
  assert.equal(p.pendingCount, 0, "a refused input is not recorded");
});

const snap = (serverTime, entities) => ({
  serverTime,
  entities: entities.map(([id, x, y, vx = 0, vy = 0, score = 0]) => ({ id, x, y, vx, vy, score })),
});
// What the tests look at: position and the (non-interpolated) score.
const pos = (e) => e && { x: e.x, y: e.y, score: e.score };

test("interpolation lerps between the snapshots around the render time", () => {
  const it = new Interpolator({ delayMs: 100 });
  it.push(snap(1000, [[1, 100, 100, 0, 0, 4], [2, 500, 500]]));
  it.push(snap(1050, [[1, 200, 300, 0, 0, 5], [3, 10, 20]]));
  it.push(snap(1100, [[1, 300, 300], [3, 20, 20]]));
  const mid = it.sample(1025);
  assert.deepEqual(pos(mid.get(1)), { x: 150, y: 200, score: 4 });
  assert.equal(mid.has(2), false, "left in the newer snapshot (despawned)");
  assert.deepEqual(pos(mid.get(3)), { x: 10, y: 20, score: 0 }, "joined (spawned): shown where it appeared");
  assert.deepEqual(pos(it.sample(1075).get(1)), { x: 250, y: 300, score: 5 }, "score of the older snapshot");
  assert.deepEqual(pos(it.sample(1050).get(1)), { x: 200, y: 300, score: 5 }, "exactly on a snapshot");
  assert.deepEqual(pos(it.sample(500).get(1)), { x: 100, y: 100, score: 4 }, "clamped before the oldest");
  assert.equal(it.renderTimeFor(1200), 1100);
});

test("past the newest snapshot it extrapolates at most one tick, inside the arena", () => {
  const it = new Interpolator({ maxSnapshots: 2, bounds: rules.bounds });
  it.push(snap(1000, [[1, 100, 100]]));
  it.push(snap(1050, [[1, 100, 100, 200, 0], [2, 980, 500, 200, 0]]));
  assert.deepEqual(pos(it.sample(1075).get(1)), { x: 105, y: 100, score: 0 });
  assert.deepEqual(pos(it.sample(5000).get(1)), { x: 110, y: 100, score: 0 }, "capped at one tick (50 ms)");
  assert.equal(it.sample(5000).get(2).x, 984, "clamped to the arena");
  it.push(snap(1050, [[1, 0, 0]])); // not newer: dropped
  it.push(snap(1100, [[1, 120, 100]]));
  assert.deepEqual(pos(it.sample(0).get(1)), { x: 100, y: 100, score: 0 }, "the oldest was evicted (maxSnapshots 2)");
  assert.equal(new Interpolator().sample(0).size, 0);
});

test("angles interpolate the short way round; a jump (respawn) is not slid", () => {
  const it = new Interpolator({ angles: ["aim"], snapDistance: 100 });
  it.push({ serverTime: 1000, entities: [{ id: 7, x: 100, y: 100, aim: 3.0 }, { id: 8, x: 10, y: 10, aim: 0 }] });
  it.push({ serverTime: 1100, entities: [{ id: 7, x: 110, y: 100, aim: -3.0 }, { id: 8, x: 700, y: 700, aim: 1 }] });
  const mid = it.sample(1050);
  assert.ok(Math.abs(Math.abs(mid.get(7).aim) - Math.PI) < 1e-9 || Math.abs(mid.get(7).aim - (3.0 + (2 * Math.PI - 6) / 2)) < 1e-9,
    `through PI, not through 0: ${mid.get(7).aim}`);
  assert.equal(mid.get(7).x, 105);
  assert.deepEqual(pos(mid.get(8)), { x: 700, y: 700, score: undefined }, "respawned far away: shown there at once");
});

test("a predictor without a game's rules is refused; snapDistance shows a respawn as a jump", () => {
  assert.throws(() => new BasePredictor({ tickRate: 30 }), TypeError);
  const p = new Predictor({ tickRate: 10, snapDistance: 100 });
  p.reset(500, 500);
  p.predict(1, [1, 0]); // 520
  p.reconcile(100, 100, 1); // respawned elsewhere
  assert.deepEqual(p.renderPosition(0), { x: 100, y: 100 }, "no slide across the arena");
  p.predict(2, [1, 0]); // 120
  p.reconcile(110, 100, 1); // a small correction is still smoothed
  assert.deepEqual(p.renderPosition(0), { x: 120, y: 100 });
});

test("clock sync uses the lowest-RTT sample of the last 8", () => {
  const c = new ClockSync();
  assert.equal(c.offsetMs, 0);
  assert.ok(Number.isNaN(c.rttMs));
  c.addSample(1000, 5050, 1100); // rtt 100, offset 4000
  c.addSample(2000, 6010, 2020); // rtt 20, offset 4000 (+0)
  c.addSample(3000, 7100, 3060); // rtt 60, offset 4070
  assert.equal(c.offsetMs, 4000);
  assert.equal(c.rttMs, 60);
  assert.equal(c.medianRttMs, 60);
  assert.equal(c.serverNow(10_000), 14_000);
  for (let i = 0; i < 8; i++) c.addSample(10_000 + i * 100, 14_500 + i * 100 + 25, 10_000 + i * 100 + 50); // rtt 50, offset 4500
  assert.equal(c.sampleCount, 8);
  assert.equal(c.offsetMs, 4500, "the rtt-20 sample aged out");
  assert.equal(c.medianRttMs, 50);
  assert.throws(() => c.addSample(10, 0, 5), RangeError);
});

test("the interpolation delay is two send intervals, at least 100 ms", () => {
  assert.equal(interpolationDelayMs(30), 100);
  assert.equal(interpolationDelayMs(60), 100);
  assert.equal(interpolationDelayMs(15), 2000 / 15);
  assert.equal(interpolationDelayMs(10), 200);
  assert.equal(interpolationDelayMs(1), 2000);
  // A room from a server without send_rate: the 30 Hz default.
  assert.equal(interpolationDelayMs(undefined), 100);
  assert.equal(interpolationDelayMs(0), 100);
});
