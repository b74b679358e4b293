import { afterEach, describe, expect, it } from 'vitest'
import { Harness, text } from '../helpers/producer-harness.js'
import { ApiKey, ErrorCode } from '../../src/testing/index.js'
import { KafkaProtocolError, MaxBlockTimeoutError } from '../../src/errors.js'

let h: Harness
afterEach(async () => {
  await h?.dispose()
})

const values = (topic: string, partition: number) => h.cluster.records(topic, partition).map((r) => text(r.value))
/** 100-byte values: each record reserves 136 bytes of bufferMemory (the producer's size estimate). */
const v100 = (i: number) => String(i).padStart(100, '.')

describe('bufferMemory backpressure', () => {
  it('a send that finds no room waits, then rejects with MAX_BLOCK_TIMEOUT after maxBlockMs of fake time', async () => {
    h = new Harness({ topics: { t: { partitions: 1, leaders: [-1] } } })
    const p = h.producer({ bufferMemory: 1000, maxBlockMs: 2000, lingerMs: 0, deliveryTimeoutMs: 120_000 })
    await h.run(p.partitionsFor('t'))
    const held = Array.from({ length: 7 }, (_, i) => p.send({ topic: 't', value: v100(i) })) // 7 × 136 = 952 bytes
    held.forEach((s) => s.catch(() => {}))
    let blocked: unknown = 'pending'
    const start = h.clock.now()
    const eighth = p.send({ topic: 't', value: v100(7) })
    eighth.then(
      () => (blocked = 'resolved'),
      (e) => (blocked = e),
    )
    await h.advance(1999)
    expect(blocked).toBe('pending')
    await h.advance(1)
    expect(blocked).toBeInstanceOf(MaxBlockTimeoutError)
    expect((blocked as MaxBlockTimeoutError).code).toBe('MAX_BLOCK_TIMEOUT')
    expect((blocked as Error).message).toMatch(/bufferMemory/)
    expect(h.clock.now() - start).toBe(2000)
    // the ones that got in are still pending, not failed
    let settledCount = 0
    held.forEach((s) =>
      s.then(
        () => settledCount++,
        () => settledCount++,
      ),
    )
    await h.settle()
    expect(settledCount).toBe(0)
  })

  it('a waiting send goes on when memory frees, and sends keep their order', async () => {
    h = new Harness({ topics: { t: { partitions: 1, leaders: [-1] } } })
    const p = h.producer({ bufferMemory: 1000, maxBlockMs: 60_000, lingerMs: 0, retryBackoffMs: 50 })
    await h.run(p.partitionsFor('t'))
    const sends = Array.from({ length: 12 }, (_, i) => p.send({ topic: 't', value: v100(i) }))
    await h.advance(5000)
    expect(values('t', 0)).toEqual([])
    h.cluster.moveLeader('t', 0, 1) // the partition comes back: the buffered batches drain, memory frees
    const metas = await h.run(Promise.all(sends))
    expect(metas.map((m) => m.offset)).toEqual(Array.from({ length: 12 }, (_, i) => i))
    expect(values('t', 0)).toEqual(Array.from({ length: 12 }, (_, i) => v100(i)))
  })

  it('waiting for memory makes batches go without linger; sends keep their order across partitions', async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer({ bufferMemory: 300, lingerMs: 10_000, maxBlockMs: 60_000 })
    await h.run(p.partitionsFor('t'))
    const start = h.clock.now()
    const doneAt: number[] = []
    // 2 records fill the buffer; the 3rd waits, which makes the sender go at once instead of lingering
    const sends = Array.from({ length: 6 }, (_, i) =>
      p.send({ topic: 't', partition: i % 2, value: v100(i) }).then((m) => ((doneAt[i] = h.clock.now() - start), m)),
    )
    const metas = await h.run(Promise.all(sends), 20_000)
    expect(metas.map((m) => [m.partition, m.offset])).toEqual([
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
      [0, 2],
      [1, 2],
    ])
    // the first four went without lingering; the last two fitted in the buffer, nobody waited, so they lingered
    expect(doneAt.slice(0, 4)).toEqual([0, 0, 0, 0])
    expect(doneAt.slice(4)).toEqual([10_000, 10_000])
  })
})

