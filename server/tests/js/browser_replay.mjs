// End-to-end test of the recording viewer (/replay.html) in real headless Chromium, against the
// servers server/tests/it/replay_viewer.rs runs: one that recorded a real game of four bots (plus
// three altered copies of that recording: a tampered hash, a cut file, an unknown game) and one
// with an empty recording directory. The Rust test decoded the recording itself and passes what
// the chosen ticks hold, so the page is checked against the server's own decoder.
//
//   node browser_replay.mjs PLAN_JSON
//
// PLAN_JSON: {url, emptyUrl, token, artifacts, window, recording: {name, roomId, total, tickRate},
// expected: {TICK: {players: [{id, name, x, y, score}], orbs}}, chosen (a tick), apart (its two
// nearest players are that far apart), clearApart, slider,
// tampered: {name, difference}, cut: {name}, nogame: {name, message}}.
//
// Prints one JSON summary line; exits 1 with the reason.
import { mkdirSync } from "node:fs";
import { check, launchChromium, openPage as open, screenshots } from "./browser_support.mjs";

const plan = JSON.parse(process.argv[2] ?? "null");
if (!plan?.url || !plan.emptyUrl || !plan.token || !plan.artifacts) {
  console.error("usage: node browser_replay.mjs PLAN_JSON (see the header)");
  process.exit(2);
}
mkdirSync(plan.artifacts, { recursive: true });
const summary = { ok: false, screenshots: [] };
const problems = [];
const WAIT = 15_000;

const replayState = (page) => page.evaluate(() => window.tickstormReplay.state());

/** Waits for `fn(arg)` in the page; fails naming `what` and the viewer's state. */
const until = (page, fn, arg, what, timeout = WAIT) =>
  page.waitForFunction(fn, arg, { timeout }).catch(async (err) => {
    const last = await replayState(page).catch(() => null);
    throw new Error(`timed out waiting for ${what} (${err.message.split("\n")[0]}); viewer state: ${JSON.stringify(last)}`);
  });

/** Waits until the open recording shows `tick`'s own snapshot, fetched and decoded. */
const showing = (page, tick) => until(page, (t) => {
  const o = window.tickstormReplay.state().open;
  return o?.head === t && o.shownTick === t && o.status === "ready" && o.banner === null;
}, tick, `tick ${tick} on show`);

/** The viewer shows exactly the players the Rust decoder read at `tick`, with their names. */
async function checkPlayers(page, tick) {
  const want = plan.expected[tick];
  check(want, `the plan has tick ${tick}`);
  const o = (await replayState(page)).open;
  const got = [...o.players].sort((a, b) => a.id - b.id);
  const expected = [...want.players].sort((a, b) => a.id - b.id);
  check(got.length === expected.length, `tick ${tick}: ${got.length} players shown, the recording has ${expected.length}`);
  expected.forEach((e, i) => {
    const g = got[i];
    const same = g.id === e.id && g.name === e.name && g.score === e.score && Math.abs(g.x - e.x) < 0.01 && Math.abs(g.y - e.y) < 0.01;
    check(same, `tick ${tick}: shown ${JSON.stringify(g)}, recorded ${JSON.stringify(e)}`);
  });
  check(o.orbs === want.orbs, `tick ${tick}: ${o.orbs} orbs shown, ${want.orbs} recorded`);
  const rows = await page.locator("#scoreboard li").allInnerTexts();
  check(rows.length === expected.length && expected.every((e) => rows.some((r) => r.includes(e.name) && r.includes(String(e.score)))),
    `tick ${tick}: the scoreboard lists every player with its score: ${JSON.stringify(rows)}`);
}

/**
 * Each player's disc is drawn where the recording has it, in the player's own colour. Players
 * are drawn one after the other (disc, glow, name label), so a later one can cover part of an
 * earlier one: the pixels checked are points inside each disc that nothing drawn after it
 * reaches (orbs are drawn before every player). A player covered everywhere cannot be seen and
 * is counted as hidden; with players `clearApart` units apart or more, none may be.
 * Returns `{verified, hidden}`.
 */
