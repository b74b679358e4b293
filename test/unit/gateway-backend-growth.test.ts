// The gateway backend's growing batches: while a partition has a batch in flight (or one waiting for the sender), its
// open batch may grow past batchSize up to a quarter of the transport's frameLimits(), so the partition's backlog
// leaves in one round trip. Order, offsets, linger, the caps, retries, and no growth with an outbox, without
// frameLimits() or on the Kafka path. A scripted transport on a fake clock; no broker.
import { describe, expect, it } from 'vitest'
import { createProducer } from '../../src/index.js'
import { RecordAccumulator } from '../../src/producer/accumulator.js'
import type { GatewayPartitionBatch, GatewayPartitionResult } from '../../src/transport.js'
import { fetchTransport, KEEPALIVE_BUDGET } from '../../adapters/fetch/index.js'
import { FakeClock, flushMicrotasks } from '../helpers/fake-clock.js'
import { MemoryOutbox, ScriptedTransport } from '../helpers/scripted-gateway.js'

/** A scripted transport with frame limits, keeping each shipped batch's size in bytes. */
class LimitedTransport extends ScriptedTransport {
  limits: { maxFrameBytes: number; maxRecordsPerFrame?: number; maxBatchBytes?: number } = { maxFrameBytes: 1 << 20 }
  readonly sizes: number[] = []
  frameLimits() {
    return this.limits
  }
  override produce(batches: GatewayPartitionBatch[]): Promise<GatewayPartitionResult[]> {
    for (const b of batches) this.sizes.push(b.records.length)
    return super.produce(batches)
  }
}

const values = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `v-${String(from + i).padStart(2, '0')}`)

// a record of value `v-NN` is 18 bytes as gateway MessagePack and estimated at 29: batchSize 64 holds two
function setup(opts: Record<string, unknown> = {}, transport?: ScriptedTransport) {
  const clock = new FakeClock()
  const t = (transport as LimitedTransport | undefined) ?? new LimitedTransport(clock)
  const producer = createProducer({
    transport: t,
    clock,
    lingerMs: 5,
    batchSize: 64,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1000,
    ...opts,
  })
  const sendAll = (n: number, from = 0) =>
    values(n, from).map((value) => producer.send({ topic: 't', partition: 0, value }))
  return { clock, transport: t, producer, sendAll }
}

const shipped = (t: ScriptedTransport) => t.calls.flatMap((c) => c.batches.map((b) => b.values))

