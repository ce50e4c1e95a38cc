// The Tickstorm web client's framework, the same for every game: name entry, the lobby (each
// room's game, quick join and create per game), the connection, reconnect and rejoin, clock
// sync, the input loop with prediction of your own entity (reconciled with the server's
// `last_input_seq`), interpolation of the other replicated entities ~100 ms in the past (more in
// rooms that send fewer snapshots per second), chat and the frame loop. Snapshots go through a
// SnapshotRing (js/delta.js): the client tells the server the newest one it applied (`baseline`
// in every input, `snapshot:ack` while idle) and gets deltas against it. It speaks the protocol of
// docs/protocol.md through the official Socket.IO client (js/connection.js: long-polling first,
// then WebSocket when the network allows it). What is particular to a game (reading its kinds, its
// input, its movement rules, its drawing) is in its module under js/games/, picked by the room's
// `game`.
//
// `window.tickstorm` exposes the state and `dropConnection()` / `forgetSnapshotStates()` hooks for
// the browser tests.

import { bytes, openSocket, request as ackRequest } from "./connection.js";
import { TypingBoard, TypingSchedule, parseChatInput } from "./chat.js";
import { AckSchedule, SnapshotRing } from "./delta.js";
import { ClockSync, Interpolator, Predictor, interpolationDelayMs } from "./netcode.js";
import { ArenaRenderer } from "./render.js";
import { Controls } from "./controls.js";
import { GAMES, gameFor } from "./games/index.js";
import * as ui from "./ui.js";

const PING_EVERY_MS = 2000;
const LOBBY_REFRESH_MS = 2000;

const state = {
  name: null,
  socket: null,
  status: "disconnected",
  room: null, // RoomInfo of the seat
  game: null, // the room's game module (js/games/)
  layout: null, // what the game read from the join ack's `kinds`
  hosted: [...GAMES.keys()], // games both the server and this page know, the server's default first
  playerId: null,
  rejoinToken: null,
  names: new Map(), // player id -> name
  away: new Set(), // players whose connection dropped (seat held)
  seq: 0,
  inputsSent: 0,
  inputsAcked: 0,
  lastAckedSeq: 0,
  snapshots: 0,
  keyframes: 0, // snapshots that came whole
  deltas: 0, // snapshots that came as changes against a baseline
  snapshotErrors: 0, // payloads the ring refused (each sends the server back to keyframes)
  ring: null, // SnapshotRing of the seat: the states deltas apply to
  acks: new AckSchedule(),
  latest: null, // latest snapshot, as the game reads it
  predictor: null,
  needsReset: true, // next snapshot places the predicted player (join, rejoin)
  interpolator: new Interpolator({ delayMs: 100 }),
  clock: new ClockSync(),
  reconnects: 0,
  rejoins: 0,
  chat: [], // {player_id, name, text, whisper?: "from" | "to"}
  notices: [], // {text, level} from the server's operators
  online: null, // the lobby's last `lobby:online` ack
  typingBoard: new TypingBoard(), // who else is typing
  typingSchedule: new TypingSchedule(), // when this player says it is typing
  timers: [],
};

const controls = new Controls(document.getElementById("arena"));
const renderer = new ArenaRenderer(document.getElementById("arena"));

// ---- connection ------------------------------------------------------------------------

