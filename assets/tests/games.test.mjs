// The game modules (js/games/): the registry, each game's constants against its Rust rules.rs,
// reading blasters' kinds from a join ack's layout, its input payload, prediction rules and the
// round's words; the orb arena's module is covered by netcode.test.mjs and msgpack.test.mjs, and
// here for rooms with a view radius.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { GAMES, gameFor } from "../js/games/index.js";
import { view as orbsView } from "../js/games/orbs.js";
import blasters, { ARENA_SIZE, FIGHTER_SPEED, FIGHTER_RADIUS, BOLT_RADIUS, MAX_HEALTH, rules, view } from "../js/games/blasters.js";
import { Predictor, tickSeconds } from "../js/netcode.js";

const f = Math.fround;

// `pub const NAME: f32|u32 = <literal>;` in a rules.rs, as the number the server uses.
function rustConst(source, file, name) {
  const m = new RegExp(`^pub const ${name}: (f32|u32) = ([0-9_.eE+-]+)(?:_?(?:f32|u32))?;`, "m").exec(source);
  assert.ok(m, `"pub const ${name}: f32|u32 = <number>;" not found in ${file}`);
  const value = Number(m[2].replaceAll("_", ""));
  assert.ok(Number.isFinite(value), `${name} = ${m[2]} in ${file} is not a plain number literal`);
  return m[1] === "f32" ? Math.fround(value) : value;
}

test("blasters' constants match games/blasters/src/rules.rs", () => {
  const url = new URL("../../games/blasters/src/rules.rs", import.meta.url);
  const source = readFileSync(url, "utf8");
  const js = { ARENA_SIZE, FIGHTER_SPEED, FIGHTER_RADIUS, BOLT_RADIUS, MAX_HEALTH };
  for (const [name, value] of Object.entries(js)) {
    assert.equal(value, rustConst(source, url.pathname, name), `${name} in js/games/blasters.js vs rules.rs`);
  }
  assert.deepEqual([rules.arenaSize, rules.speed, rules.radius], [ARENA_SIZE, FIGHTER_SPEED, FIGHTER_RADIUS]);
  assert.equal(blasters.arenaSize, ARENA_SIZE);
});

test("the registry maps the server's game names to their modules", () => {
  assert.deepEqual([...GAMES.keys()], ["orbs", "blasters"]);
  assert.equal(gameFor("blasters"), blasters);
  assert.equal(gameFor("tag"), undefined);
  for (const game of GAMES.values()) {
    for (const key of ["title", "help", "layout", "view", "moving", "canMove", "input", "draw", "hud", "lobbyStatus", "debug"]) {
      assert.ok(game[key] !== undefined, `${game.name} lacks ${key}`);
    }
  }
});

// The join ack's kinds as the server sends them (docs/protocol.md), in a different order than the
// contract's, to show the module reads names, not positions.
const KINDS = [
  { name: "round", fields: ["phase", "ticks_left", "round", "kills_to_win"] },
  { name: "fighter", fields: ["x", "y", "aim", "health", "score", "respawn"] },
  { name: "bolt", fields: ["x", "y", "vx", "vy", "owner"] },
];

test("blasters reads its kinds by name from the join ack", () => {
  const layout = blasters.layout(KINDS);
  assert.deepEqual([layout.round.index, layout.fighter.index, layout.bolt.index], [0, 1, 2]);
  const frame = {
    tick: 40, serverTime: 5000,
    players: [{ id: 1, netId: 3, lastInputSeq: 9 }, { id: 2, netId: 4, lastInputSeq: 0 }, { id: 5, netId: 99, lastInputSeq: 0 }],
    kinds: [
      [{ netId: 1, fields: [1, 300, 2, 10] }],
      [{ netId: 3, fields: [100, 200, 0.5, 66, 1, 0] }, { netId: 4, fields: [400, 410, -3, 0, 0, 45] }],
      [{ netId: 7, fields: [130, 200, 600, 0, 3] }],
    ],
  };
  const v = view(frame, layout);
  assert.deepEqual(v.players, [
    { id: 1, netId: 3, lastInputSeq: 9, x: 100, y: 200, aim: 0.5, health: 66, score: 1, respawn: 0 },
    { id: 2, netId: 4, lastInputSeq: 0, x: 400, y: 410, aim: -3, health: 0, score: 0, respawn: 45 },
  ], "a seated player without a fighter row is left out");
  assert.deepEqual(v.bolts, [{ id: 7, x: 130, y: 200, vx: 600, vy: 0, owner: 3 }]);
  assert.deepEqual(v.round, { phase: 1, ticksLeft: 300, round: 2, killsToWin: 10 });
  assert.deepEqual(blasters.moving(v).map((e) => e.id), [3, 4, 7], "fighters and bolts interpolate by net id");
  assert.equal(blasters.canMove(v, v.players[0]), true);
  assert.equal(blasters.canMove(v, v.players[1]), false, "dead: no movement to predict");
  assert.equal(blasters.canMove({ ...v, round: { ...v.round, phase: 2 } }, v.players[0]), false, "round over: nothing moves");
  assert.throws(() => blasters.layout(KINDS.slice(1)), /no replicated kind "round"/);
  assert.throws(() => blasters.layout([{ name: "fighter", fields: ["x", "y"] }, ...KINDS]), /kind "fighter" has no field "aim"/);
});

