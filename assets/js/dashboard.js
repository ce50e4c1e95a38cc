// Tickstorm live admin dashboard: logs in to the /admin namespace, shows the 1 Hz `metrics`
// push as tiles and charts, and polls `stats` every 2 s for the room table and error counts.
// Every server-provided string goes through textContent: room and player names are untrusted.
import { openSocket, request } from "./connection.js";
import {
  TimeSeriesChart, PALETTE, formatBytesRate, formatCount, formatMs, formatDuration, formatClock,
} from "./charts.js";

const TOKEN_KEY = "tickstorm.adminToken";
const STATS_INTERVAL_MS = 2000;
const STALE_AFTER_MS = 3500; // pushes are 1 s apart; past this the numbers are not live

const $ = (id) => document.getElementById(id);

// Hook for browser tests; the same object is updated in place so a held reference stays valid.
const hook = { lastMetrics: null, metricsCount: 0, lastStats: null, status: "disconnected" };
window.tickstormDashboard = hook;
// The Engine.IO session in use (null when none is open) and its transport, for the browser tests.
hook.engine = () => {
  const engine = socket?.io.engine;
  return engine?.readyState === "open" ? { id: engine.id, transport: engine.transport?.name ?? null } : null;
};

let socket = null;
let connected = false;
let statsTimer = 0;
let statsInFlight = false;
let statsAgain = false; // an action asked for a refresh while one was in flight
let lastMetricsAt = 0;
let lastSample = null; // newest metrics of this session (the hook keeps its value across logouts)

// sessionStorage throws in some privacy modes; the dashboard still works, only without reload.
const storage = {
  get: () => { try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; } },
  set: (v) => { try { sessionStorage.setItem(TOKEN_KEY, v); } catch { /* not persisted */ } },
  clear: () => { try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* nothing stored */ } },
};

// ---- Small DOM helpers (text only, never HTML) ----

function el(tag, { cls, text, data, title } = {}, children = []) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = String(text);
  if (title) node.title = title;
  for (const [k, v] of Object.entries(data ?? {})) node.dataset[k] = String(v);
  node.append(...children);
  return node;
}

const errorMessage = (err) => (typeof err === "string" ? err : err?.message || String(err ?? "unknown error"));