async function start(name) {
  ui.showError("name-error", "");
  const button = document.querySelector("#name-form button");
  button.disabled = true; // one connection per page, even on a double click
  const health = await fetch("/healthz").then((r) => r.json()).catch(() => null);
  button.disabled = false;
  if (health && health.parser !== "common") {
    ui.showError("name-error", `This server speaks the ${health.parser} parser; the web client needs the default one.`);
    return;
  }
  if (Array.isArray(health?.games)) {
    const known = health.games.filter((name) => GAMES.has(name));
    if (known.length) state.hosted = known;
  }
  ui.renderGameChoice(state.hosted.map(gameFor), selectedGame());
  ui.renderCreateOptions(gameFor(selectedGame()));
  state.socket?.disconnect();
  state.name = name;
  // On a server with --auth-secret, the page's address carries the player's signed token
  // (`/?token=...`, from whatever issues them).
  const token = new URLSearchParams(location.search).get("token");
  const auth = () => (token ? { name: state.name, token } : { name: state.name });
  let connectedBefore = false; // the first "connect" of this socket is not a reconnection
  const socket = openSocket("/game", {
    auth,
    onStatus: (status) => {
      if (socket !== state.socket) return; // a socket this page has replaced
      state.status = status;
      ui.setStatus(status);
    },
  });
  state.socket = socket;
  // Events of a socket this page has replaced (a new name) are not for the page any more.
  const on = (event, fn) => socket.on(event, (...args) => { if (socket === state.socket) fn(...args); });
  on("connect", () => {
    onConnected(connectedBefore);
    connectedBefore = true;
  });
  on("connect_error", (err) => {
    if (socket.active) return; // the network, not the server: the client retries by itself
    // The server refused the handshake (CONNECT_ERROR); the client does not retry that.
    leaveRoomLocally();
    ui.banner(null);
    ui.showScreen("name");
    ui.showError("name-error", err.message);
  });
  on("disconnect", (reason) => {
    if (reason === "io server disconnect") {
      ui.banner("The server closed your connection.");
      leaveRoomLocally();
      ui.showScreen("name");
    } else if (reason !== "io client disconnect") {
      // No inputs (and no prediction) until the seat is back and a snapshot placed us again.
      state.needsReset = true;
      // The next connection starts with a keyframe (the server knows no baseline of it); until
      // the rejoin ack brings a new ring, snapshots are ignored so none is acked too early.
      state.ring = null;
      ui.banner("Connection lost: reconnecting...");
    }
  });
  // The Manager (socket.io) owns reconnection; its attempts are for this socket alone (forceNew).
  socket.io.on("reconnect_attempt", (attempt) => {
    if (socket === state.socket) ui.banner(`Connection lost: reconnecting (attempt ${attempt})...`);
  });
  on("snapshot", onSnapshot);
  on("player:joined", ({ player_id, name: who }) => {
    const returning = state.away.delete(player_id);
    state.typingBoard.forget(player_id);
    state.names.set(player_id, who);
    if (player_id !== state.playerId) systemMessage(returning ? `${who} is back` : `${who} joined`);
  });
  on("player:left", ({ player_id, reason }) => {
    const who = state.names.get(player_id) ?? `#${player_id}`;
    state.typingBoard.forget(player_id);
    renderTyping();
    if (reason === "disconnected") state.away.add(player_id);
    else state.names.delete(player_id);
    systemMessage(`${who} ${reason === "disconnected" ? "lost connection" : reason === "timeout" ? "timed out" : reason === "kicked" ? "was kicked" : "left"}`);
  });
  on("chat", (m) => {
    rememberChat(m);
    state.typingBoard.forget(m.player_id);
    renderTyping();
    ui.appendChat(m, m.player_id === state.playerId);
  });
  on("chat:whisper", (m) => {
    rememberChat({ ...m, whisper: "from" });
    state.typingBoard.forget(m.player_id);
    renderTyping();
    ui.appendChat({ ...m, whisper: "from" });
  });
  on("player:typing", ({ player_id, typing }) => {
    state.typingBoard.heard(player_id, typing, Date.now());
    renderTyping();
  });
  on("notice", ({ text, level }) => {
    state.notices.push({ text, level });
    if (state.notices.length > 20) state.notices.shift();
    if (state.room) ui.appendChat({ notice: level, text });
    else ui.showError("lobby-error", `Notice: ${text}`);
  });
  on("room:closed", ({ reason }) => {
    leaveRoomLocally();
    enterLobby(`The room was closed (${reason}).`);
  });
  socket.connect();
}

async function onConnected(reconnected) {
  if (reconnected) state.reconnects++;
  if (reconnected && state.rejoinToken) {
    const ack = await request("room:rejoin", { token: state.rejoinToken });
    if (ack.ok) {
      state.rejoins++;
      enterRoom(ack);
      ui.banner(null);
      systemMessage("Reconnected: your seat and score are kept.");
      return;
    }
    if (ack.error.code === "client" && !state.socket.connected) return; // dropped again: the next connect retries
    if (ack.error.code === "client") {
      // Timed out: the server may have seated us after all; give the seat up cleanly.
      await request("room:leave", {});
    }
    leaveRoomLocally();
    enterLobby(`Could not take your seat back: ${ack.error.message}`);
    return;
  }
  ui.banner(null);
  if (!state.room) enterLobby();
}

/** An ack request that never throws: a timeout or a drop becomes a failed ack. */
async function request(event, payload) {
  try {
    return await ackRequest(state.socket, event, payload);
  } catch (err) {
    return { ok: false, error: { code: "client", message: err.message } };
  }
}

// ---- lobby -----------------------------------------------------------------------------

