// A small Socket.IO v5 client (Engine.IO v4, WebSocket transport only, default "common"
// parser with binary attachments) for the Tickstorm web client. The official client is a
// bundle we cannot ship without a build step; this speaks the same wire format (the public
// engine.io-protocol and socket.io-protocol specs, docs/protocol.md) to one namespace, with
// acks, heartbeats and reconnection.
//
// The packet codec functions are pure and exported for the tests; SocketClient owns the
// connection. Its callbacks never throw into the WebSocket: a bad packet becomes an "error"
// event and is dropped.

import { backoffDelay } from "./netcode.js";

export const PacketType = Object.freeze({
  CONNECT: 0, DISCONNECT: 1, EVENT: 2, ACK: 3, CONNECT_ERROR: 4, BINARY_EVENT: 5, BINARY_ACK: 6,
});
const { CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK } = PacketType;

// Event names the protocol forbids for EVENT packets (as the reference parser does).
const RESERVED_EVENTS = new Set(["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]);
// SocketClient's own events: a server event with one of these names would be mistaken for them.
const LOCAL_EVENTS = new Set(["connect", "connect_error", "disconnect", "reconnect_attempt", "status", "error"]);

const isBinaryType = (type) => type === BINARY_EVENT || type === BINARY_ACK;
const isPlainObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * `{type, nsp = "/", id?, attachments?, data?}` -> `<type>[<attachments>-][<nsp>,][<id>][<JSON>]`
 * (the Socket.IO part; on a WebSocket it travels after the Engine.IO "4").
 */
export function encodePacket({ type, nsp = "/", id, attachments, data }) {
  let out = String(type);
  if (isBinaryType(type)) out += `${attachments ?? 0}-`;
  if (nsp !== "/") out += `${nsp},`;
  if (id !== undefined) out += String(id);
  if (data !== undefined) out += JSON.stringify(data);
  return out;
}

const PACKET_RE = /^([0-6])(?:(\d+)-)?(?:(\/[^,]*)(?:,|$))?(\d+)?([\s\S]*)$/;

/** The inverse of encodePacket; throws an Error on anything the protocol does not allow. */
export function decodePacket(text) {
  const m = typeof text === "string" ? PACKET_RE.exec(text) : null;
  if (!m) throw new Error(`socket.io: malformed packet ${JSON.stringify(String(text).slice(0, 80))}`);
  const type = Number(m[1]);
  if (isBinaryType(type) !== (m[2] !== undefined)) {
    throw new Error(`socket.io: attachment count ${isBinaryType(type) ? "missing" : "not allowed"} in packet type ${type}`);
  }
  const packet = { type, nsp: m[3] ?? "/" };
  if (m[4] !== undefined) packet.id = Number(m[4]);
  if (m[2] !== undefined) packet.attachments = Number(m[2]);
  if (m[5] !== "") {
    try {
      packet.data = JSON.parse(m[5]);
    } catch {
      throw new Error(`socket.io: invalid JSON in packet type ${type}`);
    }
  }
  if (!validPayload(type, packet.data)) throw new Error(`socket.io: invalid payload for packet type ${type}`);
  return packet;
}

function validPayload(type, data) {
  switch (type) {
    case CONNECT: return data === undefined || isPlainObject(data);
    case DISCONNECT: return data === undefined;
    case CONNECT_ERROR: return typeof data === "string" || isPlainObject(data);
    case EVENT:
    case BINARY_EVENT:
      return Array.isArray(data) && (typeof data[0] === "number" || (typeof data[0] === "string" && !RESERVED_EVENTS.has(data[0])));
    default: return Array.isArray(data); // ACK, BINARY_ACK
  }
}

const isBinary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);

// A plain Uint8Array over any binary value (ArrayBuffer, Node Buffer, other views).
function toUint8(v) {
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

// Copies arrays and plain objects deeply; `swap` may replace any value (undefined: keep going).
function rebuild(v, swap) {
  const swapped = swap(v);
  if (swapped !== undefined) return swapped;
  if (Array.isArray(v)) return v.map((x) => rebuild(x, swap));
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rebuild(x, swap)]));
  return v;
}

/** Puts attachment `buffers` where their `{_placeholder: true, num}` stand; returns a new packet. */
export function reconstructPacket(packet, buffers) {
  const data = rebuild(packet.data, (v) => {
    if (!isPlainObject(v) || v._placeholder !== true) return undefined;
    if (!Number.isInteger(v.num) || v.num < 0 || v.num >= buffers.length) {
      throw new Error(`socket.io: placeholder for missing attachment ${v.num}`);
    }
    return toUint8(buffers[v.num]);
  });
  const { attachments, ...rest } = packet; // the count means nothing once they are in place
  return { ...rest, type: packet.type === BINARY_ACK ? ACK : EVENT, data };
}

