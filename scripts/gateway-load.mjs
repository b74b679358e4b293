#!/usr/bin/env node
// Load drill: N concurrent WebSocket clients (one isokafka producer each) produce through ONE gateway process to Kafka
// for S seconds. Afterwards every acknowledged record is looked up in Kafka with kcat, and the gateway's RSS
// (sampled from /proc while it runs) is reported. Needs `npm run build`.
// Usage: node scripts/gateway-load.mjs [--clients 1000] [--seconds 60] [--rate 10] [--bootstrap host:port] [--json]
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import WebSocket from 'ws'
import { createProducer } from 'isokafka'
import { websocket } from 'isokafka/websocket'
import { createGatewayToken } from 'isokafka/gateway'
import { startKafka, stopKafka, createTopic } from './kafka.mjs'

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '10' }, // records/s per client
    partitions: { type: 'string', default: '12' },
    bootstrap: { type: 'string', default: process.env.KAFKA_BOOTSTRAP ?? '' },
    json: { type: 'boolean', default: false },
  },
})
const CLIENTS = Number(args.clients)
const SECONDS = Number(args.seconds)
const RATE = Number(args.rate)
const log = (...a) => process.stderr.write(a.join(' ') + '\n')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

let bootstrap = args.bootstrap
let startedKafka = false
if (!bootstrap) {
  const s = await startKafka({ name: 'gateway-load' })
  bootstrap = s.bootstrap
  startedKafka = !s.reused
}
const topic = `gw-load-${Date.now().toString(36)}`
await createTopic(bootstrap, topic, Number(args.partitions), 1)

// the gateway in its own process, so its memory is its own
const secret = 'load-secret-' + Math.random().toString(36).slice(2)
const gw = spawn(
  process.execPath,
  ['bin/isokafka.mjs', 'gateway', '--port', '0', '--host', '127.0.0.1', '--bootstrap', bootstrap],
  {
    cwd: new URL('..', import.meta.url).pathname,
    env: { ...process.env, ISOKAFKA_GATEWAY_SECRET: secret },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
)
const url = await new Promise((resolve, reject) => {
  let out = ''
  gw.stdout.on('data', (d) => {
    out += d
    const m = /listening on (http:\/\/[^\s]+)/.exec(out)
    if (m) resolve(m[1])
  })
  gw.on('exit', (code) => reject(new Error(`gateway exited ${code}`)))
})
const wsUrl = `${url.replace(/^http/, 'ws')}/v1/ws`
const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
const idleRss = rssOf(gw.pid)
let peakRss = idleRss
const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(gw.pid))), 250)

const token = await createGatewayToken({ secret, topics: [topic], expiresInSec: 3600, subject: 'load' })
const producers = Array.from({ length: CLIENTS }, () =>
  createProducer({
    transport: websocket({ url: wsUrl, token, WebSocket, tokenIn: 'protocol' }),
    lingerMs: 20,
    deliveryTimeoutMs: 120_000,
  }),
)
log(`[load] ${CLIENTS} clients connecting to ${wsUrl}`)
await Promise.all(producers.map((p) => p.partitionsFor(topic)))
const connectedRss = rssOf(gw.pid)
log(`[load] all connected; producing ${RATE} records/s per client for ${SECONDS} s`)

const acked = new Map() // value → { partition, offset }
const latencies = [] // ms from send() to its ack, per acked record
let failed = 0
const errors = {}
const pending = []
const start = Date.now()
let sent = 0
const tickMs = 100
for (let tick = 0; Date.now() - start < SECONDS * 1000; tick++) {
  const due = Math.floor(((tick + 1) * tickMs * RATE) / 1000) - Math.floor((tick * tickMs * RATE) / 1000)
  for (let c = 0; c < CLIENTS; c++) {
    for (let k = 0; k < due; k++) {
      const value = `c${c}-r${sent++}`
      const t0 = Date.now()
      pending.push(
        producers[c].send({ topic, key: `client-${c}`, value }).then(
          (m) => {
            acked.set(value, m)
            latencies.push(Date.now() - t0)
          },
          (e) => {
            failed++
            errors[e.code ?? 'UNTYPED'] = (errors[e.code ?? 'UNTYPED'] ?? 0) + 1
          },
        ),
      )
    }
  }
  const next = start + (tick + 1) * tickMs
  await sleep(Math.max(0, next - Date.now()))
}
await Promise.all(pending)
const seconds = (Date.now() - start) / 1000
await Promise.all(producers.map((p) => p.close()))
clearInterval(sampler)
const metrics = await fetch(`${url}/metrics?format=json`).then((r) => r.json())
gw.kill('SIGTERM')

// independent read-back
const seen = new Map()
await new Promise((resolve, reject) => {
  // fetch.wait.max.ms: -e ends on an empty fetch at the end of each partition, which the broker holds that long (500 ms by default)
  const k = spawn('kcat', [
    ...['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q'],
    ...['-X', 'fetch.wait.max.ms=10', '-f', '%p %o %s\n'],
  ])
  let rest = ''
  k.stdout.setEncoding('latin1')
  k.stdout.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()
    for (const line of lines) {
      const [p, o, v] = line.split(' ')
      seen.set(v, (seen.get(v) ?? []).concat([`${p}:${o}`]))
    }
  })
  k.on('error', reject)
  k.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}`))))
})
let lost = 0
let misplaced = 0
for (const [value, m] of acked) {
  const at = seen.get(value)
  if (!at) lost++
  else if (!at.includes(`${m.partition}:${m.offset}`)) misplaced++
}
let duplicates = 0
for (const at of seen.values()) if (at.length > 1) duplicates += at.length - 1
if (startedKafka) await stopKafka({ name: 'gateway-load' })

latencies.sort((a, b) => a - b)
const pct = (q) =>
  latencies.length > 0 ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : null
const result = {
  clients: CLIENTS,
  seconds: Number(seconds.toFixed(1)),
  sent,
  acked: acked.size,
  failed,
  errors,
  inKafka: [...seen.values()].reduce((n, a) => n + a.length, 0),
  lost,
  misplaced,
  duplicates,
  recordsPerSecond: Math.round(acked.size / seconds),
  // send() to ack, as the clients saw it: the gateway's delay plus lingerMs plus the client process's own
  ackLatencyMs: { p50: pct(0.5), p99: pct(0.99), max: latencies.at(-1) ?? null },
  gatewayRssMB: {
    idle: +(idleRss / 1e6).toFixed(1),
    connected: +(connectedRss / 1e6).toFixed(1),
    peak: +(peakRss / 1e6).toFixed(1),
  },
  gatewayMetrics: {
    connectionsTotal: metrics.connections?.total,
    recordsIn: metrics.records?.in,
    recordsOut: metrics.records?.out,
    pauses: metrics.pauses,
  },
}
console.log(args.json ? JSON.stringify(result) : result)
process.exit(result.lost === 0 && result.duplicates === 0 && result.misplaced === 0 && result.failed === 0 ? 0 : 1)
