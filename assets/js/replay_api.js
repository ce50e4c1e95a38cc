// The recording viewer's calls to the HTTP API (server/src/net/recordings.rs): the list of
// recordings (JSON) and a window of one replayed by the server (MessagePack), with the admin
// token as Bearer. A refusal comes back as an ApiError carrying the server's own code and
// message, so the page says exactly what the server said. No DOM; `fetchFn` is injectable for
// the unit tests (assets/tests/replay.test.mjs).

import { decode } from "./msgpack.js";

/** A call the server refused (or that never reached it: status 0). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  /** Worth asking again shortly: the API's rate limit, or the server briefly out of reach. */
  get retryable() {
    return this.status === 0 || this.status === 429 || this.status === 502 || this.status === 503 || this.status === 504;
  }

  /** The token was refused (missing or wrong): the page asks for it again. */
  get badToken() {
    return this.status === 401 || this.status === 403;
  }
}

// The default `fetchFn`, called through an arrow so it is never invoked with a foreign `this`.
const browserFetch = (url, init) => fetch(url, init);

async function call(path, token, fetchFn) {
  let response;
  try {
    response = await fetchFn(path, { headers: { Authorization: `Bearer ${token}` } });
  } catch (err) {
    throw new ApiError(0, "network", `cannot reach the server (${err?.message ?? err})`);
  }
  if (response.ok) return response;
  // The API's refusals are `{ok: false, error: {code, message}}`; a proxy's may be anything.
  let code = "http";
  let message = `the server answered HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (typeof body?.error?.message === "string") {
      code = typeof body.error.code === "string" ? body.error.code : code;
      message = body.error.message;
    }
  } catch {
    // not JSON: keep the status line
  }
  throw new ApiError(response.status, code, message);
}

/** `GET /api/recordings`: `[{name, room_id, game, game_version, started_unix_ms, tick_rate, segments, bytes}]`, newest first. */
export async function listRecordings(token, fetchFn = browserFetch) {
  const response = await call("/api/recordings", token, fetchFn);
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(response.status, "bad_response", "the recording list is not JSON");
  }
  if (!Array.isArray(body?.recordings)) throw new ApiError(response.status, "bad_response", "the recording list has no recordings array");
  return body.recordings;
}

/**
 * `GET /api/recordings/{name}?from=&count=`, decoded: `{name, header, kinds, total_ticks, from,
 * players: [[id, name]], snapshots: [[tick, Uint8Array]], end_reason, truncated, first_difference}`.
 * Throws an ApiError naming what is missing when the answer is not that shape.
 */
export async function fetchWindow(token, name, from, count, fetchFn = browserFetch) {
  const path = `/api/recordings/${encodeURIComponent(name)}?from=${from}&count=${count}`;
  const response = await call(path, token, fetchFn);
  let body;
  try {
    body = decode(new Uint8Array(await response.arrayBuffer()));
  } catch (err) {
    throw new ApiError(response.status, "bad_response", `the replay of ${name} does not decode: ${err.message}`);
  }
  const problem = shapeProblem(body);
  if (problem) throw new ApiError(response.status, "bad_response", `the replay of ${name} is not what this page reads: ${problem}`);
  return body;
}

// What is wrong with a window's body, or null.
function shapeProblem(body) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return "not a map";
  if (body.ok !== true) return "ok is not true";
  if (typeof body.header?.game !== "string" || !Number.isFinite(body.header?.tick_rate)) return "no header with game and tick_rate";
  if (!Array.isArray(body.kinds)) return "no kinds";
  if (!Number.isFinite(body.total_ticks)) return "no total_ticks";
  if (!Array.isArray(body.players)) return "no players";
  if (!Array.isArray(body.snapshots)) return "no snapshots";
  const bad = body.snapshots.findIndex((s) => !Array.isArray(s) || !Number.isFinite(s[0]) || !(s[1] instanceof Uint8Array));
  if (bad >= 0) return `snapshots[${bad}] is not [tick, bytes]`;
  return null;
}
