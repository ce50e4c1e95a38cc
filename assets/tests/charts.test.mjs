// Unit tests for the pure parts of assets/js/charts.js; all the unit tests:
// `node --test assets/tests/*.test.mjs`.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  niceTicks, timeTicks, RingSeries, formatBytesRate, formatCount, formatMs, formatDuration,
} from "../js/charts.js";

// A step is "nice" when it is 1, 2 or 5 times a power of ten.
function isNiceStep(step) {
  const e = Math.floor(Math.log10(step));
  const f = Number((step / 10 ** e).toPrecision(12));
  return [1, 2, 5, 10].includes(f);
}

// The properties every axis relies on: covers the data, evenly spaced, nice, rounded.
function checkTicks(min, max, count, { tight = true } = {}) {
  const ticks = niceTicks(min, max, count);
  const label = `niceTicks(${min}, ${max}, ${count}) = ${JSON.stringify(ticks)}`;
  assert.ok(ticks.length >= 2, label);
  assert.ok(ticks[0] <= Math.min(min, max), `first tick <= min: ${label}`);
  assert.ok(ticks.at(-1) >= Math.max(min, max), `last tick >= max: ${label}`);
  const step = ticks[1] - ticks[0];
  assert.ok(step > 0, label);
  assert.ok(isNiceStep(step), `nice step ${step}: ${label}`);
  for (let i = 1; i < ticks.length; i++) {
    assert.ok(Math.abs(ticks[i] - ticks[i - 1] - step) <= step * 1e-9, `even spacing: ${label}`);
  }
  // Rounded to the step: no binary-fraction noise in the labels (0.15, not 0.15000000000000002).
  const stepDecimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  for (const t of ticks) {
    const fraction = String(t).includes("e") ? "" : (String(t).split(".")[1] ?? "");
    assert.ok(fraction.length <= stepDecimals, `rounded value ${t}: ${label}`);
    assert.ok(Math.abs(t / step - Math.round(t / step)) < 1e-6, `tick on the step grid ${t}: ${label}`);
  }
  if (!tight) return ticks;
  // The axis is not much wider than the data, whatever the count.
  assert.ok(ticks.at(-1) - ticks[0] <= 3 * Math.abs(max - min) + 1e-9, `axis span: ${label}`);
  // Not a padded-out axis: one step of slack at most on each side.
  assert.ok(ticks[0] > Math.min(min, max) - step, `tight at min: ${label}`);
  assert.ok(ticks.at(-1) < Math.max(min, max) + step, `tight at max: ${label}`);
  return ticks;
}

