// The recording viewer's pure parts: the timeline (js/replay_timeline.js: windows to fetch, the
// snapshot on show, prefetch, retries, eviction, the play clock) and the API calls
// (js/replay_api.js: the server's refusals as ApiError, the MessagePack window and its checks).
// The page itself runs in headless Chromium (server/tests/it/replay_viewer.rs).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_FRAME_MS, PlaybackClock, RETRY_AFTER_MS, SPEEDS, WindowCache, clampTick, formatTicks, lastAtOrBefore, mergeMeta, windowStart,
} from "../js/replay_timeline.js";
import { ApiError, fetchWindow, listRecordings } from "../js/replay_api.js";
import { encode } from "../js/msgpack.js";
import { decodeFrame } from "../js/snapshot.js";
import { gameFor } from "../js/games/index.js";

test("ticks are clamped to the recording and rounded; windows start at multiples of their size", () => {
  assert.equal(clampTick(0, 1, 737), 1);
  assert.equal(clampTick(738, 1, 737), 737);
  assert.equal(clampTick(12.6, 1, 737), 13);
  assert.equal(clampTick(Number.NaN, 1, 737), 1, "an empty number input goes to the first tick");
  assert.equal(clampTick(5, 1, 0), 1, "a recording without ticks yet");
  assert.deepEqual([0, 1, 899, 900, 1799, 1800].map((t) => windowStart(t, 900)), [0, 0, 0, 900, 900, 1800]);
  assert.equal(windowStart(-3, 900), 0);
});

test("durations read as m:ss.s at the tick rate, with hours past an hour", () => {
  assert.equal(formatTicks(0, 30), "0:00.0");
  assert.equal(formatTicks(737, 30), "0:24.6");
  assert.equal(formatTicks(30 * 61 + 15, 30), "1:01.5");
  assert.equal(formatTicks(20, 20), "0:01.0");
  assert.equal(formatTicks(30 * 3600 * 2 + 30 * 65, 30), "2:01:05.0");
});

test("the snapshot on show is the last one sent at or before the tick", () => {
  const sent = [[3, "a"], [6, "b"], [9, "c"]];
  assert.equal(lastAtOrBefore(sent, 2), null);
  assert.deepEqual([3, 5, 6, 8, 9, 100].map((t) => lastAtOrBefore(sent, t)[1]), ["a", "a", "b", "b", "c", "c"]);
  assert.equal(lastAtOrBefore([], 5), null);
});

test("the play clock moves whole ticks at the tick rate times the speed and carries the rest", () => {
  assert.deepEqual(SPEEDS, [0.25, 0.5, 1, 2, 4]);
  const clock = new PlaybackClock(30);
  assert.equal(clock.advance(100), 3);
  assert.equal(clock.advance(20), 0);
  assert.ok(Math.abs(clock.fraction - 0.6) < 1e-9);
  assert.equal(clock.advance(20), 1, "two short frames make a tick");
  clock.speed = 0.25;
  clock.reset();
  let ticks = 0;
  for (let i = 0; i < 60; i++) ticks += clock.advance(1000 / 60);
  assert.equal(ticks, 7, "a second at 0.25x of 30 Hz is 7.5 ticks");
  clock.speed = 4;
  clock.reset();
  assert.equal(clock.advance(60_000), Math.floor((MAX_FRAME_MS * 30 * 4) / 1000), "a background tab does not leap");
  assert.equal(clock.advance(-5), 0);
});

/** An answer of the API for ticks `from..from+count`, with a snapshot every `every` ticks up to `total`. */
function windowBody(from, count, { total = 2000, every = 1, difference = null, truncated = false } = {}) {
  const snapshots = [];
  for (let t = Math.max(1, from); t < from + count && t <= total; t++) if (t % every === 0) snapshots.push([t, `s${t}`]);
  return {
    ok: true, name: "rec", header: { game: "orbs", tick_rate: 30 }, kinds: [], total_ticks: total, from,
    players: [[1, "ana"]], snapshots, end_reason: "closed", truncated, first_difference: difference,
  };
}

