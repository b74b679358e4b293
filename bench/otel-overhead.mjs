// Per-send cost of isokafka/otel's wrapper (node bench/otel-overhead.mjs, after npm run build). Two measures:
// 1. the wrapper alone, over a stub producer whose send() resolves at once: ns per call added by instrumentProducer
//    with the API's no-op provider (nothing registered), with injectContext, and with a recording SDK span;
// 2. end to end on the in-process fake cluster (isokafka/testing): records/s of send() and produce(), bare and wrapped.
import { propagation } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createProducer } from '../dist/index.js'
import { FakeCluster } from '../dist/testing.js'
import { instrumentProducer } from '../dist/otel.js'

const N = Number(process.env.N ?? 200_000)
const ROUNDS = 5
const FAKE_ROUNDS = 3
const meta = { topic: 't', partition: 0, offset: 1, timestamp: 0 }
const done = Promise.resolve(meta)
const stub = { send: () => done, produce: (_r, cb) => (cb && queueMicrotask(() => cb(null, meta)), true), transaction: (fn) => fn() }
// a recording span that goes nowhere: what the SDK costs before any exporter
const sdk = new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] })
const w3c = new W3CTraceContextPropagator()

async function perCall(producer, produce = false) {
  const rec = { topic: 't', key: 'k', value: 'hello' }
  const cb = () => {}
  let best = Infinity
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint()
    if (produce) for (let i = 0; i < N; i++) producer.produce(rec, cb)
    else {
      const ps = new Array(N)
      for (let i = 0; i < N; i++) ps[i] = producer.send(rec)
      await Promise.all(ps)
    }
    await new Promise((res) => setImmediate(res))
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / N)
  }
  return best
}

const rows = []
const base = await perCall(stub)
const baseProduce = await perCall(stub, true)
const cases = [
  ['no-op provider', {}],
  ['no-op provider + injectContext', { injectContext: true }],
  ['SDK span (recording, no exporter)', { tracerProvider: sdk }],
  ['SDK span + injectContext (W3C)', { tracerProvider: sdk, injectContext: true, propagator: w3c }],
]
for (const [name, opts] of cases) {
  const w = instrumentProducer(stub, opts)
  rows.push([`send, ${name}`, (await perCall(w)) - base])
  rows.push([`produce, ${name}`, (await perCall(w, true)) - baseProduce])
}
console.log(`wrapper alone, ns added per record (best of ${ROUNDS} × ${N}; stub send ${base.toFixed(0)} ns, produce ${baseProduce.toFixed(0)} ns)`)
for (const [name, ns] of rows) console.log(`  ${name.padEnd(50)} ${ns.toFixed(0).padStart(6)} ns`)

async function fakeRate(wrap, produce) {
  const cluster = new FakeCluster({ topics: { t: 1 } })
  let p = createProducer({ transport: cluster.transport(), lingerMs: 0 })
  if (wrap) p = instrumentProducer(p, wrap)
  const ns = await perCall(p, produce)
  await p.close()
  return 1e9 / ns
}
// interleaved, best of each: the machine is shared, so a slow spell hits every variant alike
console.log(`fake cluster, records/s (best of ${FAKE_ROUNDS} interleaved runs of ${ROUNDS} × ${N})`)
const variants = [['bare', null], ['wrapped, no-op provider', {}], ['wrapped, SDK span + W3C inject', { tracerProvider: sdk, injectContext: true, propagator: w3c }]]
for (const produce of [false, true]) {
  const best = variants.map(() => 0)
  for (let r = 0; r < FAKE_ROUNDS; r++) for (const [i, [, wrap]] of variants.entries()) best[i] = Math.max(best[i], await fakeRate(wrap, produce))
  console.log(`  ${produce ? 'produce' : 'send'}: ` + variants.map(([name], i) => `${name} ${best[i].toFixed(0)}${i ? ` (${((best[i] / best[0] - 1) * 100).toFixed(1)} %)` : ''}`).join(', '))
}
