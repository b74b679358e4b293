#!/usr/bin/env node
// Failover drill against a real 3-node Kafka cluster (replication 3, min.insync.replicas 2): produce N keyed records
// with acks=all and idempotence while the broker leading the most partitions is SIGKILLed mid-stream and restarted
// later; then read everything back with kcat (librdkafka) and count lost, duplicated and reordered records.
// Usage: node scripts/failover.mjs [--records 1000000] [--kill-at 0.3] [--down-ms 15000] [--restart-after-failover]
//   [--signal KILL|TERM] [--json] [--keep]
// --restart-after-failover restarts the broker as soon as the failover happened (every partition it led has acked a
// record sent after the kill, so by a new leader) plus 1 s, instead of after a fixed --down-ms (then a maximum).
// --signal TERM stops the broker gracefully instead (controlled shutdown: its partitions get new leaders before it
// goes, and it refuses Produce naming them, which the producer follows at once: KIP-951 leader hints).
import { spawn } from 'node:child_process'
import { parseArgs } from 'node:util'
import { createProducer } from 'isokafka'
import { tcp } from 'isokafka/node'
import { startKafka, stopKafka, createTopic, killNode, restartNode, kafkaMetadata } from './kafka.mjs'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '6' },
    'kill-at': { type: 'string', default: '0.3' },
    'down-ms': { type: 'string', default: '15000' },
    'restart-after-failover': { type: 'boolean', default: false },
    signal: { type: 'string', default: 'KILL' },
    name: { type: 'string', default: 'failover' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
})
const N = Number(args.records)
const PARTITIONS = Number(args.partitions)
const log = (...a) => process.stderr.write(a.join(' ') + '\n')

