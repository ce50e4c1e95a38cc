// The pages' Socket.IO connection, on the official client (socket.io-client, vendored under
// vendor/socket.io-client/ by vendor/update.mjs; no build step, no CDN). Both pages (game.js,
// dashboard.js) open their namespace through `openSocket`, so they share one set of choices:
// - transports: long-polling first, then the upgrade to WebSocket (the official default), so a
//   network or proxy that blocks WebSocket still gets a working page;
// - the reconnection schedule (0.5 s doubling to 8 s, +-25 %);
// - `status` for the page ("connecting", "connected", "reconnecting", "disconnected"), which the
//   client has no single event for;
// - `request`: an ack with a deadline that fails at once while disconnected (the official client
//   would buffer the packet and send it after the reconnection: a stale input, or a request the
//   page has stopped waiting for);
// - `bytes`: a binary attachment as the Uint8Array the decoders read (browsers give ArrayBuffer).
//
// `trackStatus` and `bytes` take no part of the client, so node tests cover them with a stand-in.

import { io } from "../vendor/socket.io-client/socket.io.esm.min.js";

/** How long a request waits for its ack. */
export const ACK_TIMEOUT_MS = 5000;

/**
 * A socket for `namespace` on this page's origin, not yet connected (call `connect()` after
 * adding listeners). `auth` is an object or a function returning one: called on every
 * (re)connection, so it can carry what changed meanwhile.
 */
export function openSocket(namespace, { auth, onStatus = () => {} } = {}) {
  const socket = io(namespace, {
    transports: ["polling", "websocket"],
    // A page that logs in again (the dashboard) or picks another name (the game) gets a new
    // connection, not a namespace socket on the old one's Manager.
    forceNew: true,
    autoConnect: false,
    auth: typeof auth === "function" ? (cb) => cb(auth()) : auth,
    reconnectionDelay: 500,
    reconnectionDelayMax: 8000,
    randomizationFactor: 0.25,
  });
  trackStatus(socket, onStatus);
  return socket;
}

/**
 * Calls `onStatus(status)` whenever the socket's connection status changes. A refusal by the
 * server (connect_error with `socket.active` false: the client does not retry it), a server
 * disconnect and `disconnect()` end in "disconnected"; a lost network in "reconnecting".
 */
export function trackStatus(socket, onStatus) {
  let status = null;
  const set = (next) => {
    if (next === status) return;
    status = next;
    onStatus(next);
  };
  const retrying = () => (socket.active ? "reconnecting" : "disconnected");
  socket.on("connect", () => set("connected"));
  socket.on("connect_error", () => set(retrying()));
  socket.on("disconnect", () => set(retrying()));
  socket.io.on("reconnect_attempt", () => set("reconnecting"));
  // `connect()` and `disconnect()` announce nothing until the network answers (or never, for a
  // disconnect before the connection was up), so the page's own calls set the status at once.
  const { connect, disconnect } = socket;
  socket.connect = (...args) => {
    if (!socket.connected) set(socket.active ? "reconnecting" : "connecting");
    return connect.apply(socket, args);
  };
  socket.disconnect = (...args) => {
    const result = disconnect.apply(socket, args);
    set("disconnected");
    return result;
  };
  return socket;
}

/**
 * `emitWithAck` with ACK_TIMEOUT_MS; rejects at once while not connected (nothing is queued),
 * and on a timeout or a disconnection before the ack.
 */
export function request(socket, event, payload) {
  if (!socket?.connected) return Promise.reject(new Error("disconnected"));
  return socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
}

/** A binary attachment as a Uint8Array (ArrayBuffer in browsers, a Buffer or view in Node). */
export function bytes(value) {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`expected a binary attachment, got ${value === null ? "null" : typeof value}`);
}
