// What the headless-Chromium test scripts (browser.mjs, browser_blasters.mjs) share: how
// Chromium is launched, a page that records its errors, and a bounded wait that says what it
// waited for.
import { join } from "node:path";
import { chromium } from "playwright-core";

export const WAIT = 10_000;

/** Debian's /usr/bin/chromium (or $CHROMIUM), headless, without anything that calls home. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
}

/** A page in its own context (own storage, own connection); errors land in `problems`. */
export async function openPage(browser, label, problems) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on("console", (m) => {
    // The location says which request failed ("Failed to load resource" does not name it).
    if (m.type() === "error") problems.push(`${label}: console error: ${m.text()} (at ${m.location()?.url ?? "?"})`);
  });
  return page;
}

export const state = (page) => page.evaluate(() => window.tickstorm.state());

/** Waits (at most `timeout`) for `fn(arg)` to be truthy in the page; fails naming `what`. */
export const until = (page, fn, arg, what, timeout = WAIT) =>
  page.waitForFunction(fn, arg, { timeout }).catch(async (err) => {
    const last = await state(page).catch(() => null);
    throw new Error(`timed out waiting for ${what} (${err.message.split("\n")[0]}); page state: ${JSON.stringify(last)}`);
  });

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** A screenshot function: `shot(page, name)` writes ARTIFACTS/name.png and lists it in `summary`. */
export const screenshots = (artifacts, summary) => async (page, name) => {
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path });
  summary.screenshots.push(path);
};

/** Opens the game at `url`, enters `name` and waits for the lobby. */
export async function enterLobby(page, url, name) {
  await page.goto(url);
  await page.fill("#name-input", name);
  await page.click("#name-form button[type=submit]");
  await page.waitForSelector("#quick-join", { state: "visible", timeout: WAIT });
}
