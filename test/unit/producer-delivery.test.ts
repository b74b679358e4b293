import { afterEach, describe, expect, it } from 'vitest'
import { Harness, text } from '../helpers/producer-harness.js'
import { ApiKey, ErrorCode } from '../../src/testing/index.js'
import { jsonSerializer } from '../../src/producer/serializers.js'
import { SerializationError } from '../../src/errors.js'

let h: Harness
afterEach(async () => {
  await h?.dispose()
})

const enc = new TextEncoder()
const values = (topic: string, partition: number) => h.cluster.records(topic, partition).map((r) => text(r.value))

describe('send and acknowledgement', () => {
  it('resolves with topic, partition, offset and timestamp; the log holds key, value, headers and timestamp', async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer({ lingerMs: 0 })
    const meta = await h.run(
      p.send({
        topic: 't',
        partition: 1,
        key: 'k',
        value: 'v',
        headers: { h1: 'x', h2: enc.encode('y'), h3: null },
        timestamp: 1_700_000_000_123,
      }),
    )
    expect(meta).toEqual({ topic: 't', partition: 1, offset: 0, timestamp: 1_700_000_000_123 })
    const [r] = h.cluster.records('t', 1)
    expect(text(r!.key)).toBe('k')
    expect(text(r!.value)).toBe('v')
    expect(r!.headers).toEqual([
      ['h1', enc.encode('x')],
      ['h2', enc.encode('y')],
      ['h3', null],
    ])
    expect(r!.timestamp).toBe(1_700_000_000_123)
    expect(r!.offset).toBe(0)
    expect(r!.producerId).toBeGreaterThanOrEqual(0)
    expect(r!.sequence).toBe(0)
  })

  it('keeps null keys and null values (tombstones) apart from empty ones', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0 })
    await h.run(
      Promise.all([
        p.send({ topic: 't', key: null, value: null }),
        p.send({ topic: 't', key: '', value: '' }),
        p.send({ topic: 't', key: enc.encode('k'), value: undefined }),
      ]),
    )
    const rs = h.cluster.records('t', 0)
    expect(rs.map((r) => [r.key === null ? null : text(r.key), r.value === null ? null : text(r.value)])).toEqual([
      [null, null],
      ['', ''],
      ['k', null],
    ])
  })

  it('offsets are consecutive per partition and sends resolve in order', async () => {
    h = new Harness({ topics: { t: 3 } })
    const p = h.producer({ lingerMs: 2 })
    const order: number[] = []
    const sends = Array.from({ length: 30 }, (_, i) =>
      p.send({ topic: 't', partition: i % 3, value: `v${i}` }).then((m) => (order.push(i), m)),
    )
    const metas = await h.run(Promise.all(sends))
    for (let part = 0; part < 3; part++) {
      const mine = metas.filter((m) => m.partition === part)
      expect(mine.map((m) => m.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i))
      expect(values('t', part)).toEqual(Array.from({ length: 10 }, (_, i) => `v${i * 3 + part}`))
      const seq = order.filter((i) => i % 3 === part)
      expect(seq).toEqual([...seq].sort((a, b) => a - b))
    }
  })

  it('sendBatch resolves every record', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0 })
    const metas = await h.run(
      p.sendBatch([
        { topic: 't', value: 'a' },
        { topic: 't', value: 'b' },
      ]),
    )
    expect(metas.map((m) => m.offset)).toEqual([0, 1])
  })

  it('sendBatch: each slot holds its own record, across topics, partitions and batches', async () => {
    h = new Harness({ topics: { t: 3, u: 2 } })
    const p = h.producer({ lingerMs: 2, batchSize: 200 }) // small batches: a partition's records span several
    const records = Array.from({ length: 300 }, (_, i) => ({
      topic: i % 4 === 0 ? 'u' : 't',
      key: `k${i % 7}`,
      value: `v${i}`,
    }))
    const metas = await h.run(p.sendBatch(records))
    expect(metas).toHaveLength(300)
    for (let i = 0; i < 300; i++) {
      const m = metas[i]!
      expect(m.topic).toBe(records[i]!.topic)
      expect(text(h.cluster.records(m.topic, m.partition)[m.offset]!.value)).toBe(`v${i}`)
    }
  })

  it('sendBatch: a bad record rejects the call with its error, and the others are still sent (as Promise.all of send)', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0 })
    const call = p.sendBatch([
      { topic: 't', value: 'a' },
      { topic: 'bad topic name', value: 'b' },
      { topic: 't', value: 'c' },
    ])
    await expect(h.run(call)).rejects.toMatchObject({ code: 'INVALID_TOPIC' })
    await h.run(p.flush())
    expect(values('t', 0)).toEqual(['a', 'c'])
    await expect(p.sendBatch('nope' as never)).rejects.toMatchObject({ code: 'INVALID_RECORD' })
    await expect(p.sendBatch([])).resolves.toEqual([])
  })

  it('sendBatch: a broker refusal rejects the call once; after close() it rejects with PRODUCER_CLOSED', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0, retries: 0 })
    h.cluster.failNext(ApiKey.Produce, ErrorCode.INVALID_RECORD)
    await expect(
      h.run(
        p.sendBatch([
          { topic: 't', value: 'x' },
          { topic: 't', value: 'y' },
        ]),
      ),
    ).rejects.toMatchObject({ code: 'INVALID_RECORD' })
    await h.run(p.close())
    await expect(p.sendBatch([{ topic: 't', value: 'z' }])).rejects.toMatchObject({ code: 'PRODUCER_CLOSED' })
  })

  it('send() promises and produce() callbacks mixed in one batch each get their own outcome, acked or failed', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 5, retries: 0 })
    const seen: Array<string> = []
    const cb = (err: Error | null, meta: { offset: number } | null) => seen.push(err ? 'err' : `cb${meta!.offset}`)
    const first = [p.send({ topic: 't', value: 'a' }), p.send({ topic: 't', value: 'b' })]
    p.produce({ topic: 't', value: 'c' }, cb)
    const last = p.send({ topic: 't', value: 'd' })
    const metas = await h.run(Promise.all([...first, last]))
    expect(metas.map((m) => m.offset)).toEqual([0, 1, 3])
    expect(seen).toEqual(['cb2'])
    h.cluster.failNext(ApiKey.Produce, ErrorCode.INVALID_RECORD)
    const failing = [p.send({ topic: 't', value: 'e' }), p.send({ topic: 't', value: 'f' })]
    p.produce({ topic: 't', value: 'g' }, cb)
    const settled = await h.run(Promise.allSettled(failing))
    expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    expect((settled[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_RECORD' })
    await h.run(p.flush())
    expect(seen).toEqual(['cb2', 'err'])
  })

  it('uses the broker LogAppendTime when the topic says so', async () => {
    h = new Harness({ topics: { t: { partitions: 1, timestampType: 'LogAppendTime' } } })
    const p = h.producer({ lingerMs: 0 })
    const meta = await h.run(p.send({ topic: 't', value: 'x', timestamp: 5 }))
    expect(meta.timestamp).not.toBe(5)
    expect(meta.timestamp).toBe(h.cluster.records('t', 0)[0]!.timestamp)
    expect(meta.timestamp).toBe(h.cluster.batches('t', 0)[0]!.appendTime)
  })

  it('gzip batches are decoded by the broker', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0, compression: 'gzip' })
    const big = 'z'.repeat(5000)
    const metas = await h.runRealtime(
      Promise.all([p.send({ topic: 't', value: big }), p.send({ topic: 't', value: 'small' })]),
    )
    expect(metas.map((m) => m.offset)).toEqual([0, 1])
    expect(values('t', 0)).toEqual([big, 'small'])
    const batches = h.cluster.batches('t', 0)
    expect(batches.every((b) => b.codecId === 1)).toBe(true)
    expect(batches[0]!.sizeInBytes).toBeLessThan(1000)
  })

  it('a broker without gzip refuses the batch with UNSUPPORTED_COMPRESSION_TYPE', async () => {
    h = new Harness({ topics: { t: 1 }, codecs: [] })
    const p = h.producer({ lingerMs: 0, compression: 'gzip' })
    const err = await h.runRealtime(p.send({ topic: 't', value: 'x' })).then(
      () => null,
      (e) => e,
    )
    expect(err.code).toBe('UNSUPPORTED_COMPRESSION_TYPE')
  })

  it('negotiates older versions with an older broker (Produce v8, Metadata v8: classic encoding)', async () => {
    h = new Harness({
      topics: { t: 1 },
      apiVersions: {
        [ApiKey.Produce]: [3, 8],
        [ApiKey.Metadata]: [1, 8],
        [ApiKey.ApiVersions]: [0, 2],
        [ApiKey.InitProducerId]: [0, 1],
      },
    })
    const p = h.producer({ lingerMs: 0 })
    expect(await h.run(p.send({ topic: 't', value: 'x' }))).toMatchObject({ offset: 0 })
    const versions = (key: number) => [
      ...new Set(h.cluster.requests.filter((r) => r.apiKey === key).map((r) => r.apiVersion)),
    ]
    expect(versions(ApiKey.Produce)).toEqual([8])
    expect(versions(ApiKey.Metadata)).toEqual([8])
    expect(versions(ApiKey.InitProducerId)).toEqual([1])
    // ApiVersions v3 was refused (UNSUPPORTED_VERSION in v0 layout), then v2 was used
    expect(versions(ApiKey.ApiVersions)).toEqual([3, 2])
  })

  it('fails fast with UNSUPPORTED_VERSION when no Produce version is common', async () => {
    h = new Harness({ topics: { t: 1 }, apiVersions: { [ApiKey.Produce]: [13, 13] } })
    const p = h.producer({ lingerMs: 0, deliveryTimeoutMs: 5000, requestTimeoutMs: 1000 })
    const err = await h.rejection(p.send({ topic: 't', value: 'x' }))
    expect(['UNSUPPORTED_VERSION', 'DELIVERY_TIMEOUT']).toContain(err.code)
    expect(h.cluster.requestCount(ApiKey.Produce)).toBe(0)
  })

  it('a Produce response delayed on the cluster clock arrives after that much fake time', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0 })
    await h.run(p.send({ topic: 't', value: 'warm-up' }))
    h.cluster.delayNext(ApiKey.Produce, 700)
    const start = h.clock.now()
    let done = false
    const s = p.send({ topic: 't', value: 'x' }).then((m) => ((done = true), m))
    await h.advance(699)
    expect(done).toBe(false)
    expect(h.cluster.records('t', 0)).toHaveLength(2) // appended, the answer is what waits
    await h.advance(1)
    expect(done).toBe(true)
    expect((await s).offset).toBe(1)
    expect(h.clock.now() - start).toBe(700)
  })
})

