// End-to-end test of the web demo in Debian's Chromium: the demo server (page, local iroh
// relay, native peer) and two tabs of one browser profile. An event appended in one tab
// shows in the other and on the native peer within 2 s (and the other way round); a tab
// keeps its store across a reload; a proof verifies and a tampered one is shown as invalid.
// Saves screenshots to target/artifacts/.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { launchPersistent, recordConsole } from "./lib/browser.mjs";
import { artifacts, repo, requirePackage } from "./lib/paths.mjs";

const LIVE_MS = 2000;
const targetDir = process.env.CARGO_TARGET_DIR ?? join(repo, "target");
const bin = process.env.XF_WEB_DEMO_BIN ?? join(targetDir, "release", "xaeroflux-web-demo");

let server;
let base;
let browser;
let tabA;
let tabB;
const logs = [];

/** Starts the demo server on a free port and resolves with its page URL. */
function startServer() {
  assert.ok(existsSync(bin), `no demo server at ${bin}: cargo build --release -p xaeroflux-web-demo`);
  server = spawn(bin, ["--port", "0", "--pkg", requirePackage(), "--heartbeat", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  server.stderr.on("data", (d) => logs.push(`[server] ${d}`));
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`demo server did not start:\n${out}\n${logs.join("")}`)), 60_000);
    server.stdout.on("data", (d) => {
      out += d;
      const m = /page:\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    server.on("exit", (code) => reject(new Error(`demo server exited (${code}):\n${out}\n${logs.join("")}`)));
  });
}

async function openTab() {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1440, height: 960 });
  const lines = recordConsole(page);
  logs.push(lines);
  await page.goto(base + "/");
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  return page;
}

/** Waits until `page` has an event with this text in its timeline; returns the time taken. */
async function timeUntilShown(page, text, started) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll("#timeline .event-text")].some((e) => e.textContent === t),
    text,
    { timeout: 10_000, polling: 20 },
  );
  return Date.now() - started;
}

