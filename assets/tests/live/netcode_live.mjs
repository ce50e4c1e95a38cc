// Live check of the web client's modules (connection.js's status and requests, snapshot
// decoding, netcode.js, games/orbs.js) against a running Tickstorm server, on the official
// socket.io-client: the npm package of server/tests/js (the Node build of the version vendored
// under assets/vendor/, with the same options as js/connection.js). Not named *.test.mjs, so the
// unit test run leaves it out: it needs a server.
// Usage: node assets/tests/live/netcode_live.mjs http://127.0.0.1:PORT
// Prints one JSON summary line and exits 0 when every check passed, 1 (with the reason) when not.
import { createRequire } from "node:module";
import { check, deadline, fail, sleep } from "../../../server/tests/js/harness.mjs";
import { bytes, request, trackStatus } from "../../js/connection.js";
import { decodeSnapshot, rules } from "../../js/games/orbs.js";
import { ClockSync, Predictor, sanitizeMove, tickSeconds } from "../../js/netcode.js";

const { stepPosition, velocityFor } = rules;

const require = createRequire(new URL("../../../server/tests/js/package.json", import.meta.url));
const { io } = require("socket.io-client");

const url = process.argv[2];
if (!url) {
  console.error("usage: node assets/tests/live/netcode_live.mjs <http://127.0.0.1:port>");
  process.exit(2);
}

deadline(15_000);