describe("niceTicks", () => {
  test("round ranges give the obvious ticks", () => {
    assert.deepEqual(niceTicks(0, 100, 5), [0, 20, 40, 60, 80, 100]);
    assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0, 10, 6), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(niceTicks(0, 37, 6), [0, 10, 20, 30, 40]);
  });

  test("decimal steps are exact (no 0.30000000000000004)", () => {
    assert.deepEqual(niceTicks(0.1, 0.3, 5), [0.1, 0.15, 0.2, 0.25, 0.3]);
    assert.deepEqual(niceTicks(1.1, 1.9, 5), [1, 1.2, 1.4, 1.6, 1.8, 2]);
    assert.deepEqual(niceTicks(0, 0.0042, 4), [0, 0.002, 0.004, 0.006]);
    assert.ok(niceTicks(0, 0.7, 8).includes(0.3));
  });

  test("covers, is evenly spaced and nice over many ranges", () => {
    const ranges = [
      [0, 1], [0, 3], [0, 7.5], [0, 42], [0, 999], [0, 1234567], [0, 3.7e9], [2, 3],
      [-3, 7], [-120, -5], [-1e-3, 1e-3], [0.0001, 0.00017], [17, 17.4], [99, 101], [1e12, 3e12],
    ];
    for (const [min, max] of ranges) for (const count of [2, 3, 4, 5, 6, 8, 10]) checkTicks(min, max, count);
  });

  test("tick count stays near the requested count", () => {
    for (const [min, max] of [[0, 1], [0, 42], [0, 1234567], [-3, 7], [0.1, 0.9]]) {
      for (const count of [3, 5, 8]) {
        const n = niceTicks(min, max, count).length;
        assert.ok(n >= Math.ceil(count / 2) && n <= count * 2, `${min}..${max} by ${count}: ${n} ticks`);
      }
    }
  });

  test("swapped bounds are treated as the same range", () => {
    assert.deepEqual(niceTicks(100, 0, 5), niceTicks(0, 100, 5));
  });

  test("flat data still gets a visible axis around the value", () => {
    assert.deepEqual(niceTicks(0, 0, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    const t = checkTicks(5, 5, 5, { tight: false });
    assert.ok(t[0] < 5 && t.at(-1) > 5);
    const neg = checkTicks(-250, -250, 5, { tight: false });
    assert.ok(neg[0] < -250 && neg.at(-1) > -250);
  });

  test("no negative zero", () => {
    for (const t of niceTicks(-1, 1, 5)) assert.ok(!Object.is(t, -0));
  });

  test("non-finite input gives no ticks", () => {
    assert.deepEqual(niceTicks(NaN, 1, 5), []);
    assert.deepEqual(niceTicks(0, Infinity, 5), []);
  });

  test("a silly count is clamped to at least two ticks", () => {
    checkTicks(0, 10, 0);
    checkTicks(0, 10, NaN);
  });
});

describe("timeTicks", () => {
  test("a 5-minute window gets minute ticks aligned to the minute", () => {
    const t0 = Date.UTC(2025, 0, 1, 12, 0, 17);
    const ticks = timeTicks(t0, t0 + 300_000, 6);
    assert.equal(ticks.length, 5);
    for (const t of ticks) {
      assert.equal(t % 60_000, 0);
      assert.ok(t >= t0 && t <= t0 + 300_000);
    }
  });

  test("short windows get second ticks; empty window none", () => {
    const ticks = timeTicks(10_500, 40_500, 6);
    assert.deepEqual(ticks, [15_000, 20_000, 25_000, 30_000, 35_000, 40_000]);
    assert.deepEqual(timeTicks(5, 5, 6), []);
  });
});

describe("RingSeries", () => {
  test("starts empty", () => {
    const r = new RingSeries(3);
    assert.equal(r.length, 0);
    assert.equal(r.last(), null);
    assert.deepEqual(r.points(), []);
  });

  test("returns samples oldest first", () => {
    const r = new RingSeries(5);
    r.push(1, 10);
    r.push(2, 20);
    r.push(3, 30);
    assert.equal(r.length, 3);
    assert.deepEqual(r.points(), [{ t: 1, v: 10 }, { t: 2, v: 20 }, { t: 3, v: 30 }]);
    assert.deepEqual(r.last(), { t: 3, v: 30 });
  });

  test("overwrites the oldest sample when full, order kept across the wrap", () => {
    const r = new RingSeries(3);
    for (let t = 1; t <= 7; t++) r.push(t, t * 100);
    assert.equal(r.length, 3);
    assert.deepEqual(r.points(), [{ t: 5, v: 500 }, { t: 6, v: 600 }, { t: 7, v: 700 }]);
    assert.deepEqual(r.last(), { t: 7, v: 700 });
  });

  test("points(sinceT) keeps samples at or after sinceT", () => {
    const r = new RingSeries(4);
    for (let t = 0; t < 6; t++) r.push(t * 1000, t);
    assert.deepEqual(r.points(3000).map((p) => p.t), [3000, 4000, 5000]);
    assert.deepEqual(r.points(3500).map((p) => p.v), [4, 5]);
    assert.deepEqual(r.points(9999), []);
    assert.equal(r.points(-Infinity).length, 4);
  });

  test("refuses samples that go back in time or are not finite", () => {
    const r = new RingSeries(4);
    assert.equal(r.push(10, 1), true);
    assert.equal(r.push(5, 2), false);
    assert.equal(r.push(10, 3), true); // same time is allowed (two pushes in one ms)
    assert.equal(r.push(NaN, 4), false);
    assert.equal(r.push(11, NaN), false);
    assert.equal(r.push(12, Infinity), false);
    assert.deepEqual(r.points(), [{ t: 10, v: 1 }, { t: 10, v: 3 }]);
  });

  test("clear empties it and it can be refilled", () => {
    const r = new RingSeries(2);
    r.push(1, 1);
    r.push(2, 2);
    r.push(3, 3);
    r.clear();
    assert.equal(r.length, 0);
    assert.equal(r.push(0, 9), true); // earlier than before the clear: fine after a clear
    assert.deepEqual(r.points(), [{ t: 0, v: 9 }]);
  });

  test("capacity must be a positive integer", () => {
    assert.throws(() => new RingSeries(0), RangeError);
    assert.throws(() => new RingSeries(2.5), RangeError);
    assert.equal(new RingSeries(1).capacity, 1);
  });

  test("capacity 1 always holds the newest", () => {
    const r = new RingSeries(1);
    r.push(1, 1);
    r.push(2, 2);
    assert.deepEqual(r.points(), [{ t: 2, v: 2 }]);
  });
});

describe("formatters", () => {
  test("bytes use decimal units", () => {
    assert.equal(formatBytesRate(0), "0 B/s");
    assert.equal(formatBytesRate(512), "512 B/s");
    assert.equal(formatBytesRate(1500), "1.50 KB/s");
    assert.equal(formatBytesRate(1234567), "1.23 MB/s");
    // Axis labels share the unit of the largest tick and the decimals of the step.
    assert.equal(formatBytesRate(500_000, { step: 500_000, max: 2_000_000 }), "0.5 MB/s");
    assert.equal(formatBytesRate(2_000_000, { step: 500_000, max: 2_000_000 }), "2.0 MB/s");
  });

  test("counts, milliseconds and durations", () => {
    assert.equal(formatCount(12), "12");
    assert.equal(formatCount(12_500), "12.5 k");
    assert.equal(formatCount(0.4, { step: 0.2, max: 1 }), "0.4");
    assert.equal(formatMs(0.4213), "0.42 ms");
    assert.equal(formatMs(1, { step: 0.5 }), "1.0 ms");
    assert.equal(formatDuration(42), "42s");
    assert.equal(formatDuration(3 * 60 + 5), "3m 05s");
    assert.equal(formatDuration(2 * 3600 + 3 * 60 + 4), "2h 03m 04s");
    assert.equal(formatDuration(93784), "1d 02h 03m");
    assert.equal(formatDuration(NaN), "–");
  });
});

test("RingSeries.oldestTime follows wrap-around and is NaN when empty", () => {
  const ring = new RingSeries(3);
  assert.ok(Number.isNaN(ring.oldestTime));
  for (const t of [10, 20, 30, 40]) ring.push(t, t);
  assert.equal(ring.oldestTime, 20, "the first sample was overwritten");
});
