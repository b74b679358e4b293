#!/usr/bin/env node
// The demo: start (or reuse) a local Kafka broker, create a topic, produce 200k records with isokafka over Node TCP
// with a live progress line, read the count back with an independent reader (kcat), and print records/s, MB/s and
// send→ack latency percentiles. Then every transport in one run (scripts/transports.mjs): Node TCP, Workers TCP in
// workerd, WebSocket and fetch through the gateway, fetch to the REST Proxy v3 API; records/s each, read back by kcat.
// Usage: npm run demo [-- --records N --size BYTES --bootstrap host:port --transport-records N (0: skip)]
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { createProducer } from 'isokafka'
import { tcp } from 'isokafka/node'
import { startKafka, stopKafka, createTopic } from './kafka.mjs'
import { runTransports } from './transports.mjs'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    size: { type: 'string', default: '100' },
    partitions: { type: 'string', default: '6' },
    bootstrap: { type: 'string', default: process.env.KAFKA_BOOTSTRAP ?? '' },
    keep: { type: 'boolean', default: false },
    'transport-records': { type: 'string', default: '50000' },
  },
})
const N = Number(args.records)
const SIZE = Number(args.size)
const PARTITIONS = Number(args.partitions)

let bootstrap = args.bootstrap
let startedHere = false
if (!bootstrap) {
  const state = await startKafka({ name: 'demo' })
  bootstrap = state.bootstrap
  startedHere = !state.reused
  console.log(`Kafka ${startedHere ? 'started' : 'reused'} at ${bootstrap}`)
}
const topic = `demo-${Date.now().toString(36)}`
await createTopic(bootstrap, topic, PARTITIONS, 1)
console.log(
  `topic ${topic} (${PARTITIONS} partitions); producing ${N.toLocaleString('en')} records of ${SIZE} B, acks=all, idempotent`,
)

const producer = createProducer({ transport: tcp({ bootstrap }), acks: 'all', lingerMs: 5 })
const value = new Uint8Array(SIZE).fill(120)
const latencies = new Float64Array(N)
let acked = 0
let failed = 0
await producer.partitionsFor(topic) // connect and fetch metadata before the clock starts
const start = performance.now()
const progress = setInterval(() => {
  const s = (performance.now() - start) / 1000
  process.stdout.write(
    `\r  ${acked.toLocaleString('en')} / ${N.toLocaleString('en')} acked  ${Math.round(acked / s).toLocaleString('en')} records/s   `,
  )
}, 200)

// at most this many sends unsettled at a time (a sliding window, as an app would keep): enough to fill batches on
// every partition, few enough that latency stays what the broker gives, not time spent queued in the client
const window = 4096
let outstanding = 0
let resume = null
const settled = () => {
  outstanding--
  if (resume !== null && outstanding <= window / 2) {
    const r = resume
    resume = null
    r()
  }
}
const pending = []
for (let i = 0; i < N; i++) {
  const t = performance.now()
  outstanding++
  pending.push(
    producer.send({ topic, key: `user-${i % 1000}`, value }).then(
      () => {
        latencies[i] = performance.now() - t
        acked++
        settled()
      },
      (err) => {
        failed++
        if (failed === 1) console.error('\nsend failed:', err)
        settled()
      },
    ),
  )
  if (outstanding >= window) await new Promise((r) => (resume = r))
}
await Promise.all(pending)
const seconds = (performance.now() - start) / 1000
clearInterval(progress)
await producer.close()
process.stdout.write(`\r  ${acked.toLocaleString('en')} / ${N.toLocaleString('en')} acked${' '.repeat(30)}\n`)

// independent read-back: count the records kcat (librdkafka) sees in the topic
const kcat = spawnSync('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '.'], {
  maxBuffer: 64 * 1024 * 1024,
})
const readBack = kcat.status === 0 ? kcat.stdout.length : NaN

const sorted = latencies.slice(0, N).sort()
const pct = (p) => sorted[Math.min(N - 1, Math.floor((p / 100) * N))].toFixed(1)
const bytes = N * SIZE
console.log(`
  records acked      ${acked.toLocaleString('en')} (failed ${failed})
  read back by kcat  ${Number.isNaN(readBack) ? `n/a (${kcat.error?.message ?? kcat.stderr})` : readBack.toLocaleString('en')}
  throughput         ${Math.round(N / seconds).toLocaleString('en')} records/s, ${(bytes / seconds / 1e6).toFixed(1)} MB/s (values only)
  send→ack latency   p50 ${pct(50)} ms, p99 ${pct(99)} ms
  elapsed            ${seconds.toFixed(2)} s`)

let transportsOk = true
const perTransport = Number(args['transport-records'])
if (perTransport > 0) {
  console.log(
    `\nevery transport, ${perTransport.toLocaleString('en')} records of ${SIZE} B each (acks=all, idempotent, 6 partitions; gateway in-process):`,
  )
  const results = await runTransports({ bootstrap, records: perTransport, size: SIZE })
  for (const r of results)
    console.log(
      `  ${r.transport.padEnd(22)} ${r.ratioToNodeTcp == null ? '–' : `${r.ratioToNodeTcp.toFixed(2)}×`} Node TCP`,
    )
  transportsOk = results.every((r) => r.acked === r.records && r.readBack === r.records)
}

if (startedHere && !args.keep) await stopKafka({ name: 'demo' })
process.exit(acked === N && readBack === N && transportsOk ? 0 : 1)
