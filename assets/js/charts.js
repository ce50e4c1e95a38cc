// Canvas time-series charts for the Tickstorm dashboard, plus the pure helpers they use.
// No dependencies and no DOM access at import time, so node:test can import the pure parts
// (niceTicks, timeTicks, RingSeries, the formatters) without a browser.

const SECOND = 1000;
// Shortest time span a chart shows, so the first samples are not one squashed column.
const MIN_SPAN_MS = 60 * SECOND;

// Nice steps are f * 10^e with f in {1, 2, 5}: labels like 0.2, 50, 1000 read at a glance.
function stepCandidate(factor, e, min, max) {
  // Multiplying by a negative power of ten is inexact (3 * 0.1); dividing by a positive one is
  // correctly rounded, so values are built as i * factor / 10^-e when e < 0.
  const value = e >= 0 ? (i) => i * factor * 10 ** e : (i) => (i * factor) / 10 ** -e;
  const step = value(1);
  // The epsilon stops 1.1 / 0.1 = 11.000000000000002 from adding a tick past the data.
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  return { value, decimals: Math.max(0, -e), first, last };
}

/**
 * Tick values for an axis covering [min, max] with about `count` ticks.
 * The first tick is <= min and the last is >= max, so the caller can use them as the axis
 * range; the step is 1, 2 or 5 times a power of ten and the values are rounded to the step's
 * precision (no 0.30000000000000004). Returns [] for non-finite input.
 */
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min > max) [min, max] = [max, min];
  count = Math.max(2, Math.floor(Number.isFinite(count) ? count : 5));
  // Differences below double precision would give duplicate ticks: treat them as flat.
  if (max - min <= Math.max(Math.abs(min), Math.abs(max)) * 1e-12) max = min;
  if (min === max) {
    // A flat series still needs a visible axis: widen by one unit of its magnitude,
    // keeping 0 as the floor when everything is 0 (an idle server).
    if (min === 0) {
      max = 1;
    } else {
      const d = 10 ** Math.floor(Math.log10(Math.abs(min)));
      min -= d;
      max += d;
    }
  }
  const raw = (max - min) / (count - 1);
  const exp = Math.floor(Math.log10(raw));
  if (!Number.isFinite(exp) || Math.abs(exp) > 290) return [min, max]; // beyond toFixed's reach
  // Nice steps within [raw / 2, raw * 2.5] (never empty). Score = distance from `count` ticks
  // + twice the wasted axis fraction, so 0..100 by 5 gives 0, 20, ..., 100 and -3..7 by 2 gives
  // -10, 0, 10 rather than -20, 0, 20. Ties go to the larger step (fewer, rounder labels).
  let best = null;
  for (const [factor, e] of [[5, exp - 1], [1, exp], [2, exp], [5, exp], [1, exp + 1], [2, exp + 1]]) {
    const step = factor * 10 ** e;
    if (step < raw / 2 * (1 - 1e-9) || step > raw * 2.5 * (1 + 1e-9)) continue;
    const c = stepCandidate(factor, e, min, max);
    const waste = ((c.last - c.first) * step) / (max - min) - 1;
    const score = Math.abs(c.last - c.first + 1 - count) + 2 * waste;
    if (!best || score <= best.score + 1e-9) best = { ...c, score };
  }
  const { value, decimals, first, last } = best;
  const ticks = [];
  for (let i = first; i <= last; i++) ticks.push(Number(value(i).toFixed(decimals)) + 0);
  return ticks;
}

// Time steps a human reads easily (seconds, then minutes, then hours).
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600]
  .map((s) => s * SECOND);

/**
 * Tick times (unix ms) inside [t0, t1], aligned to a round step chosen so there are at most
 * about `count` of them. Alignment is in UTC ms, which matches local clocks to the minute.
 */
export function timeTicks(t0, t1, count = 6) {
  if (!Number.isFinite(t0) || !Number.isFinite(t1) || t1 <= t0) return [];
  const span = t1 - t0;
  const step = TIME_STEPS.find((s) => span / s <= count) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const ticks = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t);
  return ticks;
}

/**
 * Fixed-capacity buffer of (time, value) samples, oldest overwritten first.
 * Times must not go backwards: an out-of-order or non-finite sample is refused (push returns
 * false) so the drawn line never folds back on itself.
 */