describe('linger and batch size', () => {
  it('a batch waits lingerMs of fake time', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 50 })
    await h.run(p.partitionsFor('t'))
    await h.advance(1000) // producer id and connections ready
    const before = h.cluster.requestCount(ApiKey.Produce)
    const s = p.send({ topic: 't', value: 'a' })
    await h.advance(30)
    const s2 = p.send({ topic: 't', value: 'b' })
    await h.advance(19)
    expect(h.cluster.requestCount(ApiKey.Produce)).toBe(before)
    await h.advance(1)
    expect(h.cluster.requestCount(ApiKey.Produce)).toBe(before + 1)
    expect((await s).offset).toBe(0)
    expect((await s2).offset).toBe(1)
    expect(h.cluster.batches('t', 0)).toHaveLength(1) // both went in the one batch
  })

  it('a full batch goes at once, without waiting for linger', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 10_000, batchSize: 500 })
    await h.run(p.partitionsFor('t'))
    await h.advance(1000)
    const sends = Array.from({ length: 6 }, (_, i) => p.send({ topic: 't', value: 'x'.repeat(100) + i }))
    await h.settle()
    await h.settle()
    // ~4 records of ~120 bytes fill a 500-byte batch: that one is sent with no fake time passing
    expect(h.cluster.requestCount(ApiKey.Produce)).toBe(1)
    const first = h.cluster.batches('t', 0)[0]!
    expect(first.recordCount).toBeGreaterThanOrEqual(3)
    expect(first.recordCount).toBeLessThan(6)
    // the rest waits for linger
    await h.advance(9_000)
    expect(h.cluster.requestCount(ApiKey.Produce)).toBe(1)
    await h.advance(1_000)
    const metas = await Promise.all(sends)
    expect(metas.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('flush sends lingering batches at once and resolves when they are acknowledged', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 60_000 })
    const sends = ['a', 'b', 'c'].map((v) => p.send({ topic: 't', value: v }))
    const start = h.clock.now()
    await h.run(p.flush())
    expect(h.clock.now() - start).toBeLessThan(1000)
    expect(values('t', 0)).toEqual(['a', 'b', 'c'])
    expect((await Promise.all(sends)).map((m) => m.offset)).toEqual([0, 1, 2])
  })
})

