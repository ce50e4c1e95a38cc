// End-to-end test of the web client and the dashboard in real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core), against a running Tickstorm server.
//
//   node browser.mjs http://127.0.0.1:PORT ADMIN_TOKEN ARTIFACT_DIR [websocket|polling]
//
// The last argument is the Engine.IO transport the pages must end up on: "websocket" (the
// default: they start on long-polling and upgrade) or "polling" (a server run with
// `--transports polling`, as behind a proxy that blocks WebSocket: everything below must work
// without ever upgrading).
//
// Two players open the game, quick join one room, see each other, move with the keyboard and
// a touch drag, chat; one loses its connection and must come back to the same seat by itself;
// then the dashboard refuses a wrong token and shows numbers that change every second. Along the
// way the page must get delta snapshots (docs/protocol.md, version 3): while it moves (inputs
// carry its baseline), while it stands still (it acks with snapshot:ack), after it lost its
// states (a refused delta sends it back to a keyframe) and again after the rejoin.
// Screenshots land in ARTIFACT_DIR. Prints one JSON summary line; exits 1 with the reason.
import { mkdirSync } from "node:fs";
import { check, enterLobby, launchChromium, openPage as open, screenshots, state, until } from "./browser_support.mjs";

const [url, adminToken, artifacts, transport = "websocket"] = process.argv.slice(2);
if (!url || !adminToken || !artifacts || !["websocket", "polling"].includes(transport)) {
  console.error("usage: node browser.mjs URL ADMIN_TOKEN ARTIFACT_DIR [websocket|polling]");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const summary = { ok: false, transport: null, screenshots: [] };
const problems = [];

/**
 * Console errors the pages ride out, as they would behind a proxy that blocks WebSocket:
 * - polling only: the upgrade probe refused (socketioxide's open packet still offers
 *   `upgrades: ["websocket"]` when WebSocket is off, unlike a stock server);
 * - a long-polling request of a session that has ended (the refused dashboard login, ana's
 *   dropped connection, bob's kick) answered 400 "Session ID unknown": the client does not
 *   abort a poll in flight when its session closes. `live` maps each page to the Engine.IO
 *   session it still uses; a 400 on that one is a failure.
 * Anything else is a failure.
 */
function expected(problem, live) {
  if (transport === "polling" && /WebSocket connection to 'ws:\/\/[^']*\/socket\.io\/\?EIO=4&transport=websocket&sid=[^']*' failed: Error during WebSocket handshake: Unexpected response code: 400/.test(problem)) return true;
  const m = /^(\w+): console error: Failed to load resource: the server responded with a status of 400 \(Bad Request\) \(at http:\/\/[^ ]*\/socket\.io\/\?EIO=4&transport=polling&[^ ]*sid=([^&) ]+)\)$/.exec(problem);
  return m !== null && m[1] in live && live[m[1]] !== m[2];
}

const browser = await launchChromium();
const openPage = (label) => open(browser, label, problems);

const shot = screenshots(artifacts, summary);

async function play(page, name) {
  await enterLobby(page, url, name);
  await page.click("#quick-join");
  await until(page, () => window.tickstorm.state().me !== null, null, `${name} to be placed in a room`);
  return state(page);
}

/** The canvas pixel under a world position, read back from the page. */
const pixelAt = (page, pos) => page.evaluate(({ x, y }) => {
  const canvas = document.getElementById("arena");
  const scale = canvas.width / 1000;
  const [r, g, b] = canvas.getContext("2d").getImageData(Math.round(x * scale), Math.round(y * scale), 1, 1).data;
  return { r, g, b };
}, pos);

/**
 * Holds `key` until the server has moved the player `distance` units along `axis`, so the check
 * does not depend on how fast a loaded machine runs the page's timers. (On a loaded machine two
 * inputs can land in one server tick, where only the later one counts: the prediction is then
 * corrected back, so the server's position is the one to wait for.)
 */
async function holdKeyUntilMoved(page, key, axis, distance) {
  const start = (await state(page)).serverMe[axis];
  await page.keyboard.down(key);
  try {
    await until(page, ({ axis, start, distance }) => Math.abs(window.tickstorm.state().serverMe[axis] - start) >= distance,
      { axis, start, distance }, `${key} to move the player ${distance} units`);
  } finally {
    await page.keyboard.up(key);
  }
}