function enterLobby(message = "") {
  ui.showScreen("lobby");
  ui.showError("lobby-error", message);
  refreshLobby();
  every(LOBBY_REFRESH_MS, refreshLobby, "lobby");
}

async function refreshLobby() {
  if (state.room || !state.socket?.connected) return;
  const ack = await request("lobby:list", {});
  if (ack.ok) ui.renderRooms(ack.rooms, (roomId) => join({ room_id: roomId }), gameFor);
  const online = await request("lobby:online", {});
  if (online.ok) {
    state.online = online;
    ui.renderOnline(online);
  }
}

/** The lobby's game selection (quick join, create), or the server's default game. */
function selectedGame() {
  const value = document.getElementById("game-select").value;
  return state.hosted.includes(value) ? value : state.hosted[0];
}

async function join(payload) {
  const ack = await request("room:join", payload);
  if (!ack.ok) return ui.showError("lobby-error", ack.error.message);
  if (!gameFor(ack.room?.game)) {
    await request("room:leave", {});
    return ui.showError("lobby-error", `This page cannot play "${ack.room?.game}".`);
  }
  try {
    enterRoom(ack);
  } catch (err) {
    // The server's kinds are not what the game module reads: say so rather than draw garbage.
    await request("room:leave", {});
    leaveRoomLocally();
    enterLobby(err.message);
  }
}

async function createRoom(game, name, maxPlayers, options) {
  const body = { game, max_players: maxPlayers };
  if (name) body.name = name;
  if (Object.keys(options).length) body.options = options;
  const created = await request("room:create", body);
  if (!created.ok) return ui.showError("lobby-error", created.error.message);
  await join({ room_id: created.room.id });
}

// ---- in a room -------------------------------------------------------------------------

function enterRoom(ack) {
  const firstEntry = state.room?.id !== ack.room.id;
  const game = gameFor(ack.room.game);
  // Both throw when the server's kinds do not fit, before anything here changed.
  const layout = game.layout(ack.kinds);
  const ring = new SnapshotRing(ack.kinds); // a new seat (join, rejoin) starts from a keyframe
  state.layout = layout;
  state.ring = ring;
  state.acks.reset();
  state.game = game;
  state.room = ack.room;
  state.playerId = ack.player_id;
  state.rejoinToken = ack.rejoin_token;
  for (const m of ack.members ?? []) state.names.set(m.player_id, m.name);
  state.away.delete(ack.player_id);
  state.predictor = new Predictor({ ...game.prediction, rules: game.rules, tickRate: ack.room.tick_rate });
  state.needsReset = true;
  stopTimers();
  every(1000 / ack.room.tick_rate, sendInput, "input");
  every(PING_EVERY_MS, ping, "ping");
  ping();
  if (firstEntry) {
    state.latest = null; // another game's snapshot must not be drawn by this one
    // A room may send fewer snapshots than it simulates (send_rate; absent from older servers).
    const delayMs = interpolationDelayMs(ack.room.send_rate || ack.room.tick_rate);
    state.interpolator = new Interpolator({ ...game.interpolation, delayMs });
    ui.clearChat();
    systemMessage(`You joined ${ack.room.name}.`);
  }
  ui.showRoom(ack.room);
  document.getElementById("game-title").textContent = game.title;
  document.title = `Tickstorm: ${game.title}`;
  ui.showScreen("game");
  document.activeElement?.blur();
}

function leaveRoomLocally() {
  stopTimers();
  state.room = null;
  state.playerId = null;
  state.rejoinToken = null;
  state.latest = null;
  state.game = null;
  state.layout = null;
  state.ring = null;
  state.names.clear();
  state.typingBoard = new TypingBoard();
  state.typingSchedule = new TypingSchedule();
  state.away.clear();
  ui.showRoom(null);
  ui.setHud(null);
  ui.showBoard(null);
}

function onSnapshot(attachment) {
  const game = state.game;
  const ring = state.ring;
  if (!game || !ring) return; // between rooms
  let frame;
  try {
    const applied = ring.apply(bytes(attachment));
    frame = applied.frame;
    if (applied.delta) state.deltas++;
    else state.keyframes++;
  } catch (err) {
    // Nothing after this can be trusted to match the server: forget every state and say "none"
    // (baseline 0), so the server sends a keyframe again.
    console.warn("bad snapshot: asking the server for a keyframe", err);
    state.snapshotErrors++;
    ring.clear();
    sendAck(true);
    return;
  }
  sendAck(false);
  let snap;
  try {
    snap = game.view(frame, state.layout, state.room);
  } catch (err) {
    console.warn("bad snapshot", err);
    return;
  }
  state.snapshots++;
  state.latest = snap;
  state.interpolator.push({ serverTime: snap.serverTime, entities: game.moving(snap) });
  const me = snap.players.find((p) => p.id === state.playerId);
  if (me && state.predictor) {
    // The prediction hook: while the game holds your entity still (dead, round over) the
    // server's position is taken as it is.
    if (state.needsReset || !game.canMove(snap, me)) {
      state.predictor.reset(me.x, me.y);
      state.needsReset = false;
    } else {
      state.predictor.reconcile(me.x, me.y, me.lastInputSeq);
    }
  }
}

