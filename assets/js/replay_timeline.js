// The recording viewer's timeline, free of DOM code (unit-tested by assets/tests/replay.test.mjs):
// which windows of ticks to ask `GET /api/recordings/{name}?from=&count=` for as the play head
// moves, a small cache of the windows fetched, the snapshot on show at any tick, what the windows
// say about the whole recording (length, a difference, a cut), and the play clock's arithmetic.
//
// Ticks are the room's tick numbers: a recording starts with its room, whose first tick is 1, so
// a recording of N ticks holds ticks 1..=N. Window k covers ticks k*size..(k+1)*size-1 (the
// server's `from` and `count`). A tick between two sends of a room with a lower send rate shows
// the snapshot sent before it, as a client saw it.
//
// One request at a time: the HTTP API allows 20 calls a second for all its users together, and
// each window is a replay of the recording from its start on the server.

/** The play speeds the page offers, times the recording's tick rate. */
export const SPEEDS = [0.25, 0.5, 1, 2, 4];
/** Ticks per window (30 s at 30 Hz; the server answers at most 3600). */
export const WINDOW_TICKS = 900;
/** A window that failed for a passing reason (rate limit, network) is asked again after this. */
export const RETRY_AFTER_MS = 1000;
/** Longest frame the play clock counts: a tab in the background does not jump minutes ahead. */
export const MAX_FRAME_MS = 250;

/** `tick` rounded and held within `first..=last` (`first` when the range is empty). */
export function clampTick(tick, first, last) {
  const t = Number.isFinite(tick) ? Math.round(tick) : first;
  return Math.max(first, Math.min(t, Math.max(first, last)));
}

/** The first tick of the window holding `tick`. */
export const windowStart = (tick, size) => Math.floor(Math.max(0, tick) / size) * size;

/** `ticks` at `tickRate` as "m:ss.s" ("h:mm:ss.s" from an hour on). */
export function formatTicks(ticks, tickRate) {
  const tenths = Math.round((Math.max(0, ticks) * 10) / Math.max(1, tickRate));
  const hours = Math.floor(tenths / 36000);
  const minutes = Math.floor((tenths % 36000) / 600);
  const seconds = ((tenths % 600) / 10).toFixed(1).padStart(4, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

/** The last `[tick, snapshot]` of `sorted` (by tick) at or before `tick`, or null. */
export function lastAtOrBefore(sorted, tick) {
  let lo = 0;
  let hi = sorted.length; // the answer is sorted[lo - 1]
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid][0] <= tick) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? sorted[lo - 1] : null;
}

/**
 * Turns the time between frames into whole ticks at the recording's tick rate times the speed;
 * the fraction left over carries to the next frame (and says how far the picture is between two
 * ticks, for drawing in between).
 */
export class PlaybackClock {
  constructor(tickRate, speed = 1) {
    this.tickRate = Math.max(1, tickRate);
    this.speed = speed;
    this.fraction = 0;
  }

  /** Whole ticks to move after `elapsedMs` of playing. */
  advance(elapsedMs) {
    const ms = Math.min(MAX_FRAME_MS, Math.max(0, elapsedMs));
    const exact = this.fraction + (ms * this.tickRate * this.speed) / 1000;
    const whole = Math.floor(exact);
    this.fraction = exact - whole;
    return whole;
  }

  /** Forgets the fraction (a jump, a pause, waiting for a window). */
  reset() {
    this.fraction = 0;
  }
}

/**
 * What the windows fetched so far say about the whole recording. Every answer repeats the
 * header, kinds and players; the rest can change from one to the next: a recording still being
 * written grows, and `first_difference` is only known up to the end of the window asked for.
 * Returns a new object; `meta` is null before the first answer.
 */
export function mergeMeta(meta, body) {
  const differences = [meta?.firstDifference, body.first_difference].filter(Number.isFinite);
  return {
    name: body.name,
    header: body.header,
    kinds: body.kinds,
    names: new Map((body.players ?? []).map(([id, name]) => [id, name])),
    total: Math.max(meta?.total ?? 0, body.total_ticks),
    firstDifference: differences.length ? Math.min(...differences) : null,
    truncated: Boolean(meta?.truncated || body.truncated),
    endReason: body.end_reason ?? meta?.endReason ?? null,
  };
}

/**
 * The windows of one recording: fetched through `load(from, count)` (a promise of the API's
 * decoded answer, or a rejection whose `retryable` says whether to ask again later), at most one
 * at a time, most wanted first; at most `keep` kept (the farthest from the play head go first).
 * `onLoad(from, body)` hears every answer, `onError(from, error)` every failure.
 */
