// The package README's usage examples, run verbatim: the browser one in Chromium (with an
// import map for the bare package name), the Node.js one with the package installed in a
// temporary node_modules.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { launch, recordConsole } from "./lib/browser.mjs";
import { requirePackage } from "./lib/paths.mjs";
import { serve } from "./lib/static-server.mjs";

const pkg = requirePackage();
const readme = readFileSync(join(pkg, "README.md"), "utf8");

/** The first ```js block after the heading `title`. */
function example(title) {
  const at = readme.indexOf(`## ${title}`);
  assert.ok(at >= 0, `README has a "${title}" section`);
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `a js block under "${title}"`);
  return m[1];
}

/** Runs the README's example under `section` in Chromium; the page's console lines. */
async function runInChromium(section) {
  const code = example(section);
  const html = `<!doctype html><script type="importmap">{"imports":{"xaeroflux-wasm":"/pkg/xaeroflux_wasm.js"}}</script>
<script type="module">import("/example.mjs").then(() => console.log("example done"), (e) => console.log("example failed: " + e));</script>`;
  const server = await serve({ files: { "/": html, "/example.mjs": code }, dirs: { "/pkg/": pkg } });
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const lines = recordConsole(page);
    await page.goto(server.url + "/");
    await page.waitForFunction(() => true);
    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => l.startsWith("example ")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const out = lines.join("\n");
    assert.match(out, /example done/, out);
    return out;
  } finally {
    await browser.close();
    await server.close();
  }
}

test("the browser example runs verbatim in Chromium", async () => {
  const out = await runInChromium("Usage (browser)");
  assert.match(out, /^appended 0 Hello, Xaeroflux! root [0-9a-f]{64}$/m, out);
  assert.match(out, /^verified event 0 of 1$/m, out);
  assert.match(out, /^XaerofluxError PROOF_INVALID the event is not in the feed/m, out);
});

test("the archives example runs verbatim in Chromium", async () => {
  const out = await runInChromium("Archives");
  assert.match(out, /^true\ntrue 1 first note$/m, out);
});

/** Runs the README's example under `section` with Node, the package linked in; its stdout. */
function runExample(section) {
  const code = example(section);
  const dir = mkdtempSync(join(tmpdir(), "xf-readme-"));
  try {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(pkg, join(dir, "node_modules", "xaeroflux-wasm"), "dir");
    writeFileSync(join(dir, "example.mjs"), code);
    return execFileSync(process.execPath, ["example.mjs"], { cwd: dir, encoding: "utf8", timeout: 20_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the Node.js example runs verbatim", () => {
  assert.equal(runExample("Usage (Node.js)").trim(), "from a");
});

test("the encrypted events example runs verbatim", () => {
  const out = runExample("Encrypted events");
  assert.deepEqual(out.trim().split("\n"), ["1 null 57", "meet at noon", "true", "DECRYPT"]);
});

test("the reads on demand example runs verbatim", () => {
  const out = runExample("Reads on demand");
  assert.deepEqual(out.trim().split("\n"), ["1 3 chair, 35 EUR | desk, 90 EUR", "3 0", "1"]);
});