/**
 * `snapshot:ack {tick}` with the ring's baseline when the schedule says so: while no input has
 * carried it for a while, and at once (tick 0) after a payload the ring refused.
 */
function sendAck(failed) {
  if (!state.ring?.acceptsDeltas || !state.acks.due(performance.now(), { failed })) return;
  // No ack callback: the server answers only if asked, and nothing here would wait for it.
  // Only while connected: the client would otherwise queue it for after the reconnection,
  // where this baseline means nothing to the new seat.
  if (state.socket?.connected) state.socket.emit("snapshot:ack", { tick: state.ring.baseline });
}

let lastSent = "";
function sendInput() {
  if (!state.socket?.connected || !state.predictor || state.needsReset || !state.game) return;
  const game = state.game;
  const { payload, move, active } = game.input({ controls, renderer, me: state.predictor.position, view: state.latest });
  const key = JSON.stringify(payload);
  // One input per tick while active (moving, firing: so prediction replays tick for tick), one
  // when it changes (stopping, aiming elsewhere).
  if (!active && key === lastSent) return;
  lastSent = key;
  const seq = ++state.seq;
  state.inputsSent++;
  const serverMe = state.latest?.players.find((p) => p.id === state.playerId);
  state.predictor.predict(seq, !serverMe || game.canMove(state.latest, serverMe) ? move : [0, 0]);
  // Every input says which snapshot the client holds; deltas come against it.
  const baseline = state.ring?.baseline ?? 0;
  state.acks.inputSent(performance.now());
  request("input", { seq, ...payload, baseline }).then((ack) => {
    if (!ack.ok) return;
    state.inputsAcked++;
    state.lastAckedSeq = Math.max(state.lastAckedSeq, ack.seq);
  });
}

async function ping() {
  const sent = Date.now();
  const ack = await request("time", { client_time: sent });
  if (!ack.ok) return;
  try {
    state.clock.addSample(sent, ack.server_time, Date.now());
  } catch {
    return; // the local clock stepped back during the round trip; skip this sample
  }
  ui.setPing(state.clock.medianRttMs);
}

function rememberChat(m) {
  state.chat.push(m);
  if (state.chat.length > 100) state.chat.shift();
}

/** Shows who else is typing now (a `true` expires by itself; see js/chat.js). */
function renderTyping() {
  const ids = state.room ? state.typingBoard.typing(Date.now()) : [];
  ui.setTyping(ids.filter((id) => id !== state.playerId).map((id) => state.names.get(id) ?? `#${id}`));
}
setInterval(renderTyping, 1000);

/** Says `chat:typing` when the box starts or stops holding a message (not a command). */
function typingChanged(now = Date.now()) {
  const value = document.getElementById("chat-input").value;
  const typing = value.trim() !== "" && !value.trimStart().startsWith("/");
  const due = state.typingSchedule.due(now, typing && state.room !== null);
  if (due !== null && state.room) request("chat:typing", { typing: due });
}

function systemMessage(text) {
  ui.appendChat({ system: true, text });
}

// ---- timers and the frame loop ---------------------------------------------------------

function every(ms, fn, name) {
  state.timers = state.timers.filter((t) => t.name !== name || (clearInterval(t.id), false));
  state.timers.push({ name, id: setInterval(fn, ms) });
}

function stopTimers() {
  for (const t of state.timers) clearInterval(t.id);
  state.timers = [];
}