describe('metadata waits', () => {
  it('unknown topic: MAX_BLOCK_TIMEOUT after maxBlockMs, cause UNKNOWN_TOPIC_OR_PARTITION; metadata retried with backoff', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ maxBlockMs: 3000, retryBackoffMs: 100, retryBackoffMaxMs: 1000 })
    const start = h.clock.now()
    const err = await h.rejection(p.send({ topic: 'nope', value: 'x' }))
    expect(err).toBeInstanceOf(MaxBlockTimeoutError)
    expect(err.code).toBe('MAX_BLOCK_TIMEOUT')
    expect(err.cause).toBeInstanceOf(KafkaProtocolError)
    expect(err.cause.code).toBe('UNKNOWN_TOPIC_OR_PARTITION')
    expect(h.clock.now() - start).toBe(3000)
    const n = h.cluster.requestCount(ApiKey.Metadata)
    // about one per retryBackoffMs (the topic is missing, the requests succeed), not a busy loop
    expect(n).toBeGreaterThanOrEqual(10)
    expect(n).toBeLessThanOrEqual(3000 / 80 + 2)
    expect(h.cluster.topic('nope')).toBeUndefined()
  })

  it('a topic created while a send waits: the send goes through', async () => {
    h = new Harness()
    const p = h.producer({ maxBlockMs: 10_000, retryBackoffMs: 100 })
    const s = p.send({ topic: 'later', value: 'x' })
    await h.advance(2000)
    h.cluster.createTopic('later', { partitions: 2 })
    expect(await h.run(s)).toMatchObject({ topic: 'later', offset: 0 })
  })

  it('auto-created topics: the first answer is LEADER_NOT_AVAILABLE, the retry finds the new topic', async () => {
    h = new Harness({ autoCreateTopics: { partitions: 3 } })
    const p = h.producer({ lingerMs: 0 })
    expect(await h.run(p.send({ topic: 'fresh', key: 'k', value: 'x' }))).toMatchObject({ topic: 'fresh', offset: 0 })
    expect(h.cluster.topic('fresh')!.partitions).toHaveLength(3)
    expect(h.cluster.requestCount(ApiKey.Metadata)).toBeGreaterThanOrEqual(2)
    expect(await h.run(p.partitionsFor('fresh'))).toBe(3)
  })

  it('allowAutoTopicCreation: false keeps the broker from creating the topic', async () => {
    h = new Harness({ autoCreateTopics: true })
    const p = h.producer({ allowAutoTopicCreation: false, maxBlockMs: 1000 })
    const err = await h.rejection(p.send({ topic: 'fresh', value: 'x' }))
    expect(err.code).toBe('MAX_BLOCK_TIMEOUT')
    expect(h.cluster.topic('fresh')).toBeUndefined()
  })

  it('a non-retriable topic error (TOPIC_AUTHORIZATION_FAILED) fails the send at once', async () => {
    h = new Harness({ topics: { t: 1, u: 1 } })
    h.cluster.failNext(ApiKey.Metadata, ErrorCode.TOPIC_AUTHORIZATION_FAILED, { topic: 't', count: Infinity })
    const p = h.producer({ lingerMs: 0, maxBlockMs: 60_000 })
    const start = h.clock.now()
    const err = await h.rejection(p.send({ topic: 't', value: 'x' }))
    expect(err.code).toBe('TOPIC_AUTHORIZATION_FAILED')
    expect(h.clock.now() - start).toBeLessThan(1000)
    expect(await h.run(p.send({ topic: 'u', value: 'y' }))).toMatchObject({ offset: 0 })
  })

  it('partitionsFor: the count, or MAX_BLOCK_TIMEOUT for an unknown topic', async () => {
    h = new Harness({ topics: { t: 7 } })
    const p = h.producer({ maxBlockMs: 500 })
    expect(await h.run(p.partitionsFor('t'))).toBe(7)
    expect(await h.rejection(p.partitionsFor('nope'))).toMatchObject({ code: 'MAX_BLOCK_TIMEOUT' })
    await expect(p.partitionsFor('bad topic')).rejects.toMatchObject({ code: 'INVALID_TOPIC' })
  })

  it('the whole cluster down at start: sends wait, then go when a broker comes back', async () => {
    h = new Harness({ brokers: 2, topics: { t: 2 } })
    h.cluster.stopBroker(1)
    h.cluster.stopBroker(2)
    const p = h.producer({ lingerMs: 0, maxBlockMs: 30_000 })
    const s = p.send({ topic: 't', partition: 1, value: 'x' })
    await h.advance(5000)
    expect(h.cluster.requests).toHaveLength(0)
    h.cluster.startBroker(1)
    h.cluster.startBroker(2)
    h.cluster.moveLeader('t', 0, 1)
    h.cluster.moveLeader('t', 1, 2)
    expect(await h.run(s)).toMatchObject({ partition: 1, offset: 0 })
  })
})
