// The few helpers the Node test scripts share: each script checks as it goes, exits 1 with the
// first failed check's reason, and is bounded by a deadline.

export function fail(reason) {
  console.error(`FAIL: ${reason}`);
  process.exit(1);
}

export function check(condition, reason) {
  if (!condition) fail(reason);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Fails the script if it is still running after `ms`. */
export function deadline(ms) {
  setTimeout(() => fail(`timed out after ${ms / 1000} s`), ms).unref();
}
