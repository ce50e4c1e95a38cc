// Socket.IO codec and SocketClient, the latter against a fake WebSocket driven by the test.
// Tests that depend on the client's timers (heartbeat, ack timeout, reconnection delay) run on
// node:test's fake clock (`t.mock.timers`, Node 20.11+): time only moves when the test ticks it,
// so a loaded machine cannot make a deadline pass early or late.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import {
  PacketType as T, encodePacket, decodePacket, reconstructPacket, deconstructPacket, BinaryReconstructor, SocketClient,
} from "../js/socketio.js";

// Long enough for any retry the client could have scheduled (its backoff is capped at 8 s).
const FOREVER_MS = 60_000;
// Runs everything queued so far (promise reactions included): setImmediate is not faked.
const flush = () => new Promise((r) => setImmediate(r));
const ph = (num) => ({ _placeholder: true, num });

test("encode/decode every packet type with namespaces, ack ids and attachments", () => {
  const cases = [
    [{ type: T.CONNECT, nsp: "/game", data: { name: "ana" } }, '0/game,{"name":"ana"}'],
    [{ type: T.CONNECT, nsp: "/" }, "0"],
    [{ type: T.CONNECT, nsp: "/game", data: { sid: "abc" } }, '0/game,{"sid":"abc"}'],
    [{ type: T.DISCONNECT, nsp: "/game" }, "1/game,"],
    [{ type: T.DISCONNECT, nsp: "/" }, "1"],
    [{ type: T.EVENT, nsp: "/game", data: ["chat", { text: "hi" }] }, '2/game,["chat",{"text":"hi"}]'],
    [{ type: T.EVENT, nsp: "/game", id: 17, data: ["input", { seq: 5, move: [1, 0] }] }, '2/game,17["input",{"seq":5,"move":[1,0]}]'],
    [{ type: T.EVENT, nsp: "/", id: 3, data: ["x"] }, '23["x"]'],
    [{ type: T.ACK, nsp: "/game", id: 17, data: [{ ok: true, seq: 5, tick: 912 }] }, '3/game,17[{"ok":true,"seq":5,"tick":912}]'],
    [{ type: T.ACK, nsp: "/", id: 0, data: [] }, "30[]"],
    [{ type: T.CONNECT_ERROR, nsp: "/game", data: { message: "auth.name is required" } }, '4/game,{"message":"auth.name is required"}'],
    [{ type: T.CONNECT_ERROR, nsp: "/", data: "nope" }, '4"nope"'],
    [{ type: T.BINARY_EVENT, nsp: "/game", attachments: 1, data: ["snapshot", ph(0)] }, '51-/game,["snapshot",{"_placeholder":true,"num":0}]'],
    [{ type: T.BINARY_EVENT, nsp: "/", id: 9, attachments: 2, data: ["two", ph(0), { b: ph(1) }] }, '52-9["two",{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1}}]'],
    [{ type: T.BINARY_ACK, nsp: "/game", id: 4, attachments: 1, data: [ph(0)] }, '61-/game,4[{"_placeholder":true,"num":0}]'],
  ];
  for (const [packet, text] of cases) {
    assert.equal(encodePacket(packet), text);
    assert.deepEqual(decodePacket(text), packet, text);
  }
  assert.deepEqual(decodePacket("1/game"), { type: T.DISCONNECT, nsp: "/game" }, "namespace without a comma at the end");
});

test("decodePacket refuses what the protocol does not allow", () => {
  const bad = {
    "": /malformed/, "7": /malformed/, x: /malformed/,
    '2/game,["a"': /invalid JSON/, '2/game,{"a":1}': /invalid payload/, '2/game,[]': /invalid payload/,
    '2/game,["connect"]': /invalid payload/, '2/game,[{}]': /invalid payload/, '1/game,{}': /invalid payload/,
    '0/game,[1]': /invalid payload/, "4/game,3": /invalid payload/, '3/game,1{"ok":1}': /invalid payload/,
    '5/game,["a"]': /attachment count missing/, '21-["a"]': /attachment count not allowed/,
  };
  for (const [text, re] of Object.entries(bad)) assert.throws(() => decodePacket(text), re, text);
  assert.throws(() => decodePacket(42), /malformed/);
});

