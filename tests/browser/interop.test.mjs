// Proof files are shared with the native `xf` tool: a proof made by the npm package verifies
// with `xf verify` (and a tampered one is refused), and one made by `xf prove` verifies with
// `verifyProof`. Store archives move both ways: `store.exportArchive()` restores with
// `xf restore`, and `xf archive` opens with `Store.openArchive`. Runs under Node.js with the
// package's Node entry and the `xf` binary.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";

import { repo, requirePackage } from "./lib/paths.mjs";

const xfBin = process.env.XF_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(repo, "target"), "debug", "xf");
// scripts/test-wasm.sh sets XF_BIN, and then the tool must be there; run by hand without it,
// the tests are skipped when no `xf` has been built.
const skip = !process.env.XF_BIN && !existsSync(xfBin) && `no xf at ${xfBin} (cargo build -p xaeroflux --bin xf)`;
const x = await import(pathToFileURL(join(requirePackage(), "node.js")).href);
const dir = mkdtempSync(join(tmpdir(), "xf-interop-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function xf(...args) {
  return spawnSync(xfBin, ["--store", join(dir, "store"), ...args], { encoding: "utf8" });
}

test("a proof from the browser package verifies with xf verify; tampered, it does not", { skip }, async () => {
  const store = x.Store.openInMemory();
  for (let i = 0; i < 20; i++) await store.append(`event ${i}`);
  const proof = store.prove(13);
  const good = join(dir, "good.json");
  writeFileSync(good, JSON.stringify(proof));
  const ok = xf("verify", good);
  assert.equal(ok.status, 0, ok.stderr + ok.stdout);
  const last = parseInt(proof.event.slice(-2), 16) ^ 1;
  const bad = join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify({ ...proof, event: proof.event.slice(0, -2) + last.toString(16).padStart(2, "0") }));
  const refused = xf("verify", bad);
  assert.notEqual(refused.status, 0, "xf verify must refuse a tampered proof");
  // And against the root the browser store reports.
  const byRoot = xf("verify", good, "--root", store.root);
  assert.equal(byRoot.status, 0, byRoot.stderr);
});

test("a proof from xf prove verifies with verifyProof", { skip }, () => {
  execFileSync(xfBin, ["--store", join(dir, "native"), "init"], { encoding: "utf8" });
  execFileSync(xfBin, ["--store", join(dir, "native"), "append", "alpha", "beta", "gamma", "delta"], { encoding: "utf8" });
  const text = execFileSync(xfBin, ["--store", join(dir, "native"), "prove", "2"], { encoding: "utf8" });
  const r = x.verifyProof(text);
  assert.equal(r.seq, 2);
  assert.equal(r.leaves, 4);
  assert.equal(r.event.text, "gamma");
  const proof = JSON.parse(text);
  assert.throws(() => x.verifyProof({ ...proof, seq: 3 }), (e) => e.code === "MALFORMED");
});

test("a store archive from the browser package restores with xf restore, and back", { skip }, async () => {
  const a = x.Store.openInMemory();
  const b = x.Store.openInMemory();
  for (let i = 0; i < 40; i++) await a.append(`a ${i}`);
  await b.appendBatch(["b 0", "b 1", "b 2"]);
  // b holds a's feed too, through a sync session over an in-process pipe.
  const ends = {};
  ends.a = a.sync({ role: "initiator", live: false, send: (bytes) => queueMicrotask(() => ends.b.receive(bytes)) });
  ends.b = b.sync({ role: "responder", live: false, send: (bytes) => queueMicrotask(() => ends.a.receive(bytes)) });
  for (let i = 0; i < 200 && b.get(39, a.author) === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(b.get(39, a.author)?.text, "a 39");

  const file = join(dir, "browser.xfa");
  writeFileSync(file, await b.exportArchive());
  const native = join(dir, "restored");
  const restored = spawnSync(xfBin, ["--store", native, "--json", "restore", file], { encoding: "utf8" });
  assert.equal(restored.status, 0, restored.stderr);
  assert.deepEqual([JSON.parse(restored.stdout).events, JSON.parse(restored.stdout).author], [43, b.author]);
  const root = (who) =>
    JSON.parse(execFileSync(xfBin, ["--store", native, "--json", "root", ...(who ? ["--author", who] : [])], { encoding: "utf8" }));
  assert.equal(root().root, b.root);
  assert.equal(root(a.author).root, a.root);
  execFileSync(xfBin, ["--store", native, "append", "from xf"], { encoding: "utf8" });

  // Back: the native store's archive opens in the package, as the same author.
  const back = join(dir, "native.xfa");
  execFileSync(xfBin, ["--store", native, "archive", back], { encoding: "utf8" });
  const opened = x.Store.openArchive(readFileSync(back));
  assert.equal(opened.author, b.author);
  assert.equal(opened.length, 4);
  assert.equal(opened.get(3)?.text, "from xf");
  assert.equal(opened.get(20, a.author)?.text, "a 20");
  assert.equal(x.archiveInfo(readFileSync(back)).author, b.author);

  // Sealed with a password (non-ASCII: UTF-8 on both sides), both ways.
  const password = "pâté & 🔑";
  const pwFile = join(dir, "pw.txt");
  writeFileSync(pwFile, password + "\n");
  const sealed = join(dir, "sealed.xfa");
  writeFileSync(sealed, await b.exportArchive({ password }));
  assert.deepEqual(x.archiveInfo(readFileSync(sealed)), { pageSize: b.pageSize, author: b.author, sealed: true });
  const locked = spawnSync(xfBin, ["--store", join(dir, "locked"), "restore", sealed], { encoding: "utf8" });
  assert.equal(locked.status, 1);
  assert.match(locked.stderr, /sealed with a password/);
  const unsealed = join(dir, "unsealed");
  const ok = spawnSync(xfBin, ["--store", unsealed, "--json", "restore", "--password-file", pwFile, sealed], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual([JSON.parse(ok.stdout).author, JSON.parse(ok.stdout).sealed], [b.author, true]);
  const sealedBack = join(dir, "native-sealed.xfa");
  execFileSync(xfBin, ["--store", unsealed, "archive", "--password-file", pwFile, sealedBack], { encoding: "utf8" });
  assert.throws(() => x.Store.openArchive(readFileSync(sealedBack)), (e) => e.code === "PASSWORD");
  const reopened = x.Store.openArchive(readFileSync(sealedBack), { password });
  assert.equal(reopened.author, b.author);
  assert.equal(reopened.root, b.root);
});
