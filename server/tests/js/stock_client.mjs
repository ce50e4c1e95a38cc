// Drives a Tickstorm server with the official socket.io-client, as a stock bot would.
// Usage: node stock_client.mjs <http://127.0.0.1:port> [common|msgpack] [polling-upgrade|websocket]
// Prints one JSON summary line and exits 0 when every check passed, 1 (with the reason) when not.
import { io } from "socket.io-client";
import { decode } from "@msgpack/msgpack";
import msgpackParser from "socket.io-msgpack-parser";
import { check, deadline, fail, sleep } from "./harness.mjs";

const [url, parserName = "common", transportMode = "polling-upgrade"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node stock_client.mjs <url> [common|msgpack] [polling-upgrade|websocket]");
  process.exit(2);
}

deadline(20_000);

function connect(auth, options = {}) {
  return io(`${url}/game`, {
    auth,
    reconnection: false,
    forceNew: true,
    transports: transportMode === "websocket" ? ["websocket"] : ["polling", "websocket"],
    ...(parserName === "msgpack" ? { parser: msgpackParser } : {}),
    ...options,
  });
}

// 1. A handshake without a name is refused with a connect_error that says why.
const refusal = await new Promise((resolve) => {
  const s = connect({});
  s.on("connect", () => resolve({ connected: true }));
  s.on("connect_error", (err) => {
    s.close();
    resolve({ connected: false, message: err.message });
  });
});
check(!refusal.connected, "a nameless client was let in");
check(/name/.test(refusal.message), `connect_error does not mention the name: ${refusal.message}`);

// 2. Connect, over polling first then upgraded to WebSocket (unless websocket-only).
const socket = connect({ name: "stock-js" });
let firstTransport = null;
let upgraded = false;
socket.io.on("open", () => {
  firstTransport = socket.io.engine.transport.name;
  socket.io.engine.once("upgrade", () => (upgraded = true));
});
const snapshots = [];
socket.on("snapshot", (payload) => {
  const bytes = payload instanceof ArrayBuffer ? new Uint8Array(payload) : payload;
  snapshots.push({ at: performance.now(), size: bytes.byteLength, data: decode(bytes) });
});
await new Promise((resolve, reject) => {
  socket.on("connect", resolve);
  socket.on("connect_error", (e) => reject(new Error(`connect_error: ${e.message}`)));
}).catch((e) => fail(e.message));
if (transportMode !== "websocket") {
  check(firstTransport === "polling", `expected to start on polling, got ${firstTransport}`);
  for (let i = 0; i < 50 && !upgraded; i++) await sleep(20);
  check(upgraded, "no upgrade from polling to WebSocket within 1 s");
}
check(socket.io.engine.transport.name === "websocket", "the session did not upgrade to WebSocket");

// 3. Join (quick match) and read snapshots for one second.
const join = await socket.timeout(5000).emitWithAck("room:join", {});
check(join.ok === true, `join failed: ${JSON.stringify(join)}`);
check(typeof join.player_id === "number" && typeof join.rejoin_token === "string", "join ack lacks fields");
// 30 snapshots in a row; the rate is judged from the server's own timestamps (median spacing),
// not by counting against the wall clock, which a loaded CI machine distorts.
const firstIndex = snapshots.length;
for (let i = 0; i < 500 && snapshots.length < firstIndex + 30; i++) await sleep(20);
const window = snapshots.slice(firstIndex, firstIndex + 30);
check(window.length === 30, `only ${window.length} snapshots in 10 s`);
const gaps = window.slice(1).map((s, i) => Number(s.data[2]) - Number(window[i].data[2])).sort((a, b) => a - b);
const medianGap = gaps[gaps.length >> 1];
const rate = 1000 / medianGap;
check(medianGap >= 25 && medianGap <= 45, `median snapshot spacing ${medianGap} ms is not ~33 ms (30/s)`);
for (const { data } of window) {
  check(Array.isArray(data) && data.length === 5 && data[0] === 2, "snapshot is not [2, tick, time, players, kinds]");
  check(Array.isArray(data[3]) && Array.isArray(data[4]) && data[4].length === 2, "snapshot lacks players or the two kinds");
  check(Array.isArray(data[4][1]) && data[4][1].length === 32, "snapshot lacks the 32 orbs");
}
for (let i = 1; i < window.length; i++) {
  check(Number(window[i].data[1]) > Number(window[i - 1].data[1]), "snapshot ticks do not increase");
}
// The envelope names each player's avatar (net id); the avatar table (kind 0) has its row.
check(Array.isArray(join.kinds) && join.kinds[0]?.name === "avatar" && join.kinds[1]?.name === "orb", `join ack kinds: ${JSON.stringify(join.kinds)}`);
check(join.room?.game === "orbs", `join ack room game: ${JSON.stringify(join.room)}`);
const entry = (snap) => snap.data[3].find((p) => p[0] === join.player_id);
const me = (snap) => {
  const mine = entry(snap);
  return mine && snap.data[4][0].find((row) => row[0] === mine[1]);
};
check(me(window[window.length - 1]), "own player missing from the snapshot");