/** The reverse for sending: binary values become placeholders, EVENT/ACK their BINARY_ form. */
export function deconstructPacket(packet) {
  const buffers = [];
  const data = rebuild(packet.data, (v) => {
    if (!isBinary(v)) return undefined;
    buffers.push(toUint8(v));
    return { _placeholder: true, num: buffers.length - 1 };
  });
  if (buffers.length === 0) return { packet, buffers };
  const type = packet.type === ACK ? BINARY_ACK : BINARY_EVENT;
  return { packet: { ...packet, type, attachments: buffers.length, data }, buffers };
}

/** Collects the binary frames that follow a BINARY_EVENT/BINARY_ACK header. */
export class BinaryReconstructor {
  constructor(packet) {
    this.packet = packet;
    this.buffers = [];
  }

  /** Adds one attachment; returns the finished packet after the last one, else null. */
  takeBinaryData(bytes) {
    this.buffers.push(bytes);
    return this.buffers.length >= this.packet.attachments ? reconstructPacket(this.packet, this.buffers) : null;
  }
}

// Only the first call of the returned function calls fn (an ack is answered once).
const once = (fn) => {
  let done = false;
  return (...args) => {
    if (done) return;
    done = true;
    fn(...args);
  };
};
const WS_OPEN = 1; // WebSocket.OPEN, spelled out: an injected WebSocket class may lack the static
const utf8 = new TextEncoder();

/**
 * A Socket.IO client for one namespace over one WebSocket. Events: "connect" ({reconnected}),
 * "connect_error" (err), "disconnect" (reason), "reconnect_attempt" (attempt, delayMs),
 * "status" (status), "error" (err), and every server event with its arguments (binary
 * attachments as Uint8Array; a trailing ack function when the server asked for an ack).
 */
export class SocketClient {
  #opts;
  #listeners = new Map();
  #ws = null;
  #everConnected = false;
  #wantOpen = false; // cleared by disconnect(), a refused handshake or a server DISCONNECT
  #attempt = 0;
  #retryTimer = null;
  #deadTimer = null; // connect timeout, then the heartbeat deadline
  #nextAckId = 0;
  #acks = new Map(); // id -> {resolve, reject, timer}
  #partial = null; // BinaryReconstructor waiting for attachments
  #rxQueue = null; // set while Blob frames are being read, to keep frame order
  #heartbeat = 0; // pingInterval + pingTimeout of the open packet

  constructor({
    url = globalThis.location?.origin, namespace = "/", auth, WebSocket = globalThis.WebSocket,
    ackTimeoutMs = 5000, connectTimeoutMs = 20000, reconnection = true,
    initialDelayMs = 500, factor = 2, maxDelayMs = 8000, jitter = 0.25,
  } = {}) {
    if (typeof WebSocket !== "function") throw new TypeError("SocketClient needs a WebSocket implementation");
    const wsUrl = new URL("/socket.io/", url);
    wsUrl.protocol = wsUrl.protocol === "https:" || wsUrl.protocol === "wss:" ? "wss:" : "ws:";
    wsUrl.search = "?EIO=4&transport=websocket";
    this.#opts = { wsUrl: wsUrl.href, auth, WebSocket, ackTimeoutMs, connectTimeoutMs, reconnection, backoff: { initialDelayMs, factor, maxDelayMs, jitter } };
    this.namespace = namespace;
    this.id = undefined;
    this.status = "disconnected";
    this.stats = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
  }

  get connected() { return this.status === "connected"; }