describe('acks', () => {
  it('acks=0: sends resolve with offset -1 and the records land', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ acks: 0, lingerMs: 0 })
    const metas = await h.run(Promise.all(['a', 'b', 'c'].map((v) => p.send({ topic: 't', value: v }))))
    expect(metas.map((m) => m.offset)).toEqual([-1, -1, -1])
    expect(values('t', 0)).toEqual(['a', 'b', 'c'])
    // no idempotence with acks=0
    expect(h.cluster.requestCount(ApiKey.InitProducerId)).toBe(0)
    expect(h.cluster.records('t', 0).every((r) => r.producerId === -1 && r.sequence === -1)).toBe(true)
  })

  it('acks=0: a refused batch is lost silently; the broker hangs up and the producer reconnects', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ acks: 0, lingerMs: 0 })
    await h.run(p.send({ topic: 't', value: 'a' }))
    h.cluster.failNext(ApiKey.Produce, ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect(await h.run(p.send({ topic: 't', value: 'lost' }))).toMatchObject({ offset: -1 })
    await h.advance(1000)
    expect(await h.run(p.send({ topic: 't', value: 'c' }))).toMatchObject({ offset: -1 })
    expect(values('t', 0)).toEqual(['a', 'c'])
    expect(h.cluster.requestCount(ApiKey.ApiVersions)).toBe(2)
  })

  it('acks=1 without idempotence', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ acks: 1, lingerMs: 0 })
    expect(await h.run(p.send({ topic: 't', value: 'a' }))).toMatchObject({ offset: 0 })
    expect(h.cluster.requestCount(ApiKey.InitProducerId)).toBe(0)
  })
})