/** Waits until the page's inputs are all acked and applied, and the prediction has settled. */
const settled = (page) => until(page, () => {
  const s = window.tickstorm.state();
  return s.inputsAcked === s.inputsSent && s.serverMe?.lastInputSeq === s.lastAckedSeq && s.serverMe.vx === 0 && s.serverMe.vy === 0;
}, null, "inputs to be acked and applied");

try {
  // --- one player: join, drawn, moves with the keyboard --------------------------------
  const ana = await openPage("ana");
  const anaStart = await play(ana, "ana");
  check(anaStart.room && anaStart.playerId > 0, "ana has a seat");
  // The upgrade happens in the background (polling carries the session until it is done).
  await until(ana, (t) => window.tickstorm.state().transport === t, transport, `ana's connection on ${transport}`);
  await ana.waitForTimeout(300);
  const still = await state(ana);
  const px = await pixelAt(ana, still.me);
  check(px.r + px.g + px.b > 300, `ana's player is drawn at her position (pixel ${JSON.stringify(px)})`);
  await holdKeyUntilMoved(ana, still.me.x < 500 ? "d" : "a", "x", 150);
  await holdKeyUntilMoved(ana, still.me.y < 500 ? "s" : "w", "y", 80);
  await settled(ana);
  const moved = await state(ana);
  const dx = Math.abs(moved.me.x - still.me.x);
  const dy = Math.abs(moved.me.y - still.me.y);
  check(dx >= 150 && dy >= 80, `keys move the player (dx ${dx.toFixed(1)}, dy ${dy.toFixed(1)})`);
  const drift = Math.hypot(moved.me.x - moved.serverMe.x, moved.me.y - moved.serverMe.y);
  check(drift < 2, `prediction agrees with the server once inputs settle (off by ${drift.toFixed(2)})`);
  check(moved.inputsAcked === moved.inputsSent && moved.inputsSent > 20, `inputs acked (${moved.inputsAcked}/${moved.inputsSent})`);
  check(moved.serverMe.lastInputSeq === moved.lastAckedSeq, "the server applied the last input");
  check(Number.isFinite(moved.pingMs), "ping measured with the time event");
  summary.moved = { dx: Math.round(dx), dy: Math.round(dy), inputs: moved.inputsSent, pingMs: moved.pingMs };

  // --- deltas: the positions above already came as deltas; standing still, they keep coming ---
  check(moved.keyframes >= 1 && moved.deltas > 0, `the page gets deltas after its first keyframe (${moved.keyframes} keyframes, ${moved.deltas} deltas)`);
  check(moved.snapshotErrors === 0, `no snapshot refused (${moved.snapshotErrors})`);
  // No inputs now: only snapshot:ack keeps the baseline fresh. Without it the server would go
  // back to keyframes once the baseline is 32 sends old (about a second at 30 Hz).
  await until(ana, (from) => window.tickstorm.state().deltas >= from + 60, moved.deltas, "60 more deltas while ana stands still", 15_000);
  const idle = await state(ana);
  const idleDeltas = idle.deltas - moved.deltas;
  const idleKeyframes = idle.keyframes - moved.keyframes;
  check(idle.inputsSent === moved.inputsSent, `no input sent while standing still (${moved.inputsSent} -> ${idle.inputsSent})`);
  // A stalled page (a loaded machine) may miss a baseline's window for a moment: a few
  // keyframes are tolerated, a steady stream (acks not working) is not.
  check(idleKeyframes * 10 <= idleDeltas, `standing still, snapshots stay deltas (${idleDeltas} deltas, ${idleKeyframes} keyframes)`);
  check(idle.baseline === idle.tick && idle.baseline > moved.baseline, `the baseline is the newest snapshot (${moved.baseline} -> ${idle.baseline}, tick ${idle.tick})`);
  const idleDrift = Math.hypot(idle.me.x - idle.serverMe.x, idle.me.y - idle.serverMe.y);
  check(idleDrift < 2 && idle.serverMe.x === moved.serverMe.x && idle.serverMe.y === moved.serverMe.y,
    `the position read from deltas stays put and agrees with the prediction (off by ${idleDrift.toFixed(2)}; ${JSON.stringify([moved.serverMe, idle.serverMe])})`);
  summary.deltas = { moving: { keyframes: moved.keyframes, deltas: moved.deltas }, idle: { keyframes: idleKeyframes, deltas: idleDeltas } };

  // --- a delta the page cannot apply: it asks for a keyframe (baseline 0) and carries on -------
  await ana.evaluate(() => window.tickstorm.forgetSnapshotStates());
  await until(ana, (before) => {
    const s = window.tickstorm.state();
    return s.snapshotErrors > 0 && s.keyframes > before.keyframes && s.deltas >= before.deltas + 20;
  }, idle, "a refused delta, then a keyframe, then deltas again");
  const recovered = await state(ana);
  // Only the deltas already on their way when the server heard "0" are refused: the first refusal
  // acks at once. A handful; a second's worth allows for a page stalled on a loaded machine.
  check(recovered.snapshotErrors <= 30, `refused deltas until the keyframe: ${recovered.snapshotErrors}`);
  const recoveredDrift = Math.hypot(recovered.me.x - recovered.serverMe.x, recovered.me.y - recovered.serverMe.y);
  check(recoveredDrift < 2, `after the keyframe the prediction still agrees (off by ${recoveredDrift.toFixed(2)})`);
  summary.recovery = { refused: recovered.snapshotErrors, keyframes: recovered.keyframes - idle.keyframes };

  // --- touch: a drag on the canvas steers too ----------------------------------------
  const beforeTouch = (await state(ana)).me;
  const box = await ana.locator("#arena").boundingBox();
  const touchDir = beforeTouch.x < 500 ? 1 : -1;
  const touch = (type, dx) => ana.evaluate(({ type, x, y }) => {
    document.getElementById("arena").dispatchEvent(new PointerEvent(type, {
      pointerId: 7, pointerType: "touch", clientX: x, clientY: y, bubbles: true, isPrimary: true,
    }));
  }, { type, x: box.x + box.width / 2 + dx, y: box.y + box.height / 2 });
  await touch("pointerdown", 0);
  await touch("pointermove", touchDir * 60);
  try {
    await until(ana, ({ x0, dir }) => (window.tickstorm.state().me.x - x0) * dir >= 50, { x0: beforeTouch.x, dir: touchDir }, "a touch drag to move the player");
  } finally {
    await touch("pointerup", touchDir * 60);
  }
  await settled(ana);

  // --- a second player: both see each other, chat ------------------------------------
  const bob = await openPage("bob");
  const bobStart = await play(bob, "bob");
  check(bobStart.room.id === anaStart.room.id, "quick join puts bob in ana's room");
  await until(ana, (id) => window.tickstorm.state().players.some((p) => p.id === id && p.name === "bob"), bobStart.playerId, "ana to see bob");
  await until(bob, (id) => window.tickstorm.state().players.some((p) => p.id === id && p.name === "ana"), anaStart.playerId, "bob to see ana by name");
  await bob.click("#chat-input");
  await bob.fill("#chat-input", "hello ana, nice orbs");
  await bob.keyboard.press("Enter");
  await until(ana, () => window.tickstorm.state().chat.some((m) => m.name === "bob" && m.text === "hello ana, nice orbs"), null, "bob's chat at ana");
  check((await ana.locator("#chat-log").innerText()).includes("hello ana, nice orbs"), "the chat shows in ana's panel");

  // --- whispers, typing, notices, who is online -------------------------------------
  const online = (await state(bob)).online;
  check(online?.ok && online.players >= 1 && online.connections >= 2, `bob's lobby counted who is online: ${JSON.stringify(online)}`);
  check((await bob.locator("#online").innerText()).includes("online"), "the lobby shows the online line");
  await bob.fill("#chat-input", "/w ANA psst, behind you");
  await bob.keyboard.press("Enter");
  await until(ana, () => window.tickstorm.state().chat.some((m) => m.whisper === "from" && m.name === "bob" && m.text === "psst, behind you"), null, "bob's whisper at ana");
  await until(bob, () => window.tickstorm.state().chat.some((m) => m.whisper === "to" && m.name === "ana"), null, "bob's own copy of his whisper");
  check((await ana.locator("#chat-log").innerText()).includes("(whisper)"), "ana's panel marks the whisper");
  await ana.click("#chat-input");
  await ana.fill("#chat-input", "on my w");
  await until(bob, (id) => window.tickstorm.state().typing.includes(id), anaStart.playerId, "bob to see ana typing");
  await until(bob, () => document.getElementById("typing").textContent.includes("ana is typing"), null, "bob's panel to say ana is typing");
  await ana.fill("#chat-input", "");
  await until(bob, (id) => !window.tickstorm.state().typing.includes(id), anaStart.playerId, "ana's typing to end at bob");
  await ana.keyboard.press("Escape");
  const noticed = await fetch(`${url}/api/notice`, {
    method: "POST",
    headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ text: "Server restarts in 5 minutes", level: "warning" }),
  });
  check(noticed.status === 200, `the HTTP API's notice: ${noticed.status} ${await noticed.text()}`);
  for (const [page, who] of [[ana, "ana"], [bob, "bob"]]) {
    await until(page, () => window.tickstorm.state().notices.some((n) => n.level === "warning" && n.text.startsWith("Server restarts")), null, `the notice at ${who}`);
    check((await page.locator("#chat-log").innerText()).includes("Notice: Server restarts in 5 minutes"), `${who}'s panel shows the notice`);
  }
  // The scoreboard is redrawn from snapshots; on a loaded machine it can lag the chat panel.
  await until(ana, () => document.querySelector("#scoreboard").innerText.includes("bob"), null, "bob on ana's scoreboard");
  await shot(ana, "game-ana");
  await shot(bob, "game-bob");

  // --- the connection drops: reconnect and rejoin the same seat ----------------------
  const beforeDrop = await state(ana);
  await ana.evaluate(() => window.tickstorm.dropConnection());
  // The drop, the reconnection and the rejoin can all happen between two polls: a new
  // connection counted is as good as seeing the status change.
  await until(ana, (before) => {
    const s = window.tickstorm.state();
    return s.status !== "connected" || s.reconnects > before;
  }, beforeDrop.reconnects, "ana to notice the drop");
  await until(ana, () => {
    const s = window.tickstorm.state();
    return s.rejoins >= 1 && s.status === "connected" && s.me !== null;
  }, null, "ana to reconnect, rejoin and get a snapshot");
  const back = await state(ana);
  check(back.playerId === beforeDrop.playerId, `same player id after the rejoin (${back.playerId} vs ${beforeDrop.playerId})`);
  check(back.room.id === beforeDrop.room.id, "same room after the rejoin");
  check(back.sid !== beforeDrop.sid, "a new connection");
  await until(ana, (score) => window.tickstorm.state().serverMe?.score >= score, beforeDrop.serverMe.score, "ana's score to be kept");
  await holdKeyUntilMoved(ana, back.me.x < 500 ? "d" : "a", "x", 40);
  await settled(ana);
  const afterRejoin = await state(ana);
  check(Math.abs(afterRejoin.serverMe.x - back.me.x) >= 40,
    `ana moves again after the rejoin, on the server too (${JSON.stringify({ back: back.me, server: afterRejoin.serverMe, me: afterRejoin.me, sent: afterRejoin.inputsSent, acked: afterRejoin.inputsAcked, lastAcked: afterRejoin.lastAckedSeq })})`);
  await until(bob, (id) => window.tickstorm.state().players.some((p) => p.id === id), anaStart.playerId, "bob to still see ana");
  // The new seat started from a keyframe, then deltas again.
  check(afterRejoin.keyframes > beforeDrop.keyframes, `a keyframe after the rejoin (${beforeDrop.keyframes} -> ${afterRejoin.keyframes})`);
  await until(ana, (from) => window.tickstorm.state().deltas >= from + 10, afterRejoin.deltas, "deltas after the rejoin");
  for (const [page, who] of [[ana, "ana"], [bob, "bob"]]) {
    const s = await state(page);
    // Ana's count is the one from the recovery above: nothing refused since.
    const expected = who === "ana" ? recovered.snapshotErrors : 0;
    check(s.snapshotErrors === expected && s.deltas > 0, `${who}: deltas, none refused (${s.keyframes} keyframes, ${s.deltas} deltas, ${s.snapshotErrors} refused)`);
  }
  summary.rejoin = { playerId: back.playerId, reconnects: back.reconnects };

  // --- dashboard: wrong token refused, live numbers ----------------------------------
  const dash = await openPage("dashboard");
  await dash.goto(`${url}/dashboard`);
  await dash.fill("#token-input", "not-the-token");
  await dash.locator("#login-form").evaluate((f) => f.requestSubmit());
  await until(dash, () => document.getElementById("login-error")?.textContent.includes("invalid admin token"), null, "the dashboard to refuse a wrong token");
  await dash.fill("#token-input", adminToken);
  await dash.locator("#login-form").evaluate((f) => f.requestSubmit());
  await until(dash, () => (window.tickstormDashboard?.metricsCount ?? 0) >= 1, null, "the first metrics push");
  const first = await dash.evaluate(() => ({ ...window.tickstormDashboard.lastMetrics, count: window.tickstormDashboard.metricsCount }));
  await until(dash, (count) => window.tickstormDashboard.metricsCount >= count + 2, first.count, "two more metrics pushes");
  const later = await dash.evaluate(() => ({ ...window.tickstormDashboard.lastMetrics, count: window.tickstormDashboard.metricsCount }));
  check(later.time - first.time >= 1500, `pushes are about a second apart (${later.time - first.time} ms for 2)`);
  check(later.time > first.time && later.uptime_s > first.uptime_s, "the numbers change each second");
  const tile = Number((await dash.locator("#tile-connections").innerText()).replace(/[^\d.]/g, ""));
  check(tile >= 2, `the connections tile shows both players (${tile})`);
  await until(dash, (id) => document.querySelector(`#rooms-table tr[data-room-id="${id}"]`) !== null, anaStart.room.id, "the room in the room table");
  await dash.waitForTimeout(1500);
  await shot(dash, "dashboard");
  summary.dashboard = { metricsPushes: later.count, connections: tile, tickP99: later.tick_ms?.p99 };

  // --- the dashboard's buttons: kick bob, then close the room ------------------------
  await dash.click(`button[data-kick-player="${bobStart.playerId}"]`);
  // Over WebSocket bob gets the server's DISCONNECT and is shown the name screen. Over
  // long-polling the server closes the Engine.IO session right behind that packet, and an input
  // POST still in flight can come back 400 first: the client then takes it for a lost network,
  // reconnects, and its room:rejoin is refused (the seat is gone). Either way the page must tell
  // bob he is out of the room; which way it went is in the summary.
  await until(bob, (polling) => document.getElementById("screen-name").hidden === false
    || (polling && document.getElementById("screen-lobby").hidden === false
      && document.getElementById("lobby-error").textContent.includes("Could not take your seat back")),
  transport === "polling", "bob's page to show he was removed");
  summary.kick = await bob.evaluate(() => (document.getElementById("screen-name").hidden === false ? "server disconnect" : "rejoin refused"));
  await until(ana, (id) => !window.tickstorm.state().players.some((p) => p.id === id), bobStart.playerId, "bob to leave ana's room");
  dash.once("dialog", (dialog) => dialog.accept());
  await dash.click(`button[data-close-room="${anaStart.room.id}"]`);
  await until(ana, () => document.getElementById("screen-lobby").hidden === false && window.tickstorm.state().room === null, null, "ana back in the lobby after the room closed");
  check((await ana.locator("#lobby-error").innerText()).includes("closed (admin)"), "ana is told why the room closed");

  // Polling only: nothing ever upgraded, the rejoin included. Otherwise the rejoined
  // connection upgraded again.
  await until(ana, (t) => window.tickstorm.state().transport === t, transport, `ana's connection on ${transport} at the end`);
  summary.transport = (await state(ana)).transport;
  const live = {
    ana: (await state(ana)).engineId,
    bob: (await state(bob)).engineId,
    dashboard: (await dash.evaluate(() => window.tickstormDashboard.engine()))?.id ?? null,
  };
  check(live.ana !== null && live.dashboard !== null && (live.bob === null) === (summary.kick === "server disconnect"),
    `ana and the dashboard still connected, kicked bob only if he reconnected (${summary.kick}): ${JSON.stringify(live)}`);
  check((await dash.evaluate(() => window.tickstormDashboard.engine().transport)) === transport, `the dashboard on ${transport}`);
  const unexpected = problems.filter((p) => !expected(p, live));
  check(unexpected.length === 0, `no page errors: ${unexpected.join("; ")}`);
  summary.expectedConsoleErrors = problems.length - unexpected.length;
  summary.ok = true;
} catch (err) {
  summary.error = err.message;
  summary.problems = problems;
} finally {
  await browser.close();
}
console.log(JSON.stringify(summary));
process.exit(summary.ok ? 0 : 1);
