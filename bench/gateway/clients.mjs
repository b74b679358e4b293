#!/usr/bin/env node
// Load clients for the gateway benchmark: N WebSocket connections in this one process, each sending produce frames
// exactly as the isokafka WebSocket transport encodes them (MessagePack: t, id, acks, timeoutMs, batches of
// [timestamp, key, value, headers] records) and keeping `window` frames unanswered, so together they offer more than
// the gateway takes. A frame is built once per connection and then only patched (frame id, batch ids, record ids,
// timestamps), so these clients cost little CPU beside the gateway they measure. Every record's value starts with
// its id (`c<conn>f<frame>b<batch>r<record>`, fixed width): the bench reads them back from Kafka with kcat.
//
//   node bench/gateway/clients.mjs '<json config>'   → one JSON line on stdout
//   config: { url, token, topic, partitions, connections, connOffset, seconds, recordsPerBatch, batchesPerFrame,
//             valueSize, window, connectConcurrency }
// After `seconds` no new frame is sent; every unanswered frame is waited for (a retriable refusal is resent with the
// same batch ids, as the transport does). The JSON line says what was acknowledged, frame by frame, per connection.
import WebSocket from 'ws'
import { decode } from '@msgpack/msgpack'

const c = JSON.parse(process.argv[2])
const R = c.recordsPerBatch ?? 100
const B = c.batchesPerFrame ?? 1
const SIZE = c.valueSize ?? 100
const WINDOW = c.window ?? 4
const say = (...a) => process.stderr.write(`[clients ${c.connOffset ?? 0}] ${a.join(' ')}\n`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---- a fixed-width MessagePack writer for the frame template ----
const te = new TextEncoder()
function frameTemplate(conn) {
  const parts = []
  let len = 0
  const patches = { id: 0, batchIds: [], recordFrame: [], ts: [] }
  const push = (bytes) => {
    parts.push(bytes)
    len += bytes.length
  }
  const u8 = (...b) => push(Uint8Array.from(b))
  const str = (s) => {
    const b = te.encode(s)
    if (b.length < 32) u8(0xa0 | b.length)
    else u8(0xd9, b.length)
    push(b)
  }
  u8(0x85)
  str('t')
  str('produce')
  str('id')
  u8(0xce)
  patches.id = len
  u8(0, 0, 0, 0)
  str('acks')
  u8(0xff)
  str('timeoutMs')
  u8(0xcd, 30000 >> 8, 30000 & 255)
  str('batches')
  u8(0x90 | B)
  const conn6 = String(conn).padStart(6, '0')
  for (let b = 0; b < B; b++) {
    u8(0x84)
    str('topic')
    str(c.topic)
    str('partition')
    u8(0)
    patches.partition ??= []
    patches.partition.push(len - 1)
    // batch id: conn, frame, batch; the frame part is patched (fixed width)
    str('batchId')
    u8(0xd9, 24)
    const idAt = len
    push(te.encode(`bench${conn6}-000000000-${String(b).padStart(2, '0')}`.padEnd(24, '-')))
    patches.batchIds.push(idAt + 12)
    str('records')
    u8(0xdc, R >> 8, R & 255)
    for (let r = 0; r < R; r++) {
      u8(0x94)
      u8(0xcf)
      patches.ts.push(len)
      u8(0, 0, 0, 0, 0, 0, 0, 0)
      u8(0xc0) // key nil
      u8(0xc4, SIZE)
      const vAt = len
      const v = new Uint8Array(SIZE).fill(120)
      v.set(te.encode(`c${conn6}f000000000b${String(b).padStart(2, '0')}r${String(r).padStart(4, '0')}`))
      push(v)
      patches.recordFrame.push(vAt + 8)
      u8(0x90) // no headers
    }
  }
  const bytes = Buffer.alloc(len)
  let o = 0
  for (const p of parts) {
    bytes.set(p, o)
    o += p.length
  }
  return { bytes, patches }
}

function digits9(buf, at, n) {
  for (let i = 8; i >= 0; i--) {
    buf[at + i] = 48 + (n % 10)
    n = Math.floor(n / 10)
  }
}

let stopAt = Infinity
let stopping = false
const lat = []
let ackedRecords = 0
let failedRecords = 0
let refusals = {}
let resends = 0
const conns = []

function openConn(i) {
  const conn = (c.connOffset ?? 0) + i
  const tpl = frameTemplate(conn)
  const st = {
    conn,
    tpl,
    ws: null,
    nextFrame: 0,
    inFlight: new Map(),
    acked: [],
    done: null,
    partitionBase: conn % c.partitions,
  }
  conns.push(st)
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(c.url, ['isokafka.v1', 'isokafka.token.' + c.token], {
      perMessageDeflate: false,
      maxPayload: 64 << 20,
    })
    st.ws = ws
    ws.binaryType = 'nodebuffer'
    ws.on('error', (err) => {
      say(`conn ${conn} error ${err.message}`)
      reject(err)
    })
    ws.on('close', (code) => {
      if (!stopping || st.inFlight.size) say(`conn ${conn} closed ${code} with ${st.inFlight.size} unanswered`)
      st.done?.()
    })
    ws.on('message', (data) => {
      const f = decode(data)
      if (f.t === 'welcome') return resolve(st)
      if (f.t === 'ack') {
        const p = st.inFlight.get(f.id)
        if (!p) return
        let ok = true
        for (const r of f.results)
          if (r.errorCode !== 0) {
            ok = false
            refusals['kafka_' + r.errorCode] = (refusals['kafka_' + r.errorCode] ?? 0) + 1
          }
        if (!ok) {
          resends++
          return setTimeout(() => resend(st, p), 100)
        }
        st.inFlight.delete(f.id)
        lat.push(performance.now() - p.sentAt)
        ackedRecords += R * B
        st.acked.push(p.frame)
        pump(st)
        return
      }
      if (f.t === 'error') {
        refusals[f.code] = (refusals[f.code] ?? 0) + 1
        const p = st.inFlight.get(f.id)
        if (p && f.retriable) {
          resends++
          return setTimeout(() => resend(st, p), f.retryAfterMs ?? 50)
        }
        if (p) {
          st.inFlight.delete(f.id)
          failedRecords += R * B
          pump(st)
        }
      }
    })
  })
}

