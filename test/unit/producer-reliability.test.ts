import { afterEach, describe, expect, it } from 'vitest'
import { Harness, text } from '../helpers/producer-harness.js'
import { ApiKey, ErrorCode, type CorruptMode } from '../../src/testing/index.js'
import { DeliveryTimeoutError, KafkaProtocolError, ProducerFatalError } from '../../src/errors.js'

let h: Harness
afterEach(async () => {
  await h?.dispose()
})

const values = (topic: string, partition: number) => h.cluster.records(topic, partition).map((r) => text(r.value))
const produceTimes = (broker?: number) =>
  h.cluster.requests
    .filter((r) => r.apiKey === ApiKey.Produce && (broker === undefined || r.broker === broker))
    .map((r) => r.at)

describe('retries and re-routing', () => {
  it('retries NOT_LEADER_OR_FOLLOWER after a metadata refresh, on the new leader, after the backoff', async () => {
    // the refusing broker names no new leader (there is none yet): metadata tells, after a backoff (with a leader
    // named in the refusal the producer moves at once: test/unit/leader-hints.test.ts)
    h = new Harness({ brokers: 3, topics: { t: { partitions: 1, leaders: [1] } } })
    const p = h.producer({ lingerMs: 0, retryBackoffMs: 100, retryBackoffMaxMs: 1000 })
    expect(await h.run(p.send({ topic: 't', value: 'a' }))).toMatchObject({ partition: 0, offset: 0 })
    const metadataBefore = h.cluster.requestCount(ApiKey.Metadata)
    h.cluster.moveLeader('t', 0, -1)
    h.clock.setTimeout(() => h.cluster.moveLeader('t', 0, 2), 50)
    const meta = await h.run(p.send({ topic: 't', value: 'b' }))
    expect(meta).toMatchObject({ partition: 0, offset: 1 })
    expect(h.cluster.requestCount(ApiKey.Produce, 1)).toBe(2) // a, then b refused
    expect(h.cluster.requestCount(ApiKey.Produce, 2)).toBe(1) // b, re-routed
    expect(h.cluster.requestCount(ApiKey.Metadata)).toBeGreaterThan(metadataBefore)
    const [, refused] = produceTimes(1)
    const [retried] = produceTimes(2)
    expect(retried! - refused!).toBeGreaterThanOrEqual(80) // retryBackoffMs 100 with ±20% jitter
    expect(values('t', 0)).toEqual(['a', 'b'])
  })

  it('keeps retrying a retriable error with growing backoff until it clears', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0, retryBackoffMs: 100, retryBackoffMaxMs: 10_000 })
    await h.run(p.send({ topic: 't', value: 'warm-up' }))
    h.cluster.failNext(ApiKey.Produce, ErrorCode.NOT_ENOUGH_REPLICAS, { count: 4 })
    const meta = await h.run(p.send({ topic: 't', value: 'x' }))
    expect(meta.offset).toBe(1)
    const times = produceTimes().slice(1)
    expect(times).toHaveLength(5)
    const gaps = times.slice(1).map((t, i) => t - times[i]!)
    // 100, 200, 400, 800 (±20%)
    gaps.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(100 * 2 ** i * 0.8)
      expect(g).toBeLessThanOrEqual(100 * 2 ** i * 1.2 + 1)
    })
    expect(values('t', 0)).toEqual(['warm-up', 'x'])
  })

  it('fails a non-retriable error at once, without retrying, and the producer goes on', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0 })
    h.cluster.failNext(ApiKey.Produce, ErrorCode.INVALID_RECORD)
    const err = await h.rejection(p.send({ topic: 't', value: 'bad' }))
    expect(err).toBeInstanceOf(KafkaProtocolError)
    expect(err.code).toBe('INVALID_RECORD')
    expect(h.cluster.requestCount(ApiKey.Produce)).toBe(1)
    // the gap it left makes the producer take a new id; later records still go through
    expect(await h.run(p.send({ topic: 't', value: 'good' }))).toMatchObject({ offset: 0 })
    expect(values('t', 0)).toEqual(['good'])
  })

  it('re-routes every partition when a broker goes down and its partitions move', async () => {
    h = new Harness({ brokers: 3, topics: { t: 6 } })
    const p = h.producer({ lingerMs: 0 })
    await h.run(Promise.all([0, 1, 2, 3, 4, 5].map((i) => p.send({ topic: 't', partition: i, value: `a${i}` }))))
    h.cluster.stopBroker(2)
    expect([1, 4].map((i) => h.cluster.leaderOf('t', i))).not.toContain(2)
    const metas = await h.run(
      Promise.all([0, 1, 2, 3, 4, 5].map((i) => p.send({ topic: 't', partition: i, value: `b${i}` }))),
    )
    expect(metas.map((m) => m.offset)).toEqual([1, 1, 1, 1, 1, 1])
    for (let i = 0; i < 6; i++) expect(values('t', i)).toEqual([`a${i}`, `b${i}`])
  })
})