describe('GatewayBackend: the open batch grows while its partition waits', () => {
  it('records sent while a batch is in flight leave as one batch when it is answered, each with its own offset', async () => {
    const { clock, transport, sendAll } = setup()
    transport.latency = 20
    const first = sendAll(2)
    await clock.advance(5) // linger: the first batch leaves
    expect(transport.calls).toHaveLength(1)
    const more = sendAll(10, 2) // five batches' worth, in one open batch
    await clock.advance(20)
    expect(shipped(transport)).toEqual([values(2), values(10, 2)])
    await clock.advance(20)
    expect((await Promise.all(first)).map((m) => m.offset)).toEqual([0, 1])
    expect((await Promise.all(more)).map((m) => m.offset)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    expect(transport.overlaps).toBe(0)
  })

  it('a synchronous burst: the first batch stays at batchSize, what follows it grows', async () => {
    const { clock, transport, sendAll } = setup({ lingerMs: 0 })
    const sends = sendAll(12)
    await clock.advance(10)
    expect(shipped(transport)).toEqual([values(2), values(10, 2)])
    expect((await Promise.all(sends)).map((m) => m.offset)).toEqual(Array.from({ length: 12 }, (_, i) => i))
  })

  it('a grown batch still waits out its linger unless it is full', async () => {
    const { clock, transport, sendAll } = setup({ lingerMs: 50 })
    transport.latency = 20
    sendAll(2)
    await clock.advance(50)
    const more = sendAll(5, 2) // opened at 50, its linger ends at 100; the answer comes at 70
    await clock.advance(30)
    expect(transport.calls).toHaveLength(1)
    await clock.advance(20)
    expect(transport.calls[1]!.at - transport.calls[0]!.at).toBe(50)
    expect(transport.calls[1]!.batches[0]!.values).toEqual(values(5, 2))
    await clock.advance(20)
    await Promise.all(more)
  })

  it("grows to a quarter of the frame limits: records, bytes, and never past the transport's maxBatchBytes or maxRequestSize", async () => {
    const byRecords = setup({ lingerMs: 0 })
    byRecords.transport.limits = { maxFrameBytes: 1 << 20, maxRecordsPerFrame: 16 } // batches of at most 4 records
    const s1 = byRecords.sendAll(12)
    await byRecords.clock.advance(100)
    expect(shipped(byRecords.transport)).toEqual([values(2), values(4, 2), values(4, 6), values(2, 10)])
    await Promise.all(s1)

    // 40 records through a setup with `limits`: every record shipped in order, and the largest batch in bytes
    const largest = async (opts: Record<string, unknown>, limits?: LimitedTransport['limits']) => {
      const { clock, transport, sendAll } = setup({ lingerMs: 0, ...opts })
      if (limits) transport.limits = limits
      const sends = sendAll(40)
      await clock.advance(100)
      expect(shipped(transport).flat()).toEqual(values(40))
      await Promise.all(sends)
      return Math.max(...transport.sizes)
    }
    const byBytes = await largest({}, { maxFrameBytes: 4 * 200 }) // batches of at most 200 bytes
    expect(byBytes).toBeLessThanOrEqual(200)
    expect(byBytes).toBeGreaterThan(150)
    const byTransport = await largest({}, { maxFrameBytes: 1 << 20, maxBatchBytes: 150 }) // the transport's own bound
    expect(byTransport).toBeLessThanOrEqual(150)
    expect(byTransport).toBeGreaterThan(100)
    const byRequest = await largest({ maxRequestSize: 150 })
    expect(byRequest).toBeLessThanOrEqual(150)
    expect(byRequest).toBeGreaterThan(100)
  })

  it('a grown batch that fails is resent whole under its batch id, ahead of what came after it', async () => {
    const { clock, transport, sendAll } = setup({ lingerMs: 0 })
    transport.answers.push((b) => transport.ok(b)) // the first batch
    transport.answers.push((b) =>
      b.map((x) => ({
        topic: x.topic,
        partition: x.partition,
        batchId: x.batchId,
        errorCode: 6, // NOT_LEADER_OR_FOLLOWER: retriable
        baseOffset: -1,
        logAppendTime: -1,
      })),
    )
    const sends = sendAll(12)
    await clock.advance(0)
    await clock.advance(0)
    const grown = transport.calls[1]!.batches[0]!
    expect(grown.values).toEqual(values(10, 2))
    const later = sendAll(3, 12) // while the grown batch waits out its backoff
    await clock.advance(2000)
    expect(transport.calls[2]!.batches[0]).toMatchObject({ batchId: grown.batchId, values: values(10, 2) })
    expect(shipped(transport).slice(3).flat()).toEqual(values(3, 12))
    expect((await Promise.all(sends)).map((m) => m.offset)).toEqual(Array.from({ length: 12 }, (_, i) => i))
    expect((await Promise.all(later)).map((m) => m.offset)).toEqual([12, 13, 14])
  })

  it('no growth with an outbox (batches are stored as they fill), without frameLimits(), or on the Kafka path', async () => {
    const clock = new FakeClock()
    const withOutbox = setup({ lingerMs: 0, outbox: new MemoryOutbox() })
    const s1 = withOutbox.sendAll(6)
    await withOutbox.clock.advance(100)
    await flushMicrotasks()
    await Promise.all(s1)
    expect(shipped(withOutbox.transport)).toEqual([values(2), values(2, 2), values(2, 4)])

    const plain = setup({ lingerMs: 0 }, new ScriptedTransport(clock))
    const s2 = plain.sendAll(6)
    await plain.clock.advance(100)
    await clock.advance(100)
    await Promise.all(s2)
    expect(shipped(plain.transport)).toEqual([values(2), values(2, 2), values(2, 4)])

    // the accumulator alone (the Kafka path leaves growBytes at 0): batches behind others close at batchSize
    const format = (await import('../../src/producer/gateway-records.js')).gatewayRecordFormat
    const enc = new TextEncoder()
    const fill = (growBytes: number) => {
      const acc = new RecordAccumulator(64, 1 << 20, 0)
      acc.format = format
      acc.growBytes = growBytes
      for (const v of values(12)) {
        const value = enc.encode(v)
        const estimate = format.estimate(null, value, [])
        acc.append({
          topic: 't',
          partition: 0,
          key: null,
          value,
          headers: [],
          timestamp: 1,
          estimate,
          now: 0,
          callback: () => {},
          reject: null,
          promise: null,
          tag: undefined,
        })
      }
      return acc.queue('t', 0).batches.map((b) => b.recordCount)
    }
    expect(fill(0)).toEqual([4, 4, 4])
    expect(fill(1 << 20)).toEqual([4, 8])
  })

  it('fetchTransport gives frame limits in gateway mode only, sized for keepalive requests where they may be used', () => {
    const url = 'https://gateway.example'
    expect(fetchTransport({ url, token: 'x' }).frameLimits!()).toEqual({ maxFrameBytes: 1 << 20 })
    expect(fetchTransport({ url, token: 'x', maxFrameBytes: 4096 }).frameLimits!()).toEqual({ maxFrameBytes: 4096 })
    expect(fetchTransport({ url, token: 'x', mode: 'rest-v3', clusterId: 'c' }).frameLimits!()).toBeUndefined()
    // where keepalive requests may carry batches (a page, or keepalive: true), a grown batch must fit one (64 KiB)
    const keepaliveSized = { maxFrameBytes: 1 << 20, maxBatchBytes: KEEPALIVE_BUDGET - 1024 }
    expect(fetchTransport({ url, token: 'x', keepalive: true }).frameLimits!()).toEqual(keepaliveSized)
    const g = globalThis as { document?: unknown }
    g.document = { visibilityState: 'visible' }
    try {
      expect(fetchTransport({ url, token: 'x' }).frameLimits!()).toEqual(keepaliveSized)
      expect(fetchTransport({ url, token: 'x', keepalive: false }).frameLimits!()).toEqual({ maxFrameBytes: 1 << 20 })
    } finally {
      delete g.document
    }
  })
})