describe('validation', () => {
  it.each([
    ['', 'empty'],
    ['.', 'dot'],
    ['..', 'dots'],
    ['a b', 'space'],
    ['x'.repeat(250), 'too long'],
    ['tö', 'non-ASCII'],
  ])('topic %j (%s) → INVALID_TOPIC, at once', async (topic) => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer()
    await expect(p.send({ topic, value: 'x' })).rejects.toMatchObject({ code: 'INVALID_TOPIC' })
    expect(h.cluster.requests).toHaveLength(0)
  })

  it('a non-string topic → INVALID_TOPIC', async () => {
    h = new Harness()
    const p = h.producer()
    await expect(p.send({ topic: 42 as unknown as string, value: 'x' })).rejects.toMatchObject({
      code: 'INVALID_TOPIC',
    })
  })

  it('a serializer that throws → SERIALIZATION_ERROR with the cause; other records are unaffected', async () => {
    h = new Harness({ topics: { t: 1 } })
    const boom = new Error('boom')
    const p = h.producer<string, { n: number }>({
      lingerMs: 0,
      valueSerializer: (v, topic) => {
        if (v.n < 0) throw boom
        return jsonSerializer(v, topic)
      },
    })
    const ok1 = p.send({ topic: 't', value: { n: 1 } })
    const bad = p.send({ topic: 't', value: { n: -1 } })
    const ok2 = p.send({ topic: 't', value: { n: 2 } })
    const err = await h.rejection(bad)
    expect(err).toBeInstanceOf(SerializationError)
    expect(err.code).toBe('SERIALIZATION_ERROR')
    expect(err.cause).toBe(boom)
    expect((await h.run(Promise.all([ok1, ok2]))).map((m) => m.offset)).toEqual([0, 1])
    expect(values('t', 0)).toEqual(['{"n":1}', '{"n":2}'])
  })

  it('a serializer returning something other than bytes → SERIALIZATION_ERROR', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer<string, number>({ valueSerializer: (() => 'text') as never })
    await expect(p.send({ topic: 't', value: 1 })).rejects.toMatchObject({ code: 'SERIALIZATION_ERROR' })
    const q = h.producer<string, unknown>()
    await expect(q.send({ topic: 't', value: { not: 'bytes' } })).rejects.toMatchObject({ code: 'SERIALIZATION_ERROR' })
  })

  it('a record over maxRequestSize → RECORD_TOO_LARGE at once; the others go through', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 0, maxRequestSize: 1000 })
    const small1 = p.send({ topic: 't', value: 'a' })
    let settled: unknown = null
    const big = p.send({ topic: 't', value: 'x'.repeat(1000) })
    big.catch((e) => (settled = e))
    const small2 = p.send({ topic: 't', value: 'b' })
    await Promise.resolve()
    await Promise.resolve()
    expect(settled).toMatchObject({ code: 'RECORD_TOO_LARGE' })
    expect((await h.run(Promise.all([small1, small2]))).map((m) => m.offset)).toEqual([0, 1])
    expect(values('t', 0)).toEqual(['a', 'b'])
  })

  it('a record over bufferMemory → RECORD_TOO_LARGE', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ bufferMemory: 500 })
    await expect(p.send({ topic: 't', value: 'x'.repeat(600) })).rejects.toMatchObject({ code: 'RECORD_TOO_LARGE' })
  })

  it('a batch over the broker max.message.bytes → MESSAGE_TOO_LARGE', async () => {
    h = new Harness({ topics: { t: { partitions: 1, maxMessageBytes: 500 } } })
    const p = h.producer({ lingerMs: 0 })
    const err = await h.rejection(p.send({ topic: 't', value: 'x'.repeat(800) }))
    expect(err.code).toBe('MESSAGE_TOO_LARGE')
    expect(values('t', 0)).toEqual([])
  })

  it('an explicit partition out of range → INVALID_PARTITION; a negative one too', async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer()
    await expect(h.run(p.send({ topic: 't', partition: 2, value: 'x' }))).rejects.toMatchObject({
      code: 'INVALID_PARTITION',
    })
    await expect(p.send({ topic: 't', partition: -1, value: 'x' })).rejects.toMatchObject({ code: 'INVALID_PARTITION' })
    await expect(p.send({ topic: 't', partition: 0.5, value: 'x' })).rejects.toMatchObject({
      code: 'INVALID_PARTITION',
    })
  })
})