const t0 = Date.now()
const state = await startKafka({ name: args.name, nodes: 3 })
const bootstrap = state.bootstrap
log(`[failover] 3-node cluster at ${bootstrap} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
const topic = `failover-${Date.now().toString(36)}`
await createTopic(bootstrap, topic, PARTITIONS, 3, { configs: { 'min.insync.replicas': 2 } })

async function leaders() {
  for (const addr of bootstrap.split(',')) {
    try {
      const md = await kafkaMetadata(addr, [topic])
      return md.topics[0].partitions.map((p) => ({ partition: p.partition, leader: p.leader }))
    } catch {}
  }
  throw new Error('no broker answered metadata')
}

const producer = createProducer({
  transport: tcp({ bootstrap }),
  acks: 'all',
  enableIdempotence: true,
  lingerMs: 5,
  requestTimeoutMs: 15_000,
  deliveryTimeoutMs: 120_000,
})

const sendTime = new Float64Array(N)
const ackTime = new Float64Array(N)
const ackPartition = new Int8Array(N).fill(-1)
const ackOffset = new Float64Array(N).fill(-1)
const errors = new Map()
let acked = 0
let failed = 0
let killedNode = -1
let killedPartitions = new Set()
let killAt = 0
let restartAt = 0
let restartDone = 0
// killed partitions that acked a record sent after the kill: only a new leader can have acked it
const resumed = new Set()
const value = (i) => `r-${String(i).padStart(9, '0')}-`.padEnd(100, 'x')

const outage = (async () => {
  while (acked < N * Number(args['kill-at'])) await new Promise((r) => setTimeout(r, 20))
  const ls = await leaders()
  const count = new Map()
  for (const { leader } of ls) count.set(leader, (count.get(leader) ?? 0) + 1)
  killedNode = [...count.entries()].sort((a, b) => b[1] - a[1])[0][0]
  killedPartitions = new Set(ls.filter((l) => l.leader === killedNode).map((l) => l.partition))
  killAt = Date.now()
  await killNode(killedNode, { name: args.name, signal: `SIG${args.signal}` })
  log(
    `[failover] SIG${args.signal}ed broker ${killedNode} (leader of partitions ${[...killedPartitions].join(',')}) after ${acked} acks`,
  )
  const downUntil = killAt + Number(args['down-ms'])
  if (args['restart-after-failover']) {
    while (resumed.size < killedPartitions.size && Date.now() < downUntil) await new Promise((r) => setTimeout(r, 50))
    // a little more of the stream on the new leaders while the broker is still down
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(1000, downUntil - Date.now()))))
    log(`[failover] partitions ${[...resumed].join(',')} acked by new leaders ${Date.now() - killAt} ms after the kill`)
  } else await new Promise((r) => setTimeout(r, Math.max(0, downUntil - Date.now())))
  restartAt = Date.now()
  await restartNode(killedNode, { name: args.name })
  restartDone = Date.now()
  log(`[failover] broker ${killedNode} restarted in ${((restartDone - restartAt) / 1000).toFixed(1)} s`)
})()

const start = Date.now()
const WINDOW = 50_000
let inFlight = []
for (let i = 0; i < N; i++) {
  sendTime[i] = Date.now()
  inFlight.push(
    producer.send({ topic, key: `key-${i % 10007}`, value: value(i) }).then(
      (m) => {
        ackTime[i] = Date.now()
        ackPartition[i] = m.partition
        ackOffset[i] = m.offset
        acked++
        if (killAt && sendTime[i] > killAt && killedPartitions.has(m.partition)) resumed.add(m.partition)
      },
      (e) => {
        failed++
        errors.set(e.code ?? 'UNTYPED', (errors.get(e.code ?? 'UNTYPED') ?? 0) + 1)
      },
    ),
  )
  if (inFlight.length >= WINDOW) {
    await Promise.all(inFlight)
    inFlight = []
  }
}
await Promise.all(inFlight)
await outage
const produceSeconds = (Date.now() - start) / 1000
await producer.close()

// failover: acks on the killed broker's partitions stall while it is down; the stall ends when a new leader acks.
// failoverMs = from the kill to the end of the longest stall (acks already in flight at the kill may land just after it)
const killedAcks = []
for (let i = 0; i < N; i++)
  if (ackPartition[i] >= 0 && killedPartitions.has(ackPartition[i])) killedAcks.push(ackTime[i])
killedAcks.sort((a, b) => a - b)
let stallStart = 0
let stallEnd = 0
for (let k = 1; k < killedAcks.length; k++) {
  if (killedAcks[k] > killAt && killedAcks[k] - killedAcks[k - 1] > stallEnd - stallStart) {
    stallStart = killedAcks[k - 1]
    stallEnd = killedAcks[k]
  }
}
const firstAckAfterKill = stallEnd > 0 ? stallEnd : Infinity

// independent read-back with kcat; values are ASCII so a simple format is exact
const seen = new Map()
const order = new Map()
let readBack = 0
let reordered = 0
await new Promise((resolve, reject) => {
  const kcat = spawn('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %s\n'])
  let rest = ''
  kcat.stdout.setEncoding('latin1')
  kcat.stdout.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()
    for (const line of lines) {
      const [p, , v] = line.split(' ')
      const i = Number(v.slice(2, 11))
      readBack++
      seen.set(i, (seen.get(i) ?? 0) + 1)
      const last = order.get(p) ?? -1
      if (i <= last) reordered++
      order.set(p, i)
    }
  })
  kcat.on('error', reject)
  kcat.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}`))))
})

let lost = 0
let duplicates = 0
for (let i = 0; i < N; i++) if (ackPartition[i] >= 0 && !seen.has(i)) lost++
for (const n of seen.values()) if (n > 1) duplicates += n - 1
const result = {
  records: N,
  partitions: PARTITIONS,
  acked,
  failed,
  failedByCode: Object.fromEntries(errors),
  unresolved: N - acked - failed,
  readBack,
  lost,
  duplicates,
  reordered,
  killedBroker: killedNode,
  killedPartitions: [...killedPartitions],
  killAfterMs: killAt - start,
  downMs: restartAt - killAt,
  failoverMs: Number.isFinite(firstAckAfterKill) ? firstAckAfterKill - killAt : null,
  longestStallMs: stallEnd - stallStart,
  restartMs: restartDone - restartAt,
  produceSeconds,
  recordsPerSecond: Math.round(N / produceSeconds),
}
// a throwaway cluster: no controlled shutdown needed (SIGKILL after 2 s)
if (!args.keep) await stopKafka({ name: args.name, graceMs: 2_000 })
if (args.json) console.log(JSON.stringify(result))
else console.log(result)
const ok = result.lost === 0 && result.duplicates === 0 && result.reordered === 0 && result.unresolved === 0
process.exit(ok ? 0 : 1)