let lastFrame = performance.now();
let lastBoard = 0;
function frame(now) {
  const dt = now - lastFrame;
  lastFrame = now;
  if (state.room && state.latest && state.game) {
    const renderAt = state.interpolator.renderTimeFor(state.clock.serverNow(Date.now()));
    const sampled = state.interpolator.sample(renderAt);
    const predicted = state.predictor && !state.needsReset ? state.predictor.renderPosition(dt) : {};
    const me = state.playerId === null ? null : { id: state.playerId, ...predicted };
    state.game.draw(renderer, { view: state.latest, sampled, me, names: state.names, away: state.away, timeMs: now, room: state.room });
    if (now - lastBoard > 200) {
      lastBoard = now;
      const players = state.latest.players.map((p) => ({ id: p.id, score: p.score, name: state.names.get(p.id), away: state.away.has(p.id) }));
      ui.renderScoreboard(players, state.playerId);
      const { line, board } = state.game.hud(state.latest, { names: state.names, meId: state.playerId, room: state.room });
      ui.setHud(line);
      ui.showBoard(board);
    }
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

// ---- page wiring -----------------------------------------------------------------------

ui.onSubmit("name-form", () => {
  const name = document.getElementById("name-input").value.trim();
  if (!name) return ui.showError("name-error", "Enter a name (1 to 24 characters).");
  localStorage.setItem("tickstorm.name", name);
  start(name);
});
document.getElementById("name-input").value = localStorage.getItem("tickstorm.name") ?? "";
document.getElementById("quick-join").addEventListener("click", () => join({ game: selectedGame() }));
document.getElementById("game-select").addEventListener("change", () => ui.renderCreateOptions(gameFor(selectedGame())));
ui.onSubmit("create-form", () => {
  const name = document.getElementById("create-name").value.trim();
  createRoom(selectedGame(), name, Number(document.getElementById("create-max").value), ui.readCreateOptions());
});
document.getElementById("leave").addEventListener("click", async () => {
  await request("room:leave", {});
  leaveRoomLocally();
  enterLobby();
});
ui.onSubmit("chat-form", async () => {
  const input = document.getElementById("chat-input");
  if (!input.value.trim()) return;
  const said = parseChatInput(input.value, state.names);
  if (said.kind === "error") return systemMessage(said.message);
  const ack = said.kind === "whisper"
    ? await request("chat:whisper", { to: said.to, text: said.text })
    : await request("chat", { text: said.text });
  if (!ack.ok) return systemMessage(`Not sent: ${ack.error.message}`);
  input.value = "";
  typingChanged();
  if (said.kind === "whisper") {
    const sent = { player_id: said.to, name: said.name, text: said.text, whisper: "to" };
    rememberChat(sent);
    ui.appendChat(sent);
  }
});
document.getElementById("chat-input").addEventListener("input", () => typingChanged());
controls.onChatKey(() => document.getElementById("chat-input").focus());

window.tickstorm = {
  state: () => ({
    status: state.status,
    sid: state.socket?.id ?? null,
    // "polling" or "websocket" (after the upgrade): the browser tests check which one carried it.
    transport: state.socket?.io.engine?.transport?.name ?? null,
    // The Engine.IO session in use (null once closed), so a test can tell a request of a session
    // that has ended from one of the live session.
    engineId: state.socket?.io.engine?.readyState === "open" ? state.socket.io.engine.id : null,
    name: state.name,
    playerId: state.playerId,
    room: state.room,
    game: state.game?.name ?? null,
    tick: state.latest?.tick ?? null,
    me: state.predictor && !state.needsReset ? state.predictor.position : null,
    serverMe: state.latest?.players.find((p) => p.id === state.playerId) ?? null,
    players: (state.latest?.players ?? []).map((p) => ({ ...p, name: state.names.get(p.id) ?? null })),
    ...(state.latest && state.game ? state.game.debug(state.latest) : {}),
    chat: state.chat.map((m) => ({ player_id: m.player_id, name: m.name, text: m.text, whisper: m.whisper ?? null })),
    notices: [...state.notices],
    online: state.online,
    typing: state.typingBoard.typing(Date.now()),
    snapshots: state.snapshots,
    keyframes: state.keyframes,
    deltas: state.deltas,
    snapshotErrors: state.snapshotErrors,
    baseline: state.ring?.baseline ?? 0,
    inputsSent: state.inputsSent,
    inputsAcked: state.inputsAcked,
    lastAckedSeq: state.lastAckedSeq,
    reconnects: state.reconnects,
    rejoins: state.rejoins,
    pingMs: state.clock.medianRttMs,
  }),
  // Closes the Engine.IO connection under the socket as a lost network would: the Manager then
  // reconnects by itself (a `disconnect()` would not).
  dropConnection: () => state.socket?.io.engine?.close(),
  // Loses the held states without telling the server, so its next delta cannot be applied: the
  // browser test's way into the recovery path (refused, baseline 0, keyframe, deltas again).
  forgetSnapshotStates: () => state.ring?.clear(),
};
