// End-to-end test of blasters in the web client, in real headless Chromium against a running
// Tickstorm server that hosts it.
//
//   node browser_blasters.mjs http://127.0.0.1:PORT ARTIFACT_DIR
//
// Ana picks blasters in the lobby and creates a room with a short round (first kill wins, no
// warm-up); bob finds it in the lobby list, marked as blasters, and joins it. Ana walks toward bob
// with a touch drag, aims at him with the mouse and holds the button: bob's page shows his health
// drop, then the kill ends the round and both pages show the scoreboard; then the next round
// starts. Both pages must have read the round from delta snapshots, refusing none. Screenshots
// land in ARTIFACT_DIR. Prints one JSON summary line; exits 1 with the reason.
import { mkdirSync } from "node:fs";
import { WAIT, check, enterLobby, launchChromium, openPage, screenshots, state, until } from "./browser_support.mjs";

const [url, artifacts] = process.argv.slice(2);
if (!url || !artifacts) {
  console.error("usage: node browser_blasters.mjs URL ARTIFACT_DIR");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const ARENA = 800; // games/blasters/src/rules.rs ARENA_SIZE
const RANGE = 350; // well inside a bolt's reach (600 units/s for 1 s)
const summary = { ok: false, screenshots: [] };
const problems = [];
const browser = await launchChromium();

const shot = screenshots(artifacts, summary);


/** The page position of a world position on the arena canvas. */
async function onScreen(page, { x, y }) {
  const box = await page.locator("#arena").boundingBox();
  return { x: box.x + (x * box.width) / ARENA, y: box.y + (y * box.height) / ARENA };
}

const fighter = (s, playerId) => s.players.find((p) => p.id === playerId);

try {
  // --- ana creates a blasters room from the lobby, with the create options -------------
  const ana = await openPage(browser, "ana", problems);
  await enterLobby(ana, url, "ana");
  await ana.selectOption("#game-select", "blasters");
  await ana.waitForSelector("#create-opt-round_seconds", { state: "visible", timeout: WAIT });
  await ana.fill("#create-opt-round_seconds", "30");
  await ana.fill("#create-opt-kills_to_win", "1");
  await ana.fill("#create-opt-warmup_seconds", "0");
  await ana.fill("#create-name", "blast test");
  await ana.click("#create-form button[type=submit]");
  await until(ana, () => window.tickstorm.state().me !== null, null, "ana to be placed in her blasters room");
  const anaStart = await state(ana);
  check(anaStart.game === "blasters" && anaStart.room.game === "blasters", `ana plays blasters (${anaStart.game}, ${anaStart.room.game})`);
  check(anaStart.room.name === "blast test", `the room has its name (${anaStart.room.name})`);
  check(anaStart.serverMe?.health === 100, `ana starts with full health (${JSON.stringify(anaStart.serverMe)})`);

  // --- bob sees it in the lobby as a blasters room and joins it ------------------------
  const bob = await openPage(browser, "bob", problems);
  await enterLobby(bob, url, "bob");
  const row = `#room-list tr[data-room-id="${anaStart.room.id}"]`;
  await bob.waitForSelector(row, { state: "visible", timeout: WAIT });
  const rowText = await bob.locator(row).innerText();
  check(rowText.includes("Blasters") && rowText.includes("blast test"), `the lobby row names the game: ${JSON.stringify(rowText)}`);
  await bob.click(`${row} button`);
  await until(bob, () => window.tickstorm.state().me !== null, null, "bob to be placed in ana's room");
  const bobStart = await state(bob);
  check(bobStart.room.id === anaStart.room.id && bobStart.game === "blasters", "bob joined ana's blasters room");
  await until(ana, (id) => window.tickstorm.state().players.some((p) => p.id === id && p.name === "bob"), bobStart.playerId, "ana to see bob");
  await until(ana, () => window.tickstorm.state().round?.phaseName === "playing", null, "the round to start (no warm-up)");

  // --- ana walks toward bob with a touch drag until he is in range ---------------------
  const s0 = await state(ana);
  const target = fighter(s0, bobStart.playerId);
  const dist0 = Math.hypot(target.x - s0.me.x, target.y - s0.me.y);
  if (dist0 > RANGE) {
    const box = await ana.locator("#arena").boundingBox();
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const ux = (target.x - s0.me.x) / dist0;
    const uy = (target.y - s0.me.y) / dist0;
    const touch = (type, dx, dy) => ana.evaluate(({ type, x, y }) => {
      document.getElementById("arena").dispatchEvent(new PointerEvent(type, {
        pointerId: 7, pointerType: "touch", clientX: x, clientY: y, bubbles: true, isPrimary: true,
      }));
    }, { type, x: cx + dx, y: cy + dy });
    await touch("pointerdown", 0, 0);
    await touch("pointermove", ux * 60, uy * 60);
    try {
      await until(ana, ({ id, range }) => {
        const s = window.tickstorm.state();
        const b = s.players.find((p) => p.id === id);
        return s.serverMe && b && Math.hypot(b.x - s.serverMe.x, b.y - s.serverMe.y) < range;
      }, { id: bobStart.playerId, range: RANGE }, `ana to walk within ${RANGE} of bob (from ${dist0.toFixed(0)})`, 15_000);
    } finally {
      await touch("pointerup", ux * 60, uy * 60);
    }
  }
  // Standing still again, the prediction settled on the server's position: aim from there.
  await until(ana, () => {
    const s = window.tickstorm.state();
    return s.inputsAcked === s.inputsSent && s.serverMe?.lastInputSeq === s.lastAckedSeq && s.me && Math.hypot(s.me.x - s.serverMe.x, s.me.y - s.serverMe.y) < 0.5;
  }, null, "ana's inputs to be acked and applied");
  const s1 = await state(ana);
  const bobAt = fighter(s1, bobStart.playerId);
  summary.range = Math.round(Math.hypot(bobAt.x - s1.me.x, bobAt.y - s1.me.y));

  // --- aim at bob with the mouse and fire: a hit, then the kill ends the round ----------
  const aimAt = await onScreen(ana, bobAt);
  await ana.mouse.move(aimAt.x, aimAt.y);
  await ana.mouse.down();
  try {
    await until(bob, () => (window.tickstorm.state().serverMe?.health ?? 100) < 100, null, "bob's page to show his health drop (a hit)");
    const hit = await state(bob);
    summary.hit = { health: hit.serverMe.health, bolts: hit.bolts };
    check(hit.serverMe.health <= 66, `one bolt takes 34 (bob at ${hit.serverMe.health})`);
    await shot(ana, "blasters-firing");
    await until(ana, () => window.tickstorm.state().round?.phaseName === "over", null, "the kill to end the round (kills_to_win 1)");
  } finally {
    await ana.mouse.up();
  }
  const over = await state(ana);
  check(fighter(over, anaStart.playerId).score === 1, `ana scored the kill (${JSON.stringify(fighter(over, anaStart.playerId))})`);
  check(fighter(over, bobStart.playerId).health === 0 && fighter(over, bobStart.playerId).respawn > 0, "bob is down, waiting to respawn");
  for (const [page, who] of [[ana, "ana"], [bob, "bob"]]) {
    await until(page, () => !document.getElementById("game-board").hidden, null, `${who}'s page to show the round's scoreboard`);
    const board = await page.locator("#game-board").innerText();
    check(board.includes("ana wins") && /ana[^\n]*\n?\s*1/.test(board) && board.includes("bob"), `${who}'s scoreboard: ${JSON.stringify(board)}`);
  }
  await shot(ana, "blasters-round-over");
  await shot(bob, "blasters-round-over-bob");
  summary.round = { number: over.round.round, board: await ana.locator("#game-board").innerText() };

  // --- the next round: scores back to 0, everyone alive, the board gone -----------------
  await until(ana, (n) => {
    const s = window.tickstorm.state();
    return s.round?.round === n + 1 && s.round.phaseName !== "over" && s.players.every((p) => p.score === 0 && p.health === 100);
  }, over.round.round, "the next round to start with scores reset", 12_000);
  await until(ana, () => document.getElementById("game-board").hidden, null, "the scoreboard to go away");
  summary.nextRound = (await state(ana)).round;

  // --- the whole round came as deltas (bolts appearing and going), none refused ------------
  for (const [page, who] of [[ana, "ana"], [bob, "bob"]]) {
    const s = await state(page);
    check(s.deltas > s.keyframes && s.snapshotErrors === 0, `${who}: deltas, none refused (${s.keyframes} keyframes, ${s.deltas} deltas, ${s.snapshotErrors} refused)`);
    summary[`${who}Snapshots`] = { keyframes: s.keyframes, deltas: s.deltas };
  }

  check(problems.length === 0, `no page errors: ${problems.join("; ")}`);
  summary.ok = true;
} catch (err) {
  summary.error = err.message;
  summary.problems = problems;
} finally {
  await browser.close();
}
console.log(JSON.stringify(summary));
process.exit(summary.ok ? 0 : 1);
