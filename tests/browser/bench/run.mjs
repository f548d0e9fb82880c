// The browser half of the benchmark (scripts/bench-browser.sh runs it): in Debian's
// Chromium, headless,
//   1. the Rust workloads of xaeroflux_wasm::bench (built with feature "bench"), best of 5;
//   2. appends through the npm package into IndexedDB (batches, and one at a time);
//   3. sync of N events from the demo server's native peer into a page over the iroh relay,
//      and between two in-memory stores of one page (no network).
// Prints one JSON object.
import { spawn } from "node:child_process";

import { launch } from "../lib/browser.mjs";
import { serve } from "../lib/static-server.mjs";

const [benchPkg, npmPkg, demoBin, syncN = "10000"] = process.argv.slice(2);
const N = 100_000;
const LEN = 100;
const SYNC_N = Number(syncN);

function startDemo() {
  const p = spawn(demoBin, ["--port", "0", "--pkg", npmPkg, "--heartbeat", "0", "--preload", String(SYNC_N)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
      const m = /page:\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) resolve({ url: m[1], proc: p });
    });
    p.on("exit", (c) => reject(new Error(`demo server exited ${c}: ${out}`)));
  });
}

const html = `<!doctype html><meta charset="utf-8"><title>bench</title>`;
const server = await serve({ files: { "/": html }, dirs: { "/bench/": benchPkg, "/pkg/": npmPkg } });
const browser = await launch();
const results = {};
try {
  const page = await browser.newPage();
  await page.goto(server.url + "/");

  // 1. The Rust workloads.
  Object.assign(
    results,
    await page.evaluate(
      async ({ N, LEN }) => {
        const b = await import("/bench/xaeroflux_wasm.js");
        await b.default();
        const best = (f) => Math.min(...Array.from({ length: 5 }, f));
        return {
          hash_mmr_ms: best(() => b.benchHashMmr(N, LEN)),
          memstore_batch1000_ms: best(() => b.benchMemstoreAppend(N, LEN, 1000)),
          memstore_single_ms: best(() => b.benchMemstoreAppend(N / 10, LEN, 1)),
          verify_replica_ms: best(() => b.benchVerifyReplica(N, LEN)),
        };
      },
      { N, LEN },
    ),
  );

  // 2. Persisted appends through the npm package.
  Object.assign(
    results,
    await page.evaluate(async ({ LEN }) => {
      const x = await import("/pkg/xaeroflux_wasm.js");
      await x.default();
      const body = new Uint8Array(LEN).fill(7);
      const out = {};
      for (const durability of ["strict", "relaxed"]) {
        const name = `bench-${durability}-${Math.random().toString(36).slice(2)}`;
        const s = await x.Store.open(name, { durability });
        let t = performance.now();
        for (let i = 0; i < 100; i++) await s.appendBatch(Array.from({ length: 1000 }, () => body));
        out[`idb_${durability}_batch1000_100k_ms`] = performance.now() - t;
        t = performance.now();
        for (let i = 0; i < 500; i++) await s.append(body);
        out[`idb_${durability}_single_500_ms`] = performance.now() - t;
        t = performance.now();
        await Promise.all(Array.from({ length: 2000 }, () => s.append(body)));
        out[`idb_${durability}_concurrent_2000_ms`] = performance.now() - t;
        await s.close();
        t = performance.now();
        const again = await x.Store.open(name);
        out[`idb_reopen_${again.length}_ms`] = performance.now() - t;
        await again.close();
        await x.Store.delete(name);
      }
      return out;
    }, { LEN }),
  );

  // 3. Sync of SYNC_N events into a page: from the native peer through the relay, and
  //    between two in-memory stores of the page.
  const demo = await startDemo();
  try {
    const p2 = await browser.newPage();
    await p2.goto(demo.url + "/api/config");
    Object.assign(
      results,
      await p2.evaluate(async (SYNC_N) => {
        const config = await fetch("/api/config").then((r) => r.json());
        const x = await import("/pkg/net/xaeroflux_wasm.js");
        await x.default();
        const out = {};
        // Each run is a fresh store and a fresh iroh endpoint: the first also pays for the
        // relay connection's warm-up on the server side.
        for (const [i, persisted] of [false, false, true].entries()) {
          const s = persisted ? await x.Store.open(`bench-sync-${Math.random()}`) : x.Store.openInMemory();
          const done = new Promise((resolve) =>
            s.subscribe(() => {
              const h = s.head(config.native.author);
              if (h && h.length >= SYNC_N) resolve();
            }),
          );
          const t = performance.now();
          let connectedAt = 0;
          const conn = await s.connect({
            relayUrl: config.native.relayUrl,
            peer: config.native.nodeId,
            space: config.space,
            onEvent: (e) => { if (e.type === "connected") connectedAt = performance.now(); },
          });
          await done;
          const end = performance.now();
          const key = `sync_native_${persisted ? "idb" : "memory"}${i === 0 ? "_first" : ""}`;
          out[`${key}_total_ms`] = end - t;
          out[`${key}_connect_ms`] = connectedAt - t;
          out[`${key}_transfer_ms`] = end - connectedAt;
          conn.close();
          if (persisted) await s.close();
        }
        // In-page, no network: a store with SYNC_N events, and an empty one.
        const a = x.Store.openInMemory();
        for (let i = 0; i < SYNC_N; i += 1000) await a.appendBatch(Array.from({ length: 1000 }, (_, j) => `event ${i + j}`));
        const b = x.Store.openInMemory();
        const done = new Promise((resolve) => b.subscribe(() => b.head(a.author)?.length >= SYNC_N && resolve()));
        const t = performance.now();
        let sa, sb;
        sa = a.sync({ role: "initiator", send: (m) => queueMicrotask(() => sb.receive(m)) });
        sb = b.sync({ role: "responder", send: (m) => queueMicrotask(() => sa.receive(m)) });
        await done;
        out.sync_in_page_ms = performance.now() - t;
        return out;
      }, SYNC_N),
    );
  } finally {
    demo.proc.kill("SIGTERM");
  }
} finally {
  await browser.close();
  await server.close();
}
results.n = N;
results.len = LEN;
results.sync_n = SYNC_N;
console.log(JSON.stringify(results));
