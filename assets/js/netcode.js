// Netcode for the web client, shared by every game, as pure logic (no DOM, no timers) so node
// tests cover it:
// - planar movement rules (sanitize a `move`, velocity, one tick inside the arena) in f32
//   arithmetic (Math.fround after every operation), so a prediction lands on the very f32 the
//   server puts in its snapshot; a game module builds its own with `moveRules({...})` from the
//   constants of its rules.rs;
// - Predictor: client-side prediction of your own entity with a game's rules, reconciled with
//   the server;
// - Interpolator: other entities (by net id), rendered a little in the past between two snapshots
//   (interpolationDelayMs: how little, for a room's send rate);
// - ClockSync: server clock offset and round trip from `time` acks.

const f32 = Math.fround;
const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

/**
 * rules::sanitize_move of both games: each component clamped to -1..1, then the vector capped at
 * length 1. The server reads the JSON numbers as f32, so a component too big for f32 is refused
 * there (bad_request); here it throws a RangeError.
 */
export function sanitizeMove([rawX, rawY]) {
  const x = f32(rawX);
  const y = f32(rawY);
  if (!Number.isFinite(x) || !Number.isFinite(y)) throw new RangeError("move components must be finite numbers");
  const cx = clamp(x, -1, 1);
  const cy = clamp(y, -1, 1);
  const lengthSq = f32(f32(cx * cx) + f32(cy * cy));
  if (lengthSq <= 1) return [cx, cy];
  const length = f32(Math.sqrt(lengthSq));
  return [f32(cx / length), f32(cy / length)];
}

/**
 * The movement rules of a game whose players move at `speed` (no inertia) in a square arena of
 * `arenaSize` with their whole body (`radius`) inside: rules::velocity_for and
 * rules::step_position of the orb arena and of blasters alike.
 */
export function moveRules({ arenaSize, speed, radius }) {
  const lo = radius;
  const hi = arenaSize - radius;
  const velocityFor = ([dx, dy]) => [f32(dx * speed), f32(dy * speed)];
  const stepPosition = ([x, y], [vx, vy], dt) => [clamp(f32(x + f32(vx * dt)), lo, hi), clamp(f32(y + f32(vy * dt)), lo, hi)];
  return {
    arenaSize, speed, radius, bounds: [lo, hi], velocityFor, stepPosition,
    /** One tick of a sanitized move direction: what the Predictor replays. */
    step: (position, dir, dt) => stepPosition(position, velocityFor(dir), dt),
  };
}

/** The server's tick length in seconds, as the f32 it computes (`1.0 / tick_rate as f32`). */
export const tickSeconds = (tickRate) => f32(1 / Math.max(1, tickRate));

/**
 * Predicts your own entity from the inputs you send, and reconciles with the server. `rules` is
 * a game's `moveRules(...)`. The server applies the latest input per tick; the client sends one
 * input per tick while moving, so each pending input stands for one tick of movement. A game
 * whose player sometimes cannot move (dead, round over) predicts `[0, 0]` for those ticks.
 */
export class Predictor {
  #dt;
  #rules;
  #smoothingMs;
  #snapDistance;
  #pending = []; // {seq, dir} sent but not yet reflected in a snapshot
  #x = 0;
  #y = 0;
  #errX = 0; // visual offset: what was on screen minus the corrected position
  #errY = 0;

  /** `snapDistance`: a correction longer than this (a respawn) is a jump, not smoothed. */
  constructor({ rules, tickRate = 30, smoothingMs = 100, snapDistance = Infinity } = {}) {
    if (!rules?.step) throw new TypeError("Predictor needs a game's movement rules (moveRules)");
    this.#rules = rules;
    this.#dt = tickSeconds(tickRate);
    this.#smoothingMs = smoothingMs;
    this.#snapDistance = snapDistance;
  }

  /** Starts over at a server position (join, rejoin, teleport). */
  reset(x, y) {
    this.#x = f32(x);
    this.#y = f32(y);
    this.#pending = [];
    this.#errX = 0;
    this.#errY = 0;
  }

