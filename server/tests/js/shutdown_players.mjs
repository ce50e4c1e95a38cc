// Many stock socket.io-client players in several rooms, sending inputs, while the server is
// shut down: each one must hear `room:closed {reason: "shutdown"}` before its connection ends.
// Usage: node shutdown_players.mjs <http://127.0.0.1:port> <players> <rooms> [polling-upgrade|websocket]
// Prints `{"ready": true, ...}` once every player is seated and sending inputs (the caller then
// stops the server), then one JSON summary line; exits 0 when every player heard it, 1 when not.
import { io } from "socket.io-client";
import { check, deadline, fail, sleep } from "./harness.mjs";

const [url, playersArg = "16", roomsArg = "4", transportMode = "polling-upgrade"] = process.argv.slice(2);
const players = Number(playersArg);
const rooms = Number(roomsArg);
if (!url || !(players > 0) || !(rooms > 0)) {
  console.error("usage: node shutdown_players.mjs <url> <players> <rooms> [polling-upgrade|websocket]");
  process.exit(2);
}
deadline(60_000);

function connect(name) {
  const socket = io(`${url}/game`, {
    auth: { name },
    reconnection: false,
    forceNew: true,
    transports: transportMode === "websocket" ? ["websocket"] : ["polling", "websocket"],
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (e) => reject(new Error(`${name}: connect_error: ${e.message}`)));
  });
}

const sockets = await Promise.all(
  Array.from({ length: players }, (_, i) => connect(`p${i}`)),
).catch((e) => fail(e.message));

// One room per `rooms`, created by the first player, with seats for everyone it gets.
const seats = Math.ceil(players / rooms);
const roomIds = [];
for (let r = 0; r < rooms; r++) {
  const created = await sockets[0].timeout(5000).emitWithAck("room:create", { max_players: seats });
  check(created.ok === true, `room:create: ${JSON.stringify(created)}`);
  roomIds.push(created.room.id);
}

// Each player: what it heard, in order, until its connection ended.
const seen = sockets.map(() => ({ closed: null, disconnect: null, closedBeforeEnd: false }));
await Promise.all(
  sockets.map(async (socket, i) => {
    const room_id = roomIds[i % rooms];
    const join = await socket.timeout(5000).emitWithAck("room:join", { room_id });
    check(join.ok === true, `p${i} join: ${JSON.stringify(join)}`);
    socket.on("room:closed", (payload) => {
      seen[i].closed = payload;
      seen[i].closedBeforeEnd = seen[i].disconnect === null;
    });
  }),
).catch((e) => fail(e.message));

const ended = sockets.map(
  (socket, i) =>
    new Promise((resolve) =>
      socket.once("disconnect", (reason) => {
        seen[i].disconnect = reason;
        resolve();
      }),
    ),
);

// Stock clients start on long-polling and upgrade: be on WebSocket before the shutdown (a
// polling client only gets what a poll in flight carries once the server stops accepting).
for (let i = 0; i < 250 && !sockets.every((s) => s.io.engine.transport.name === "websocket"); i++) {
  await sleep(20);
}
check(sockets.every((s) => s.io.engine.transport.name === "websocket"), "not every player upgraded within 5 s");

// Inputs at 10/s per player, without waiting for acks (as a game loop does).
let seq = 0;
const inputs = setInterval(() => {
  seq += 1;
  for (const socket of sockets) {
    if (socket.connected) socket.emit("input", { seq, move: [1, 0] });
  }
}, 100);
await sleep(300);
console.log(JSON.stringify({ ready: true, players, rooms: roomIds.length }));

await Promise.all(ended);
clearInterval(inputs);
const heard = seen.filter((s) => s.closedBeforeEnd && s.closed?.reason === "shutdown").length;
const missed = seen
  .map((s, i) => ({ player: i, ...s }))
  .filter((s) => !(s.closedBeforeEnd && s.closed?.reason === "shutdown"));
console.log(JSON.stringify({ ok: heard === players, players, heard, missed }));
process.exit(heard === players ? 0 : 1);
