// The gateway's direct way into its Kafka producer (adapters/gateway/direct-append.ts, used by Requests.runBatch):
// a client batch's records go straight into the accumulator, with one callback per piece that shares a Kafka batch.
// Against the fake cluster, through Requests as the server drives it: what Kafka holds (order, content, offsets
// acknowledged), pieces over several Kafka batches, LogAppendTime, bufferMemory running out mid-batch (the rest goes
// through produce() and nothing overtakes it), Kafka refusing a batch, records over maxRequestSize, a closed producer.
import { afterEach, describe, expect, it } from 'vitest'
import { encodeFrame } from '../../adapters/gateway-wire/index.js'
import { BatchLedger } from '../../adapters/gateway/batch-ledger.js'
import { parseProduceFast } from '../../adapters/gateway/fast-produce.js'
import { Backpressure } from '../../adapters/gateway/limits.js'
import { createGatewayLog } from '../../adapters/gateway/log.js'
import { MetricsRegistry } from '../../adapters/gateway/metrics.js'
import { DEFAULT_LIMITS, type GatewayOptions } from '../../adapters/gateway/options.js'
import { KafkaSide } from '../../adapters/gateway/producing.js'
import { FAST_FRAME, Requests, type Session } from '../../adapters/gateway/requests.js'
import type { ProducerOptions } from '../../src/producer/options.js'
import { FakeCluster, type FakeTopicConfig } from '../../src/testing/index.js'

const log = createGatewayLog({ logLevel: 'silent' })
const te = new TextEncoder()
const td = new TextDecoder()
let kafka: KafkaSide | null = null

afterEach(async () => {
  await kafka?.close(100)
  kafka = null
})

function setup(topic: FakeTopicConfig = { partitions: 2 }, producer: Partial<ProducerOptions> = {}) {
  const cluster = new FakeCluster({ brokers: 1, topics: { t: topic } })
  kafka = new KafkaSide(
    cluster.transport(),
    { bootstrap: 'fake:9092', producer } as unknown as GatewayOptions,
    false,
    log,
  )
  const metrics = new MetricsRegistry()
  const requests = new Requests(
    kafka,
    new BatchLedger(1000, 1000),
    new Backpressure(64 << 20),
    metrics,
    { ...DEFAULT_LIMITS, maxInFlightBatches: 1000, recordsPerSecond: 1e9 },
    false,
    log,
  )
  const session: Session = requests.newSession(
    { sub: 'test', topics: ['t'], exp: Date.now() / 1000 + 3600, iat: null },
    'h.p.sig',
  )
  return { cluster, kafka, metrics, requests, session }
}

type Rec = [number, Uint8Array | null, Uint8Array | null, Array<[string, Uint8Array | null]>]
let frameId = 0

/** A produce frame as a client sends it, read by the fast parser as the server reads it. */
function frame(batches: Array<{ partition: number; batchId: string; records: Rec[] }>) {
  const bytes = encodeFrame({
    t: 'produce',
    id: ++frameId,
    acks: -1,
    timeoutMs: 30_000,
    batches: batches.map((b) => ({ topic: 't', ...b })),
  } as never)
  const fast = parseProduceFast(bytes, { maxInFlightBatches: 1000, maxRecordsPerFrame: 100_000 })
  expect(fast).not.toBeNull() // the direct way is the fast parser's
  return { t: 'produce', id: frameId, [FAST_FRAME]: fast } as Record<string, unknown>
}

const records = (prefix: string, n: number, size = 10, ts = 1_700_000_000_000): Rec[] =>
  Array.from({ length: n }, (_, i) => [
    ts + i,
    i % 3 === 0 ? null : te.encode(`k${i}`),
    te.encode(`${prefix}-${i}-`.padEnd(size, 'x')),
    i % 5 === 0 ? [['h', te.encode(String(i))]] : [],
  ])

type Ack = {
  t: string
  results: Array<{ errorCode: number; baseOffset: number; offsets?: number[]; logAppendTime: number }>
}