async function checkDrawn(page, tick) {
  const expected = new Map(plan.expected[tick].players.map((p) => [p.id, p]));
  const order = (await replayState(page)).open.players.map((p) => p.id); // the drawing order
  const players = order.map((id) => expected.get(id));
  const results = await page.evaluate(async (players) => {
    const { playerColor } = await import("/js/render.js");
    const { PLAYER_RADIUS: R } = await import("/js/games/orbs.js");
    const canvas = document.getElementById("arena");
    const ctx = canvas.getContext("2d");
    const scale = canvas.width / window.tickstormReplay.state().open.arenaSize; // device px per unit
    const units = (cssPx) => (cssPx * (window.devicePixelRatio || 1)) / scale;
    const measure = document.createElement("canvas").getContext("2d");
    measure.font = "600 13px system-ui, sans-serif"; // render.js drawLabel, in CSS px
    const swatch = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
    const colour = (css) => {
      swatch.fillStyle = css;
      swatch.fillRect(0, 0, 1, 1);
      return [...swatch.getImageData(0, 0, 1, 1).data.slice(0, 3)];
    };
    // What each player paints over what came before: its disc with a glow, its label (above it,
    // below it near the top wall), generously bounded.
    const reach = players.map((p) => {
      const above = p.y - R - 10;
      const labelY = above < units(18) ? p.y + R + units(18) : above;
      const half = units(measure.measureText(`${p.name}  ${p.score}`).width / 2 + 6);
      return { x: p.x, y: p.y, glow: R + units(24), label: [p.x - half, p.x + half, labelY - units(18), labelY + units(8)] };
    });
    return players.map((p, i) => {
      const want = colour(playerColor(p.id));
      const points = [];
      for (let dx = -12; dx <= 12; dx += 3) {
        for (let dy = -12; dy <= 12; dy += 3) {
          const x = p.x + dx;
          const y = p.y + dy;
          if (Math.hypot(dx, dy) > 0.75 * R) continue; // well inside the disc
          if (Math.hypot(dx + 5, dy + 5) < 0.38 * R + 2) continue; // the disc's own highlight
          const covered = reach.slice(i + 1).some((o) => Math.hypot(x - o.x, y - o.y) < o.glow
            || (x > o.label[0] && x < o.label[1] && y > o.label[2] && y < o.label[3]));
          if (!covered) points.push([x, y]);
        }
      }
      const wrong = points.map(([x, y]) => [x, y, [...ctx.getImageData(Math.round(x * scale), Math.round(y * scale), 1, 1).data.slice(0, 3)]])
        .filter(([, , got]) => got.some((v, k) => Math.abs(v - want[k]) > 8));
      return { id: p.id, want, clear: points.length, wrong: wrong.slice(0, 3) };
    });
  }, players);
  let verified = 0;
  for (const r of results) {
    check(r.wrong.length === 0, `tick ${tick}: player ${r.id}'s disc (colour ${r.want}) is not drawn at its position: ${JSON.stringify(r.wrong)}`);
    if (r.clear > 0) verified++;
  }
  const hidden = results.length - verified;
  check(verified >= 1 && (hidden === 0 || plan.apart < plan.clearApart),
    `tick ${tick}: ${verified} players seen drawn, ${hidden} covered by others (${plan.apart} units apart): ${JSON.stringify(results)}`);
  return { verified, hidden };
}

async function openRecording(page, name) {
  await page.click(`button[data-open-recording="${name}"]`);
  await until(page, (n) => {
    const o = window.tickstormReplay.state().open;
    return o?.name === n && (o.total !== null || o.banner?.startsWith("This recording cannot"));
  }, name, `${name} to open`);
}

async function backToList(page) {
  await page.click("#back");
  await until(page, () => window.tickstormReplay.state().view === "list" && window.tickstormReplay.state().recordings.length > 0, null, "the list again");
}

async function jump(page, tick) {
  await page.fill("#tick-input", String(tick));
  await page.press("#tick-input", "Enter");
  await showing(page, tick);
}

/**
 * Console errors the pages are expected to log, from refusals this test asks for: the wrong
 * token's 403 on the empty server's list, and the 422 of every request for the recording of an
 * unknown game. Anything else is a failure.
 */
function expected(problem) {
  const status = /console error: Failed to load resource: the server responded with a status of (\d+) \([^)]*\) \(at ([^)]*)\)$/.exec(problem);
  if (!status) return false;
  const [, code, at] = status;
  return (code === "403" && at === `${plan.emptyUrl}/api/recordings`)
    || (code === "422" && at.startsWith(`${plan.url}/api/recordings/${plan.nogame.name}?`));
}

