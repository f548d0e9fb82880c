// The core's test vectors (core/tests/vectors.json and core/tests/vectors/sealed_payload.json,
// made by independent reference implementations) checked from JavaScript through the npm
// package, under Node.js.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

import { repo, requirePackage } from "./lib/paths.mjs";

const xf = await import(pathToFileURL(join(requirePackage(), "node.js")).href);
const vectors = JSON.parse(readFileSync(join(repo, "core", "tests", "vectors.json"), "utf8"));
const sealed = JSON.parse(readFileSync(join(repo, "core", "tests", "vectors", "sealed_payload.json"), "utf8"));
const hex = (b) => Buffer.from(b).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));

test("events encode, decode and hash as the reference says", () => {
  for (const v of vectors.events) {
    const fields = {
      author: v.author,
      seq: BigInt(v.seq), // u64 values up to 2^64 - 1: a BigInt
      timestamp: BigInt(v.timestamp_us),
      kind: v.kind,
      flags: v.flags,
      payload: unhex(v.payload),
    };
    const encoded = xf.encodeEvent(fields);
    assert.equal(hex(encoded), v.encoded);
    assert.equal(xf.leafHash(encoded), v.leaf_hash);
    const back = xf.decodeEvent(encoded);
    assert.equal(back.author, v.author);
    assert.equal(BigInt(back.seq), BigInt(v.seq));
    assert.equal(BigInt(back.timestamp), BigInt(v.timestamp_us));
    if (BigInt(v.seq) <= BigInt(Number.MAX_SAFE_INTEGER)) assert.equal(typeof back.seq, "number");
    assert.equal(hex(back.payload), v.payload);
    assert.equal(back.leafHash, v.leaf_hash);
  }
});

test("the feed of the vectors is rebuilt event by event", () => {
  // `feed_events` in core/tests/vectors.rs: author secret [2; 32], payload lengths cycling.
  const author = xf.Store.openInMemory({ secretKey: "02".repeat(32) }).author;
  const lens = [0, 1, 31, 32, 33, 200, 1000];
  vectors.feed_leaves.forEach((leaf, seq) => {
    const len = lens[seq % 7];
    const payload = Uint8Array.from({ length: len }, (_, j) => (seq * 31 + j) & 0xff);
    const ev = xf.encodeEvent({ author, seq, timestamp: 1_764_000_000_000_000 + seq * 1000, kind: seq % 3, payload });
    assert.equal(xf.leafHash(ev), leaf, `leaf ${seq}`);
  });
});

test("MMR peaks and roots", () => {
  for (const v of vectors.mmr) {
    const mmr = new xf.Mmr();
    vectors.feed_leaves.slice(0, v.leaves).forEach((l) => mmr.append(l));
    assert.equal(mmr.leaves, v.leaves);
    assert.deepEqual(mmr.peaks, v.peaks);
    assert.equal(mmr.root, v.root, `root of ${v.leaves}`);
  }
});

test("inclusion proofs: same bytes, and they verify; a wrong leaf does not", () => {
  const mmr = new xf.Mmr();
  vectors.feed_leaves.forEach((l) => mmr.append(l));
  for (const v of vectors.inclusion_proofs) {
    const proof = mmr.inclusionProof(v.index, v.leaves);
    assert.equal(hex(proof), v.proof, `proof of ${v.index} in ${v.leaves}`);
    assert.equal(mmr.rootAt(v.leaves), v.root);
    xf.verifyInclusion(unhex(v.proof), vectors.feed_leaves[v.index], v.root);
    const other = vectors.feed_leaves[(v.index + 1) % vectors.feed_leaves.length];
    assert.throws(() => xf.verifyInclusion(unhex(v.proof), other, v.root), (e) => e.code === "PROOF_INVALID");
  }
});

test("page tree roots", () => {
  for (const v of vectors.page_trees) {
    assert.equal(xf.pageTreeRoot(vectors.feed_leaves.slice(0, v.count)), v.root, `page of ${v.count}`);
  }
});

test("signed heads decode and verify; any flipped bit does not", () => {
  for (const v of vectors.heads) {
    const head = xf.verifyHead(v.encoded);
    assert.equal(head.length, v.length);
    assert.equal(head.root, v.root);
    assert.equal(hex(head.bytes), v.encoded);
    // The author is the public key of the secret.
    assert.equal(head.author, xf.Store.openInMemory({ secretKey: v.secret }).author);
    const bytes = unhex(v.encoded);
    for (const i of [1, 40, 60, 100, 136]) {
      const bad = bytes.slice();
      bad[i] ^= 1;
      assert.throws(() => xf.verifyHead(bad), (e) => xf.isXaerofluxError(e) && e.code === "BAD_SIGNATURE");
    }
  }
});

test("sealed payloads (libsodium) open with decryptEvent, and key ids match", () => {
  assert.ok(sealed.cases.length >= 10);
  for (const [i, v] of sealed.cases.entries()) {
    assert.equal(xf.spaceSecretKeyId(v.secret), v.key_id, `case ${i}`);
    assert.equal(xf.spaceSecretKeyId(unhex(v.secret)), v.key_id, `case ${i}`);
    // A whole event, encoded and decoded, as a peer would receive it.
    const encoded = xf.encodeEvent({ author: v.author, seq: i, timestamp: 1, kind: 3, flags: 1, payload: unhex(v.sealed) });
    const ev = xf.decodeEvent(encoded);
    assert.equal(hex(xf.decryptEvent(ev, v.secret)), v.plaintext, `case ${i}`);
    assert.equal(hex(xf.decryptEvent(ev, unhex(v.secret))), v.plaintext, `case ${i}`);
    // The same bytes without the flag, or under another author, do not open.
    assert.throws(() => xf.decryptEvent({ ...ev, flags: 0 }, v.secret), (e) => e.code === "DECRYPT");
    const other = v.author === "ab".repeat(32) ? "cd".repeat(32) : "ab".repeat(32);
    assert.throws(() => xf.decryptEvent({ ...ev, author: other }, v.secret), (e) => e.code === "DECRYPT");
  }
});