test("binary placeholders are replaced by the attachments, in order and nested", () => {
  const header = decodePacket('52-/game,["pair",{"_placeholder":true,"num":1},{"inner":[{"_placeholder":true,"num":0}],"n":1}]');
  const r = new BinaryReconstructor(header);
  assert.equal(r.takeBinaryData(new Uint8Array([1]).buffer), null, "waits for the second attachment");
  const done = r.takeBinaryData(Buffer.from([2, 3]));
  assert.equal(done.type, T.EVENT);
  assert.equal(done.attachments, undefined);
  const [, first, { inner, n }] = done.data;
  assert.ok(first instanceof Uint8Array && Object.getPrototypeOf(first) === Uint8Array.prototype);
  assert.deepEqual([...first, ...inner[0]], [2, 3, 1]);
  assert.equal(n, 1);
  assert.equal(reconstructPacket({ type: T.BINARY_ACK, nsp: "/", id: 1, attachments: 1, data: [ph(0)] }, [new Uint8Array(1)]).type, T.ACK);
  assert.throws(() => reconstructPacket({ type: T.BINARY_EVENT, nsp: "/", data: ["x", ph(1)] }, [new Uint8Array(1)]), /missing attachment 1/);
});

test("deconstructPacket turns binary arguments into placeholders", () => {
  const bytes = new Uint8Array([7, 8]);
  const { packet, buffers } = deconstructPacket({ type: T.EVENT, nsp: "/game", data: ["up", { file: bytes.buffer, n: 1 }, bytes] });
  assert.deepEqual(packet, { type: T.BINARY_EVENT, nsp: "/game", attachments: 2, data: ["up", { file: ph(0), n: 1 }, ph(1)] });
  assert.deepEqual(buffers.map((b) => [...b]), [[7, 8], [7, 8]]);
  const plain = { type: T.ACK, nsp: "/", id: 2, data: [{ ok: true }] };
  assert.equal(deconstructPacket(plain).packet, plain);
});

// A WebSocket stand-in: records what the client sends; the test plays the server.
function fakeWebSocketClass() {
  class FakeWebSocket {
    static instances = [];
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 0;
      this.closed = false;
      FakeWebSocket.instances.push(this);
    }
    send(data) { this.sent.push(data); }
    close() { this.closed = true; this.readyState = 3; }
    // Server side of the fake:
    accept(open = { sid: "eio1", upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1e6 }) {
      this.readyState = 1;
      this.onopen?.({});
      this.receive("0" + JSON.stringify(open));
    }
    receive(data) { this.onmessage({ data }); }
    lose() { this.readyState = 3; this.onclose({ code: 1006 }); }
  }
  return FakeWebSocket;
}

// Every client a test made is disconnected afterwards, so no timer (heartbeat, connect timeout,
// reconnection) outlives its test.
const clients = [];
afterEach(() => clients.splice(0).forEach((c) => c.disconnect()));

function setup(options = {}) {
  const WS = fakeWebSocketClass();
  const client = new SocketClient({ url: "http://127.0.0.1:3000", namespace: "/game", auth: { name: "ana" }, WebSocket: WS, reconnection: false, ...options });
  clients.push(client);
  const log = [];
  for (const name of ["connect", "connect_error", "disconnect", "reconnect_attempt", "status", "error"]) {
    client.on(name, (...args) => log.push([name, ...args.map((a) => (a instanceof Error ? a.message : a))]));
  }
  const ws = () => WS.instances[WS.instances.length - 1];
  // Opens the Engine.IO session and acknowledges the namespace CONNECT.
  const handshake = (sid = "sio1") => {
    ws().accept();
    ws().receive(`40/game,{"sid":"${sid}"}`);
  };
  return { WS, client, log, ws, handshake };
}

test("connects: derived URL, open packet, CONNECT with auth, connect event and status", () => {
  const { client, log, ws } = setup({ url: "https://example.org:8443/ignored" });
  assert.equal(client.status, "disconnected");
  client.connect();
  assert.equal(ws().url, "wss://example.org:8443/socket.io/?EIO=4&transport=websocket");
  assert.equal(ws().binaryType, "arraybuffer");
  assert.equal(client.status, "connecting");
  ws().accept();
  assert.deepEqual(ws().sent, ['40/game,{"name":"ana"}']);
  assert.equal(client.connected, false);
  ws().receive('40/game,{"sid":"sio-123"}');
  assert.equal(client.connected, true);
  assert.equal(client.id, "sio-123");
  assert.deepEqual(log, [["status", "connecting"], ["status", "connected"], ["connect", { reconnected: false }]]);
  assert.equal(new SocketClient({ url: "http://h:1", WebSocket: class {} }).namespace, "/");
});