describe('idempotence against lost responses', () => {
  it('a connection dropped after the append: the retry is a duplicate, one copy in the log, same offsets', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 5 })
    await h.run(p.send({ topic: 't', value: 'first' }))
    h.cluster.disconnectNext(ApiKey.Produce, 'after-append')
    const sends = ['a', 'b', 'c'].map((v) => p.send({ topic: 't', value: v }))
    const metas = await h.run(Promise.all(sends))
    expect(metas.map((m) => m.offset)).toEqual([1, 2, 3])
    expect(values('t', 0)).toEqual(['first', 'a', 'b', 'c'])
    expect(h.cluster.batches('t', 0)).toHaveLength(2)
    expect(h.cluster.requestCount(ApiKey.Produce)).toBe(3) // first, a-c dropped after append, a-c again
  })

  it('a connection dropped before the append: the retry appends it once', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0 })
    h.cluster.disconnectNext(ApiKey.Produce, 'before-append')
    expect(await h.run(p.send({ topic: 't', value: 'a' }))).toMatchObject({ offset: 0 })
    expect(values('t', 0)).toEqual(['a'])
    expect(h.cluster.requestCount(ApiKey.Produce)).toBe(2)
  })

  it('many batches in flight, the connection drops after the first append: order kept, no duplicates', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0, batchSize: 1, maxInFlightRequestsPerConnection: 5 })
    await h.run(p.send({ topic: 't', value: 'warm-up' }))
    h.cluster.disconnectNext(ApiKey.Produce, 'after-append')
    const sends = Array.from({ length: 12 }, (_, i) => p.send({ topic: 't', value: `m${i}` }))
    const metas = await h.run(Promise.all(sends))
    expect(metas.map((m) => m.offset)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
    expect(values('t', 0)).toEqual(['warm-up', ...Array.from({ length: 12 }, (_, i) => `m${i}`)])
    const seqs = h.cluster.records('t', 0).map((r) => r.sequence)
    expect(seqs).toEqual(Array.from({ length: 13 }, (_, i) => i))
  })

  it.each([
    ['a retriable error', () => h.cluster.failNext(ApiKey.Produce, ErrorCode.NOT_ENOUGH_REPLICAS, { skip: 2 })],
    ['NOT_LEADER_OR_FOLLOWER', () => h.cluster.failNext(ApiKey.Produce, ErrorCode.NOT_LEADER_OR_FOLLOWER, { skip: 2 })],
    ['a disconnect before the append', () => h.cluster.disconnectNext(ApiKey.Produce, 'before-append', { skip: 2 })],
    ['a disconnect after the append', () => h.cluster.disconnectNext(ApiKey.Produce, 'after-append', { skip: 2 })],
    ['a truncated response', () => h.cluster.corruptNext(ApiKey.Produce, 'truncate', { skip: 2 })],
  ])('%s on the 3rd of five batches in flight: no reordering, no duplicates', async (_name, inject) => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0, batchSize: 1, maxInFlightRequestsPerConnection: 5 })
    await h.run(p.send({ topic: 't', value: 'warm-up' }))
    // the 3rd Produce request of the burst fails; the broker refuses what follows as out of order, or the
    // connection takes them down with it
    inject()
    const sends = Array.from({ length: 10 }, (_, i) => p.send({ topic: 't', value: `m${i}` }))
    const metas = await h.run(Promise.all(sends))
    expect(metas.map((m) => m.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1))
    expect(values('t', 0)).toEqual(['warm-up', ...Array.from({ length: 10 }, (_, i) => `m${i}`)])
    expect(h.cluster.records('t', 0).map((r) => r.sequence)).toEqual(Array.from({ length: 11 }, (_, i) => i))
    expect(new Set(h.cluster.records('t', 0).map((r) => r.producerId)).size).toBe(1)
    expect(h.cluster.requestCount(ApiKey.Produce)).toBeGreaterThan(11) // some were refused and resent
    expect(h.cluster.faults.pending).toHaveLength(0)
  })
})