// 4. Inputs: every one acked with its seq and the tick it applies to; the state follows.
const ackTimes = [];
let lastTick = 0;
for (let seq = 1; seq <= 20; seq++) {
  const sent = performance.now();
  const ack = await socket.timeout(2000).emitWithAck("input", { seq, move: [1, 0] });
  ackTimes.push(performance.now() - sent);
  check(ack.ok === true && ack.seq === seq && typeof ack.tick === "number", `bad input ack ${JSON.stringify(ack)}`);
  check(ack.tick >= lastTick, "input ack ticks go backwards");
  lastTick = ack.tick;
  await sleep(10);
}
// The last input applies at its tick; wait (bounded) for a snapshot that shows it.
for (let i = 0; i < 250 && entry(snapshots[snapshots.length - 1])[2] !== 20; i++) await sleep(20);
const applied = entry(snapshots[snapshots.length - 1])[2];
check(applied === 20, `last_input_seq is ${applied} after 5 s, expected 20`);
// The avatar row: [net_id, x, y, vx, vy, score].
const latest = me(snapshots[snapshots.length - 1]);
check(latest[3] > 0 || latest[1] >= 983, `player is not moving right (vx=${latest[3]})`);

// 5. A malformed input gets a bad_request ack, and the connection keeps working.
const bad = await socket.timeout(2000).emitWithAck("input", { seq: "one", move: [1, 0] });
check(bad.ok === false && bad.error?.code === "bad_request", `malformed input: ${JSON.stringify(bad)}`);
const time = await socket.timeout(2000).emitWithAck("time", { client_time: 123.5 });
check(time.ok === true && time.client_time === 123.5 && time.server_time > 0, "time ack is wrong");

// 6. A binary payload where JSON is expected: a clean bad_request, nothing else.
const binary = await socket.timeout(2000).emitWithAck("input", Buffer.from([1, 2, 3]));
check(binary.ok === false && binary.error?.code === "bad_request", `binary input: ${JSON.stringify(binary)}`);
// With the default parser a Buffer travels as an attachment (a placeholder where a string
// should be): bad_request. With msgpack it is a `bin` value, which the server reads as a string
// when it holds UTF-8 (documented in docs/protocol.md), so the chat goes through.
const binaryChat = await socket.timeout(2000).emitWithAck("chat", { text: Buffer.from("hi") });
if (parserName === "msgpack") {
  check(binaryChat.ok === true, `binary UTF-8 chat over msgpack: ${JSON.stringify(binaryChat)}`);
} else {
  check(binaryChat.ok === false && binaryChat.error?.code === "bad_request", `binary chat: ${JSON.stringify(binaryChat)}`);
}
socket.close();

// 7. The stock client's own reconnection: the transport drops, the client reconnects by
// itself, and room:rejoin with the token gives back the same seat.
const flaky = connect({ name: "stock-flaky" }, { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200 });
await new Promise((resolve) => flaky.once("connect", resolve));
const seat = await flaky.timeout(5000).emitWithAck("room:join", {});
check(seat.ok === true, `flaky join: ${JSON.stringify(seat)}`);
const firstSid = flaky.id;
const reconnected = new Promise((resolve) => flaky.io.once("reconnect", resolve));
flaky.io.engine.close(); // as a lost network would
await reconnected;
if (!flaky.connected) await new Promise((resolve) => flaky.once("connect", resolve));
check(flaky.id !== firstSid, "a new Socket.IO session after reconnecting");
const back = await flaky.timeout(5000).emitWithAck("room:rejoin", { token: seat.rejoin_token });
check(back.ok === true && back.player_id === seat.player_id, `rejoin after reconnect: ${JSON.stringify(back)}`);
flaky.close();

ackTimes.sort((a, b) => a - b);
const pct = (p) => ackTimes[Math.min(ackTimes.length - 1, Math.floor((p / 100) * ackTimes.length))];
console.log(
  JSON.stringify({
    ok: true,
    parser: parserName,
    first_transport: firstTransport,
    snapshots_per_second: Number(rate.toFixed(2)),
    snapshot_bytes: snapshots.length ? snapshots[snapshots.length - 1].size : 0,
    input_acks: ackTimes.length,
    rejoined_player: back.player_id,
    ack_ms_p50: Number(pct(50).toFixed(3)),
    ack_ms_max: Number(ackTimes[ackTimes.length - 1].toFixed(3)),
  }),
);
process.exit(0);