const browser = await launchChromium();
const shot = screenshots(plan.artifacts, summary);
const { name, total, tickRate } = plan.recording;

try {
  // --- a server without recordings: the token is checked, then "no recordings" --------
  const empty = await open(browser, "empty", problems);
  await empty.goto(`${plan.emptyUrl}/replay.html`);
  await empty.fill("#token-input", "not-the-admin-token");
  await empty.click("#login-submit");
  await until(empty, () => window.tickstormReplay.state().loginError === "wrong admin token", null, "the wrong token refused with the server's words");
  check((await replayState(empty)).view === "login", "a wrong token stays on the form");
  await empty.fill("#token-input", plan.token);
  await empty.click("#login-submit");
  await until(empty, () => window.tickstormReplay.state().view === "list" && window.tickstormReplay.state().noRecordings, null, "the empty list");
  check(await empty.locator("#no-recordings").isVisible(), "the page says there are no recordings");
  summary.empty = (await empty.locator("#no-recordings").innerText()).slice(0, 40);

  // --- the dashboard links to the viewer, and its login carries over ---------------------
  const page = await open(browser, "viewer", problems);
  await page.goto(`${plan.url}/dashboard`);
  await page.fill("#token-input", plan.token);
  await page.locator("#login-form").evaluate((f) => f.requestSubmit());
  await page.waitForFunction(() => (window.tickstormDashboard?.metricsCount ?? 0) >= 1, null, { timeout: WAIT });
  await page.click("#recordings-link");
  await page.waitForURL(`${plan.url}/replay.html`);
  await until(page, (n) => window.tickstormReplay.state().recordings.length === n, 4, "the four recordings, without asking for the token again");
  check((await replayState(page)).view === "list", "the list, not the login form");
  // Small windows from here on, so the short recording spans several (and the token is kept).
  await page.goto(`${plan.url}/replay.html?window=${plan.window}`);
  await until(page, (w) => window.tickstormReplay.state().recordings.length === 4 && window.tickstormReplay.state().windowTicks === w,
    plan.window, `the list with windows of ${plan.window} ticks`);
  const listed = await until(page, ({ real, nogame }) => {
    const rows = window.tickstormReplay.state().recordings;
    const length = (n) => rows.find((r) => r.name === n)?.length;
    return length(real) !== "…" && length(nogame) !== "…" && rows;
  }, { real: name, nogame: plan.nogame.name }, "the recordings' lengths").then((h) => h.jsonValue());
  const real = listed.find((r) => r.name === name);
  const seconds = total / tickRate;
  const length = `${Math.floor(seconds / 60)}:${(Math.round((seconds % 60) * 10) / 10).toFixed(1).padStart(4, "0")}`;
  check(real.game === "orbs" && real.room === plan.recording.roomId && real.length === length, `the list shows the recording: ${JSON.stringify(real)} (length ${length})`);
  check(listed.find((r) => r.name === plan.nogame.name).length === "cannot replay", `the list says the unknown game's recording cannot be replayed: ${JSON.stringify(listed)}`);
  await shot(page, "replay-list");

  // --- open it: the first tick, then a jump to the chosen tick ---------------------------
  await openRecording(page, name);
  await showing(page, 1);
  check((await page.evaluate(() => location.hash)) === `#${name}`, "the address names the open recording");
  const tick = plan.chosen;
  await jump(page, tick);
  await checkPlayers(page, tick);
  const drawn = await checkDrawn(page, tick);
  const clock = await page.locator("#clock").innerText();
  check(clock.startsWith(`tick ${tick} / ${total} · `), `the clock shows the tick: ${clock}`);
  await shot(page, "replay-orbs");
  summary.chosen = { tick, ...drawn, clock };

  // --- one tick forward, two back ------------------------------------------------------
  await page.click("#step-forward");
  await showing(page, tick + 1);
  await checkPlayers(page, tick + 1);
  await page.click("#step-back");
  await page.click("#step-back");
  await showing(page, tick - 1);
  await checkPlayers(page, tick - 1);

  // --- the slider: a tick two windows away, fetched when the head gets there --------------
  const slider = plan.slider;
  const before = (await replayState(page)).open.requests.length;
  await page.locator("#scrub").evaluate((input, t) => {
    input.value = String(t);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, slider);
  await showing(page, slider);
  await checkPlayers(page, slider);
  const requests = (await replayState(page)).open.requests;
  const sliderWindow = Math.floor(slider / plan.window) * plan.window;
  check(requests.slice(before).some((r) => r.from === sliderWindow),
    `the slider's window (${sliderWindow}, ${plan.window} ticks, for tick ${slider}) was fetched after the ${before} requests before it: ${JSON.stringify(requests)}`);
  check((await page.locator("#tick-input").inputValue()) === String(slider), "the number input follows the slider");

  // --- play at 4x from the start: the next window is asked for before the head reaches it ---
  await backToList(page);
  await openRecording(page, name);
  await showing(page, 1);
  await page.selectOption("#speed", "4");
  await page.click("#play");
  const past = plan.window + 2;
  await until(page, (t) => window.tickstormReplay.state().open.head >= t, past, `playing past tick ${past}`);
  await page.click("#play");
  const played = (await replayState(page)).open;
  check(!played.playing && played.speed === 4, `paused at 4x: ${JSON.stringify(played)}`);
  const prefetch = played.requests.find((r) => r.from === plan.window);
  check(prefetch && prefetch.playing && prefetch.head < plan.window && prefetch.head >= plan.window / 2,
    `the second window was asked for while playing, before the head got there: ${JSON.stringify(played.requests)}`);
  await page.waitForTimeout(300);
  check((await replayState(page)).open.head === played.head, "paused means the head stays");
  summary.played = { head: played.head, requests: played.requests };

  // --- to the end: a tick past it goes to the last one; playing stops there ---------------
  await page.fill("#tick-input", String(total + 1000));
  await page.press("#tick-input", "Enter");
  await showing(page, total);
  await jump(page, total - 5);
  await page.click("#play");
  await until(page, (t) => {
    const o = window.tickstormReplay.state().open;
    return !o.playing && o.head === t;
  }, total, "playing to stop on the last tick");
  check((await page.locator("#recording-info").innerText()).includes(plan.recording.endReason), "the facts say how the recording ended");

  // --- a recording whose hash differs at one tick: warned once the window reaches it -------
  await backToList(page);
  await openRecording(page, plan.tampered.name);
  await showing(page, 1);
  const d = plan.tampered.difference;
  check((await replayState(page)).open.warnings.length === 0, "no warning before any window reaches the difference");
  await jump(page, d + 1);
  await until(page, (d) => window.tickstormReplay.state().open.warnings.some((w) => w.kind === "difference" && w.text.includes(`from tick ${d}`)), d, `the warning of the difference at tick ${d}`);
  check((await replayState(page)).open.firstDifference === d, "the difference's tick");
  check((await page.locator("#warnings").innerText()).includes(`differ from the recording from tick ${d}`), "the warning is on the page");
  await shot(page, "replay-difference");

  // --- a recording cut short ----------------------------------------------------------
  await backToList(page);
  await openRecording(page, plan.cut.name);
  await showing(page, 1);
  // The API says so once a window reaches the end of the file.
  await jump(page, (await replayState(page)).open.total);
  await until(page, () => window.tickstormReplay.state().open.warnings.some((w) => w.kind === "truncated"), null, "the warning of a cut recording");
  summary.cut = (await replayState(page)).open.warnings;

  // --- a recording this server cannot replay: the API's message --------------------------
  await backToList(page);
  await openRecording(page, plan.nogame.name);
  await until(page, (m) => window.tickstormReplay.state().open.banner?.includes(m), plan.nogame.message, "the server's reason on the page");
  check(await page.locator("#play").isDisabled(), "nothing to play");
  await shot(page, "replay-cannot");
  summary.cannot = (await replayState(page)).open.banner;

  const unexpected = problems.filter((p) => !expected(p));
  check(unexpected.length === 0, `no page errors: ${unexpected.join("; ")}`);
  summary.expectedConsoleErrors = problems.length;
  summary.ok = true;
} catch (err) {
  summary.error = err.message;
  summary.problems = problems;
} finally {
  await browser.close();
}
console.log(JSON.stringify(summary));
process.exit(summary.ok ? 0 : 1);