// Resolves with the arguments of the next `name` event of `client`.
const next = (client, name, ms = 5000) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no "${name}" within ${ms} ms`)), ms);
  const fn = (...args) => {
    clearTimeout(timer);
    client.off(name, fn);
    resolve(args);
  };
  client.on(name, fn);
});
// As openSocket (js/connection.js) opens it, with a faster reconnection; `status` as the page sees it.
const client = (auth) => {
  const socket = io(`${url}/game`, {
    transports: ["polling", "websocket"], forceNew: true, autoConnect: false, auth,
    reconnectionDelay: 100, reconnectionDelayMax: 1000, randomizationFactor: 0.25,
  });
  socket.status = null;
  return trackStatus(socket, (status) => { socket.status = status; });
};

try {
  // 1. An invalid name is refused with a connect_error, and the client does not retry.
  const refused = client({ name: "   " });
  const attempts = [];
  refused.io.on("reconnect_attempt", (n) => attempts.push(n));
  refused.connect();
  const [refusal] = await next(refused, "connect_error");
  check(/name/.test(refusal.message), `connect_error does not mention the name: ${refusal.message}`);
  await sleep(300);
  check(refused.status === "disconnected" && attempts.length === 0, "the client retried a refused handshake");

  // 2. Connect and quick-join.
  const s = client({ name: "live-js" });
  const snapshots = [];
  s.on("snapshot", (attachment) => {
    const data = bytes(attachment); // a Buffer here, an ArrayBuffer in browsers
    snapshots.push({ size: data.length, snap: decodeSnapshot(data) });
  });
  s.connect();
  await next(s, "connect");
  check(s.status === "connected", `status ${s.status} after connect`);
  const firstSid = s.id;
  const join = await request(s, "room:join", {});
  check(join?.ok === true && Number.isInteger(join.player_id) && join.rejoin_token, `room:join failed: ${JSON.stringify(join)}`);
  const me = join.player_id;
  const tickRate = join.room.tick_rate;
  while (snapshots.length < 3) await sleep(10);
  const mine = (snap) => snap.players.find((p) => p.id === me);
  check(mine(snapshots.at(-1).snap), "our player is missing from the snapshot");

  // 3. Clock sync from `time` acks.
  const clock = new ClockSync();
  for (let i = 0; i < 5; i++) {
    const sent = Date.now();
    const t = await request(s, "time", { client_time: sent });
    check(t?.ok === true && t.client_time === sent && Number.isFinite(t.server_time), `bad time ack: ${JSON.stringify(t)}`);
    clock.addSample(sent, t.server_time, Date.now());
  }
  check(Math.abs(clock.offsetMs) < 1000, `server clock ${clock.offsetMs} ms away on the same host`);

  // 4. Inputs, one per tick, with changing (and over-long) directions; every ack is {ok, seq, tick}.
  const N = 12;
  const moves = Array.from({ length: N }, (_, i) => [1.3 * Math.cos(i * 0.7), 1.3 * Math.sin(i * 0.7)]);
  const predictor = new Predictor({ tickRate, rules });
  const acks = [];
  for (let seq = 1; seq <= N; seq++) {
    const move = moves[seq - 1];
    acks.push(request(s, "input", { seq, move }));
    predictor.predict(seq, move);
    await sleep(1000 / tickRate);
  }
  const inputAcks = await Promise.all(acks);
  inputAcks.forEach((a, i) => {
    check(a?.ok === true && a.seq === i + 1 && Number.isInteger(a.tick) && !a.stale, `bad input ack: ${JSON.stringify(a)}`);
  });
  check(inputAcks.every((a, i) => i === 0 || a.tick >= inputAcks[i - 1].tick), "input ticks go backwards");
  const lastTick = inputAcks.at(-1).tick;
  while (!snapshots.some(({ snap }) => snap.tick >= lastTick + 1)) await sleep(10);

  // 5. The mirrored rules reproduce the server's positions bit for bit: at tick T the player
  // moves by the latest input acked at a tick <= T.
  const firstTick = inputAcks[0].tick;
  const bySnapTick = new Map(snapshots.map(({ snap }) => [snap.tick, mine(snap)]));
  const start = bySnapTick.get(firstTick - 1);
  check(start, `no snapshot for tick ${firstTick - 1}`);
  let pos = [start.x, start.y];
  let dir = [0, 0];
  let compared = 0;
  const dt = tickSeconds(tickRate);
  for (let tick = firstTick; tick <= lastTick + 1; tick++) {
    inputAcks.forEach((a, i) => { if (a.tick === tick) dir = sanitizeMove(moves[i]); });
    pos = stepPosition(pos, velocityFor(dir), dt);
    const server = bySnapTick.get(tick);
    if (!server) continue;
    check(server.x === pos[0] && server.y === pos[1], `tick ${tick}: server (${server.x}, ${server.y}) vs mirror (${pos})`);
    compared++;
  }
  // The server sends a snapshot every tick, so none in the range means the lookup is broken,
  // and the loop above then checked nothing: it would pass against any server.
  check(compared > 0, `no snapshot of ticks ${firstTick}..${lastTick + 1}: no position was compared`);
  const latest = mine(snapshots.at(-1).snap);
  check(latest.lastInputSeq === N, `last_input_seq ${latest.lastInputSeq}, expected ${N}`);
  predictor.reconcile(latest.x, latest.y, latest.lastInputSeq);
  check(predictor.pendingCount === 0 && predictor.position.x === latest.x, "reconcile did not settle on the server");
  await request(s, "input", { seq: N + 1, move: [0, 0] });

  // Polling first, then the upgrade: by now (inputs over several ticks) it has happened.
  const firstTransport = s.io.engine.transport.name;
  check(firstTransport === "websocket", `still on ${firstTransport}: no upgrade from polling`);

  // 6. Lose the connection: automatic reconnect, then room:rejoin keeps the seat.
  const dropped = Date.now();
  const disconnected = next(s, "disconnect");
  const reconnected = next(s, "connect");
  s.io.engine.close(); // what the page's dropConnection() does
  const [reason] = await disconnected;
  check(reason === "forced close", `disconnect reason ${reason}`);
  check(s.status === "reconnecting", `status ${s.status} after the drop`);
  await request(s, "time", { client_time: 0 }).then(
    () => fail("a request while disconnected was sent"),
    (err) => check(/disconnected/.test(err.message), `request while disconnected: ${err.message}`));
  await reconnected;
  const reconnectMs = Date.now() - dropped;
  check(s.id && s.id !== firstSid, "reconnect did not open a new session");
  const rejoin = await request(s, "room:rejoin", { token: join.rejoin_token });
  check(rejoin?.ok === true && rejoin.player_id === me, `room:rejoin failed: ${JSON.stringify(rejoin)}`);
  check(rejoin.rejoin_token && rejoin.rejoin_token !== join.rejoin_token, "rejoin did not hand out a new token");
  const before = snapshots.length;
  while (snapshots.length < before + 2) await sleep(10);
  check(mine(snapshots.at(-1).snap)?.lastInputSeq === N + 1, "the seat lost its input sequence");

  // 7. A clean goodbye.
  const bye = next(s, "disconnect");
  s.disconnect();
  check((await bye)[0] === "io client disconnect", "clean disconnect reason");
  check(s.status === "disconnected", `status ${s.status} after disconnect()`);

  console.log(JSON.stringify({
    ok: true,
    player_id: me,
    room: join.room.id,
    tick_rate: tickRate,
    snapshots: snapshots.length,
    snapshot_bytes: snapshots.at(-1).size,
    input_acks: inputAcks.length,
    positions_compared: compared,
    refusal: refusal.message,
    clock_offset_ms: Math.round(clock.offsetMs),
    median_rtt_ms: clock.medianRttMs,
    reconnect_ms: reconnectMs,
    transport: firstTransport,
  }));
  process.exit(0);
} catch (err) {
  fail(err.message);
}
