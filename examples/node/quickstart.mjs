// Joins a room on a Tickstorm server with the official socket.io-client, sends one input, and
// prints the join ack, the input ack and one snapshot decoded from MessagePack, then leaves.
// Run: npm install && node quickstart.mjs [http://127.0.0.1:3000]
import { io } from "socket.io-client";
import { decode } from "@msgpack/msgpack";

const url = process.argv[2] ?? "http://127.0.0.1:3000";
const socket = io(`${url}/game`, { auth: { name: "ana" }, reconnection: false });
socket.on("connect_error", (err) => {
  console.error(`cannot connect to ${url}: ${err.message}`);
  process.exit(1);
});

// Snapshots are binary MessagePack: [2, tick, time_ms, players, kinds] (docs/protocol.md): the
// envelope [[player_id, net_id, last_input_seq], ...], then one table per kind the join ack names
// (the orb arena: avatars [net_id, x, y, vx, vy, score] and orbs [net_id, x, y]).
const firstSnapshot = new Promise((resolve) => socket.once("snapshot", (bytes) => resolve(decode(bytes))));

const join = await socket.timeout(5000).emitWithAck("room:join", {}); // {} = quick match
console.log("join ack:", JSON.stringify(join));
const input = await socket.timeout(5000).emitWithAck("input", { seq: 1, move: [1, 0] });
console.log("input ack:", JSON.stringify(input)); // {ok: true, seq: 1, tick: N}
const [version, tick, timeMs, players, [avatars, orbs]] = await firstSnapshot;
console.log("snapshot:", JSON.stringify({ version, tick, time_ms: timeMs, players, avatars, orbs: orbs.length }));
socket.disconnect();