/** A loader whose answers the test releases by hand: `calls` lists `{from, count, resolve, reject}`. */
function manualLoader() {
  const calls = [];
  const load = (from, count) => new Promise((resolve, reject) => calls.push({ from, count, resolve, reject }));
  return { calls, load };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("a window is asked for once, then shows each tick's snapshot", async () => {
  const { calls, load } = manualLoader();
  const loaded = [];
  const cache = new WindowCache({ load, size: 100, onLoad: (from) => loaded.push(from) });
  cache.want(1);
  cache.want(2);
  assert.deepEqual(calls.map((c) => [c.from, c.count]), [[0, 100]], "one request for the head's window");
  assert.equal(cache.status(1), "loading");
  assert.equal(cache.snapshotAt(1), null);
  calls[0].resolve(windowBody(0, 100));
  await settle();
  assert.deepEqual(loaded, [0]);
  assert.equal(cache.status(50), "ready");
  assert.deepEqual(cache.snapshotAt(50), [50, "s50"]);
  assert.equal(cache.snapshotAt(0), null, "tick 0 is before the room's first tick");
  assert.equal(cache.status(100), "missing");
  assert.equal(cache.snapshotAt(100), null);
});

test("while playing, the next window is asked for from the middle of the current one, not past the end", async () => {
  const { calls, load } = manualLoader();
  const cache = new WindowCache({ load, size: 100 });
  cache.want(10, { playing: true, last: 250 });
  calls[0].resolve(windowBody(0, 100, { total: 250 }));
  await settle();
  cache.want(49, { playing: true, last: 250 });
  assert.equal(calls.length, 1, "not before the middle");
  cache.want(60, { playing: false, last: 250 });
  assert.equal(calls.length, 1, "not while paused");
  cache.want(50, { playing: true, last: 250 });
  assert.deepEqual(calls.map((c) => c.from), [0, 100]);
  assert.deepEqual(cache.requests.at(-1), { from: 100, head: 50, playing: true }, "asked for before the head got there");
  calls[1].resolve(windowBody(100, 100, { total: 250 }));
  await settle();
  cache.want(250, { playing: true, last: 250 });
  calls[2].resolve(windowBody(200, 100, { total: 250 }));
  await settle();
  cache.want(260, { playing: true, last: 250 });
  assert.deepEqual(calls.map((c) => c.from), [0, 100, 200], "nothing after the last tick");
});

test("one request at a time: a scrub across many windows asks only for where the head stopped", async () => {
  const { calls, load } = manualLoader();
  const cache = new WindowCache({ load, size: 100 });
  cache.want(5);
  for (let head = 100; head <= 900; head += 100) cache.want(head);
  assert.equal(calls.length, 1);
  calls[0].resolve(windowBody(0, 100));
  await settle();
  assert.deepEqual(calls.map((c) => c.from), [0, 900]);
});

test("a tick before its window's first snapshot shows the previous window's last one", async () => {
  const { calls, load } = manualLoader();
  const cache = new WindowCache({ load, size: 100 });
  cache.want(101);
  calls[0].resolve(windowBody(100, 100, { every: 7 })); // first send at 105
  await settle();
  assert.equal(cache.snapshotAt(101), null);
  cache.want(101);
  assert.deepEqual(calls.map((c) => c.from), [100, 0], "the window before is asked for");
  calls[1].resolve(windowBody(0, 100, { every: 7 }));
  await settle();
  assert.deepEqual(cache.snapshotAt(101), [98, "s98"]);
  assert.deepEqual(cache.snapshotAt(105), [105, "s105"]);
});

test("a rate limited window is asked again after a while; a refused one stays refused", async () => {
  const { calls, load } = manualLoader();
  let now = 0;
  const errors = [];
  const cache = new WindowCache({ load, size: 100, now: () => now, onError: (from, e) => errors.push([from, e.code]) });
  cache.want(1);
  calls[0].reject(new ApiError(429, "rate_limited", "too many calls"));
  await settle();
  assert.equal(cache.status(1), "failed");
  assert.equal(cache.error(1).code, "rate_limited");
  cache.want(1);
  assert.equal(calls.length, 1, "not at once");
  now += RETRY_AFTER_MS;
  cache.want(1);
  assert.equal(calls.length, 2, "again after the pause");
  calls[1].reject(new ApiError(422, "bad_request", "cannot replay rec: unknown game"));
  await settle();
  now += 10 * RETRY_AFTER_MS;
  cache.want(1);
  assert.equal(calls.length, 2, "a refusal is not asked again");
  assert.equal(cache.error(1).message, "cannot replay rec: unknown game");
  assert.deepEqual(errors, [[0, "rate_limited"], [0, "bad_request"]]);
});

test("at most `keep` windows are held, the farthest from the head dropped first", async () => {
  const { calls, load } = manualLoader();
  const cache = new WindowCache({ load, size: 100, keep: 3 });
  for (const head of [0, 100, 200, 300, 150]) {
    cache.want(head);
    calls.at(-1).resolve(windowBody(windowStart(head, 100), 100));
    await settle();
  }
  assert.deepEqual(calls.map((c) => c.from), [0, 100, 200, 300, 100].slice(0, calls.length));
  assert.deepEqual(cache.ready(), [100, 200, 300], "window 0 was the farthest from tick 300");
  cache.want(20);
  calls.at(-1).resolve(windowBody(0, 100));
  await settle();
  assert.deepEqual(cache.ready(), [0, 100, 200], "window 300 was the farthest from tick 20");
});

test("a closed cache drops the answer on its way and asks for nothing more", async () => {
  const { calls, load } = manualLoader();
  let heard = 0;
  const cache = new WindowCache({ load, size: 100, onLoad: () => heard++ });
  cache.want(1);
  cache.close();
  calls[0].resolve(windowBody(0, 100));
  await settle();
  cache.want(500);
  assert.equal(heard, 0);
  assert.equal(calls.length, 1);
});

test("what the windows say about the recording: the longest length, the first difference, a cut", () => {
  let meta = mergeMeta(null, windowBody(0, 100, { total: 300 }));
  assert.equal(meta.total, 300);
  assert.equal(meta.firstDifference, null);
  assert.equal(meta.names.get(1), "ana");
  meta = mergeMeta(meta, windowBody(300, 100, { total: 420, difference: 350 }));
  assert.equal(meta.total, 420, "a recording still being written grows");
  assert.equal(meta.firstDifference, 350, "known once a window reaches it");
  meta = mergeMeta(meta, windowBody(0, 100, { total: 420 }));
  assert.equal(meta.firstDifference, 350, "an earlier window does not forget it");
  assert.equal(meta.truncated, false);
  meta = mergeMeta(meta, windowBody(0, 100, { truncated: true }));
  assert.equal(meta.truncated, true);
  assert.equal(meta.endReason, "closed");
});

/** A `fetch` that answers `status` with `body` (JSON text, bytes, or a thrown error). */
const fakeFetch = (status, body, seen = []) => async (url, init) => {
  seen.push({ url, auth: init?.headers?.Authorization });
  if (body instanceof Error) throw body;
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  return {
    ok: status >= 200 && status < 300,
    status,
    json: async () => JSON.parse(new TextDecoder().decode(bytes)),
    arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  };
};

test("the list is asked for with the token as Bearer", async () => {
  const seen = [];
  const listed = [{ name: "abc-1", game: "orbs", tick_rate: 30 }];
  const list = await listRecordings("tok", fakeFetch(200, JSON.stringify({ ok: true, recordings: listed }), seen));
  assert.deepEqual(list, listed);
  assert.deepEqual(seen, [{ url: "/api/recordings", auth: "Bearer tok" }]);
});

test("refusals carry the server's code and message, and say whether to ask again or for the token", async () => {
  const refusal = (code, message) => JSON.stringify({ ok: false, error: { code, message } });
  const cases = [
    [401, refusal("unauthorized", "send the admin token"), { code: "unauthorized", badToken: true, retryable: false }],
    [403, refusal("forbidden", "wrong admin token"), { code: "forbidden", message: "wrong admin token", badToken: true }],
    [404, refusal("not_found", "the HTTP API is off"), { code: "not_found", badToken: false, retryable: false }],
    [429, refusal("rate_limited", "slow down"), { code: "rate_limited", retryable: true }],
    [502, "<html>bad gateway</html>", { code: "http", message: "the server answered HTTP 502", retryable: true }],
    [0, new TypeError("Failed to fetch"), { code: "network", message: "cannot reach the server (Failed to fetch)", retryable: true }],
  ];
  for (const [status, body, expected] of cases) {
    const err = await listRecordings("tok", fakeFetch(status, body)).then(() => null, (e) => e);
    assert.ok(err instanceof ApiError, `HTTP ${status} throws an ApiError`);
    assert.equal(err.status, status);
    for (const [key, value] of Object.entries(expected)) assert.equal(err[key], value, `${key} of HTTP ${status}`);
  }
  const notList = await listRecordings("tok", fakeFetch(200, "{\"ok\":true}")).catch((e) => e);
  assert.match(notList.message, /no recordings array/);
});

test("a window is MessagePack whose snapshots the game modules read as they read a keyframe", async () => {
  // One tick of the orb arena as the server encodes it (docs/protocol.md, version 2).
  const keyframe = encode([2, 41, 1_700_000_000_000, [[1, 33, 7]], [[[33, 120.5, 80, 0, 0, 3]], [[40, 500, 500]]]]);
  const kinds = [{ name: "avatar", fields: ["x", "y", "vx", "vy", "score"] }, { name: "orb", fields: ["x", "y"] }];
  const body = { ...windowBody(0, 0), name: "r a/b", kinds, snapshots: [[41, keyframe]] };
  const seen = [];
  const got = await fetchWindow("tok", "r a/b", 0, 900, fakeFetch(200, encode(body), seen));
  assert.equal(seen[0].url, "/api/recordings/r%20a%2Fb?from=0&count=900", "the name is escaped");
  const orbs = gameFor(got.header.game);
  const view = orbs.view(decodeFrame(got.snapshots[0][1]), orbs.layout(got.kinds), null);
  assert.deepEqual(view.players, [{ id: 1, netId: 33, x: 120.5, y: 80, vx: 0, vy: 0, lastInputSeq: 7, score: 3 }]);
  assert.deepEqual(view.orbs, [{ id: 40, x: 500, y: 500 }]);

  const bad = await fetchWindow("tok", "r", 0, 900, fakeFetch(200, encode({ ...body, snapshots: [[41, "not bytes"]] }))).catch((e) => e);
  assert.match(bad.message, /snapshots\[0\] is not \[tick, bytes\]/);
  const garbage = await fetchWindow("tok", "r", 0, 900, fakeFetch(200, new Uint8Array([0xc1]))).catch((e) => e);
  assert.match(garbage.message, /does not decode/);
});
