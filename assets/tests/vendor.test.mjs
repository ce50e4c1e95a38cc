// The vendored socket.io-client (assets/vendor/socket.io-client/) against the checksums pinned in
// assets/vendor/update.mjs: a file edited, replaced or left behind by hand fails here; and the
// script itself refuses a source that does not match, writing nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FILES, VENDOR_DIR, VERSION, sha256, update } from "../vendor/update.mjs";

test("every vendored file has the checksum pinned in update.mjs, and nothing else is there", () => {
  for (const f of FILES) {
    const actual = sha256(readFileSync(join(VENDOR_DIR, f.to)));
    assert.equal(actual, f.sha256, `${f.to}: SHA-256 differs from update.mjs (re-run node assets/vendor/update.mjs, or update the pin on purpose)`);
  }
  assert.deepEqual(readdirSync(VENDOR_DIR).sort(), FILES.map((f) => f.to).sort());
});

test("the vendored builds are the pinned version, and the ES module exports io", () => {
  for (const name of ["socket.io.esm.min.js", "socket.io.min.js"]) {
    const head = readFileSync(join(VENDOR_DIR, name), "utf8").slice(0, 200);
    assert.match(head, new RegExp(`Socket\\.IO v${VERSION.replaceAll(".", "\\.")}\\b`), name);
  }
  // The import the pages make (`import { io } from ...`) must resolve against this export list.
  const esm = readFileSync(join(VENDOR_DIR, "socket.io.esm.min.js"), "utf8");
  assert.match(esm, /export\{[^}]*\b_t as io\b[^}]*\}/);
  assert.match(readFileSync(join(VENDOR_DIR, "LICENSE"), "utf8"), /MIT License/i);
});

test("update.mjs refuses a source whose checksum or version differs, and writes nothing", () => {
  const dir = mkdtempSync(join(tmpdir(), "tickstorm-vendor-"));
  try {
    const source = join(dir, "src");
    const out = join(dir, "out");
    mkdirSync(join(source, "dist"), { recursive: true });
    // A faithful copy of the vendored files is accepted...
    for (const f of FILES) writeFileSync(join(source, f.from), readFileSync(join(VENDOR_DIR, f.to)));
    writeFileSync(join(source, "package.json"), JSON.stringify({ version: VERSION }));
    const written = update({ sourceDir: source, vendorDir: out });
    assert.equal(written.length, FILES.length);
    for (const f of FILES) assert.equal(sha256(readFileSync(join(out, f.to))), f.sha256);
    rmSync(out, { recursive: true });

    // ...one changed byte is not.
    const esm = join(source, "dist/socket.io.esm.min.js");
    writeFileSync(esm, readFileSync(esm, "utf8") + "\n;globalThis.evil = 1;\n");
    assert.throws(() => update({ sourceDir: source, vendorDir: out }), /refusing to vendor[\s\S]*socket\.io\.esm\.min\.js: SHA-256/);
    assert.equal(existsSync(out), false, "nothing may be written when a file is refused");

    // Another version is refused even before its files are compared.
    writeFileSync(join(source, "package.json"), JSON.stringify({ version: "4.8.3" }));
    assert.throws(() => update({ sourceDir: source, vendorDir: out }), /holds socket\.io-client 4\.8\.3, this script vendors 4\.8\.4/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