  /** Records the input sent with `seq` and advances one tick. `dir` is the wire `move: [x, y]`. */
  predict(seq, dir) {
    const clean = sanitizeMove(dir);
    this.#pending.push({ seq, dir: clean });
    this.#advance(clean);
  }

  /** Takes the server's position after its input `lastInputSeq`, replays what it has not seen. */
  reconcile(serverX, serverY, lastInputSeq) {
    this.#pending = this.#pending.filter((input) => input.seq > lastInputSeq);
    const beforeX = this.#x;
    const beforeY = this.#y;
    this.#x = f32(serverX);
    this.#y = f32(serverY);
    for (const input of this.#pending) this.#advance(input.dir);
    // Keep the drawn position where it was; renderPosition() lets the offset fade out. A jump
    // (respawn) is shown as one: sliding across the arena would look like movement.
    this.#errX += beforeX - this.#x;
    this.#errY += beforeY - this.#y;
    if (Math.hypot(this.#errX, this.#errY) > this.#snapDistance) this.#errX = this.#errY = 0;
  }

  /** The position to draw after `dtMs` of wall time: the prediction plus a decaying offset. */
  renderPosition(dtMs) {
    const keep = Math.exp(-Math.max(0, dtMs) / this.#smoothingMs);
    this.#errX *= keep;
    this.#errY *= keep;
    // Below a hundredth of a unit the offset is invisible; dropping it ends the decay for good.
    if (Math.hypot(this.#errX, this.#errY) < 0.01) this.#errX = this.#errY = 0;
    return { x: this.#x + this.#errX, y: this.#y + this.#errY };
  }

  get position() { return { x: this.#x, y: this.#y }; }
  get error() { return { x: this.#errX, y: this.#errY }; }
  get pendingCount() { return this.#pending.length; }

  #advance(dir) {
    [this.#x, this.#y] = this.#rules.step([this.#x, this.#y], dir, this.#dt);
  }
}

// The shortest way from angle a to angle b, a fraction t of it.
function lerpAngle(a, b, t) {
  let d = (b - a) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d < -Math.PI) d += 2 * Math.PI;
  return a + d * t;
}

/**
 * How far in the past to render others for a room that sends `sendRate` snapshots per second:
 * two send intervals, so a snapshot late by up to one interval still has one after the render
 * time, and never under 100 ms (the delay the client always used at 30 Hz).
 */
export function interpolationDelayMs(sendRate) {
  const rate = Number.isFinite(sendRate) && sendRate > 0 ? sendRate : 30;
  return Math.max(100, 2000 / rate);
}

/**
 * Renders replicated entities `delayMs` in the past, between the two snapshots around that time,
 * so they move smoothly whatever the network jitter. A snapshot here is `{serverTime, entities:
 * [{id, x, y, vx?, vy?, ...}]}` (a game picks the entities that move, `id` = net id); `sample`
 * gives each one with its position (and `angles` fields) interpolated, its other fields from
 * the older snapshot. An entity only in the newer snapshot appears in place (born), one only in
 * the older is gone (despawned). Options: `bounds: [lo, hi]` keeps extrapolated positions
 * inside the arena; `snapDistance`: a longer step between snapshots (a respawn) is not slid.
 */
export class Interpolator {
  #snapshots = []; // oldest first
  #maxSnapshots;
  #bounds;
  #angles;
  #snapDistance;

  constructor({ delayMs = 100, maxSnapshots = 32, bounds = [-Infinity, Infinity], angles = [], snapDistance = Infinity } = {}) {
    this.delayMs = delayMs;
    this.#maxSnapshots = maxSnapshots;
    this.#bounds = bounds;
    this.#angles = angles;
    this.#snapDistance = snapDistance;
  }

  /** Adds a snapshot; one not newer than the last is dropped (it cannot be placed). */
  push(snapshot) {
    const last = this.#snapshots[this.#snapshots.length - 1];
    if (last && snapshot.serverTime <= last.serverTime) return;
    this.#snapshots.push(snapshot);
    if (this.#snapshots.length > this.#maxSnapshots) this.#snapshots.shift();
  }

  /** The server time to render at, for the current estimate of the server's clock. */
  renderTimeFor(serverNowMs) {
    return serverNowMs - this.delayMs;
  }

  /** Map id -> entity at `renderServerTimeMs`. */
  sample(renderServerTimeMs) {
    const list = this.#snapshots;
    const out = new Map();
    if (list.length === 0) return out;
    let i = list.length - 1;
    while (i > 0 && list[i - 1].serverTime >= renderServerTimeMs) i--;
    const b = list[i];
    if (renderServerTimeMs >= b.serverTime) return this.#extrapolate(b, renderServerTimeMs - b.serverTime, out);
    const a = i > 0 ? list[i - 1] : null;
    if (!a) return this.#extrapolate(b, 0, out); // before the oldest snapshot: hold it
    const t = (renderServerTimeMs - a.serverTime) / (b.serverTime - a.serverTime);
    const before = new Map(a.entities.map((e) => [e.id, e]));
    for (const e of b.entities) {
      const q = before.get(e.id);
      if (!q || Math.hypot(e.x - q.x, e.y - q.y) > this.#snapDistance) {
        out.set(e.id, { ...e });
        continue;
      }
      const lerped = { ...q, x: q.x + (e.x - q.x) * t, y: q.y + (e.y - q.y) * t };
      for (const name of this.#angles) lerped[name] = lerpAngle(q[name], e[name], t);
      out.set(e.id, lerped);
    }
    return out;
  }

  // Past the newest snapshot (render time catching up after a late packet) entities keep their
  // velocity for at most one tick, then hold: a long guess would be visibly wrong.
  #extrapolate(snapshot, aheadMs, out) {
    const list = this.#snapshots;
    const tickMs = list.length > 1 ? list[list.length - 1].serverTime - list[list.length - 2].serverTime : 0;
    const s = Math.min(aheadMs, tickMs) / 1000;
    const [lo, hi] = this.#bounds;
    for (const e of snapshot.entities) {
      out.set(e.id, { ...e, x: clamp(e.x + (e.vx ?? 0) * s, lo, hi), y: clamp(e.y + (e.vy ?? 0) * s, lo, hi) });
    }
    return out;
  }
}

/**
 * Estimates the server clock from `time` round trips: the sample with the lowest round trip
 * of the last few is the one least skewed by queueing, so its offset is used.
 */
export class ClockSync {
  #samples = []; // {rtt, offset}, oldest first
  #maxSamples;

  constructor({ maxSamples = 8 } = {}) {
    this.#maxSamples = maxSamples;
  }

  /** One `time` exchange: sent at clientSendMs, answered with serverTimeMs, seen at clientRecvMs. */
  addSample(clientSendMs, serverTimeMs, clientRecvMs) {
    const rtt = clientRecvMs - clientSendMs;
    if (!Number.isFinite(rtt) || rtt < 0 || !Number.isFinite(serverTimeMs)) {
      throw new RangeError("clock sample needs finite times with clientRecvMs >= clientSendMs");
    }
    // The server read its clock about half way through the round trip.
    this.#samples.push({ rtt, offset: serverTimeMs - (clientSendMs + rtt / 2) });
    if (this.#samples.length > this.#maxSamples) this.#samples.shift();
  }

  /** server - client in ms (0 before any sample). */
  get offsetMs() {
    let best = null;
    for (const s of this.#samples) if (!best || s.rtt < best.rtt) best = s;
    return best ? best.offset : 0;
  }

  /** The latest round trip in ms (NaN before any sample). */
  get rttMs() {
    return this.#samples.length ? this.#samples[this.#samples.length - 1].rtt : NaN;
  }

  /** The median round trip of the kept samples in ms (NaN before any sample). */
  get medianRttMs() {
    const sorted = this.#samples.map((s) => s.rtt).sort((a, b) => a - b);
    if (sorted.length === 0) return NaN;
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  get sampleCount() { return this.#samples.length; }

  /** The server's clock now, for a client clock reading (same clock as the samples). */
  serverNow(clientNowMs) {
    return clientNowMs + this.offsetMs;
  }
}