describe('flush and close', () => {
  it('close() waits for pending records, then later sends fail with PRODUCER_CLOSED', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 100 })
    const sends = ['a', 'b'].map((v) => p.send({ topic: 't', value: v }))
    await h.run(p.close())
    expect((await Promise.all(sends)).map((m) => m.offset)).toEqual([0, 1])
    await expect(p.send({ topic: 't', value: 'c' })).rejects.toMatchObject({ code: 'PRODUCER_CLOSED' })
    expect(h.cluster.connectionCount()).toBe(0)
  })

  it('close({ timeoutMs }) fails what is left with PRODUCER_CLOSED after the timeout', async () => {
    h = new Harness({ topics: { t: { partitions: 2, leaders: [1, -1] } } })
    const p = h.producer({ lingerMs: 0 })
    const ok = p.send({ topic: 't', partition: 0, value: 'ok' })
    const stuck = p.send({ topic: 't', partition: 1, value: 'stuck' })
    expect(await h.run(ok)).toMatchObject({ offset: 0 })
    const start = h.clock.now()
    const closing = p.close({ timeoutMs: 2000 })
    const err = await h.rejection(stuck)
    expect(err.code).toBe('PRODUCER_CLOSED')
    expect(h.clock.now() - start).toBe(2000)
    await h.run(closing)
    await expect(p.send({ topic: 't', partition: 0, value: 'late' })).rejects.toMatchObject({ code: 'PRODUCER_CLOSED' })
    await expect(p.flush()).resolves.toBeUndefined()
    await expect(p.close()).resolves.toBeUndefined()
  })

  it('close({ timeoutMs: 0 }) also fails sends still waiting for metadata', async () => {
    h = new Harness()
    const p = h.producer({ maxBlockMs: 60_000 })
    const waiting = p.send({ topic: 'missing', value: 'x' })
    const outcome = waiting.then(
      () => null,
      (e) => e,
    )
    await h.advance(100)
    await h.run(p.close({ timeoutMs: 0 }))
    expect(await outcome).toMatchObject({ code: 'PRODUCER_CLOSED' })
  })

  it('flush() covers records sent before it, not after', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 60_000 })
    const before = p.send({ topic: 't', value: 'a' })
    const flushed = p.flush()
    const after = p.send({ topic: 't', value: 'b' })
    let afterDone = false
    void after.then(
      () => (afterDone = true),
      () => {},
    )
    await h.run(flushed)
    expect(await before).toMatchObject({ offset: 0 })
    // 'b' may ride along in the flushed batch; if not, it waits for linger
    if (!afterDone) expect(values('t', 0)).toEqual(['a'])
  })
})
