// The recording viewer (/replay.html): asks for the admin token (kept in sessionStorage under the
// dashboard's key, so a dashboard login carries over in the same tab), lists the server's
// recordings and plays one. Windows of snapshots replayed by the server come from the HTTP API
// as the play head moves (js/replay_timeline.js decides which and keeps them, js/replay_api.js
// asks); each snapshot is a keyframe, so the same decoder and the same game module as on the
// game page (js/snapshot.js, js/games/) read and draw it, with the same canvas, scoreboard, line
// and board (js/render.js, js/ui.js). Every string from the server goes in through textContent.
//
// `?window=N` sets the ticks per request (the browser test crosses windows in a short recording).
// `#NAME` opens that recording once the token is accepted.
// `window.tickstormReplay.state()` exposes what is shown, for the browser test.

import { decodeFrame } from "./snapshot.js";
import { Interpolator } from "./netcode.js";
import { ArenaRenderer } from "./render.js";
import { GAMES, gameFor } from "./games/index.js";
import * as ui from "./ui.js";
import { fetchWindow, listRecordings } from "./replay_api.js";
import { PlaybackClock, SPEEDS, WINDOW_TICKS, WindowCache, clampTick, formatTicks, mergeMeta, windowStart } from "./replay_timeline.js";

const TOKEN_KEY = "tickstorm.adminToken"; // the dashboard's (js/dashboard.js)
const FIRST_TICK = 1; // a room's first tick; a recording starts with its room
const PROBE_GAP_MS = 150; // between the list's length look-ups: the API takes 20 calls a second in all
const PROBE_MAX = 20; // recordings whose length the list looks up
const DECODED_KEPT = 8; // decoded snapshots kept (the one shown, the next, a step back)
const NOBODY = new Set(); // the recording does not say whose connection dropped

const params = new URLSearchParams(location.search);
const windowTicks = params.has("window") ? clampTick(Number(params.get("window")), 1, 3600) : WINDOW_TICKS;

const $ = (id) => document.getElementById(id);

/** The recording named by the address's `#NAME`, or "". */
function hashName() {
  try {
    return decodeURIComponent(location.hash.slice(1));
  } catch {
    return ""; // not a name this page wrote
  }
}
const renderer = new ArenaRenderer($("arena"));

// sessionStorage throws in some privacy modes; the page still works, only without reload.
const storage = {
  get: () => { try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; } },
  set: (v) => { try { sessionStorage.setItem(TOKEN_KEY, v); } catch { /* not persisted */ } },
  clear: () => { try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* nothing stored */ } },
};

const state = {
  token: null,
  view: "login",
  recordings: [],
  pendingOpen: hashName(), // `#NAME`: opened once the list loads
  lengths: new Map(), // recording name -> {ticks} | {error}: looked up once per page
  probeRun: 0, // a new list (or an opened recording) stops the look-ups of the previous one
  replay: null, // the open recording (see openRecording)
};

let shownControls = ""; // what the controls show now, so a frame that changes nothing leaves the DOM alone

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function setView(view) {
  state.view = view;
  document.body.dataset.view = view;
  $("view-login").hidden = view !== "login";
  $("view-list").hidden = view !== "list";
  $("view-player").hidden = view !== "player";
  $("logout").hidden = view === "login";
}

// ---- token -----------------------------------------------------------------------------

function showLogin(error = "") {
  closeRecording();
  state.token = null;
  setView("login");
  $("login-error").textContent = error;
  $("login-submit").disabled = false;
  $("token-input").focus();
}

/** A refused token (401/403) sends the user back to the form with the server's words. */
function tokenRefused(err) {
  storage.clear();
  showLogin(err.message);
}

// ---- the list --------------------------------------------------------------------------