describe('in-flight limits', () => {
  it.each([1, 3, 5])(
    'maxInFlightRequestsPerConnection %i: never more Produce requests pipelined on the connection',
    async (max) => {
      h = new Harness({ topics: { t: 1 } })
      const p = h.producer({ lingerMs: 0, batchSize: 1, maxInFlightRequestsPerConnection: max })
      await h.run(p.partitionsFor('t'))
      const metas = await h.run(
        Promise.all(Array.from({ length: 20 }, (_, i) => p.send({ topic: 't', value: `m${i}` }))),
      )
      expect(metas.map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i))
      const depth = Math.max(...h.cluster.requests.filter((r) => r.apiKey === ApiKey.Produce).map((r) => r.pipelined))
      expect(depth).toBe(max - 1)
    },
  )

  it('the next request goes out before the answered batches complete (their callbacks and the sends they unblock)', async () => {
    h = new Harness({ topics: { t: 2 } })
    // one request at a time; room for two records, so the third send waits for memory until the first is acked
    const p = h.producer({ lingerMs: 0, batchSize: 1, maxInFlightRequestsPerConnection: 1, bufferMemory: 300 })
    await h.run(p.partitionsFor('t'))
    const value = 'x'.repeat(100)
    const order: string[] = []
    p.produce({ topic: 't', partition: 0, value, key: 'a' }, () => order.push('a acked'))
    p.produce({ topic: 't', partition: 0, value, key: 'b' }, () => order.push('b acked'))
    const sends = [p.send({ topic: 't', partition: 1, value, key: 'c' })] // waits for memory
    await h.run(Promise.all(sends))
    await h.run(p.flush())
    const produced = h.cluster.requests
      .filter((r) => r.apiKey === ApiKey.Produce)
      .map((r) => r.batches!.map((b) => b.partition))
    // b (ready when a's answer came) went alone, before a's completion let c in; c followed in a request of its own
    expect(produced).toEqual([[0], [0], [1]])
    expect(order).toEqual(['a acked', 'b acked'])
  })

  it('a retried batch is resent alone: not while later batches of its partition are still in flight', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0, batchSize: 1, maxInFlightRequestsPerConnection: 5, retryBackoffMs: 0 })
    await h.run(p.send({ topic: 't', value: 'warm-up' }))
    h.cluster.failNext(ApiKey.Produce, ErrorCode.NOT_ENOUGH_REPLICAS, { skip: 2 }) // the 3rd of the burst fails
    h.cluster.delayNext(ApiKey.Produce, 50, { skip: 3 }) // and the 4th's answer (out of order) takes a while
    const metas = await h.run(Promise.all(Array.from({ length: 10 }, (_, i) => p.send({ topic: 't', value: `m${i}` }))))
    expect(metas.map((m) => m.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1))
    const sent = new Set<number>()
    let resends = 0
    for (const r of h.cluster.requests.filter((r) => r.apiKey === ApiKey.Produce)) {
      const seq = r.batches![0]!.baseSequence
      if (sent.has(seq)) {
        resends++
        expect(r.pipelined, `resend of sequence ${seq}`).toBe(0)
      }
      sent.add(seq)
    }
    expect(resends).toBeGreaterThanOrEqual(3)
    expect(values('t', 0)).toEqual(['warm-up', ...Array.from({ length: 10 }, (_, i) => `m${i}`)])
  })

  it('the request log shows each batch with its producer id and sequence', async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer({ lingerMs: 0 })
    await h.run(
      Promise.all([p.send({ topic: 't', partition: 0, value: 'a' }), p.send({ topic: 't', partition: 1, value: 'b' })]),
    )
    await h.run(p.send({ topic: 't', partition: 0, value: 'c' }))
    const batches = h.cluster.requests.filter((r) => r.apiKey === ApiKey.Produce).flatMap((r) => r.batches!)
    // (the sender rotates which partition comes first in a request)
    const rows = batches
      .map((b) => [b.partition, b.baseSequence, b.recordCount])
      .sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!)
    expect(rows).toEqual([
      [0, 0, 1],
      [0, 1, 1],
      [1, 0, 1],
    ])
    expect(new Set(batches.map((b) => b.producerId))).toEqual(new Set([1000]))
  })
})