test("answers a ping with a pong; ignores noop", () => {
  const { client, ws, handshake, log } = setup();
  client.connect();
  handshake();
  ws().receive("2");
  ws().receive("6");
  assert.equal(ws().sent.at(-1), "3");
  assert.equal(ws().sent.filter((f) => f === "3").length, 1);
  assert.equal(log.some(([n]) => n === "error"), false);
});

test("no ping within pingInterval + pingTimeout is a ping timeout", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { client, ws, log } = setup();
  client.connect();
  ws().accept({ sid: "e", upgrades: [], pingInterval: 60, pingTimeout: 40 }); // dead at 100 ms
  ws().receive('40/game,{"sid":"s"}');
  t.mock.timers.tick(50);
  ws().receive("2"); // a ping in time pushes the deadline back to 150 ms
  t.mock.timers.tick(50);
  assert.equal(client.connected, true, "still alive at the first deadline");
  t.mock.timers.tick(49);
  assert.equal(client.connected, true, "still alive 1 ms before the new deadline");
  t.mock.timers.tick(1);
  assert.equal(client.connected, false);
  assert.deepEqual(log.filter(([n]) => n === "disconnect"), [["disconnect", "ping timeout"]]);
  assert.equal(ws().closed, true);
});

test("connect_error carries the server's message and stops reconnection", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { WS, client, ws, log } = setup({ reconnection: true, initialDelayMs: 5, jitter: 0 });
  client.connect();
  ws().accept();
  ws().receive('44/game,{"message":"auth.name is required (1 to 24 characters)"}');
  assert.deepEqual(log.filter(([n]) => n === "connect_error"), [["connect_error", "auth.name is required (1 to 24 characters)"]]);
  assert.equal(client.status, "disconnected");
  assert.equal(ws().closed, true);
  t.mock.timers.tick(FOREVER_MS);
  assert.equal(WS.instances.length, 1, "no second attempt");
  assert.equal(log.some(([n]) => n === "reconnect_attempt" || n === "disconnect"), false);
});

test("emitWithAck resolves with the first ack argument; emit sends without an id", async () => {
  const { client, ws, handshake } = setup();
  assert.equal(client.emit("chat", { text: "early" }), false, "nothing is sent before connect");
  await assert.rejects(client.emitWithAck("time", {}), /disconnected/);
  client.connect();
  handshake();
  assert.equal(client.emit("chat", { text: "hi" }), true);
  const join = client.emitWithAck("room:join", {});
  const list = client.emitWithAck("lobby:list");
  assert.deepEqual(ws().sent.slice(1), ['42/game,["chat",{"text":"hi"}]', '42/game,0["room:join",{}]', '42/game,1["lobby:list"]']);
  ws().receive('43/game,1[{"ok":true,"rooms":[]}]'); // acks may come back in any order
  ws().receive('43/game,0[{"ok":true,"player_id":3},"extra"]');
  assert.deepEqual(await list, { ok: true, rooms: [] });
  assert.deepEqual(await join, { ok: true, player_id: 3 });
});

test("an unanswered ack times out, and a late answer is ignored", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { client, ws, handshake, log } = setup({ ackTimeoutMs: 20 });
  client.connect();
  handshake();
  const input = client.emitWithAck("input", { seq: 1, move: [0, 0] });
  let settled = false;
  input.then(() => { settled = true; }, () => { settled = true; });
  t.mock.timers.tick(19);
  await flush();
  assert.equal(settled, false, "not given up before ackTimeoutMs");
  t.mock.timers.tick(1);
  await assert.rejects(input, /ack timeout after 20 ms for "input"/);
  const time = client.emitWithAck("time", {}, { timeoutMs: 5 });
  t.mock.timers.tick(5);
  await assert.rejects(time, /ack timeout after 5 ms/);
  ws().receive('43/game,0[{"ok":true}]');
  assert.equal(log.some(([n]) => n === "error"), false);
});

test("pending acks reject with 'disconnected' when the connection drops", async () => {
  const { client, handshake, ws } = setup();
  client.connect();
  handshake();
  const pending = client.emitWithAck("room:join", {});
  ws().lose();
  await assert.rejects(pending, /^Error: disconnected$/);
});

