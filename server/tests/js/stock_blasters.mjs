// The official socket.io-client plays one round of blasters, as a stock bot would: it creates a
// short-round room, seats a second client in it, walks into range and fires at it until it sees
// the health drop and the kill in the snapshots, then sees the round go to "over" and come back to
// warm-up with the next round number, scores reset. Bolts are checked to be born and to die.
// Usage: node stock_blasters.mjs <http://127.0.0.1:port>
// Prints one JSON summary line and exits 0 when every check passed, 1 (with the reason) when not.
import { io } from "socket.io-client";
import { decode } from "@msgpack/msgpack";
import { check, deadline, fail, sleep } from "./harness.mjs";

const url = process.argv[2];
if (!url) {
  console.error("usage: node stock_blasters.mjs <url>");
  process.exit(2);
}
deadline(45_000);

const RANGE = 350; // bolts fly 600 units/s for 1 s
const PHASES = ["warmup", "playing", "over"];

/** Waits (bounded) for `cond()`, polling every 10 ms; fails naming `what`. */
async function waitFor(cond, what, ms = 10_000) {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A connected client that keeps its room's latest snapshot, read with the join ack's kinds. */
async function player(name) {
  const socket = io(`${url}/game`, { auth: { name }, reconnection: false, forceNew: true, transports: ["websocket"] });
  const me = { name, socket, ack: null, snapshots: 0, latest: null, history: [] };
  socket.on("snapshot", (payload) => {
    if (!me.ack) return;
    const [version, tick, , envelope, tables] = decode(payload instanceof ArrayBuffer ? new Uint8Array(payload) : payload);
    check(version === 2, `snapshot version ${version}`);
    const named = (kind) => {
      const index = me.ack.kinds.findIndex((k) => k.name === kind);
      const { fields } = me.ack.kinds[index];
      return tables[index].map(([netId, ...values]) => Object.fromEntries([["netId", netId], ...fields.map((f, i) => [f, values[i]])]));
    };
    const fighters = new Map(named("fighter").map((f) => [f.netId, f]));
    const snap = {
      tick: Number(tick),
      players: envelope.map(([id, netId, seq]) => ({ id, netId, seq, ...fighters.get(netId) })),
      bolts: named("bolt"),
      round: named("round")[0],
    };
    me.snapshots++;
    me.latest = snap;
    me.history.push(snap);
  });
  await new Promise((resolve, reject) => {
    socket.on("connect", resolve);
    socket.on("connect_error", (e) => reject(new Error(`${name}: connect_error: ${e.message}`)));
  }).catch((e) => fail(e.message));
  return me;
}

const ask = (p, event, payload) => p.socket.timeout(5000).emitWithAck(event, payload).catch((e) => fail(`${p.name}: ${event}: ${e.message}`));
const find = (p, playerId) => p.latest?.players.find((f) => f.id === playerId);

const shooter = await player("shooter");
const target = await player("target");

// 1. Create: unknown options are refused; a short round (first kill wins) is accepted.
const refused = await ask(shooter, "room:create", { game: "blasters", options: { rounds: 3 } });
check(refused.ok === false && refused.error?.code === "bad_request", `unknown option: ${JSON.stringify(refused)}`);
const created = await ask(shooter, "room:create", {
  game: "blasters", name: "stock round", options: { round_seconds: 30, kills_to_win: 1, warmup_seconds: 1 },
});
check(created.ok === true && created.room?.game === "blasters", `create: ${JSON.stringify(created)}`);
const roomId = created.room.id;

// 2. Both join; the ack says how to read the three kinds.
shooter.ack = await ask(shooter, "room:join", { room_id: roomId });
check(shooter.ack.ok === true, `shooter join: ${JSON.stringify(shooter.ack)}`);
// (`precision` and `position` say how deltas code each kind; a stock client that names no
// baseline gets keyframes and can ignore them.)
check(JSON.stringify(shooter.ack.kinds.map(({ name, fields }) => ({ name, fields }))) === JSON.stringify([
  { name: "fighter", fields: ["x", "y", "aim", "health", "score", "respawn"] },
  { name: "bolt", fields: ["x", "y", "vx", "vy", "owner"] },
  { name: "round", fields: ["phase", "ticks_left", "round", "kills_to_win"] },
]), `kinds: ${JSON.stringify(shooter.ack.kinds)}`);
target.ack = await ask(target, "room:join", { room_id: roomId });
check(target.ack.ok === true && target.ack.room.id === roomId, `target join: ${JSON.stringify(target.ack)}`);
const S = shooter.ack.player_id;
const T = target.ack.player_id;

// 3. The lobby lists the room as a blasters room with its round metadata.
const lobby = await ask(target, "lobby:list", {});
const listed = lobby.rooms?.find((r) => r.id === roomId);
check(listed?.game === "blasters" && listed.players === 2, `lobby row: ${JSON.stringify(listed)}`);
check(PHASES.includes(listed.metadata?.phase) && listed.metadata?.round === 1, `lobby metadata: ${JSON.stringify(listed.metadata)}`);

// 4. Warm-up (one second once both are seated), then playing.
await waitFor(() => find(shooter, T) && find(shooter, S), "both fighters in the shooter's snapshots");
check(find(shooter, T).health === 100 && find(shooter, S).respawn === 0, `fresh fighters: ${JSON.stringify(shooter.latest.players)}`);
await waitFor(() => shooter.latest.round.phase === 1, "the round to start playing", 5000);
check(shooter.history.some((s) => s.round.phase === 0 && s.round.round === 1), "round 1 had a warm-up");

// 5. Walk into range, then aim and hold the trigger; one input per tick, every one acked.
let seq = 0;
let acked = 0;
let hitSeen = null;
const boltsSeen = new Set();
const stepsEnd = performance.now() + 15_000;
while (shooter.latest.round.phase !== 2) {
  if (performance.now() > stepsEnd) fail(`no kill within 15 s: ${JSON.stringify(shooter.latest)}`);
  const me = find(shooter, S);
  const them = find(shooter, T);
  const dx = them.x - me.x;
  const dy = them.y - me.y;
  const dist = Math.hypot(dx, dy);
  const aim = Math.atan2(dy, dx);
  const input = dist > RANGE
    ? { seq: ++seq, move: [dx / dist, dy / dist], aim, fire: false }
    : { seq: ++seq, move: [0, 0], aim, fire: true };
  const ack = await ask(shooter, "input", input);
  check(ack.ok === true && ack.seq === input.seq, `input ack: ${JSON.stringify(ack)}`);
  acked++;
  for (const b of shooter.latest.bolts) if (b.owner === me.netId) boltsSeen.add(b.netId);
  const health = find(target, T)?.health;
  if (hitSeen === null && health < 100) hitSeen = health;
  await sleep(33);
}
check(hitSeen !== null && hitSeen <= 66, `the target saw its health drop (${hitSeen})`);
const over = shooter.latest;
check(find(shooter, S).score === 1, `the shooter scored the kill: ${JSON.stringify(over.players)}`);
check(find(shooter, T).health === 0 && find(shooter, T).respawn > 0, `the target is down: ${JSON.stringify(find(shooter, T))}`);
check(over.bolts.length === 0, "no bolt flies once the round is over");
// Bolts were born (seen) and died (gone from later snapshots), each with a new net id.
check(boltsSeen.size >= 3, `at least the three killing bolts were seen (${boltsSeen.size})`);
const stillFlying = [...boltsSeen].filter((id) => shooter.latest.bolts.some((b) => b.netId === id));
check(stillFlying.length === 0, `bolts despawned: ${stillFlying}`);
// The target's own page sees the same kill.
await waitFor(() => target.latest.round.phase === 2 && find(target, T).health === 0, "the target to see the round end with itself down", 3000);

// 6. After the scoreboard time: round 2, warm-up, scores reset, everyone alive.
await waitFor(() => shooter.latest.round.round === 2, "round 2", 8000);
const next = shooter.history.find((s) => s.round.round === 2);
check(next.round.phase === 0, `round 2 starts with a warm-up (phase ${PHASES[next.round.phase]})`);
check(next.players.every((p) => p.score === 0 && p.health === 100 && p.respawn === 0), `fresh round: ${JSON.stringify(next.players)}`);
// The lobby's metadata is refreshed by the room, not per tick: poll it (bounded).
let relisted = null;
for (let i = 0; i < 30 && relisted?.metadata?.round !== 2; i++) {
  if (i > 0) await sleep(100);
  relisted = (await ask(target, "lobby:list", {})).rooms?.find((r) => r.id === roomId);
}
check(relisted?.metadata?.round === 2, `lobby metadata follows the round: ${JSON.stringify(relisted?.metadata)}`);

shooter.socket.close();
target.socket.close();
console.log(JSON.stringify({
  ok: true,
  inputs_acked: acked,
  hit_health: hitSeen,
  bolts_seen: boltsSeen.size,
  over_tick: over.tick,
  next_round: next.round,
  snapshots: shooter.snapshots,
}));
process.exit(0);
