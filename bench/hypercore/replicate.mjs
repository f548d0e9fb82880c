// Hypercore replication between two Node processes over one TCP connection on 127.0.0.1, run
// by the network benchmark (host-native/benches/net, through scripts/bench-net.sh).
//
//   node replicate.mjs serve   appends XF_BENCH_N records of 256 B (batches of 1000) to a fresh
//                              Hypercore, listens on 127.0.0.1, prints "<port> <key hex>", and
//                              replicates to every connection until stdin closes.
//   node replicate.mjs fetch <port> <key>
//                              opens an empty clone of that key, connects, downloads every
//                              block (each verified against the signed tree by Hypercore) and
//                              prints one JSON line: the time from connecting until the download
//                              is done.
//
//   node replicate.mjs sparse <port> <key>
//                              opens an empty (sparse) clone, connects, and reads on demand:
//                              the 20 latest blocks (timed from connecting), then 20 reads of
//                              20 blocks at other places, then a range of 10 000 blocks from
//                              the middle (`download({start, end})`), then the 20 small reads
//                              again (from the clone's storage), then closes the clone, opens
//                              it again with no peer and does the small reads once more;
//                              prints one JSON line.
//
// Both sides use `core.replicate(isInitiator)` streams (Noise-encrypted, as Hypercore always
// replicates) piped into the TCP socket.

import fs from 'node:fs'
import net from 'node:net'
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

function tmpDir(tag) {
  const base = process.env.XF_BENCH_DIR || os.tmpdir()
  fs.mkdirSync(base, { recursive: true })
  return fs.mkdtempSync(path.join(base, `hypercore-${tag}-`))
}

async function serve() {
  const n = envInt('XF_BENCH_N', 100_000)
  const dir = tmpDir('serve')
  const core = new Hypercore(dir)
  await core.ready()
  for (let seq = 0; seq < n; seq += 1000) {
    const batch = []
    for (let s = seq; s < Math.min(n, seq + 1000); s++) {
      const b = Buffer.alloc(RECORD_LEN, s & 0xff)
      b.writeBigUInt64LE(BigInt(s), 0)
      batch.push(b)
    }
    await core.append(batch)
  }
  const server = net.createServer((socket) => {
    // No Nagle delay: small request/response exchanges (the sparse reads) would otherwise wait
    // for delayed acknowledgements (Hyperswarm's UDX transport has no such delay either).
    socket.setNoDelay(true)
    const stream = core.replicate(false, { keepAlive: false })
    socket.pipe(stream).pipe(socket)
    stream.on('error', () => socket.destroy())
    socket.on('error', () => stream.destroy())
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  console.log(`${server.address().port} ${core.key.toString('hex')}`)
  process.stdin.resume()
  await new Promise((resolve) => process.stdin.on('end', resolve))
  server.close()
  await core.close()
  fs.rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}

// An empty clone of `keyHex` in a fresh directory ("ready" printed once it is open, before
// any timing), then connected to the server at `port` and updated to the remote length `n`.
// `start` is the time just before connecting.
async function cloneOf(tag, port, keyHex, n) {
  const dir = tmpDir(tag)
  const clone = new Hypercore(dir, Buffer.from(keyHex, 'hex'))
  await clone.ready()
  console.log('ready')
  const start = process.hrtime.bigint()
  const socket = net.connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  const stream = clone.replicate(true, { keepAlive: false })
  socket.pipe(stream).pipe(socket)
  await clone.update({ wait: true })
  if (clone.length !== n) throw new Error(`remote length ${clone.length}, expected ${n}`)
  return { dir, clone, socket, start }
}

async function fetch(port, keyHex) {
  const n = envInt('XF_BENCH_N', 100_000)
  const { dir, clone, socket, start } = await cloneOf('fetch', port, keyHex, n)
  await clone.download({ start: 0, end: n }).done()
  const secs = Number(process.hrtime.bigint() - start) / 1e9
  if (clone.contiguousLength !== n) throw new Error(`downloaded ${clone.contiguousLength} of ${n}`)
  socket.destroy()
  await clone.close()
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(JSON.stringify({ system: 'hypercore', version: '11.37.1', records: n, secs }))
  process.exit(0)
}

// The reads of the sparse benchmark (host-native/benches/net/sparse.rs reads the same seqs).
const LATEST = 20
const WARM_READS = 20
const RANGE = 10_000

async function getAll(core, start, end) {
  const gets = []
  for (let i = start; i < end; i++) gets.push(core.get(i))
  const blocks = await Promise.all(gets)
  for (let i = 0; i < blocks.length; i++) {
    if (blocks[i].length !== RECORD_LEN || Number(blocks[i].readBigUInt64LE(0)) !== start + i) {
      throw new Error(`block ${start + i} is not the one appended`)
    }
  }
}

const secsSince = (t) => Number(process.hrtime.bigint() - t) / 1e9

// The small reads (LATEST blocks at WARM_READS places of a core of n), each timed.
async function smallReads(core, n) {
  const times = []
  for (let r = 0; r < WARM_READS; r++) {
    const at = Math.floor((r * n) / WARM_READS)
    const t = process.hrtime.bigint()
    await getAll(core, at, at + LATEST)
    times.push(secsSince(t))
  }
  return times
}

async function sparse(port, keyHex) {
  const n = envInt('XF_BENCH_N', 100_000)
  const { dir, clone, socket, start } = await cloneOf('sparse', port, keyHex, n)
  await getAll(clone, n - LATEST, n)
  const cold = secsSince(start)
  const warm = await smallReads(clone, n)
  const from = Math.min(n, Math.floor(n / 2) + LATEST)
  const t = process.hrtime.bigint()
  await clone.download({ start: from, end: from + Math.min(RANGE, n - from) }).done()
  const range = secsSince(t)
  // The small reads again: the clone has those blocks stored now.
  const again = await smallReads(clone, n)
  socket.destroy()
  await clone.close()
  // Restarted with no peer: the clone opened again, then the small reads from its storage.
  const t2 = process.hrtime.bigint()
  const reopened = new Hypercore(dir, Buffer.from(keyHex, 'hex'))
  await reopened.ready()
  const reopen = secsSince(t2)
  const restarted = await smallReads(reopened, n)
  await reopened.close()
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(JSON.stringify({ system: 'hypercore', version: '11.37.1', records: n, cold, warm, range, again, reopen, restarted }))
  process.exit(0)
}

const [mode, ...rest] = process.argv.slice(2)
const run = mode === 'serve' ? serve() : mode === 'fetch' ? fetch(Number(rest[0]), rest[1]) : mode === 'sparse' ? sparse(Number(rest[0]), rest[1]) : Promise.reject(new Error(`usage: serve | fetch <port> <key> | sparse <port> <key>`))
run.catch((err) => {
  console.error(`hypercore replicate: ${err && err.message ? err.message : err}`)
  process.exit(1)
})