test("a binary event is reassembled from its attachment frames (ArrayBuffer or Buffer)", () => {
  const { client, ws, handshake, log } = setup();
  const got = [];
  client.on("snapshot", (bytes) => got.push(bytes));
  client.on("pair", (...args) => got.push(args));
  client.connect();
  handshake();
  ws().receive('451-/game,["snapshot",{"_placeholder":true,"num":0}]');
  assert.equal(got.length, 0, "waits for the attachment");
  ws().receive(new Uint8Array([0x95, 1, 2]).buffer);
  ws().receive('451-/game,["snapshot",{"_placeholder":true,"num":0}]');
  ws().receive(Buffer.from([9, 9]));
  ws().receive('452-/game,["pair",{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1}}]');
  ws().receive(new Uint8Array([1]).buffer);
  ws().receive(new Uint8Array([2]).buffer);
  assert.ok(got[0] instanceof Uint8Array);
  assert.deepEqual([...got[0]], [0x95, 1, 2]);
  assert.deepEqual([...got[1]], [9, 9]);
  assert.deepEqual([[...got[2][0]], [...got[2][1].b]], [[1], [2]]);
  assert.equal(log.some(([n]) => n === "error"), false);
  // Frames: open, CONNECT ack, then 3 headers and 4 attachments; out: only the CONNECT.
  const open = '0{"sid":"eio1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}';
  const headers = 2 * 52 + 84;
  assert.deepEqual(client.stats, { bytesIn: open.length + 22 + headers + 3 + 2 + 1 + 1, bytesOut: 22, packetsIn: 9, packetsOut: 1 });
});

// Reading a Blob is real asynchronous I/O, not a timer: the test waits for the chat event
// itself (the timeout only turns a hang into a failure).
test("Blob frames are read in order with the frames around them", { timeout: 10_000 }, async () => {
  const { client, ws, handshake } = setup();
  const got = [];
  client.on("snapshot", (bytes) => got.push([...bytes]));
  client.on("chat", (m) => got.push(m));
  const chat = new Promise((resolve) => client.on("chat", resolve));
  client.connect();
  handshake();
  ws().receive('451-/game,["snapshot",{"_placeholder":true,"num":0}]');
  ws().receive(new Blob([new Uint8Array([4, 5])]));
  ws().receive('42/game,["chat","after"]'); // must wait for the Blob before it
  assert.deepEqual(got, []);
  await chat;
  assert.deepEqual(got, [[4, 5], "after"]);
});

test("reconnects with exponential backoff after dropTransport, calling auth again", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  let authCalls = 0;
  const { WS, client, ws, handshake, log } = setup({
    reconnection: true, initialDelayMs: 20, factor: 2, jitter: 0,
    auth: () => ({ name: "ana", n: ++authCalls }),
  });
  client.connect();
  handshake("first");
  assert.deepEqual(ws().sent, ['40/game,{"name":"ana","n":1}']);
  log.length = 0;
  client.dropTransport();
  assert.equal(ws().closed, true);
  assert.deepEqual(log, [["status", "reconnecting"], ["disconnect", "transport close"], ["reconnect_attempt", 1, 20]]);
  t.mock.timers.tick(19);
  assert.equal(WS.instances.length, 1, "waits for the delay");
  t.mock.timers.tick(1);
  assert.equal(WS.instances.length, 2);
  ws().lose(); // the second attempt fails before the handshake
  assert.deepEqual(log.slice(3), [["connect_error", "transport close"], ["reconnect_attempt", 2, 40]]);
  t.mock.timers.tick(39);
  assert.equal(WS.instances.length, 2, "the second delay is twice the first");
  t.mock.timers.tick(1);
  assert.equal(WS.instances.length, 3);
  handshake("second");
  assert.deepEqual(ws().sent, ['40/game,{"name":"ana","n":2}']);
  assert.equal(client.id, "second");
  assert.deepEqual(log.slice(5), [["status", "connected"], ["connect", { reconnected: true }]]);
  // The attempt counter starts over after a success.
  client.dropTransport();
  assert.deepEqual(log.at(-1), ["reconnect_attempt", 1, 20]);
  client.disconnect();
  t.mock.timers.tick(FOREVER_MS);
  assert.equal(WS.instances.length, 3, "disconnect() cancels the pending attempt");
  assert.equal(client.status, "disconnected");
});