async function loadList() {
  $("refresh").disabled = true;
  $("login-submit").disabled = true;
  let recordings = null;
  let error = null;
  try {
    recordings = await listRecordings(state.token);
  } catch (err) {
    error = err;
  }
  $("refresh").disabled = false;
  $("login-submit").disabled = false;
  if (error?.badToken) return tokenRefused(error);
  if (state.view !== "player") setView("list");
  // Recording off, the API off, the server out of reach: said on the list, the token kept.
  $("list-error").textContent = error ? error.message : "";
  state.recordings = recordings ?? [];
  renderList();
  if (recordings && state.pendingOpen) {
    const name = state.pendingOpen;
    state.pendingOpen = "";
    openRecording(name);
  } else if (recordings) {
    probeLengths(++state.probeRun);
  }
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The length column: known from the list (if it says), a look-up, or not yet. */
function lengthText(recording) {
  const ticks = Number.isFinite(recording.total_ticks) ? recording.total_ticks : state.lengths.get(recording.name)?.ticks;
  if (Number.isFinite(ticks)) return formatTicks(ticks, recording.tick_rate);
  return state.lengths.get(recording.name)?.error ? "cannot replay" : "…";
}

function renderList() {
  const rows = state.recordings.map((r) => {
    const open = el("button", { type: "button", className: "small", textContent: "Open" });
    open.dataset.openRecording = r.name;
    open.addEventListener("click", () => openRecording(r.name));
    const length = el("td", { className: "num", textContent: lengthText(r) });
    length.dataset.lengthOf = r.name;
    length.title = state.lengths.get(r.name)?.error ?? "";
    const row = el("tr", {},
      el("td", {}, el("code", { textContent: r.name })),
      el("td", {}, el("span", { className: "game-name", textContent: gameFor(r.game)?.title ?? r.game }),
        el("small", { className: "muted game-status", textContent: `version ${r.game_version}` })),
      el("td", { textContent: r.room_id }),
      el("td", { textContent: new Date(r.started_unix_ms).toLocaleString() }),
      length,
      el("td", { className: "num", textContent: formatBytes(r.bytes) }),
      el("td", {}, open));
    row.dataset.recording = r.name;
    return row;
  });
  $("recording-list").replaceChildren(...rows);
  $("no-recordings").hidden = state.recordings.length > 0 || $("list-error").textContent !== "";
}

/**
 * The list does not say how long a recording is: the first tick of each (`count=1`) does,
 * one at a time, gently (the API's rate limit is shared with everyone).
 */
async function probeLengths(run) {
  const todo = state.recordings.filter((r) => !Number.isFinite(r.total_ticks) && !state.lengths.has(r.name)).slice(0, PROBE_MAX);
  for (const r of todo) {
    if (run !== state.probeRun) return;
    try {
      const body = await fetchWindow(state.token, r.name, 0, 1);
      state.lengths.set(r.name, { ticks: body.total_ticks });
    } catch (err) {
      if (err.badToken) return tokenRefused(err);
      if (err.retryable) return; // busy: the next refresh asks again
      state.lengths.set(r.name, { error: err.message });
    }
    if (run === state.probeRun && state.view === "list") renderList();
    await new Promise((resolve) => setTimeout(resolve, PROBE_GAP_MS));
  }
}

// ---- one recording ---------------------------------------------------------------------

function openRecording(name) {
  closeRecording();
  state.probeRun++; // the window requests have the API's calls now
  const replay = {
    name,
    cache: null,
    meta: null, // mergeMeta() of the windows so far
    game: null, // its module (js/games/), once the first window named it
    layout: null,
    room: null, // what the game module reads of a room (tick_rate, send_rate)
    head: FIRST_TICK, // the tick the play head is on
    playing: false,
    speed: 1,
    clock: new PlaybackClock(30),
    buffering: false, // playing, but waiting for the next window
    failure: null, // why this recording cannot be shown at all
    shown: null, // {tick, view, entities} of the snapshot drawn
    decoded: new Map(), // tick -> {tick, view, entities}
    drawnTick: null, // the shown tick the scoreboard was last drawn for
  };
  replay.cache = new WindowCache({
    size: windowTicks,
    load: (from, count) => fetchWindow(state.token, name, from, count),
    onLoad: (from, body) => { if (state.replay === replay) windowLoaded(replay, body); },
    onError: (from, err) => { if (state.replay === replay && err?.badToken) tokenRefused(err); },
  });
  state.replay = replay;
  history.replaceState(null, "", `${location.pathname}${location.search}#${encodeURIComponent(name)}`);
  $("player-error").textContent = "";
  $("speed").value = "1";
  shownControls = ""; // the controls show this recording from the first frame
  renderInfo(replay);
  renderWarnings(replay);
  ui.banner(`Loading ${name}…`);
  setView("player");
  replay.cache.want(replay.head);
}

function closeRecording() {
  const replay = state.replay;
  if (!replay) return;
  replay.cache.close();
  state.replay = null;
  ui.banner(null);
  ui.setHud(null);
  ui.showBoard(null);
  $("scoreboard").replaceChildren();
  history.replaceState(null, "", `${location.pathname}${location.search}`);
}

/** The first window says what the recording is; every one may say more (see mergeMeta). */
function windowLoaded(replay, body) {
  const first = replay.meta === null;
  replay.meta = mergeMeta(replay.meta, body);
  if (first) {
    const { header } = body;
    const game = gameFor(header.game);
    if (!game) {
      fail(replay, `This page cannot draw ${header.game}: it knows ${[...GAMES.keys()].join(", ")}.`);
    } else {
      try {
        replay.layout = game.layout(body.kinds);
        replay.game = game;
      } catch (err) {
        fail(replay, `The recording's kinds are not what this page's ${game.title} reads: ${err.message}`);
      }
    }
    replay.room = {
      id: header.room_id, name: header.room_id, game: header.game, max_players: header.max_players,
      tick_rate: header.tick_rate, send_rate: header.send_rate || header.tick_rate,
    };
    replay.clock = new PlaybackClock(header.tick_rate, replay.speed);
    document.title = `Tickstorm replay: ${replay.name}`;
  }
  renderInfo(replay);
  renderWarnings(replay);
}

function fail(replay, message) {
  replay.failure = message;
  replay.playing = false;
  $("player-error").textContent = message;
}

function renderInfo(replay) {
  const h = replay.meta?.header;
  const total = replay.meta?.total;
  const facts = h ? [
    ["Recording", replay.name],
    ["Game", `${gameFor(h.game)?.title ?? h.game} ${h.game_version}`],
    ["Room", `${h.room_id} · ${h.max_players} seats`],
    ["Started", new Date(h.started_unix_ms).toLocaleString()],
    ["Rates", `${h.tick_rate} Hz, ${h.send_rate} snapshots/s`],
    ["Length", `${total} ticks · ${formatTicks(total, h.tick_rate)}`],
    ["End", replay.meta.endReason ?? (replay.meta.truncated ? "cut short" : "not ended (still recording?)")],
  ] : [["Recording", replay.name]];
  $("recording-info").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
}

function renderWarnings(replay) {
  const meta = replay.meta;
  const warnings = [];
  if (Number.isFinite(meta?.firstDifference)) {
    warnings.push(["difference", `This server's game rules differ from the recording from tick ${meta.firstDifference}: from there on you see this server's replay, not what the players saw.`]);
  }
  if (meta?.truncated) {
    warnings.push(["truncated", `The recording was cut short (its server stopped in the middle of writing it): it ends at tick ${meta.total}.`]);
  }
  $("warnings").replaceChildren(...warnings.map(([kind, text]) => {
    const item = el("li", { textContent: text });
    item.dataset.warning = kind;
    return item;
  }));
}

// ---- playing ---------------------------------------------------------------------------

/** Moves the head to `tick` (held within the recording); a jump forgets the clock's fraction. */
function seek(replay, tick) {
  if (!replay.meta) return;
  replay.head = clampTick(tick, FIRST_TICK, replay.meta.total);
  replay.clock.reset();
  replay.buffering = false;
}

function setPlaying(replay, playing) {
  if (!replay.meta || replay.failure) return;
  if (playing && replay.head >= replay.meta.total) replay.head = FIRST_TICK; // play again from the start
  replay.playing = playing;
  replay.clock.reset();
  replay.buffering = false;
}

/** Plays `ticks` on, but never into a window not fetched yet: the head waits at its edge. */
function advance(replay, ticks) {
  const total = replay.meta.total;
  let target = Math.min(replay.head + ticks, total);
  const refused = replay.cache.error(target);
  if (refused && !refused.retryable) {
    // A window the server cannot replay: stop in it, where the banner says why.
    replay.head = target;
    replay.playing = false;
    replay.buffering = false;
    replay.clock.reset();
    return;
  }
  replay.buffering = replay.cache.status(target) !== "ready";
  if (replay.buffering) {
    target = Math.max(replay.head, Math.min(target, windowStart(target, windowTicks) - 1));
    replay.clock.reset();
  }
  replay.head = target;
  if (replay.head >= total) {
    replay.playing = false;
    replay.clock.reset();
  }
}

/** The decoded snapshot `[tick, bytes]`, as the game reads it (kept for a few frames). */
function decoded(replay, [tick, bytes]) {
  let entry = replay.decoded.get(tick);
  if (!entry) {
    const view = replay.game.view(decodeFrame(bytes), replay.layout, replay.room);
    entry = { tick, view, entities: new Map(replay.game.moving(view).map((e) => [e.id, e])) };
    replay.decoded.set(tick, entry);
    if (replay.decoded.size > DECODED_KEPT) replay.decoded.delete(replay.decoded.keys().next().value);
  }
  return entry;
}

/**
 * The entities to draw. Paused: exactly the shown tick's. Playing: between it and the next sent
 * snapshot, as far as the clock is between ticks, through the game page's own interpolation.
 */
function sampled(replay) {
  const a = replay.shown;
  if (!replay.playing || replay.clock.fraction === 0) return a.entities;
  const every = Math.max(1, Math.ceil(replay.room.tick_rate / replay.room.send_rate));
  const nextSent = replay.cache.snapshotAt(a.tick + every);
  if (!nextSent || nextSent[0] <= a.tick) return a.entities;
  let b;
  try {
    b = decoded(replay, nextSent);
  } catch {
    return a.entities; // said when it is the one shown
  }
  const t = Math.min(1, (replay.head + replay.clock.fraction - a.tick) / (b.tick - a.tick));
  const lerp = new Interpolator({ ...replay.game.interpolation, delayMs: 0 });
  lerp.push({ serverTime: a.view.serverTime, entities: [...a.entities.values()] });
  lerp.push({ serverTime: b.view.serverTime, entities: [...b.entities.values()] });
  if (b.view.serverTime <= a.view.serverTime) return a.entities;
  return lerp.sample(a.view.serverTime + t * (b.view.serverTime - a.view.serverTime));
}

/** What to say over the arena, or null. */
function bannerFor(replay) {
  if (replay.failure) return replay.failure;
  const error = replay.cache.error(replay.head);
  if (error && !error.retryable) return `This recording cannot be replayed here: ${error.message}`;
  if (error) return `The server is busy (${error.message}); asking again…`;
  if (replay.meta && replay.meta.total < FIRST_TICK) return "This recording has no ticks yet.";
  const status = replay.cache.status(replay.head);
  if (status !== "ready") {
    const from = windowStart(replay.head, windowTicks);
    return replay.meta ? `Loading ticks ${Math.max(FIRST_TICK, from)}–${from + windowTicks - 1}…` : `Loading ${replay.name}…`;
  }
  if (!replay.cache.snapshotAt(replay.head)) return `No snapshot was sent at or before tick ${replay.head}.`;
  return null;
}

function drawReplay(replay, now) {
  const shownNow = replay.game && !replay.failure ? replay.cache.snapshotAt(replay.head) : null;
  if (shownNow) {
    try {
      replay.shown = decoded(replay, shownNow);
    } catch (err) {
      fail(replay, `Tick ${shownNow[0]} does not read as ${replay.game.title}: ${err.message}`);
    }
  }
  const game = replay.game;
  if (!game || replay.failure || !replay.shown) {
    renderer.begin(game?.arenaSize ?? 1000);
  } else {
    // While a window loads after a jump, the last picture stays (the banner says why).
    const { view } = replay.shown;
    game.draw(renderer, { view, sampled: sampled(replay), me: null, names: replay.meta.names, away: NOBODY, timeMs: now, room: replay.room });
    if (replay.drawnTick !== replay.shown.tick) {
      replay.drawnTick = replay.shown.tick;
      const names = replay.meta.names;
      ui.renderScoreboard(view.players.map((p) => ({ id: p.id, score: p.score, name: names.get(p.id) })), null);
      const { line, board } = game.hud(view, { names, meId: null, room: replay.room });
      ui.setHud(line);
      ui.showBoard(board);
    }
  }
  const message = bannerFor(replay);
  if ($("banner").textContent !== (message ?? "") || $("banner").hidden !== !message) ui.banner(message);
}

function renderControls(replay) {
  const meta = replay.meta;
  const total = meta?.total ?? 0;
  const rate = replay.room?.tick_rate ?? 30;
  const clock = meta
    ? `tick ${replay.head} / ${total} · ${formatTicks(replay.head, rate)} / ${formatTicks(total, rate)} · ${replay.speed}x${replay.buffering ? " · loading" : ""}`
    : "";
  const key = [clock, replay.playing, replay.failure, document.activeElement?.id].join("|");
  if (key === shownControls) return;
  shownControls = key;
  const usable = Boolean(meta) && !replay.failure;
  $("play").textContent = replay.playing ? "Pause" : "Play";
  $("play").disabled = !usable || total < FIRST_TICK;
  $("step-back").disabled = !usable || replay.head <= FIRST_TICK;
  $("step-forward").disabled = !usable || replay.head >= total;
  const scrub = $("scrub");
  scrub.disabled = !usable;
  scrub.max = String(Math.max(FIRST_TICK, total));
  scrub.value = String(replay.head);
  const input = $("tick-input");
  input.max = String(Math.max(FIRST_TICK, total));
  if (document.activeElement !== input) input.value = String(replay.head); // not while typing
  $("clock").textContent = clock;
}

let lastFrame = performance.now();
function frame(now) {
  requestAnimationFrame(frame); // first: a throw below must not stop the loop
  const elapsed = now - lastFrame;
  lastFrame = now;
  const replay = state.replay;
  if (replay && state.view === "player") {
    if (replay.playing && replay.meta) {
      const ticks = replay.clock.advance(elapsed);
      if (ticks > 0) advance(replay, ticks);
    }
    replay.cache.want(replay.head, { playing: replay.playing, last: replay.meta?.total ?? Infinity });
    drawReplay(replay, now);
    renderControls(replay);
  }
}

// ---- page wiring -----------------------------------------------------------------------

$("speed").replaceChildren(...SPEEDS.map((s) => el("option", { value: String(s), textContent: `${s}x`, selected: s === 1 })));

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) {
    $("login-error").textContent = "Enter the admin token.";
    return;
  }
  $("login-error").textContent = "";
  state.token = token;
  storage.set(token);
  loadList();
});
$("logout").addEventListener("click", () => {
  storage.clear();
  $("token-input").value = "";
  showLogin();
});
$("refresh").addEventListener("click", () => loadList());
$("back").addEventListener("click", () => {
  closeRecording();
  setView("list");
  loadList();
});
$("play").addEventListener("click", () => state.replay && setPlaying(state.replay, !state.replay.playing));
const step = (delta) => {
  const replay = state.replay;
  if (!replay?.meta) return;
  replay.playing = false;
  seek(replay, replay.head + delta);
};
$("step-back").addEventListener("click", () => step(-1));
$("step-forward").addEventListener("click", () => step(1));
$("scrub").addEventListener("input", (event) => state.replay && seek(state.replay, Number(event.target.value)));
$("jump-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const typed = $("tick-input").value.trim();
  if (state.replay && typed !== "") seek(state.replay, Number(typed));
  shownControls = ""; // an empty box shows the head's tick again
});
$("speed").addEventListener("change", (event) => {
  const replay = state.replay;
  if (!replay) return;
  replay.speed = Number(event.target.value);
  replay.clock.speed = replay.speed;
});
document.addEventListener("keydown", (event) => {
  // Not while typing or choosing; a focused button clicks itself on Space.
  if (state.view !== "player" || !state.replay || event.target.closest?.("input, select, textarea")) return;
  if (event.key === " " && !event.target.closest?.("button")) setPlaying(state.replay, !state.replay.playing);
  else if (event.key === "ArrowLeft") step(-1);
  else if (event.key === "ArrowRight") step(1);
  else return;
  event.preventDefault();
});

