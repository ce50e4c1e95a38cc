// CORS in a real browser: pages served from two other origins (127.0.0.1 on two ports) call the
// Tickstorm server: its HTTP API (a POST with Authorization, so Chromium sends a preflight), a
// WebSocket to /socket.io/ and a polling handshake. The server lists only the first origin
// (`--cors-origin`); the second must be refused by the browser's own rules (fetch) and by the
// server (the WebSocket). Headless Debian Chromium, as the other browser tests.
//
//   node browser_cors.mjs SERVER_URL ADMIN_TOKEN ALLOWED_PORT OTHER_PORT
//
// Prints one JSON line: {allowed: {api, ws, polling}, other: {...}}.
import { createServer } from "node:http";
import { launchChromium } from "./browser_support.mjs";

const [server, token, allowedPort, otherPort] = process.argv.slice(2);
if (!otherPort) {
  console.error("usage: node browser_cors.mjs SERVER_URL ADMIN_TOKEN ALLOWED_PORT OTHER_PORT");
  process.exit(2);
}

/** A page server on 127.0.0.1:port (the page itself is empty: the test runs in its origin). */
function pageServer(port) {
  const http = createServer((_, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end("<!doctype html><title>another origin</title><p>cors test page</p>");
  });
  return new Promise((resolve) => http.listen(Number(port), "127.0.0.1", () => resolve(http)));
}

// Runs in the page: what this origin can do with the server.
async function probe({ server, token }) {
  const outcome = (p) => p.then((r) => r.status, (e) => `blocked (${e.name})`);
  const api = await outcome(fetch(`${server}/api/rooms`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: "{}",
  }));
  const polling = await outcome(fetch(`${server}/socket.io/?EIO=4&transport=polling`));
  const ws = await new Promise((resolve) => {
    const socket = new WebSocket(`${server.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
    const timer = setTimeout(() => resolve("no answer"), 5000);
    socket.onmessage = (m) => { clearTimeout(timer); resolve(String(m.data).startsWith("0{") ? "open" : `other: ${m.data}`); socket.close(); };
    socket.onerror = () => { clearTimeout(timer); resolve("error"); };
  });
  return { api, polling, ws };
}

const pages = await Promise.all([pageServer(allowedPort), pageServer(otherPort)]);
const browser = await launchChromium();
const summary = {};
try {
  for (const [name, port] of [["allowed", allowedPort], ["other", otherPort]]) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    summary[name] = await page.evaluate(probe, { server, token });
    await context.close();
  }
} finally {
  await browser.close();
  for (const http of pages) http.close();
}
console.log(JSON.stringify(summary));