export class WindowCache {
  constructor({ load, size = WINDOW_TICKS, keep = 4, now = () => Date.now(), onLoad = () => {}, onError = () => {} }) {
    this.load = load;
    this.size = size;
    this.keep = Math.max(2, keep);
    this.now = now;
    this.onLoad = onLoad;
    this.onError = onError;
    this.windows = new Map(); // from -> {from, state: "loading" | "ready" | "failed", snapshots, error, retryAt}
    this.wanted = [];
    this.inFlight = null;
    this.requests = []; // {from, head, playing} of every request, for the page's test hook
    this.closed = false;
    this.head = 0;
    this.playing = false;
  }

  /**
   * Says where the play head is; asks for what it needs: its window; while playing, from the
   * middle of a window on, the next one (so it is there before the head is); and the window
   * before when the head's window has no snapshot at or before the head (a lower send rate).
   * `last` is the recording's last tick, when known.
   */
  want(head, { playing = false, last = Infinity } = {}) {
    this.head = head;
    this.playing = playing;
    const from = windowStart(head, this.size);
    const wanted = [from];
    const here = this.windows.get(from);
    if (here?.state === "ready" && from > 0 && lastAtOrBefore(here.snapshots, head) === null) wanted.push(from - this.size);
    if (playing && head - from >= this.size / 2 && from + this.size <= last) wanted.push(from + this.size);
    this.wanted = wanted;
    this.#pump();
  }

  /** The `[tick, snapshot]` on show at `tick` (the last sent at or before it), or null. */
  snapshotAt(tick) {
    const from = windowStart(tick, this.size);
    const here = this.windows.get(from);
    if (here?.state !== "ready") return null;
    const found = lastAtOrBefore(here.snapshots, tick);
    if (found || from === 0) return found;
    const before = this.windows.get(from - this.size);
    return before?.state === "ready" ? before.snapshots.at(-1) ?? null : null;
  }

  /** The state of `tick`'s window: "ready", "loading", "failed" or "missing" (not asked yet). */
  status(tick) {
    return this.windows.get(windowStart(tick, this.size))?.state ?? "missing";
  }

  /** The error of `tick`'s window when it failed, else null. */
  error(tick) {
    const w = this.windows.get(windowStart(tick, this.size));
    return w?.state === "failed" ? w.error : null;
  }

  /** The windows held, by first tick. */
  ready() {
    return [...this.windows.values()].filter((w) => w.state === "ready").map((w) => w.from).sort((a, b) => a - b);
  }

  /** Stops: an answer still on its way is dropped, nothing more is asked. */
  close() {
    this.closed = true;
  }

  #pump() {
    if (this.closed || this.inFlight !== null) return;
    const now = this.now();
    const next = this.wanted.find((from) => {
      const w = this.windows.get(from);
      return !w || (w.state === "failed" && w.retryAt !== null && w.retryAt <= now);
    });
    if (next !== undefined) this.#fetch(next);
  }

  async #fetch(from) {
    this.inFlight = from;
    this.windows.set(from, { from, state: "loading", snapshots: [], error: null, retryAt: null });
    this.requests.push({ from, head: this.head, playing: this.playing });
    let body = null;
    let error = null;
    try {
      body = await this.load(from, this.size);
    } catch (err) {
      error = err;
    }
    this.inFlight = null;
    if (this.closed) return;
    if (body) {
      // The server sends them in tick order; sorted again so the search never depends on it.
      const snapshots = [...(body.snapshots ?? [])].sort((a, b) => a[0] - b[0]);
      this.windows.set(from, { from, state: "ready", snapshots, error: null, retryAt: null });
      this.onLoad(from, body);
    } else {
      const retryAt = error?.retryable ? this.now() + RETRY_AFTER_MS : null;
      this.windows.set(from, { from, state: "failed", snapshots: [], error, retryAt });
      this.onError(from, error);
    }
    this.#evict();
    this.#pump();
  }

  // Drops the windows farthest from the play head beyond `keep`; never a wanted one.
  #evict() {
    const spare = [...this.windows.values()].filter((w) => w.state !== "loading" && !this.wanted.includes(w.from));
    const held = [...this.windows.values()].filter((w) => w.state !== "loading").length;
    spare.sort((a, b) => Math.abs(b.from - this.head) - Math.abs(a.from - this.head));
    for (let excess = held - this.keep; excess > 0 && spare.length; excess--) this.windows.delete(spare.shift().from);
  }
}