describe('gateway direct append', () => {
  it('writes a client batch spread over several Kafka batches in order, each record whole, at the offsets acked', async () => {
    const { cluster, requests, session, metrics } = setup({ partitions: 2 }, { batchSize: 1024 })
    const a = records('a', 300, 40)
    const b = records('b', 5)
    const ack = (await requests.produce(
      session,
      frame([
        { partition: 1, batchId: 'a', records: a },
        { partition: 1, batchId: 'b', records: b },
      ]),
    )) as unknown as Ack
    expect(ack.t).toBe('ack')
    expect(ack.results.map((r) => r.errorCode)).toEqual([0, 0])
    expect(ack.results[0]!.offsets).toBeUndefined() // consecutive
    expect(ack.results[0]!.baseOffset).toBe(0)
    expect(ack.results[1]!.baseOffset).toBe(300)
    expect(cluster.batches('t', 1).length).toBeGreaterThan(5) // 300 × ~60 B in 1 KiB batches: many pieces
    const stored = cluster.records('t', 1)
    expect(stored.length).toBe(305)
    const sent = [...a, ...b]
    stored.forEach((r, i) => {
      const [ts, key, value, headers] = sent[i]!
      expect(r.offset).toBe(i)
      expect(r.timestamp).toBe(ts)
      expect(r.key === null ? null : td.decode(r.key)).toBe(key === null ? null : td.decode(key))
      expect(td.decode(r.value!)).toBe(td.decode(value!))
      expect(r.headers.map(([k, v]) => [k, v === null ? null : td.decode(v)])).toEqual(
        headers.map(([k, v]) => [k, v === null ? null : td.decode(v)]),
      )
    })
    expect(metrics.recordsOut).toBe(305)
  })

  it('a batch whose later pieces failed: the resend writes only those records, and the answer lists every offset', async () => {
    // one request at a time, no retries: the 3rd and 4th Kafka batches of the client batch are refused
    const { cluster, requests, session } = setup(
      { partitions: 1 },
      { batchSize: 1024, retries: 0, maxInFlightRequestsPerConnection: 1, lingerMs: 0 },
    )
    const recs = records('r', 120, 30)
    cluster.failNext(0, 87, { skip: 2, count: Infinity })
    const first = (await requests.produce(
      session,
      frame([{ partition: 0, batchId: 'r', records: recs }]),
    )) as unknown as Ack
    expect(first.results[0]!.errorCode).not.toBe(0)
    const written = cluster.records('t', 0).length
    expect(written).toBeGreaterThan(0) // the first two pieces
    expect(written).toBeLessThan(120)
    cluster.clearFaults()
    const again = (await requests.produce(
      session,
      frame([{ partition: 0, batchId: 'r', records: recs }]),
    )) as unknown as Ack
    expect(again.results[0]!.errorCode).toBe(0)
    const stored = cluster.records('t', 0)
    // each record once; the answer's offsets are where Kafka holds each record of the batch
    expect(stored.length).toBe(120)
    const at = new Map(stored.map((r) => [td.decode(r.value!), r.offset]))
    expect(at.size).toBe(120)
    const offsets = again.results[0]!.offsets ?? Array.from({ length: 120 }, (_, i) => again.results[0]!.baseOffset + i)
    expect(offsets).toEqual(recs.map((r) => at.get(td.decode(r[2]!))))
  })

  it("reports the broker's LogAppendTime of a piece", async () => {
    const { requests, session } = setup({ partitions: 1, timestampType: 'LogAppendTime' })
    const before = Date.now()
    const ack = (await requests.produce(
      session,
      frame([{ partition: 0, batchId: 'x', records: records('x', 10, 10, 1000) }]),
    )) as unknown as Ack
    expect(ack.results[0]!.errorCode).toBe(0)
    expect(ack.results[0]!.logAppendTime).toBeGreaterThanOrEqual(before)
  })

  it('sends the rest of a batch through produce() once bufferMemory is full, and keeps later batches behind it', async () => {
    // 4 KiB of buffer, 1 KiB batches: the first batch of 200 records cannot all go in at once
    const { cluster, kafka, requests, session } = setup(
      { partitions: 1 },
      { batchSize: 1024, bufferMemory: 4096, lingerMs: 0 },
    )
    await kafka.lookupTopic('t')
    const first = requests.produce(session, frame([{ partition: 0, batchId: 'p1', records: records('p1', 200, 30) }]))
    for (let i = 0; i < 20 && kafka.direct.viaProduce === 0; i++) await Promise.resolve()
    expect(kafka.direct.viaProduce).toBeGreaterThan(100) // the rest waits in the producer for memory
    // memory there is again, but the producer has not appended the waiting records yet (it does when told of freed
    // memory): a later batch must not overtake them, so it goes through produce() too
    const internals = (kafka.direct as unknown as { p: { accumulator: { bufferMemory: number } } }).p
    internals.accumulator.bufferMemory = 1 << 20
    const second = requests.produce(session, frame([{ partition: 0, batchId: 'p2', records: records('p2', 20, 30) }]))
    const acks = (await Promise.all([first, second])) as unknown as Ack[]
    expect(acks.map((a) => a.results[0]!.errorCode)).toEqual([0, 0])
    expect(acks[1]!.results[0]!.baseOffset).toBe(200)
    const values = cluster.records('t', 0).map((r) => td.decode(r.value!).split('-').slice(0, 2).join('-'))
    expect(values).toEqual([
      ...Array.from({ length: 200 }, (_, i) => `p1-${i}`),
      ...Array.from({ length: 20 }, (_, i) => `p2-${i}`),
    ])
    expect(kafka.direct.viaProduce).toBe(0)
    // with nothing waiting, the direct way is open again
    const third = (await requests.produce(
      session,
      frame([{ partition: 0, batchId: 'p3', records: records('p3', 3) }]),
    )) as unknown as Ack
    expect(third.results[0]).toMatchObject({ errorCode: 0, baseOffset: 220 })
  })

  it('fails every piece of a batch Kafka refuses, and counts each record once', async () => {
    const { cluster, requests, session, metrics } = setup({ partitions: 1 }, { batchSize: 1024, retries: 0 })
    cluster.failNext(0, 87) // INVALID_RECORD: not retriable
    const ack = (await requests.produce(
      session,
      frame([{ partition: 0, batchId: 'bad', records: records('bad', 10) }]),
    )) as unknown as Ack
    expect(ack.results[0]!.errorCode).toBe(87)
    expect(metrics.recordsFailed).toBe(10)
    expect(cluster.records('t', 0).length).toBe(0)
  })

  it('leaves a record over maxRequestSize to produce(), which refuses it with its typed error', async () => {
    const { cluster, requests, session } = setup({ partitions: 1 }, { maxRequestSize: 2048 })
    const big: Rec = [1, null, new Uint8Array(4000), []]
    const ack = (await requests.produce(
      session,
      frame([{ partition: 0, batchId: 'big', records: [...records('ok', 2), big] }]),
    )) as unknown as Ack
    expect(ack.results[0]!.errorCode).toBe(10) // MESSAGE_TOO_LARGE
    expect(cluster.records('t', 0).length).toBeLessThanOrEqual(2)
  })

  it("sizes its producer's bufferMemory above what the gateway takes in (4 × maxPendingBytes, at least 32 MiB)", async () => {
    const memory = (maxPendingBytes?: number) => {
      const side = new KafkaSide(
        new FakeCluster({ brokers: 1 }).transport(),
        { bootstrap: 'fake:9092', maxPendingBytes } as unknown as GatewayOptions,
        false,
        log,
      )
      const bytes = (side.direct as unknown as { p: { accumulator: { bufferMemory: number } } }).p.accumulator
        .bufferMemory
      void side.close(0)
      return bytes
    }
    expect(memory()).toBe(64 << 20)
    expect(memory(1 << 20)).toBe(32 << 20)
    expect(memory(32 << 20)).toBe(128 << 20)
  })

  it('answers REQUEST_TIMED_OUT (7) when Kafka is slower than the frame allows; a resend then gets the first offsets', async () => {
    const { cluster, requests, session, metrics } = setup({ partitions: 1 })
    cluster.delayNext(0, 1200) // hold the next Produce response 1.2 s
    const recs = records('slow', 20)
    const slowFrame = () => {
      const bytes = encodeFrame({
        t: 'produce',
        id: ++frameId,
        acks: -1,
        timeoutMs: 200,
        batches: [{ topic: 't', partition: 0, batchId: 'slow', records: recs }],
      } as never)
      const fast = parseProduceFast(bytes, { maxInFlightBatches: 1000, maxRecordsPerFrame: 100_000 })!
      return { t: 'produce', id: frameId, [FAST_FRAME]: fast } as Record<string, unknown>
    }
    const t0 = Date.now()
    const first = (await requests.produce(session, slowFrame())) as unknown as Ack & {
      results: Array<{ message?: string }>
    }
    expect(Date.now() - t0).toBeLessThan(1000)
    expect(first.results[0]!.errorCode).toBe(7)
    expect(first.results[0]!.message).toMatch(/resend the same batch id/)
    expect(metrics.refusals.KAFKA_7).toBe(1)
    // the resend waits for the write already under way (not a second write) and answers with its offsets
    const again = (await requests.produce(session, slowFrame())) as unknown as Ack
    expect(again.results[0]!.errorCode).toBe(7) // still slower than 200 ms: the same answer, nothing written twice
    await new Promise((r) => setTimeout(r, 1300))
    const last = (await requests.produce(session, slowFrame())) as unknown as Ack
    expect(last.results[0]!.errorCode).toBe(0)
    expect(last.results[0]!.baseOffset).toBe(0)
    expect(cluster.records('t', 0).length).toBe(20)
    expect(metrics.dedupHits).toBe(2)
  })

  it('appends nothing once the producer is closed', async () => {
    const { kafka } = setup()
    await kafka.close(100)
    expect(kafka.direct.begin('t', 0, Date.now(), () => {})).toBe(false)
  })
})
