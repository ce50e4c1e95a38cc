// Vendors the official Socket.IO browser client (npm `socket.io-client`, pinned below) into
// assets/vendor/socket.io-client/, where the server embeds it with the rest of assets/:
// - socket.io.esm.min.js (+ .map): the ES module the web client and dashboard import;
// - socket.io.min.js (+ .map): the classic build the server also answers at
//   /socket.io/socket.io.js, as a stock Socket.IO server does;
// - LICENSE: the package's MIT licence, kept next to the code it covers.
//
//   cd server/tests/js && npm ci && cd - && node assets/vendor/update.mjs
//
// The source is the copy npm installed for the conformance tests (server/tests/js, where
// package.json pins the same version). Every file must have the SHA-256 written here: an
// unexpected file (another version, a tampered or corrupted install) is refused and nothing is
// written. Moving to another version means changing VERSION and the checksums here on purpose,
// after reading what changed; assets/tests/vendor.test.mjs checks the committed files against
// this list, so drift in either place fails the tests.
//
// Kept out of the server binary: assets.rs does not embed *.mjs files.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const PACKAGE = "socket.io-client";
export const VERSION = "4.8.4";

const here = dirname(fileURLToPath(import.meta.url));
/** Where the files are committed. */
export const VENDOR_DIR = join(here, "socket.io-client");
/** The npm install they are copied from. */
export const SOURCE_DIR = join(here, "../../server/tests/js/node_modules", PACKAGE);

/** Each vendored file: its path in the npm package, its name here, its SHA-256 (hex). */
export const FILES = Object.freeze([
  { from: "dist/socket.io.esm.min.js", to: "socket.io.esm.min.js", sha256: "771c3872e7d9bf81020615fda67ef0fd2aa61fcaf1990100714a46fa2c39f8a1" },
  { from: "dist/socket.io.esm.min.js.map", to: "socket.io.esm.min.js.map", sha256: "c9d398fa2ec6a2154406f992a9fe32dfbbe8fda8b4804ee2d292d131362d731f" },
  { from: "dist/socket.io.min.js", to: "socket.io.min.js", sha256: "d5d79a35039e860b32bdef4795528b05c2f788d4b2d9dacc913120e2878f7b3f" },
  { from: "dist/socket.io.min.js.map", to: "socket.io.min.js.map", sha256: "f3bb40c9acac4071f1875bb9f09f113b0ccbc14bed1d1c46963bf64b41a3d6fe" },
  { from: "LICENSE", to: "LICENSE", sha256: "73cb68c437d59e066f9386ef97be57298df4db119fdbd7d7150817c6dbd9f189" },
].map(Object.freeze));

export const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** Reads every source file and checks version and checksums; throws listing every problem. */
export function readVerifiedSources(sourceDir = SOURCE_DIR) {
  const problems = [];
  let version;
  try {
    version = JSON.parse(readFileSync(join(sourceDir, "package.json"), "utf8")).version;
  } catch (err) {
    throw new Error(`cannot read ${PACKAGE}'s package.json in ${sourceDir} (run npm ci in server/tests/js): ${err.message}`);
  }
  if (version !== VERSION) problems.push(`${sourceDir} holds ${PACKAGE} ${version}, this script vendors ${VERSION}`);
  const files = FILES.map((f) => {
    const path = join(sourceDir, f.from);
    let bytes;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      problems.push(`cannot read ${path}: ${err.message}`);
      return null;
    }
    const actual = sha256(bytes);
    if (actual !== f.sha256) problems.push(`${path}: SHA-256 ${actual}, expected ${f.sha256}`);
    return { ...f, bytes };
  });
  if (problems.length) throw new Error(`refusing to vendor ${PACKAGE}:\n  ${problems.join("\n  ")}`);
  return files;
}

/** Verifies every source, then copies them all (nothing is written unless all match). */
export function update({ sourceDir = SOURCE_DIR, vendorDir = VENDOR_DIR } = {}) {
  const files = readVerifiedSources(sourceDir);
  mkdirSync(vendorDir, { recursive: true });
  // The bytes that were checked are the ones written (no second read of the source).
  for (const f of files) writeFileSync(join(vendorDir, f.to), f.bytes);
  return files.map((f) => join(vendorDir, f.to));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    for (const path of update()) console.log(`vendored ${path}`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