async function nativeHas(text, started) {
  while (Date.now() - started < 10_000) {
    const r = await fetch(`${base}/api/native/events?offset=0&limit=100000`).then((x) => x.json());
    if (r.events.some((e) => e.text === text)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`the native peer never got "${text}"`);
}

/** Appends `text` through the page's composer; returns when the page submitted it (its clock). */
async function appendIn(page, text) {
  await page.bringToFront();
  await page.fill("#composer", text);
  await page.click("#append");
  return page.evaluate(() => window.xfDemo.lastSubmitAt);
}

before(async () => {
  base = await startServer();
  browser = await launchPersistent();
  tabA = await openTab();
  tabB = await openTab();
  // Both tabs are connected to the native peer and to each other.
  for (const p of [tabA, tabB]) {
    await p.waitForSelector("#native-status.ok", { timeout: 30_000 });
    await p.waitForSelector("#tabs-status.ok", { timeout: 30_000 });
  }
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
});

test("the two tabs are different peers with stores of their own", async () => {
  const a = await tabA.evaluate(() => [window.xfDemo.store.author, window.xfDemo.slot]);
  const b = await tabB.evaluate(() => [window.xfDemo.store.author, window.xfDemo.slot]);
  assert.notEqual(a[0], b[0]);
  assert.notEqual(a[1], b[1]);
});

test("an event appended in one tab shows in the other tab and on the native peer within 2 s", async () => {
  const text = `from tab A ${Math.random().toString(36).slice(2)}`;
  const started = await appendIn(tabA, text);
  const [inB, inNative] = await Promise.all([timeUntilShown(tabB, text, started), nativeHas(text, started)]);
  console.log(`tab A -> tab B: ${inB} ms, tab A -> native peer: ${inNative} ms`);
  assert.ok(inB <= LIVE_MS, `tab B saw it after ${inB} ms`);
  assert.ok(inNative <= LIVE_MS, `the native peer had it after ${inNative} ms`);
});

test("an event of the native peer shows in both tabs within 2 s", async () => {
  const text = `from the native peer ${Math.random().toString(36).slice(2)}`;
  const started = Date.now();
  const r = await fetch(`${base}/api/native/append`, { method: "POST", body: text });
  assert.equal(r.status, 200);
  const [inA, inB] = await Promise.all([timeUntilShown(tabA, text, started), timeUntilShown(tabB, text, started)]);
  console.log(`native peer -> tab A: ${inA} ms, -> tab B: ${inB} ms`);
  assert.ok(inA <= LIVE_MS && inB <= LIVE_MS, `${inA} ms, ${inB} ms`);
});

test("an event of tab B shows in tab A within 2 s", async () => {
  const text = `from tab B ${Math.random().toString(36).slice(2)}`;
  const started = await appendIn(tabB, text);
  const inA = await timeUntilShown(tabA, text, started);
  assert.ok(inA <= LIVE_MS, `${inA} ms`);
});

test("an encrypted event is read in both tabs and relayed, unread, by the native peer", async () => {
  // Tab A makes the space secret; tab B, of the same browser, shares it (localStorage).
  await tabA.bringToFront();
  await tabA.click("#secret-new");
  const keyId = await tabA.textContent("#secret-id");
  assert.match(keyId, /^[0-9a-f]{8}$/);
  await tabB.waitForFunction((id) => document.getElementById("secret-id").textContent === id, keyId, { timeout: 5_000 });
  assert.equal(await tabA.isChecked("#encrypt"), true);

  const text = `for members only ${Math.random().toString(36).slice(2)}`;
  const started = await appendIn(tabA, text);
  await timeUntilShown(tabB, text, started);
  const mine = await tabA.evaluate(() => window.xfDemo.store.get(window.xfDemo.store.length - 1));
  assert.equal(mine.flags & 1, 1, "stored with the ENCRYPTED flag");
  assert.equal(mine.text, null);

  // The native peer has no secret: it stores and verifies the event but holds no plaintext.
  const author = await tabA.evaluate(() => window.xfDemo.store.author);
  while (Date.now() - started < 10_000) {
    const r = await fetch(`${base}/api/native/events?offset=0&limit=100000`).then((x) => x.json());
    const got = r.events.find((e) => e.author === author && e.seq === mine.seq);
    if (got) {
      assert.equal(got.flags & 1, 1);
      assert.equal(got.text, null);
      assert.ok(!r.events.some((e) => e.text === text), "the native peer never sees the plaintext");
      await tabA.click("#encrypt"); // the next tests append in the clear
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the native peer never got the encrypted event");
});

test("a tab keeps its store across a reload", async () => {
  const before = await tabA.evaluate(() => ({
    author: window.xfDemo.store.author,
    length: window.xfDemo.store.length,
    root: window.xfDemo.store.root,
    count: window.xfDemo.store.eventCount,
  }));
  assert.ok(before.length >= 1);
  await tabA.reload();
  await tabA.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  const afterReload = await tabA.evaluate(() => ({
    author: window.xfDemo.store.author,
    length: window.xfDemo.store.length,
    root: window.xfDemo.store.root,
    count: window.xfDemo.store.eventCount,
  }));
  assert.deepEqual(afterReload, before);
  // And it reconnects and stays live.
  await tabA.waitForSelector("#native-status.ok", { timeout: 30_000 });
  const text = `after reload ${Math.random().toString(36).slice(2)}`;
  const started = await appendIn(tabA, text);
  const inB = await timeUntilShown(tabB, text, started);
  const inNative = await nativeHas(text, started);
  assert.ok(inB <= LIVE_MS && inNative <= LIVE_MS, `${inB} ms, ${inNative} ms`);
});

test("a proof verifies, a tampered one is shown as invalid; screenshots", async () => {
  mkdirSync(artifacts, { recursive: true });
  await tabA.click("#append-many");
  await tabA.waitForFunction(() => window.xfDemo.store.length >= 100);
  // Prove an event of the native peer (a replica: proved against its author's signed head).
  const row = tabA.locator("#timeline .event", { hasText: "from the native peer" }).first();
  await row.locator("button.prove").click();
  await tabA.click("#verify-btn");
  await tabA.waitForSelector("#proof-result[data-valid=true]");
  assert.match(await tabA.textContent("#proof-result"), /Valid proof.*Native peer/s);
  // And one of the tab's own events deep in its feed: a longer Merkle path.
  const own = tabA.locator("#timeline .event", { hasText: "order placed #" }).nth(3);
  await own.scrollIntoViewIfNeeded();
  await own.locator("button.prove").click();
  await tabA.click("#verify-btn");
  await tabA.waitForSelector("#proof-result[data-valid=true]");
  assert.match(await tabA.textContent("#proof-result"), /Valid proof/);
  assert.ok((await tabA.locator("#proof-hashes li").count()) >= 4, "a path of several hashes");
  await tabA.evaluate(() => document.getElementById("timeline").scrollTo(0, 0));
  await tabA.screenshot({ path: join(artifacts, "web-demo.png") });
  await tabA.click("#tamper-btn");
  await tabA.waitForSelector("#proof-result[data-valid=false]");
  const verdict = await tabA.textContent("#proof-result");
  assert.match(verdict, /Invalid proof/);
  assert.match(verdict, /PROOF_INVALID/);
  await tabA.screenshot({ path: join(artifacts, "web-demo-tampered.png") });
  console.log(`screenshots in ${artifacts}`);
});
