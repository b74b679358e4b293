// producer.metrics() (src/producer/metrics.ts): Java's producer metric names, windowed as Java computes them (2 samples
// of 30 s), on the fake cluster with the harness's fake clock.
import { describe, expect, it } from 'vitest'
import { createProducer, gatewayBackend } from '../../src/index.js'
import { ApiKey, ErrorCode } from '../../src/testing/index.js'
import { Harness } from '../helpers/producer-harness.js'

let h: Harness

describe('producer.metrics()', () => {
  it('counts records, batches, requests, bytes and buffer by Java names, per topic and per node', async () => {
    h = new Harness({ topics: { a: 2, b: 1 } })
    const p = h.producer({ lingerMs: 5, bufferMemory: 1 << 20 })
    const empty = p.metrics() // collection starts here
    expect(empty.producer['record-send-total']).toBe(0)
    expect(empty.producer['record-send-rate']).toBe(0)
    expect(empty.producer['request-latency-avg']).toBeNaN()
    await h.run(
      Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          p.send({ topic: i % 3 === 0 ? 'b' : 'a', key: `k${i}`, value: 'x'.repeat(50) }),
        ),
      ),
    )
    const m = p.metrics()
    expect(m.producer['record-send-total']).toBe(60)
    expect(m.producer['record-send-rate']).toBeCloseTo(60 / 30, 5) // less than a window elapsed: one full window
    expect(m.topics.a!['record-send-total']).toBe(40)
    expect(m.topics.b!['record-send-total']).toBe(20)
    expect(m.producer['batch-size-avg']).toBeGreaterThan(61)
    expect(m.producer['batch-size-max']).toBeGreaterThanOrEqual(m.producer['batch-size-avg']!)
    expect(m.producer['request-total']).toBeGreaterThan(0)
    expect(m.producer['records-per-request-avg']).toBeCloseTo(60 / m.producer['request-total']!, 5)
    expect(m.producer['request-latency-avg']).toBeGreaterThanOrEqual(0)
    expect(m.producer['record-queue-time-max']).toBeGreaterThanOrEqual(m.producer['record-queue-time-avg']!)
    expect(m.producer['requests-in-flight']).toBe(0)
    expect(m.producer['outgoing-byte-total']).toBeGreaterThan(60 * 50)
    expect(m.producer['buffer-total-bytes']).toBe(1 << 20)
    expect(m.producer['buffer-available-bytes']).toBe(1 << 20)
    // the bootstrap connection's first requests come before its node id is known (Java names such nodes node--1)
    expect(Object.keys(m.nodes).sort()).toEqual(['1', 'fake-1:9092'])
    expect(m.nodes['1']!['request-total']).toBeGreaterThanOrEqual(m.producer['request-total']!)
    expect(m.nodes['1']!['request-latency-avg']).toBeGreaterThanOrEqual(0)
    expect(m.producer['record-error-total']).toBe(0)
  })

  it('keeps a topic named __proto__ as a topic (the snapshot objects have no prototype)', async () => {
    h = new Harness({
      topics: Object.fromEntries([
        ['__proto__', 1],
        ['constructor', 1],
      ]),
    })
    const p = h.producer({ lingerMs: 0 })
    p.metrics()
    await h.run(Promise.all([p.send({ topic: '__proto__', value: 'a' }), p.send({ topic: 'constructor', value: 'b' })]))
    const m = p.metrics()
    expect(Object.keys(m.topics).sort()).toEqual(['__proto__', 'constructor'])
    const own = (name: string) => Object.getOwnPropertyDescriptor(m.topics, name)?.value
    expect(own('__proto__')['record-send-total']).toBe(1)
    expect(own('constructor')['record-send-total']).toBe(1)
  })

  it('retries, errors and throttling; rates fall to 0 and avg/max to NaN once the samples leave the window', async () => {
    h = new Harness({ topics: { t: 1 } })
    h.cluster.produceThrottleMs = 40
    const p = h.producer({ lingerMs: 0, retryBackoffMs: 10 })
    p.metrics()
    h.cluster.failNext(ApiKey.Produce, ErrorCode.NOT_ENOUGH_REPLICAS)
    await h.run(p.send({ topic: 't', value: 'retried' }))
    h.cluster.failNext(ApiKey.Produce, ErrorCode.INVALID_RECORD)
    await h.run(p.send({ topic: 't', value: 'refused' }).catch(() => {}))
    let m = p.metrics()
    expect(m.producer['record-retry-total']).toBe(1)
    expect(m.topics.t!['record-retry-total']).toBe(1)
    expect(m.producer['record-error-total']).toBe(1)
    expect(m.producer['record-error-rate']).toBeCloseTo(1 / 30, 5)
    expect(m.producer['produce-throttle-time-avg']).toBe(40)
    expect(m.producer['produce-throttle-time-max']).toBe(40)
    await h.advance(61_000)
    m = p.metrics()
    expect(m.producer['record-send-rate']).toBe(0)
    expect(m.producer['produce-throttle-time-avg']).toBeNaN()
    expect(m.producer['record-send-total']).toBe(2) // totals stay
    await h.run(p.close())
  })

  it('over a gateway transport it is refused with UNSUPPORTED_OPERATION (hooks are there instead)', async () => {
    const gateway = {
      kind: 'gateway' as const,
      backend: gatewayBackend,
      metadata: async () => [],
      produce: async () => [],
      close: async () => {},
    }
    const p = createProducer({ transport: gateway })
    expect(() => p.metrics()).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OPERATION' }))
    expect(typeof p.addHooks({})).toBe('function')
    await p.close({ timeoutMs: 0 })
  })
})
