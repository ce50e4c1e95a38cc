// js/connection.js without a network: the status the pages show, derived from the official
// client's events (driven here by a stand-in with the same surface: `on`, `active`, `connected`,
// `io.on`, `connect`, `disconnect`, `timeout().emitWithAck`), the ack helper and binary payloads.
// The real client against a real server: tests/live/netcode_live.mjs and the browser tests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ACK_TIMEOUT_MS, bytes, request, trackStatus } from "../js/connection.js";

/** What trackStatus and request touch of a socket.io-client Socket, driven by the test. */
class FakeSocket {
  constructor() {
    this.handlers = new Map();
    this.managerHandlers = new Map();
    this.active = false;
    this.connected = false;
    this.sent = [];
    this.io = { on: (name, fn) => this.managerHandlers.set(name, fn) };
  }
  on(name, fn) { this.handlers.set(name, fn); return this; }
  fire(name, ...args) { this.handlers.get(name)?.(...args); }
  connect() { this.active = true; return this; }
  disconnect() {
    const was = this.connected;
    this.active = false;
    this.connected = false;
    if (was) this.fire("disconnect", "io client disconnect");
    return this;
  }
  timeout(ms) {
    return { emitWithAck: (event, payload) => { this.sent.push({ ms, event, payload }); return Promise.resolve({ ok: true }); } };
  }
}

function tracked() {
  const socket = new FakeSocket();
  const seen = [];
  trackStatus(socket, (s) => seen.push(s));
  return { socket, seen };
}

test("a connection that comes up, drops, retries and comes back", () => {
  const { socket, seen } = tracked();
  socket.connect();
  socket.connected = true;
  socket.fire("connect");
  socket.connected = false; // the network went away; the client stays active and retries
  socket.fire("disconnect", "transport close");
  socket.managerHandlers.get("reconnect_attempt")(1);
  socket.fire("connect_error", Object.assign(new Error("xhr poll error"), { type: "TransportError" }));
  socket.connected = true;
  socket.fire("connect");
  assert.deepEqual(seen, ["connecting", "connected", "reconnecting", "connected"]);
});

test("a refused handshake ends in disconnected (the client does not retry it)", () => {
  const { socket, seen } = tracked();
  socket.connect();
  socket.active = false; // what the client does on a CONNECT_ERROR, before the event
  socket.fire("connect_error", new Error("invalid admin token"));
  assert.deepEqual(seen, ["connecting", "disconnected"]);
});

test("a server that cannot be reached yet: reconnecting, not disconnected", () => {
  const { socket, seen } = tracked();
  socket.connect();
  socket.fire("connect_error", new Error("xhr poll error"));
  assert.deepEqual(seen, ["connecting", "reconnecting"]);
});

test("disconnect() says disconnected at once, connected or not", () => {
  const up = tracked();
  up.socket.connect();
  up.socket.connected = true;
  up.socket.fire("connect");
  up.socket.disconnect();
  assert.deepEqual(up.seen, ["connecting", "connected", "disconnected"]);

  const early = tracked();
  early.socket.connect();
  early.socket.disconnect(); // before the network answered: the client emits nothing
  assert.deepEqual(early.seen, ["connecting", "disconnected"]);
});

test("a server disconnect ends in disconnected", () => {
  const { socket, seen } = tracked();
  socket.connect();
  socket.connected = true;
  socket.fire("connect");
  socket.active = false;
  socket.connected = false;
  socket.fire("disconnect", "io server disconnect");
  assert.deepEqual(seen, ["connecting", "connected", "disconnected"]);
});

test("request refuses at once while disconnected, and asks with the ack timeout while connected", async () => {
  const socket = new FakeSocket();
  await assert.rejects(request(socket, "time", {}), /disconnected/);
  await assert.rejects(request(null, "time", {}), /disconnected/);
  assert.equal(socket.sent.length, 0, "nothing queued for after a reconnection");
  socket.connected = true;
  assert.deepEqual(await request(socket, "time", { client_time: 1 }), { ok: true });
  assert.deepEqual(socket.sent, [{ ms: ACK_TIMEOUT_MS, event: "time", payload: { client_time: 1 } }]);
});

test("binary attachments become the Uint8Array the decoders read", () => {
  const buf = new Uint8Array([9, 1, 2, 3, 4]).buffer;
  assert.deepEqual([...bytes(buf)], [9, 1, 2, 3, 4]);
  const view = new Uint8Array(buf, 1, 3);
  const out = bytes(view);
  assert.ok(out instanceof Uint8Array && out.constructor === Uint8Array);
  assert.deepEqual([...out], [1, 2, 3]);
  assert.deepEqual([...bytes(Buffer.from([7, 8]))], [7, 8]);
  assert.throws(() => bytes("AQID"), /expected a binary attachment, got string/);
  assert.throws(() => bytes(null), /got null/);
});