test("a server DISCONNECT ends the session with no reconnection", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { WS, client, ws, handshake, log } = setup({ reconnection: true, initialDelayMs: 5 });
  client.connect();
  handshake();
  ws().receive("41/game,");
  assert.deepEqual(log.filter(([n]) => n === "disconnect"), [["disconnect", "io server disconnect"]]);
  assert.equal(client.status, "disconnected");
  t.mock.timers.tick(FOREVER_MS);
  assert.equal(WS.instances.length, 1);
});

test("disconnect() says goodbye and stays closed", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { WS, client, ws, handshake, log } = setup({ reconnection: true, initialDelayMs: 5 });
  client.connect();
  handshake();
  client.disconnect();
  assert.equal(ws().sent.at(-1), "41/game,");
  assert.equal(ws().closed, true);
  assert.deepEqual(log.slice(-2), [["status", "disconnected"], ["disconnect", "io client disconnect"]]);
  t.mock.timers.tick(FOREVER_MS);
  assert.equal(WS.instances.length, 1);
  client.connect(); // and can connect again on request
  assert.equal(WS.instances.length, 2);
});

test("malformed packets become 'error' events and are dropped; the connection lives on", () => {
  const { client, ws, handshake, log } = setup();
  const chats = [];
  client.on("chat", (m) => chats.push(m));
  client.on("boom", () => { throw new Error("listener bug"); });
  client.connect();
  handshake();
  for (const bad of ["42/game,[oops", "9", "47", new Uint8Array([1]).buffer, '42/game,["status","x"]', '42/game,["boom"]']) {
    assert.doesNotThrow(() => ws().receive(bad));
  }
  ws().receive('451-/game,["snapshot",{"_placeholder":true,"num":0}]');
  ws().receive('42/game,["chat","interleaved"]'); // text where an attachment was due
  ws().receive('42/game,["chat","ok"]');
  ws().receive('42/other,["chat","not ours"]');
  const errors = log.filter(([n]) => n === "error").map(([, m]) => m);
  assert.equal(errors.length, 7, errors.join("\n"));
  assert.match(errors[0], /invalid JSON/);
  assert.match(errors[1], /engine.io: unexpected packet/);
  assert.match(errors[3], /binary frame without a pending/);
  assert.match(errors[4], /collides/);
  assert.match(errors[5], /listener bug/);
  assert.match(errors[6], /while binary attachments were pending/);
  assert.deepEqual(chats, ["ok"]);
  assert.equal(client.connected, true);
});

test("a server event asking for an ack gets an ack function; binary args go as attachments", () => {
  const { client, ws, handshake } = setup();
  client.on("ping?", (n, ack) => { ack({ pong: n }); ack("twice is ignored"); });
  client.connect();
  handshake();
  ws().receive('42/game,5["ping?",7]');
  assert.equal(ws().sent.at(-1), '43/game,5[{"pong":7}]');
  assert.equal(ws().sent.filter((f) => String(f).startsWith("43")).length, 1);
  client.emit("upload", new Uint8Array([1, 2, 3]));
  assert.equal(ws().sent.at(-2), '451-/game,["upload",{"_placeholder":true,"num":0}]');
  assert.deepEqual([...ws().sent.at(-1)], [1, 2, 3]);
  client.emit("chat", "é"); // counted in UTF-8 bytes: 2 for "é"
  assert.equal(client.stats.packetsOut, 5);
  assert.equal(client.stats.bytesOut, 22 + 21 + 50 + 3 + '42/game,["chat",""]'.length + 2);
});

test("off() removes a listener; a refused WebSocket constructor is reported, not thrown", () => {
  const { client, handshake, ws } = setup();
  const seen = [];
  const fn = (m) => seen.push(m);
  client.on("chat", fn);
  client.connect();
  handshake();
  ws().receive('42/game,["chat",1]');
  client.off("chat", fn);
  ws().receive('42/game,["chat",2]');
  assert.deepEqual(seen, [1]);
  const errors = [];
  const broken = new SocketClient({ url: "http://h:1", WebSocket: class { constructor() { throw new Error("blocked"); } } });
  clients.push(broken);
  broken.on("error", (e) => errors.push(e.message));
  broken.connect();
  assert.deepEqual([errors, broken.status], [["blocked"], "disconnected"]);
});