describe('fatal errors', () => {
  it('a fenced producer fails everything pending with PRODUCER_FATAL, and every later send too', async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer({ lingerMs: 0, batchSize: 1 })
    await h.run(p.send({ topic: 't', partition: 0, value: 'ok' }))
    const pid = h.cluster.records('t', 0)[0]!.producerId
    h.cluster.fenceProducer(pid)
    h.cluster.moveLeader('t', 1, -1) // these wait in the queue
    const inFlight = [
      p.send({ topic: 't', partition: 0, value: 'x' }),
      p.send({ topic: 't', partition: 0, value: 'y' }),
    ]
    const queued = [p.send({ topic: 't', partition: 1, value: 'q' })]
    const errors = await Promise.all([...inFlight, ...queued].map((s) => h.rejection(s)))
    for (const e of errors) {
      expect(e).toBeInstanceOf(ProducerFatalError)
      expect(e.code).toBe('PRODUCER_FATAL')
    }
    expect(errors[0].cause).toBeInstanceOf(KafkaProtocolError)
    expect(errors[0].cause.code).toBe('INVALID_PRODUCER_EPOCH')
    const later = await h.rejection(p.send({ topic: 't', partition: 0, value: 'later' }))
    expect(later.code).toBe('PRODUCER_FATAL')
    expect(values('t', 0)).toEqual(['ok'])
  })

  it('a batch in flight when the producer goes fatal, answered with a retriable error, fails with PRODUCER_FATAL too', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0, batchSize: 1, maxInFlightRequestsPerConnection: 5 })
    await h.run(p.partitionsFor('t'))
    h.cluster.failNext(ApiKey.Produce, ErrorCode.PRODUCER_FENCED) // 1st of the burst
    h.cluster.failNext(ApiKey.Produce, ErrorCode.NOT_ENOUGH_REPLICAS, { skip: 1 }) // 2nd
    h.cluster.disconnectNext(ApiKey.Produce, 'before-append', { skip: 2 }) // 3rd: connection lost
    const outcomes = await h.run(
      Promise.all(
        Array.from({ length: 3 }, (_, i) =>
          p.send({ topic: 't', value: `m${i}` }).then(
            (m) => m,
            (e) => e,
          ),
        ),
      ),
    )
    expect(h.cluster.requestCount(ApiKey.Produce)).toBe(3)
    for (const o of outcomes) expect(o.code).toBe('PRODUCER_FATAL')
    expect(outcomes[0].cause.code).toBe('PRODUCER_FENCED')
    expect(values('t', 0)).toEqual([])
  })

  it.each([
    ['PRODUCER_FENCED', ErrorCode.PRODUCER_FENCED],
    ['INVALID_PRODUCER_EPOCH', ErrorCode.INVALID_PRODUCER_EPOCH],
  ])('%s from the broker is fatal', async (name, code) => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0 })
    h.cluster.failNext(ApiKey.Produce, code)
    const err = await h.rejection(p.send({ topic: 't', value: 'x' }))
    expect(err.code).toBe('PRODUCER_FATAL')
    expect(err.cause.code).toBe(name)
    await expect(p.send({ topic: 't', value: 'y' })).rejects.toMatchObject({ code: 'PRODUCER_FATAL' })
    expect(h.cluster.requestCount(ApiKey.Produce)).toBe(1)
    await p.flush()
  })
})