  on(name, fn) {
    if (!this.#listeners.has(name)) this.#listeners.set(name, new Set());
    this.#listeners.get(name).add(fn);
    return this;
  }

  off(name, fn) {
    this.#listeners.get(name)?.delete(fn);
    return this;
  }

  connect() {
    if (this.#wantOpen) return this;
    this.#wantOpen = true;
    this.#attempt = 0;
    this.#open();
    return this;
  }

  /** Sends an event; returns false (and sends nothing) while not connected. */
  emit(name, ...args) {
    if (!this.connected) return false;
    this.#sendPacket({ type: EVENT, nsp: this.namespace, data: [name, ...args] });
    return true;
  }

  /** Sends an event with an ack request; resolves with the first ack argument. */
  emitWithAck(name, payload, { timeoutMs = this.#opts.ackTimeoutMs } = {}) {
    if (!this.connected) return Promise.reject(new Error("disconnected"));
    const id = this.#nextAckId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#acks.delete(id);
        reject(new Error(`ack timeout after ${timeoutMs} ms for "${name}"`));
      }, timeoutMs);
      this.#acks.set(id, { resolve, reject, timer });
      const data = payload === undefined ? [name] : [name, payload];
      this.#sendPacket({ type: EVENT, nsp: this.namespace, id, data });
    });
  }

  /** Leaves the namespace cleanly ("41<nsp>,"), closes, and stays closed. */
  disconnect() {
    this.#wantOpen = false;
    clearTimeout(this.#retryTimer);
    if (this.connected) this.#sendPacket({ type: DISCONNECT, nsp: this.namespace });
    this.#closeTransport("io client disconnect");
    return this;
  }

  /** Test/diagnostic hook: drops the WebSocket as a lost network would; reconnection follows. */
  dropTransport() {
    if (this.#ws) this.#closeTransport("transport close");
  }

  #emit(name, ...args) {
    const fns = [...(this.#listeners.get(name) ?? [])];
    if (name === "error" && fns.length === 0) console.error(args[0]); // unheard, it would vanish
    for (const fn of fns) {
      try {
        fn(...args);
      } catch (err) {
        // A listener's bug must not break the connection's state machine.
        if (name === "error") console.error(err);
        else this.#emit("error", err);
      }
    }
  }

  #setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.#emit("status", status);
  }

  #open() {
    this.#setStatus(this.#attempt > 0 ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new this.#opts.WebSocket(this.#opts.wsUrl);
    } catch (err) { // e.g. a port the browser blocks: retrying will not help
      this.#wantOpen = false;
      this.#setStatus("disconnected");
      return this.#emit("error", err);
    }
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    // Each handler checks it still belongs to the current socket, so a replaced socket's late
    // events are ignored. They stay attached: node's `ws` throws an error event nobody hears.
    const mine = (fn) => (ev) => { if (this.#ws === ws) fn(ev); };
    ws.onmessage = mine((ev) => this.#onMessage(ev.data));
    ws.onclose = mine(() => this.#closeTransport("transport close"));
    ws.onerror = mine(() => this.#closeTransport("transport error"));
    this.#deadline(this.#opts.connectTimeoutMs, "connect timeout");
  }

  #deadline(ms, reason) {
    clearTimeout(this.#deadTimer);
    this.#deadTimer = setTimeout(() => this.#closeTransport(reason), ms);
  }

  #send(frame) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WS_OPEN) return;
    ws.send(frame);
    this.stats.packetsOut++;
    this.stats.bytesOut += typeof frame === "string" ? utf8.encode(frame).length : frame.byteLength;
  }

  #sendPacket(packet) {
    const { packet: head, buffers } = deconstructPacket(packet);
    this.#send("4" + encodePacket(head));
    for (const b of buffers) this.#send(b);
  }

  #onMessage(data) {
    if (this.#rxQueue || (typeof Blob !== "undefined" && data instanceof Blob)) {
      // A Blob's bytes arrive asynchronously: this frame and every later one wait their turn.
      const ws = this.#ws;
      const next = (this.#rxQueue ?? Promise.resolve()).then(async () => {
        const frame = data instanceof Blob ? await data.arrayBuffer() : data;
        if (this.#ws === ws) this.#onFrame(frame);
      }).catch((err) => this.#emit("error", err));
      this.#rxQueue = next;
      next.then(() => { if (this.#rxQueue === next) this.#rxQueue = null; });
      return;
    }
    this.#onFrame(data);
  }

  #onFrame(data) {
    try {
      this.stats.packetsIn++;
      if (typeof data === "string") {
        this.stats.bytesIn += utf8.encode(data).length;
        this.#onEnginePacket(data);
      } else {
        const bytes = toUint8(data);
        this.stats.bytesIn += bytes.length;
        if (!this.#partial) throw new Error("socket.io: binary frame without a pending binary packet");
        const done = this.#partial.takeBinaryData(bytes);
        if (done) {
          this.#partial = null;
          this.#onPacket(done);
        }
      }
    } catch (err) {
      this.#emit("error", err);
    }
  }

  #onEnginePacket(text) {
    switch (text[0]) {
      case "0": { // open: the session's heartbeat settings, then our namespace CONNECT
        const { pingInterval, pingTimeout } = JSON.parse(text.slice(1));
        this.#heartbeat = pingInterval + pingTimeout;
        if (!Number.isFinite(this.#heartbeat)) throw new Error("engine.io: open packet without pingInterval/pingTimeout");
        this.#deadline(this.#heartbeat, "ping timeout");
        const auth = typeof this.#opts.auth === "function" ? this.#opts.auth() : this.#opts.auth;
        this.#sendPacket({ type: CONNECT, nsp: this.namespace, data: auth });
        return;
      }
      case "1": return this.#closeTransport("transport close"); // the server closed the session
      case "2": // ping: answer, and expect the next one within pingInterval + pingTimeout
        this.#send("3");
        this.#deadline(this.#heartbeat, "ping timeout");
        return;
      case "4": {
        if (this.#partial) {
          this.#partial = null;
          throw new Error("socket.io: text packet while binary attachments were pending");
        }
        const packet = decodePacket(text.slice(1));
        if (packet.nsp !== this.namespace) return; // another namespace: not ours to handle
        if (isBinaryType(packet.type) && packet.attachments > 0) this.#partial = new BinaryReconstructor(packet);
        else this.#onPacket(isBinaryType(packet.type) ? reconstructPacket(packet, []) : packet);
        return;
      }
      case "6": return; // noop
      default: throw new Error(`engine.io: unexpected packet ${JSON.stringify(text.slice(0, 20))}`);
    }
  }

  #onPacket(packet) {
    switch (packet.type) {
      case CONNECT: {
        this.id = packet.data?.sid;
        const reconnected = this.#everConnected;
        this.#everConnected = true;
        this.#attempt = 0;
        this.#setStatus("connected");
        this.#emit("connect", { reconnected });
        return;
      }
      case CONNECT_ERROR: {
        const data = packet.data;
        const err = new Error(typeof data === "string" ? data : String(data.message ?? "connect error"));
        if (isPlainObject(data) && data.data !== undefined) err.data = data.data;
        this.#wantOpen = false; // the server said no: retrying would only be refused again
        this.#closeTransport(null, err);
        return;
      }
      case DISCONNECT:
        this.#wantOpen = false;
        this.#closeTransport("io server disconnect");
        return;
      case EVENT: {
        const [name, ...args] = packet.data;
        if (LOCAL_EVENTS.has(name)) throw new Error(`socket.io: server event "${name}" collides with a client event`);
        // The server asked for an ack: the listener gets a callback (last argument) that answers once.
        if (packet.id !== undefined) args.push(once((...a) => this.#sendPacket({ type: ACK, nsp: this.namespace, id: packet.id, data: a })));
        this.#emit(String(name), ...args);
        return;
      }
      case ACK: {
        const pending = this.#acks.get(packet.id);
        if (!pending) return; // timed out already, or never asked
        this.#acks.delete(packet.id);
        clearTimeout(pending.timer);
        pending.resolve(packet.data[0]);
        return;
      }
      default: throw new Error(`socket.io: unexpected packet type ${packet.type}`);
    }
  }

  // Every way a connection ends comes here once. `reason` is the disconnect reason when the
  // namespace was connected; `refusal` is the server's CONNECT_ERROR, if that was the cause.
  #closeTransport(reason, refusal = null) {
    const ws = this.#ws;
    const wasConnected = this.connected;
    this.#ws = null;
    this.#partial = null;
    clearTimeout(this.#deadTimer);
    if (ws) {
      try {
        if (typeof ws.terminate === "function" && reason !== "io client disconnect") ws.terminate(); // node `ws`: no close handshake
        else ws.close();
      } catch { /* already closed */ }
    }
    for (const { reject, timer } of this.#acks.values()) {
      clearTimeout(timer);
      reject(new Error("disconnected"));
    }
    this.#acks.clear();
    this.#setStatus(this.#wantOpen && this.#opts.reconnection ? "reconnecting" : "disconnected");
    if (wasConnected) this.#emit("disconnect", reason);
    else if (refusal) this.#emit("connect_error", refusal);
    else if (ws) this.#emit("connect_error", Object.assign(new Error(reason), { type: "TransportError" }));
    if (this.status === "reconnecting") this.#scheduleReconnect();
    else this.#wantOpen = false;
  }

  #scheduleReconnect() {
    this.#attempt++;
    const delay = backoffDelay(this.#attempt, this.#opts.backoff);
    this.#emit("reconnect_attempt", this.#attempt, delay);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      if (this.#wantOpen && !this.#ws) this.#open();
    }, delay);
  }
}
