// Game netcode for the web client, as pure logic (no DOM, no timers) so node tests cover it:
// - the movement rules, mirrored from games/orbs/src/rules.rs in f32 arithmetic (Math.fround
//   after every operation), so a prediction lands on the very f32 the server puts in its snapshot;
// - Predictor: client-side prediction of your own player, reconciled with the server;
// - Interpolator: other players, rendered a little in the past between two snapshots;
// - ClockSync: server clock offset and round trip from `time` acks;
// - backoffDelay: the reconnection schedule socketio.js uses.

// Copies of the constants in games/orbs/src/rules.rs; netcode.test.mjs reads that file to check.
export const ARENA_SIZE = 1000;
export const PLAYER_SPEED = 200;
export const PLAYER_RADIUS = 16;
export const ORB_RADIUS = 12;

const f32 = Math.fround;
const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

/**
 * rules::sanitize_move: each component clamped to -1..1, then the vector capped at length 1.
 * The server reads the JSON numbers as f32, so a component too big for f32 is refused there
 * (bad_request); here it throws a RangeError.
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

/** rules::velocity_for. */
export function velocityFor([dx, dy]) {
  return [f32(dx * PLAYER_SPEED), f32(dy * PLAYER_SPEED)];
}

/** rules::step_position: one tick of `dt` seconds, the whole body kept inside the arena. */
export function stepPosition([x, y], [vx, vy], dt) {
  const lo = PLAYER_RADIUS;
  const hi = ARENA_SIZE - PLAYER_RADIUS;
  return [clamp(f32(x + f32(vx * dt)), lo, hi), clamp(f32(y + f32(vy * dt)), lo, hi)];
}

/** The server's tick length in seconds, as the f32 it computes (`1.0 / tick_rate as f32`). */
export const tickSeconds = (tickRate) => f32(1 / Math.max(1, tickRate));

/**
 * Predicts your own player from the inputs you send, and reconciles with the server.
 * The server applies the latest input per tick; the client sends one input per tick while
 * moving, so each pending input stands for one tick of movement.
 */
export class Predictor {
  #dt;
  #smoothingMs;
  #pending = []; // {seq, dir} sent but not yet reflected in a snapshot
  #x = 0;
  #y = 0;
  #errX = 0; // visual offset: what was on screen minus the corrected position
  #errY = 0;

  constructor({ tickRate = 30, smoothingMs = 100 } = {}) {
    this.#dt = tickSeconds(tickRate);
    this.#smoothingMs = smoothingMs;
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
    // Keep the drawn position where it was; renderPosition() lets the offset fade out.
    this.#errX += beforeX - this.#x;
    this.#errY += beforeY - this.#y;
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
    [this.#x, this.#y] = stepPosition([this.#x, this.#y], velocityFor(dir), this.#dt);
  }
}

/**
 * Renders other players `delayMs` in the past, between the two snapshots around that time, so
 * they move smoothly whatever the network jitter.
 */
export class Interpolator {
  #snapshots = []; // oldest first
  #maxSnapshots;

  constructor({ delayMs = 100, maxSnapshots = 32 } = {}) {
    this.delayMs = delayMs;
    this.#maxSnapshots = maxSnapshots;
  }

  /** Adds a decoded snapshot; one not newer than the last is dropped (it cannot be placed). */
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

  /** Map playerId -> {x, y, score} at `renderServerTimeMs`. */
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
    const before = new Map(a.players.map((p) => [p.id, p]));
    // Players of the newer snapshot: a player who left is gone, one who joined appears in place.
    for (const p of b.players) {
      const q = before.get(p.id);
      out.set(p.id, q ? { x: q.x + (p.x - q.x) * t, y: q.y + (p.y - q.y) * t, score: q.score } : { x: p.x, y: p.y, score: p.score });
    }
    return out;
  }

  // Past the newest snapshot (render time catching up after a late packet) players keep their
  // velocity for at most one tick, then hold: a long guess would be visibly wrong.
  #extrapolate(snapshot, aheadMs, out) {
    const list = this.#snapshots;
    const tickMs = list.length > 1 ? list[list.length - 1].serverTime - list[list.length - 2].serverTime : 0;
    const s = Math.min(aheadMs, tickMs) / 1000;
    const lo = PLAYER_RADIUS;
    const hi = ARENA_SIZE - PLAYER_RADIUS;
    for (const p of snapshot.players) {
      out.set(p.id, { x: clamp(p.x + p.vx * s, lo, hi), y: clamp(p.y + p.vy * s, lo, hi), score: p.score });
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

/**
 * Delay before reconnection attempt `attempt` (1 = first): initialDelayMs * factor^(attempt-1),
 * capped at maxDelayMs, spread by +-jitter so clients dropped together do not return together,
 * and never above maxDelayMs.
 */
export function backoffDelay(attempt, { initialDelayMs = 500, factor = 2, maxDelayMs = 8000, jitter = 0.25, random = Math.random } = {}) {
  const base = Math.min(maxDelayMs, initialDelayMs * factor ** Math.max(0, attempt - 1));
  const spread = base * jitter * (2 * random() - 1);
  return Math.round(Math.min(maxDelayMs, Math.max(0, base + spread)));
}