describe('delivery timeout', () => {
  it('a partition without a leader: the batch fails with DELIVERY_TIMEOUT after deliveryTimeoutMs', async () => {
    h = new Harness({ topics: { t: { partitions: 2, leaders: [-1, 1] } } })
    const p = h.producer({ lingerMs: 0, deliveryTimeoutMs: 5000, requestTimeoutMs: 1000 })
    const start = h.clock.now()
    const stuck = p.send({ topic: 't', partition: 0, value: 'x' })
    const fine = p.send({ topic: 't', partition: 1, value: 'y' })
    expect(await h.run(fine)).toMatchObject({ partition: 1, offset: 0 })
    const err = await h.rejection(stuck)
    expect(err).toBeInstanceOf(DeliveryTimeoutError)
    expect(err.code).toBe('DELIVERY_TIMEOUT')
    expect(h.clock.now() - start).toBeGreaterThanOrEqual(5000)
    expect(h.clock.now() - start).toBeLessThan(6000)
  })

  it('a retriable error that never clears ends in DELIVERY_TIMEOUT with the broker error as cause', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({
      lingerMs: 0,
      deliveryTimeoutMs: 3000,
      requestTimeoutMs: 1000,
      retryBackoffMs: 100,
      retryBackoffMaxMs: 400,
    })
    h.cluster.failNext(ApiKey.Produce, ErrorCode.NOT_ENOUGH_REPLICAS, { count: Infinity })
    const start = h.clock.now()
    const err = await h.rejection(p.send({ topic: 't', value: 'x' }))
    expect(err.code).toBe('DELIVERY_TIMEOUT')
    expect(err.cause).toBeInstanceOf(KafkaProtocolError)
    expect(err.cause.code).toBe('NOT_ENOUGH_REPLICAS')
    expect(h.clock.now() - start).toBeGreaterThanOrEqual(3000)
    expect(h.clock.now() - start).toBeLessThan(3000 + 500)
    expect(h.cluster.requestCount(ApiKey.Produce)).toBeGreaterThan(5)
    expect(values('t', 0)).toEqual([])
  })

  it('a broker that never answers: request timeout, reconnect, and the retry lands once', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0, requestTimeoutMs: 2000, deliveryTimeoutMs: 30_000 })
    await h.run(p.send({ topic: 't', value: 'warm-up' }))
    h.cluster.stallNext(ApiKey.Produce)
    const start = h.clock.now()
    expect(await h.run(p.send({ topic: 't', value: 'x' }))).toMatchObject({ offset: 1 })
    expect(h.clock.now() - start).toBeGreaterThanOrEqual(2000)
    expect(values('t', 0)).toEqual(['warm-up', 'x'])
    expect(h.cluster.requestCount(ApiKey.ApiVersions)).toBe(2) // first connection (bootstrap = broker 1's address), reconnection
  })
})

describe('damaged responses', () => {
  it.each<CorruptMode>(['truncate', 'trailing-bytes', 'correlation-id', 'oversize', 'partial-frame', 'random-bytes'])(
    'a %s Produce response: the connection is dropped, the retry is deduplicated',
    async (mode) => {
      h = new Harness({ topics: { t: 1 } })
      const p = h.producer({ lingerMs: 0 })
      await h.run(p.send({ topic: 't', value: 'warm-up' }))
      h.cluster.corruptNext(ApiKey.Produce, mode)
      expect(await h.run(p.send({ topic: 't', value: 'x' }))).toMatchObject({ offset: 1 })
      expect(values('t', 0)).toEqual(['warm-up', 'x'])
      expect(h.cluster.requestCount(ApiKey.Produce)).toBe(3)
    },
  )

  it.each<CorruptMode>(['truncate', 'trailing-bytes', 'correlation-id'])(
    'a %s Metadata response is retried',
    async (mode) => {
      h = new Harness({ topics: { t: 1 } })
      const p = h.producer({ lingerMs: 0 })
      h.cluster.corruptNext(ApiKey.Metadata, mode)
      expect(await h.run(p.send({ topic: 't', value: 'x' }))).toMatchObject({ offset: 0 })
      expect(h.cluster.requestCount(ApiKey.Metadata)).toBeGreaterThanOrEqual(2)
    },
  )

  it('a damaged InitProducerId response is retried', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0 })
    h.cluster.corruptNext(ApiKey.InitProducerId, 'truncate')
    expect(await h.run(p.send({ topic: 't', value: 'x' }))).toMatchObject({ offset: 0 })
    expect(h.cluster.requestCount(ApiKey.InitProducerId)).toBe(2)
    // the first id was handed out but its answer lost: the producer writes with the second one
    expect(h.cluster.records('t', 0)[0]!.producerId).toBe(1001)
  })
})
