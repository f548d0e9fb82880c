// Appends XF_BENCH_N records of 256 bytes into a fresh Hypercore, XF_BENCH_BATCH records per
// `core.append(batch)`, and prints one JSON line with the throughput and the peak RSS.
// Run by host-native/benches/store (through scripts/bench-store.sh) in the same run as the
// other systems. Records are 256 incompressible bytes with the seq in the first 8, as in Rust.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Hypercore from 'hypercore'

const RECORD_LEN = 256

function envInt(name, dflt) {
  const raw = process.env[name]
  if (raw === undefined) return dflt
  const n = Number(raw.replaceAll('_', ''))
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}=${raw} is not a positive integer`)
  return n
}

// The Rust bench's fill_record: xorshift over a seq-derived state, seq in the first 8 bytes.
const M64 = (1n << 64n) - 1n
function fillRecord(seq, out) {
  let x = ((BigInt(seq) * 0x9E3779B97F4A7C15n) & M64) ^ 0xD1B54A32D192ED03n
  for (let off = 0; off < RECORD_LEN; off += 8) {
    x ^= (x << 13n) & M64
    x ^= x >> 7n
    x ^= (x << 17n) & M64
    out.writeBigUInt64LE(x, off)
  }
  out.writeBigUInt64LE(BigInt(seq), 0)
}

async function main() {
  const n = envInt('XF_BENCH_N', 1_000_000)
  const batchSize = envInt('XF_BENCH_BATCH', 1000)
  const base = process.env.XF_BENCH_DIR || os.tmpdir()
  fs.mkdirSync(base, { recursive: true })
  const dir = fs.mkdtempSync(path.join(base, 'hypercore-'))

  // One batch worth of distinct, incompressible records is generated before the clock starts
  // (BigInt arithmetic in JS is slow); each appended record is a fresh copy of one of them with
  // its own seq in the first 8 bytes, as on the Rust side (which generates inside its loop).
  const pool = []
  for (let i = 0; i < batchSize; i++) {
    const b = Buffer.allocUnsafe(RECORD_LEN)
    fillRecord(i, b)
    pool.push(b)
  }

  const core = new Hypercore(dir)
  await core.ready()
  const start = process.hrtime.bigint()
  for (let seq = 0; seq < n; seq += batchSize) {
    const end = Math.min(n, seq + batchSize)
    const batch = new Array(end - seq)
    for (let s = seq; s < end; s++) {
      const b = Buffer.allocUnsafe(RECORD_LEN)
      pool[s - seq].copy(b)
      b.writeBigUInt64LE(BigInt(s), 0)
      batch[s - seq] = b
    }
    await core.append(batch)
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9
  if (core.length !== n) throw new Error(`hypercore length ${core.length}, expected ${n}`)
  await core.close()
  fs.rmSync(dir, { recursive: true, force: true })

  console.log(
    JSON.stringify({
      system: 'hypercore',
      version: '11.37.1',
      records: n,
      batch: batchSize,
      secs,
      records_per_s: n / secs,
      mb_per_s: (n * RECORD_LEN) / secs / 1e6,
      // process.resourceUsage().maxRSS is in kilobytes (KiB) on Linux.
      peak_rss_kib: process.resourceUsage().maxRSS,
      durability:
        'append() resolves once RocksDB (rocksdb-native, default write options) has applied the batch; ' +
        'no fsync per batch, so it is not durable against power loss the way the other rows are',
    }),
  )
}

main().catch((err) => {
  console.error(`hypercore bench: ${err && err.message ? err.message : err}`)
  process.exit(1)
})