export class RingSeries {
  constructor(capacity = 600) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
    this.capacity = capacity;
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
    this.start = 0; // index of the oldest sample
    this.length = 0;
  }

  push(t, v) {
    if (!Number.isFinite(t) || !Number.isFinite(v)) return false;
    const lastSample = this.last();
    if (lastSample && t < lastSample.t) return false;
    const index = (this.start + this.length) % this.capacity;
    this.times[index] = t;
    this.values[index] = v;
    if (this.length < this.capacity) this.length++;
    else this.start = (this.start + 1) % this.capacity;
    return true;
  }

  /** Samples with t >= sinceT, oldest first, as [{t, v}]. */
  /** Time of the oldest sample kept (NaN when empty). */
  get oldestTime() {
    return this.length ? this.times[this.start] : NaN;
  }

  points(sinceT = -Infinity) {
    const out = [];
    for (let k = 0; k < this.length; k++) {
      const i = (this.start + k) % this.capacity;
      if (this.times[i] >= sinceT) out.push({ t: this.times[i], v: this.values[i] });
    }
    return out;
  }

  last() {
    if (this.length === 0) return null;
    const i = (this.start + this.length - 1) % this.capacity;
    return { t: this.times[i], v: this.values[i] };
  }

  clear() {
    this.start = 0;
    this.length = 0;
  }
}

// ---- Formatters. Axis labels get {step} so every label of an axis has the same decimals;
// ---- legends and tiles get no step and show about three significant digits.