function toast(message, kind = "info") {
  const box = $("toasts");
  // The same failure every 2 s (e.g. stats timing out) should show once, not stack up.
  for (const t of box.children) if (t.textContent === message) return;
  const t = el("div", { cls: "toast", text: message, data: { kind } });
  t.setAttribute("role", kind === "error" ? "alert" : "status");
  box.append(t);
  while (box.children.length > 5) box.firstChild.remove();
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

// ---- Views ----

function setView(view) {
  document.body.dataset.view = view;
  $("login-view").hidden = view !== "login";
  $("dashboard-view").hidden = $("logout-button").hidden = view !== "dashboard";
}

function showLogin(error = "", note = "") {
  setView("login");
  $("login-error").textContent = error;
  $("login-note").textContent = note;
  $("login-submit").disabled = false;
  $("token-input").focus();
}

function setStatus(status) {
  hook.status = status;
  const badge = $("status");
  badge.textContent = status;
  badge.dataset.status = status;
}

// ---- Connection lifecycle ----

// The official client retries transport failures (server down, network) and keeps the socket
// active; the server's CONNECT_ERROR (wrong token, admin disabled) leaves it inactive, since the
// same token would only be refused again.
const isRefusal = (s) => !s.active;

function start(token) {
  stop();
  // Events from a socket we already dropped (logout, new token) are ignored.
  const s = openSocket("/admin", { auth: { token }, onStatus: (status) => { if (s === socket) setStatus(status); } });
  socket = s;
  const on = (event, handler) => s.on(event, (...args) => { if (s === socket) handler(...args); });
  on("connect", () => {
    connected = true;
    setStatus("connected");
    setView("dashboard");
    startStatsPolling();
  });
  on("disconnect", (reason) => {
    connected = false;
    stopStatsPolling();
    toast(`admin connection lost (${reason ?? "no reason"})`, "error");
  });
  on("connect_error", (err) => {
    const message = errorMessage(err);
    if (isRefusal(s)) {
      stop();
      storage.clear();
      showLogin(message);
    } else if (document.body.dataset.view === "login") {
      $("login-submit").disabled = false; // let the user fix the token or the address
      $("login-note").textContent = `cannot reach the server (${message}); retrying…`;
    } else {
      toast(`cannot reach the server (${message}); retrying…`, "error");
    }
  });
  on("metrics", onMetrics);
  setStatus("connecting");
  s.connect();
}

function stop() {
  const s = socket;
  socket = null; // first, so the events the old socket emits while closing are ignored
  connected = false;
  stopStatsPolling();
  s?.disconnect();
  setStatus("disconnected");
}

// `request` rejects after its ack timeout (5 s) and on disconnect, so a lost answer cannot
// leave a stats request in flight forever (which would freeze the table).
function ack(event, payload) {
  if (!socket || !connected) return Promise.reject(new Error("not connected"));
  return request(socket, event, payload);
}

// "code: message" for a refused ack, whatever shape it has.
function ackError(res) {
  const e = res?.error;
  if (!e) return "unexpected answer from the server";
  return e.code ? `${e.code}: ${e.message ?? ""}` : String(e.message ?? e);
}

// ---- Metrics push: tiles and charts ----

// Tile text is the number itself (tests parse it): integers exact, fractions to ~3 digits.
function setNumber(id, v) {
  const node = $(id);
  if (typeof v !== "number" || !Number.isFinite(v)) {
    node.textContent = "–";
    node.dataset.value = "";
    return;
  }
  const a = Math.abs(v);
  const decimals = Number.isInteger(v) || a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  node.dataset.value = String(v);
  node.textContent = String(Number(v.toFixed(decimals)));
}

// Element id -> value in a metrics (or stats) object.
const TILE_FIELDS = {
  "tile-connections": (m) => m.connections, "tile-rooms": (m) => m.rooms, "tile-players": (m) => m.players,
  "tile-tick-p99": (m) => m.tick_ms?.p99, "tile-inputs": (m) => m.inputs_per_s,
  "tile-bytes": (m) => (Number.isFinite(m.bytes_out_per_s) ? Math.round(m.bytes_out_per_s) : NaN),
  "stat-disconnected": (m) => m.disconnected, "stat-ticks": (m) => m.ticks_per_s,
  "stat-snapshots": (m) => m.snapshots_per_s, "stat-tick-max": (m) => m.tick_ms?.max,
  "stat-overruns": (m) => m.overruns_per_s, "stat-acks": (m) => m.acks_per_s, "stat-errors": (m) => m.errors_per_s,
};

function renderTiles(m) {
  for (const [id, get] of Object.entries(TILE_FIELDS)) setNumber(id, get(m));
  const bytes = m.bytes_out_per_s;
  $("tile-bytes-human").textContent = Number.isFinite(bytes) ? formatBytesRate(Math.round(bytes)) : "–";
  const uptime = $("uptime");
  uptime.textContent = formatDuration(m.uptime_s);
  uptime.dataset.uptimeS = String(m.uptime_s ?? "");
}

// [canvas id, chart options, series as [label, palette index, value in a metrics push]].
const charts = [
  ["chart-connections", { integer: true }, [["connections", 0, (m) => m.connections], ["players", 1, (m) => m.players]]],
  ["chart-rooms", { integer: true }, [["rooms", 5, (m) => m.rooms]]],
  ["chart-tick", { format: formatMs }, [["p50", 0, (m) => m.tick_ms?.p50], ["p99", 3, (m) => m.tick_ms?.p99]]],
  ["chart-inputs", { format: formatCount }, [["inputs/s", 1, (m) => m.inputs_per_s], ["acks/s", 2, (m) => m.acks_per_s]]],
  ["chart-bytes", { format: formatBytesRate, minSpan: 1000 }, [["bytes out/s", 0, (m) => m.bytes_out_per_s]]],
].map(([id, options, series]) => ({
  series,
  chart: new TimeSeriesChart($(id), { ...options, series: series.map(([label, c]) => ({ key: label, label, color: PALETTE[c] })) }),
}));

function onMetrics(m) {
  if (!m || typeof m !== "object") return;
  hook.lastMetrics = m;
  hook.metricsCount += 1;
  lastSample = m;
  lastMetricsAt = performance.now();
  renderTiles(m);
  markFreshness();
  // Server time, so the charts' "now" cannot drift with the browser clock.
  const t = Number.isFinite(m.time) ? m.time : Date.now();
  for (const { chart, series } of charts) chart.push(t, Object.fromEntries(series.map(([key, , get]) => [key, get(m)])));
}

// Dims the tiles when pushes stop, so a frozen number is not read as a live one.
function markFreshness() {
  const last = lastSample;
  const age = performance.now() - lastMetricsAt;
  const stale = !last || !connected || age > STALE_AFTER_MS;
  $("dashboard-view").dataset.stale = String(stale);
  if (!last) $("last-update").textContent = "";
  else if (stale) $("last-update").textContent = `no data for ${Math.round(age / 1000)} s`;
  else $("last-update").textContent = Number.isFinite(last.time) ? `server time ${formatClock(last.time)}` : "live";
}
setInterval(markFreshness, 1000);

// ---- Stats poll: room table and errors ----

function startStatsPolling() {
  clearInterval(statsTimer);
  refreshStats();
  statsTimer = setInterval(refreshStats, STATS_INTERVAL_MS);
}

const stopStatsPolling = () => clearInterval(statsTimer);

async function refreshStats() {
  if (statsInFlight) {
    statsAgain = true;
    return;
  }
  const s = socket;
  if (!s || !connected) return;
  statsInFlight = true;
  try {
    const res = await ack("stats", {});
    if (s !== socket) return;
    if (!res?.ok) return toast(`stats refused: ${ackError(res)}`, "error");
    hook.lastStats = res;
    if (!lastSample) renderTiles(res); // fills the tiles before the first push
    renderRooms(Array.isArray(res.rooms_detail) ? res.rooms_detail : []);
    renderErrors(res.errors_by_code ?? {});
    $("rooms-updated").textContent = `updated ${formatClock(Date.now())}`;
  } catch (err) {
    if (s === socket) toast(`stats failed: ${errorMessage(err)}`, "error");
  } finally {
    statsInFlight = false;
    if (statsAgain) {
      statsAgain = false;
      refreshStats();
    }
  }
}

// Rows are keyed by room id and rebuilt only when the room changed, so a button under the
// pointer is not replaced every 2 s (a click spanning a rebuild would be lost).
const rowCache = new Map(); // room id -> { sig, tr, haystack }
const emptyRow = el("tr", {}, [el("td", { cls: "empty", text: "no rooms" })]);
emptyRow.firstChild.colSpan = 7;

const num = (v) => (Number.isFinite(v) ? v : "?");

function dangerButton(text, title, data, onClick) {
  const button = el("button", { cls: "btn btn-danger btn-small", text, title, data });
  button.type = "button";
  button.addEventListener("click", () => onClick(button));
  return button;
}

function buildRow(room) {
  const members = Array.isArray(room.members) ? room.members : [];
  const tr = el("tr", { data: { roomId: room.id } });
  if (room.players >= room.max_players) tr.classList.add("full");
  const memberChips = members.map((m) => {
    const kick = dangerButton("kick", `kick ${m.name}`, { kickPlayer: m.player_id }, (b) => kickPlayer(m, b));
    return el("span", { cls: "member", data: { connected: m.connected !== false, playerId: m.player_id } }, [
      el("span", { text: m.name }),
      el("span", { cls: "pid", text: `#${m.player_id}${Number.isFinite(m.score) ? ` · ${m.score} pts` : ""}` }), kick,
    ]);
  });
  const close = dangerButton("close", "close this room", { closeRoom: room.id }, (b) => closeRoom(room, b));
  tr.append(
    el("td", { cls: "id", text: room.id }),
    el("td", { cls: "name", text: room.name }),
    el("td", { cls: "game", text: room.game ?? "" }),
    el("td", { cls: "num players", text: `${num(room.players)} / ${num(room.max_players)}` }),
    el("td", { cls: "num", text: `${num(room.tick_rate)} Hz` }),
    el("td", {}, [members.length ? el("div", { cls: "members" }, memberChips) : el("span", { cls: "muted", text: "empty" })]),
    el("td", { cls: "actions" }, [close]),
  );
  const haystack = [room.id, room.name, room.game ?? "", ...members.map((m) => m.name)].join("\n").toLowerCase();
  return { tr, haystack };
}

function renderRooms(rooms) {
  const tbody = $("rooms-table").tBodies[0];
  emptyRow.remove();
  const seen = new Set();
  let cursor = tbody.firstChild;
  for (const room of rooms) {
    const key = String(room.id);
    if (seen.has(key)) continue;
    seen.add(key);
    const sig = JSON.stringify(room);
    let entry = rowCache.get(key);
    if (!entry || entry.sig !== sig) {
      if (entry) {
        if (cursor === entry.tr) cursor = cursor.nextSibling;
        entry.tr.remove();
      }
      entry = { sig, ...buildRow(room) };
      rowCache.set(key, entry);
    }
    // Keep the server's order: move the row into place unless it already is there.
    if (entry.tr === cursor) cursor = cursor.nextSibling;
    else tbody.insertBefore(entry.tr, cursor);
  }
  for (const [key, entry] of rowCache) {
    if (!seen.has(key)) {
      entry.tr.remove();
      rowCache.delete(key);
    }
  }
  if (rooms.length === 0) tbody.append(emptyRow);
  applyFilter();
}

function applyFilter() {
  const q = $("rooms-filter").value.trim().toLowerCase();
  let shown = 0;
  for (const entry of rowCache.values()) {
    entry.tr.hidden = q !== "" && !entry.haystack.includes(q);
    if (!entry.tr.hidden) shown++;
  }
  const total = rowCache.size;
  $("rooms-count").textContent = q ? `${shown} of ${total} shown` : `${total} total`;
}

function renderErrors(byCode) {
  const list = $("errors-list");
  const entries = Object.entries(byCode)
    .filter(([, n]) => Number.isFinite(n) && n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const items = entries.map(([code, n]) => el("li", { data: { code } }, [
    el("span", { cls: "code", text: code }), el("span", { cls: "count", text: n }),
  ]));
  list.replaceChildren(...(items.length ? items : [el("li", { cls: "empty", text: "no errors" })]));
}

// ---- Admin actions ----

async function closeRoom(room, button) {
  const players = num(room.players);
  // confirm() shows plain text, so the untrusted name is safe here.
  if (!confirm(`Close room "${room.name}" (${room.id})?\n\nIts ${players} player(s) get room:closed with reason "admin".`)) return;
  await runAction(button, "room:close", { room_id: room.id }, `closed room "${room.name}"`);
}

async function kickPlayer(member, button) {
  await runAction(button, "player:kick", { player_id: member.player_id }, `kicked ${member.name}`);
}

async function runAction(button, event, payload, okText) {
  button.disabled = true;
  try {
    const res = await ack(event, payload);
    if (res?.ok) toast(okText, "ok");
    else toast(`${event} refused: ${ackError(res)}`, "error");
  } catch (err) {
    toast(`${event} failed: ${errorMessage(err)}`, "error");
  } finally {
    button.disabled = false; // the refresh below replaces the row if the action worked
    refreshStats();
  }
}

// ---- Login form, logout, startup ----

function clearData() {
  lastSample = null;
  for (const { chart } of charts) chart.clear();
  rowCache.clear();
  $("rooms-table").tBodies[0].replaceChildren();
  renderErrors({});
  for (const node of document.querySelectorAll(".tile [id]")) {
    node.textContent = "–";
    if ("value" in node.dataset) node.dataset.value = "";
  }
  $("uptime").textContent = "–";
  for (const id of ["rooms-count", "rooms-updated", "last-update"]) $(id).textContent = "";
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  $("login-error").textContent = "";
  if (!token) {
    $("login-note").textContent = "enter the admin token";
    return;
  }
  $("login-note").textContent = "connecting…";
  $("login-submit").disabled = true;
  storage.set(token); // a reload during the attempt (or any later one) reconnects
  start(token);
});

$("logout-button").addEventListener("click", () => {
  stop();
  storage.clear();
  clearData();
  $("token-input").value = "";
  showLogin();
});

$("rooms-filter").addEventListener("input", applyFilter);

const saved = storage.get();
if (saved) {
  // Reload with a stored token: straight to the dashboard; a refusal brings the form back.
  setView("dashboard");
  start(saved);
} else {
  showLogin();
}