window.tickstormReplay = {
  state: () => {
    const replay = state.replay;
    const shown = replay?.shown ?? null;
    return {
      view: state.view,
      loginError: $("login-error").textContent,
      listError: $("list-error").textContent,
      noRecordings: !$("no-recordings").hidden,
      recordings: state.recordings.map((r) => ({ name: r.name, game: r.game, room: r.room_id, length: lengthText(r) })),
      windowTicks,
      open: replay && {
        name: replay.name,
        game: replay.game?.name ?? null,
        arenaSize: replay.game?.arenaSize ?? null,
        total: replay.meta?.total ?? null,
        head: replay.head,
        shownTick: shown?.tick ?? null,
        playing: replay.playing,
        speed: replay.speed,
        buffering: replay.buffering,
        status: replay.cache.status(replay.head),
        banner: $("banner").hidden ? null : $("banner").textContent,
        failure: replay.failure,
        players: (shown?.view.players ?? []).map((p) => ({ id: p.id, name: replay.meta.names.get(p.id) ?? null, x: p.x, y: p.y, score: p.score })),
        ...(shown ? replay.game.debug(shown.view) : {}),
        firstDifference: replay.meta?.firstDifference ?? null,
        truncated: replay.meta?.truncated ?? false,
        endReason: replay.meta?.endReason ?? null,
        warnings: [...$("warnings").children].map((li) => ({ kind: li.dataset.warning, text: li.textContent })),
        requests: replay.cache.requests.map((r) => ({ ...r })),
        ready: replay.cache.ready(),
      },
    };
  },
};

requestAnimationFrame(frame);

const saved = storage.get();
if (saved) {
  state.token = saved;
  setView("list");
  loadList();
} else {
  showLogin();
}