function resend(st, p) {
  if (st.ws.readyState !== WebSocket.OPEN) return
  p.sentAt = performance.now()
  st.ws.send(p.bytes)
}

function pump(st) {
  while (!stopping && st.inFlight.size < WINDOW && performance.now() < stopAt) {
    const frame = st.nextFrame++
    const { bytes: t, patches } = st.tpl
    const bytes = Buffer.from(t)
    bytes.writeUInt32BE(frame + 1, patches.id)
    for (const at of patches.batchIds) digits9(bytes, at, frame)
    for (const at of patches.recordFrame) digits9(bytes, at, frame)
    const now = Date.now()
    for (const at of patches.ts) bytes.writeUIntBE(now, at + 2, 6)
    for (let b = 0; b < patches.partition.length; b++)
      bytes[patches.partition[b]] = (st.partitionBase + frame * B + b) % c.partitions
    const p = { frame, bytes, sentAt: performance.now() }
    st.inFlight.set(frame + 1, p)
    st.ws.send(bytes)
  }
  if (st.inFlight.size === 0 && (stopping || performance.now() >= stopAt)) st.done?.()
}

const n = c.connections
const conc = c.connectConcurrency ?? 50
const t0 = performance.now()
for (let i = 0; i < n; i += conc) {
  await Promise.all(Array.from({ length: Math.min(conc, n - i) }, (_, k) => openConn(i + k)))
}
say(`${n} connected in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
// tell the parent we are connected, then wait for its go (so several client processes start together)
process.stdout.write(JSON.stringify({ connected: n }) + '\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
const start = performance.now()
stopAt = start + c.seconds * 1000
const finished = conns.map((st) => new Promise((resolve) => (st.done = resolve)))
for (const st of conns) pump(st)
await sleep(c.seconds * 1000)
const sendEnd = performance.now()
const ackedAtStop = ackedRecords
stopping = true
const drained = await Promise.race([Promise.all(finished).then(() => true), sleep(120_000).then(() => false)])
const end = performance.now()
lat.sort((a, b) => a - b)
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] : 0)
for (const st of conns) st.ws.terminate()
process.stdout.write(
  JSON.stringify({
    connections: n,
    connOffset: c.connOffset ?? 0,
    recordsPerFrame: R * B,
    seconds: (end - start) / 1000,
    sendSeconds: (sendEnd - start) / 1000,
    ackedRecords,
    ackedAtStop,
    failedRecords,
    unanswered: conns.reduce((s, st) => s + st.inFlight.size, 0),
    drained,
    resends,
    refusals,
    frameLatencyMs: { p50: +pct(50).toFixed(2), p99: +pct(99).toFixed(2), max: +pct(100).toFixed(2) },
    acked: conns.map((st) => [st.conn, st.acked]),
  }) + '\n',
  // exit once the line is written: a pipe takes it in pieces, and exiting at once cut a long run's line short
  () => process.exit(0),
)