function decimalsFor(step) {
  if (!Number.isFinite(step) || step <= 0) return 0;
  return Math.min(6, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
}

function significant(v) {
  const a = Math.abs(v);
  if (a === 0 || Number.isInteger(v)) return v.toFixed(0);
  return v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

// Scale by 1000s so decimal ticks from niceTicks stay round in the displayed unit.
function scaled(v, units, opts = {}) {
  const ref = Math.abs(opts.max ?? v);
  let u = 0;
  while (u < units.length - 1 && ref >= 1000 ** (u + 1)) u++;
  const x = v / 1000 ** u;
  const text = opts.step != null ? x.toFixed(decimalsFor(opts.step / 1000 ** u)) : significant(x);
  return units[u] ? `${text} ${units[u]}` : text;
}

/** 1234567 -> "1.23 MB/s" (decimal units, 1 KB = 1000 B, matching the decimal axis ticks). */
export function formatBytesRate(v, opts) {
  return scaled(v, ["B/s", "KB/s", "MB/s", "GB/s", "TB/s"], opts);
}

/** Counts and rates: 12 -> "12", 12500 -> "12.5 k". */
export function formatCount(v, opts) {
  return scaled(v, ["", "k", "M", "G"], opts);
}

/** Milliseconds: 0.4213 -> "0.42 ms". */
export function formatMs(v, opts) {
  const text = opts?.step != null ? v.toFixed(decimalsFor(opts.step)) : significant(v);
  return `${text} ms`;
}

/** Seconds of uptime: 93784 -> "1d 02h 03m". */
export function formatDuration(totalSeconds) {
  if (!Number.isFinite(totalSeconds) || totalSeconds < 0) return "–";
  const s = Math.floor(totalSeconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const p = (n) => String(n).padStart(2, "0");
  if (d > 0) return `${d}d ${p(h)}h ${p(m)}m`;
  if (h > 0) return `${h}h ${p(m)}m ${p(sec)}s`;
  if (m > 0) return `${m}m ${p(sec)}s`;
  return `${sec}s`;
}

/** Local wall-clock time, HH:MM:SS (HH:MM when seconds are always zero). */
export function formatClock(t, withSeconds = true) {
  const d = new Date(t);
  const p = (n) => String(n).padStart(2, "0");
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return withSeconds ? `${hm}:${p(d.getSeconds())}` : hm;
}

// ---- The chart.

export const PALETTE = ["#73bf69", "#5794f2", "#fade2a", "#ff9830", "#f2495c", "#b877d9"];

const THEME = {
  grid: "rgba(204, 204, 220, 0.09)",
  axis: "rgba(204, 204, 220, 0.65)",
  legend: "#ccccdc",
  font: '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
};

/**
 * A line chart of several named series over a sliding time window.
 *
 *   const chart = new TimeSeriesChart(canvas, {
 *     series: [{ key: "p50", label: "p50" }, { key: "p99", label: "p99", color: "#f2495c" }],
 *     format: formatMs,         // (value, {step, max}?) -> label
 *     windowMs: 5 * 60 * 1000,  // default: last 5 minutes
 *   });
 *   chart.push(serverTimeMs, { p50: 0.3, p99: 1.2 });   // redraws on the next frame
 *
 * The canvas is sized by CSS; the backing store follows its box times devicePixelRatio, so
 * lines stay sharp on HiDPI screens and after zooming. "Now" is the newest sample's time, not
 * the browser clock, so a skewed client clock cannot push the data out of the window.
 */
export class TimeSeriesChart {
  constructor(canvas, options = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.windowMs = options.windowMs ?? 5 * 60 * SECOND;
    this.format = options.format ?? formatCount;
    this.yMin = options.yMin ?? 0; // rates and counts: keep 0 on the axis, Grafana-style
    this.integer = options.integer ?? false; // whole-number series (counts)
    this.minSpan = options.minSpan ?? 1; // flat zero data still gets a 0..minSpan axis
    // Samples arrive every second; a longer silence (disconnect) breaks the line.
    this.gapMs = options.gapMs ?? 5 * SECOND;
    const capacity = options.capacity ?? Math.ceil(this.windowMs / SECOND) * 2;
    this.series = (options.series ?? []).map((s, i) => ({
      key: s.key,
      label: s.label ?? s.key,
      color: s.color ?? PALETTE[i % PALETTE.length],
      data: new RingSeries(capacity),
    }));
    this.now = null;
    this.frame = 0;
    if (typeof ResizeObserver !== "undefined") {
      this.resizeObserver = new ResizeObserver(() => this.requestDraw());
      this.resizeObserver.observe(canvas);
    }
  }

  /** Adds one sample per series from `values` (missing or non-numeric values are skipped). */
  push(t, values) {
    for (const s of this.series) s.data.push(t, Number(values[s.key]));
    if (this.now == null || t > this.now) this.now = t;
    this.requestDraw();
  }

  clear() {
    for (const s of this.series) s.data.clear();
    this.now = null;
    this.requestDraw();
  }

  // Coalesces pushes and resizes into one draw per animation frame.
  requestDraw() {
    if (this.frame) return;
    const raf = globalThis.requestAnimationFrame ?? ((f) => setTimeout(f, 16));
    this.frame = raf(() => {
      this.frame = 0;
      this.draw();
    });
  }

  // Matches the backing store to the CSS box; returns the CSS size.
  resize() {
    const dpr = globalThis.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth));
    const h = Math.max(1, Math.round(this.canvas.clientHeight));
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { w, h };
  }

  draw() {
    const { w, h } = this.resize();
    const ctx = this.ctx;
    ctx.clearRect(0, 0, w, h);
    ctx.font = THEME.font;
    ctx.textBaseline = "middle";

    const t1 = this.now ?? Date.now();
    // A young dashboard shows what it has (at least a minute) instead of a mostly empty window.
    const firsts = this.series.map((s) => s.data.oldestTime).filter(Number.isFinite);
    const span = firsts.length
      ? Math.min(this.windowMs, Math.max(MIN_SPAN_MS, t1 - Math.min(...firsts)))
      : this.windowMs;
    const t0 = t1 - span;
    const visible = this.series.map((s) => s.data.points(t0 - this.gapMs));

    // Y range from the visible data, always including yMin (0 for these metrics).
    let lo = this.yMin ?? Infinity;
    let hi = -Infinity;
    for (const pts of visible) for (const p of pts) {
      if (p.t < t0) continue;
      lo = Math.min(lo, p.v);
      hi = Math.max(hi, p.v);
    }
    if (!Number.isFinite(lo)) lo = 0;
    if (!Number.isFinite(hi) || hi - lo < this.minSpan) hi = lo + this.minSpan;
    let ticks = niceTicks(lo, hi, Math.max(2, Math.min(6, Math.floor(h / 35))));
    // Counts (rooms, players) never have half values: drop fractional ticks. The ends stay,
    // because integer data gives integer ends whenever the step is below 1.
    if (this.integer && ticks[1] - ticks[0] < 1) {
      const whole = ticks.filter(Number.isInteger);
      if (whole.length >= 2) ticks = whole;
    }
    const yLo = ticks[0];
    const yHi = ticks[ticks.length - 1];
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
    const labelOpts = { step, max: Math.max(Math.abs(yLo), Math.abs(yHi)) };
    const labels = ticks.map((v) => this.format(v, labelOpts));

    // Layout: legend row on top, y labels on the left, time labels at the bottom.
    const legendH = 20;
    const left = Math.ceil(Math.max(...labels.map((l) => ctx.measureText(l).width))) + 10;
    const plot = { x: left, y: legendH + 4, w: Math.max(10, w - left - 8), h: Math.max(10, h - legendH - 26) };
    const xOf = (t) => plot.x + ((t - t0) / span) * plot.w;
    const yOf = (v) => plot.y + plot.h - ((v - yLo) / (yHi - yLo || 1)) * plot.h;

    // Grid and y labels.
    ctx.lineWidth = 1;
    ctx.strokeStyle = THEME.grid;
    ctx.fillStyle = THEME.axis;
    ctx.textAlign = "right";
    ticks.forEach((v, i) => {
      const y = Math.round(yOf(v)) + 0.5; // half-pixel: crisp 1px lines
      ctx.beginPath();
      ctx.moveTo(plot.x, y);
      ctx.lineTo(plot.x + plot.w, y);
      ctx.stroke();
      ctx.fillText(labels[i], plot.x - 6, y);
    });

    // Time axis: vertical grid lines and clock labels.
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const tTicks = timeTicks(t0, t1, Math.max(2, Math.floor(plot.w / 65))); // ~65 px per HH:MM label
    const withSeconds = tTicks.some((t) => t % 60000 !== 0);
    for (const t of tTicks) {
      const x = Math.round(xOf(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, plot.y);
      ctx.lineTo(x, plot.y + plot.h);
      ctx.stroke();
      const label = formatClock(t, withSeconds);
      const half = ctx.measureText(label).width / 2;
      if (x - half >= 0 && x + half <= w) ctx.fillText(label, x, plot.y + plot.h + 6); // never cut off
    }

    // Lines (with a faint fill), clipped to the plot so the window edge cuts them cleanly.
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.x, plot.y - 1, plot.w, plot.h + 2);
    ctx.clip();
    this.series.forEach((s, i) => this.drawLine(visible[i], s.color, xOf, yOf, plot.y + plot.h));
    ctx.restore();

    this.drawLegend(plot.x, legendH / 2);
  }

  drawLine(points, color, xOf, yOf, baseY) {
    const ctx = this.ctx;
    // Split at gaps so a disconnect shows as a hole, not a straight line across it.
    const segments = [];
    let current = [];
    for (const p of points) {
      if (current.length && p.t - current[current.length - 1].t > this.gapMs) {
        segments.push(current);
        current = [];
      }
      current.push(p);
    }
    if (current.length) segments.push(current);

    ctx.lineWidth = 1.5;
    ctx.lineJoin = "round";
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    for (const seg of segments) {
      ctx.beginPath();
      seg.forEach((p, k) => (k ? ctx.lineTo(xOf(p.t), yOf(p.v)) : ctx.moveTo(xOf(p.t), yOf(p.v))));
      if (seg.length === 1) ctx.arc(xOf(seg[0].t), yOf(seg[0].v), 1.5, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.lineTo(xOf(seg[seg.length - 1].t), baseY);
      ctx.lineTo(xOf(seg[0].t), baseY);
      ctx.closePath();
      ctx.globalAlpha = 0.08;
      ctx.fill();
      ctx.globalAlpha = 1;
    }
  }

  // Legend: colour swatch, label, current (newest) value.
  drawLegend(x, y) {
    const ctx = this.ctx;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const s of this.series) {
      const last = s.data.last();
      const text = `${s.label}  ${last ? this.format(last.v) : "–"}`;
      ctx.fillStyle = s.color;
      ctx.fillRect(x, y - 1.5, 12, 3);
      ctx.fillStyle = THEME.legend;
      ctx.fillText(text, x + 17, y);
      x += 17 + ctx.measureText(text).width + 18;
    }
  }

  destroy() {
    this.resizeObserver?.disconnect();
  }
}