test("blasters' input: move from the controls, aim at the pointer, fire held; prediction at 220 inside [16, 784]", () => {
  const controls = (move, pointer, fire) => ({ direction: () => move, pointer: () => pointer, firing: () => fire });
  const renderer = { toWorld: (x, y) => ({ x, y }) }; // page = world for the test
  const me = { x: 100, y: 100 };
  let out = blasters.input({ controls: controls([0, 0], { x: 100, y: 300 }, false), renderer, me });
  assert.deepEqual(out.payload, { move: [0, 0], aim: 1.57, fire: false });
  assert.equal(out.active, false);
  out = blasters.input({ controls: controls([1, 0], null, true), renderer, me });
  assert.deepEqual(out.payload, { move: [1, 0], aim: 0, fire: true }, "no mouse: aim along the move");
  assert.equal(out.active, true);
  out = blasters.input({ controls: controls([0, 0], { x: 0, y: 100 }, false), renderer, me });
  assert.equal(out.payload.aim, 3.141, "PI cut toward zero: inside the wire's [-PI, PI)");
  const p = new Predictor({ ...blasters.prediction, rules, tickRate: 30 });
  p.reset(780, 20);
  p.predict(1, [1, -1]);
  const dt = tickSeconds(30);
  const d = f(1 / f(Math.SQRT2));
  assert.deepEqual(p.position, { x: Math.min(f(780 + f(f(d * 220) * dt)), 784), y: Math.max(f(20 - f(f(d * 220) * dt)), 16) });
  assert.deepEqual(p.position, { x: 784, y: 16 }, "clamped to the walls");
});

test("blasters' round words: the timer, and a scoreboard when the round is over", () => {
  const names = new Map([[1, "ana"], [2, "bob"]]);
  const room = { tick_rate: 30 };
  const players = [
    { id: 1, netId: 3, score: 1, respawn: 0 },
    { id: 2, netId: 4, score: 2, respawn: 30 },
  ];
  const at = (phase, ticksLeft) => ({ players, bolts: [], round: { phase, ticksLeft, round: 3, killsToWin: 5 } });
  assert.deepEqual(blasters.hud(at(0, 90), { names, meId: 1, room }), { line: "Round 3 · warm-up 0:03", board: null });
  assert.equal(blasters.hud({ ...at(0, 90), players: players.slice(0, 1) }, { names, meId: 1, room }).line,
    "Round 3 · warm-up: waiting for another fighter", "alone, the warm-up clock does not run");
  assert.equal(blasters.hud(at(1, 1830), { names, meId: 2, room }).line, "Round 3 · 1:01 · first to 5 · you are down, back in 1.0 s");
  const over = blasters.hud(at(2, 150), { names, meId: 1, room });
  assert.equal(over.line, "Round 3 over · next in 0:05");
  assert.deepEqual(over.board, {
    title: "Round 3: bob wins",
    rows: [{ id: 2, name: "bob", score: 2, me: false }, { id: 1, name: "ana", score: 1, me: true }],
  });
  assert.equal(blasters.lobbyStatus({ phase: "playing", round: 2, top_score: 4 }), "round 2 · playing · top 4");
  assert.equal(blasters.lobbyStatus(undefined), "");
  assert.equal(gameFor("orbs").lobbyStatus({ top_score: 7 }), "top score 7");
});

test("the orb arena leaves out players whose avatar is out of view, only in a room with a view radius", () => {
  const frame = {
    tick: 3, serverTime: 100,
    players: [{ id: 1, netId: 33, lastInputSeq: 4 }, { id: 2, netId: 34, lastInputSeq: 0 }],
    kinds: [[{ netId: 33, fields: [10, 20, 0, 0, 5] }], [{ netId: 1, fields: [15, 25] }]],
  };
  const seen = orbsView(frame, undefined, { id: "r", view_radius: 200 });
  assert.deepEqual(seen.players, [{ id: 1, netId: 33, x: 10, y: 20, vx: 0, vy: 0, lastInputSeq: 4, score: 5 }]);
  assert.deepEqual(seen.orbs, [{ id: 1, x: 15, y: 25 }]);
  // Without a view radius every seated player has an avatar: one missing is an error.
  assert.throws(() => orbsView(frame, undefined, { id: "r" }), /players\[1\] has no avatar of 5 fields/);
});
