// The gateway's own CPU a record, in one process and without WebSocket I/O: produce frames as the load clients send
// them (one batch of `R` records of 100 B, no key) go through parseProduceFast, Requests.produce and the answer's
// encoding into the gateway's producer, which sends to the bench sink (a fake broker in another process that acks at
// once). Less noisy than the load clients (no 1,000 sockets, no broker, no second process on the 2 cores), so a
// change to the gateway's request path can be A/B-tested in a minute. Run through requests-cost.mjs.
//   argv: sinkPort frames window connections recordsPerFrame   → one JSON line
//   REQUESTS_COST_PROFILE=FILE.cpuprofile: a CPU profile of the measured part only (not of encoding the load frames)
import { encodeFrame } from '../../adapters/gateway-wire/index.js'
import { BatchLedger } from '../../adapters/gateway/batch-ledger.js'
import { parseProduceFast } from '../../adapters/gateway/fast-produce.js'
import { Backpressure } from '../../adapters/gateway/limits.js'
import { createGatewayLog } from '../../adapters/gateway/log.js'
import { MetricsRegistry } from '../../adapters/gateway/metrics.js'
import { DEFAULT_LIMITS, type GatewayOptions } from '../../adapters/gateway/options.js'
import { KafkaSide } from '../../adapters/gateway/producing.js'
import { FAST_FRAME, Requests, type Session } from '../../adapters/gateway/requests.js'
import { tcp } from '../../adapters/node-tcp/index.js'
import fs from 'node:fs'
import { Session as Inspector } from 'node:inspector/promises'

const [port, frames, window, connections, perFrame] = process.argv.slice(2).map(Number) as [
  number,
  number,
  number,
  number,
  number,
]
const log = createGatewayLog({ logLevel: 'silent' })
const kafka = new KafkaSide(
  tcp({ bootstrap: `127.0.0.1:${port}`, clientId: 'requests-cost' }),
  { bootstrap: `127.0.0.1:${port}`, maxPendingBytes: 16 << 20 } as GatewayOptions,
  false,
  log,
)
const limits = { ...DEFAULT_LIMITS, maxInFlightBatches: 256, recordsPerSecond: 0 }
const requests = new Requests(
  kafka,
  new BatchLedger(100_000, 20_000), // the gateway's defaults (--dedup-entries, --max-running-batches)
  new Backpressure(1 << 30),
  new MetricsRegistry(),
  limits,
  false,
  log,
)
const exp = Date.now() / 1000 + 3600
const sessions: Session[] = Array.from({ length: connections }, (_, i) =>
  requests.newSession({ sub: `client-${i}`, topics: ['t'], exp, iat: null }, 'h.p.sig'),
)
await kafka.producer.partitionsFor('t')
const value = new Uint8Array(100).fill(120)
// the clients' work, done before the clock starts
const ts = Date.now()
const encoded: Array<Uint8Array | null> = Array.from({ length: frames }, (_, i) =>
  encodeFrame({
    t: 'produce',
    id: i + 1,
    acks: -1,
    timeoutMs: 30_000,
    batches: [
      {
        topic: 't',
        partition: i % 6,
        batchId: `b${i}-${ts}`,
        records: Array.from({ length: perFrame }, () => [ts, null, value, []]),
      },
    ],
  } as never),
)
let next = 0
let answered = 0
let outstanding = 0
const profile = process.env.REQUESTS_COST_PROFILE
const inspector = profile ? new Inspector() : null
if (inspector) {
  inspector.connect()
  await inspector.post('Profiler.enable')
  await inspector.post('Profiler.start')
}
const cpu0 = process.cpuUsage()
const t0 = performance.now()
await new Promise<void>((resolve, reject) => {
  const pump = () => {
    while (outstanding < window && next < frames) {
      const i = next++
      const bytes = encoded[i]!.slice() // a buffer of its own, as a socket read hands over
      encoded[i] = null
      const fast = parseProduceFast(bytes, limits)
      if (fast === null) return reject(new Error('the fast parser refused a load frame'))
      outstanding++
      requests.produce(sessions[i % connections]!, { t: 'produce', id: fast.id, [FAST_FRAME]: fast }).then((answer) => {
        encodeFrame(answer) // as the WebSocket front does before writing it
        if (answer.t !== 'ack' || answer.results.some((r) => r.errorCode !== 0))
          return reject(new Error(`not acknowledged: ${JSON.stringify(answer).slice(0, 200)}`))
        outstanding--
        if (++answered === frames) resolve()
        else if (outstanding < window * 0.75) setImmediate(pump)
      }, reject)
    }
  }
  pump()
})
const seconds = (performance.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
if (inspector) fs.writeFileSync(profile!, JSON.stringify((await inspector.post('Profiler.stop')).profile))
const records = frames * perFrame
console.log(
  JSON.stringify({
    records,
    recordsPerSec: Math.round(records / seconds),
    cpuUsPerRecord: (cpu.user + cpu.system) / records,
  }),
)
await kafka.close(1000)
process.exit(0)
