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

const N = Number(process.env.N ?? 20_000)
const ROUNDS = 5
const FAKE_ROUNDS = Number(process.env.FAKE_ROUNDS ?? 10)
const STUB_ROUNDS = Number(process.env.STUB_ROUNDS ?? 40)
const meta = { topic: 't', partition: 0, offset: 1, timestamp: 0 }
const done = Promise.resolve(meta)
const stub = {
  send: () => done,
  produce: (_r, cb) => (cb && queueMicrotask(() => cb(null, meta)), true),
  transaction: (fn) => fn(),
}
// a recording span that goes nowhere: what the SDK costs before any exporter
const sdk = new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] })
const w3c = new W3CTraceContextPropagator()

async function perCall(producer, produce = false, rounds = ROUNDS) {
  const rec = { topic: 't', key: 'k', value: 'hello' }
  const cb = () => {}
  let best = Infinity
  for (let r = 0; r < rounds; r++) {
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

// the wrapper's cost is small beside the machine's noise: many short rounds, bare and wrapped interleaved, the
// fastest round of each
async function added(opts, produce) {
  const w = instrumentProducer(stub, opts)
  let bare = Infinity
  let wrapped = Infinity
  for (let r = 0; r < STUB_ROUNDS; r++) {
    bare = Math.min(bare, await perCall(stub, produce, 1))
    wrapped = Math.min(wrapped, await perCall(w, produce, 1))
  }
  return [bare, wrapped - bare]
}
const cases = [
  ['no-op provider', {}],
  ['no-op provider + injectContext', { injectContext: true }],
  ['SDK span (recording, no exporter)', { tracerProvider: sdk }],
  ['SDK span + injectContext (W3C)', { tracerProvider: sdk, injectContext: true, propagator: w3c }],
]
console.log(`wrapper alone, ns added per record (fastest of ${STUB_ROUNDS} interleaved rounds of ${N})`)
for (const [name, opts] of cases) {
  for (const produce of [false, true]) {
    const [bare, ns] = await added(opts, produce)
    console.log(
      `  ${(produce ? 'produce, ' : 'send, ') + name}`.padEnd(52) +
        `${ns.toFixed(0).padStart(6)} ns   (stub alone ${bare.toFixed(0)} ns)`,
    )
  }
}

async function fakeRate(wrap, produce) {
  const cluster = new FakeCluster({ topics: { t: 1 } })
  let p = createProducer({ transport: cluster.transport(), lingerMs: 0 })
  if (wrap) p = instrumentProducer(p, wrap)
  const ns = await perCall(p, produce, 2)
  await p.close()
  return 1e9 / ns
}
// interleaved, best of each: the machine is shared, so a slow spell hits every variant alike
console.log(`fake cluster, records/s (best of ${FAKE_ROUNDS} interleaved runs, each the faster of 2 × ${N})`)
const variants = [
  ['bare', null],
  ['wrapped, no-op provider', {}],
  ['wrapped, SDK span + W3C inject', { tracerProvider: sdk, injectContext: true, propagator: w3c }],
]
for (const produce of [false, true]) {
  const best = variants.map(() => 0)
  for (let r = 0; r < FAKE_ROUNDS; r++)
    for (const [i, [, wrap]] of variants.entries()) best[i] = Math.max(best[i], await fakeRate(wrap, produce))
  console.log(
    `  ${produce ? 'produce' : 'send'}: ` +
      variants
        .map(
          ([name], i) =>
            `${name} ${best[i].toFixed(0)}${i ? ` (${((best[i] / best[0] - 1) * 100).toFixed(1)} %)` : ''}`,
        )
        .join(', '),
  )
}
