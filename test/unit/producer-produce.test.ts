// produce(record, callback) + ready(): the callback API (Java's send(record, callback)) and its backpressure signal.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Harness, text } from '../helpers/producer-harness.js'
import { InvalidArgumentError, ProducerClosedError } from '../../src/errors.js'
import type { RecordMetadata } from '../../src/index.js'
import { ApiKey } from '../../src/testing/index.js'

let h: Harness
afterEach(async () => {
  vi.unstubAllGlobals()
  await h?.dispose()
})

const values = (topic: string, partition: number) => h.cluster.records(topic, partition).map((r) => text(r.value))
/** 100-byte values: each record reserves 136 bytes of bufferMemory (the producer's size estimate). */
const v100 = (i: number) => String(i).padStart(100, '.')

type Outcome = { err: Error | null; meta: RecordMetadata | null }

describe('produce(record, callback)', () => {
  it('calls back once per record with its metadata, in order, never inside the call', async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer({ lingerMs: 5 })
    await h.run(p.partitionsFor('t'))
    const outcomes: Outcome[] = []
    let inCall = false
    const calledInside: number[] = []
    for (let i = 0; i < 20; i++) {
      inCall = true
      const accepted = p.produce({ topic: 't', partition: i % 2, value: `v${i}` }, (err, meta) => {
        if (inCall) calledInside.push(i)
        outcomes[i] = { err, meta }
      })
      inCall = false
      expect(accepted).toBe(true)
    }
    await h.run(p.flush())
    expect(calledInside).toEqual([])
    expect(outcomes.map((o) => o.err)).toEqual(Array(20).fill(null))
    expect(outcomes.map((o) => [o.meta!.partition, o.meta!.offset])).toEqual(
      Array.from({ length: 20 }, (_, i) => [i % 2, Math.floor(i / 2)]),
    )
    expect(values('t', 0)).toEqual(Array.from({ length: 10 }, (_, i) => `v${2 * i}`))
  })

  it('one shared callback and mixed timestamps in a batch: each record still gets its own metadata', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 5 })
    await h.run(p.partitionsFor('t'))
    const metas: RecordMetadata[] = []
    const shared = (err: Error | null, meta: RecordMetadata | null) =>
      err ? metas.push(err as any) : metas.push(meta!)
    const stamps = [1_000, 1_000, 2_000, 1_000, 3_000]
    stamps.forEach((timestamp, i) => p.produce({ topic: 't', value: `v${i}`, timestamp }, shared))
    let own: RecordMetadata | null = null
    p.produce({ topic: 't', value: 'v5', timestamp: 3_000 }, (_e, m) => (own = m)) // a different callback, mid-batch
    p.produce({ topic: 't', value: 'v6', timestamp: 4_000 }, shared)
    await h.run(p.flush())
    expect(metas.map((m) => [m.offset, m.timestamp])).toEqual([
      [0, 1_000],
      [1, 1_000],
      [2, 2_000],
      [3, 1_000],
      [4, 3_000],
      [6, 4_000],
    ])
    expect(own).toEqual({ topic: 't', partition: 0, offset: 5, timestamp: 3_000 })
    expect(h.cluster.records('t', 0).map((r) => r.timestamp)).toEqual([...stamps, 3_000, 4_000])
  })

  it('random timestamps and callbacks over several batches: every record gets its own offset and timestamp', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 5, batchSize: 1024 })
    await h.run(p.partitionsFor('t'))
    let seed = 7
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const N = 300
    const stamps = Array.from({ length: N }, () => 1_000 + Math.floor(rnd() * 4) * (rnd() < 0.5 ? 1 : 1_000_000))
    const seen: Array<[number, number, number]> = [] // [record, offset, timestamp]
    const shared = (i: number) => (err: Error | null, meta: RecordMetadata | null) => {
      if (err) throw err
      seen.push([i, meta!.offset, meta!.timestamp])
    }
    const common = [shared(-1), shared(-2)]
    for (let i = 0; i < N; i++) {
      // runs of one shared callback, broken by callbacks of their own: both forms of a batch's per-record state
      const cb = rnd() < 0.7 ? common[Math.floor(rnd() * 2)]! : shared(i)
      p.produce({ topic: 't', value: v100(i), timestamp: stamps[i] }, cb)
    }
    await h.run(p.flush())
    expect(seen).toHaveLength(N)
    const byOffset = [...seen].sort((a, b) => a[1] - b[1])
    expect(byOffset.map((s) => s[1])).toEqual(Array.from({ length: N }, (_, i) => i))
    expect(byOffset.map((s) => s[2])).toEqual(stamps)
    for (const [i, offset] of seen) if (i >= 0) expect(offset).toBe(i)
    expect(h.cluster.records('t', 0).map((r) => r.timestamp)).toEqual(stamps)
    expect(h.cluster.batches('t', 0).length).toBeGreaterThan(10)
  })

  it('returns false when bufferMemory is full; a loop that awaits ready() then keeps at most bufferMemory queued', async () => {
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ bufferMemory: 1000, lingerMs: 0, maxBlockMs: 60_000 })
    await h.run(p.partitionsFor('t'))
    const N = 200
    const offsets: number[] = []
    let refusals = 0
    const loop = (async () => {
      for (let i = 0; i < N; i++) {
        const accepted = p.produce({ topic: 't', value: v100(i) }, (err, meta) => {
          if (err) throw err
          offsets.push(meta!.offset)
        })
        if (!accepted) {
          refusals++
          await p.ready()
        }
      }
      await p.flush()
    })()
    await h.run(loop, 60_000)
    // 1000 bytes hold 7 records of 136: the loop had to wait for room, many times
    expect(refusals).toBeGreaterThan(N / 8)
    expect(offsets).toEqual(Array.from({ length: N }, (_, i) => i))
    expect(values('t', 0)).toEqual(Array.from({ length: N }, (_, i) => v100(i)))
  })

  it('ready() resolves at once when nothing waits, and after the waiting sends went in otherwise', async () => {
    h = new Harness({ topics: { t: { partitions: 1, leaders: [-1] } } })
    const p = h.producer({ bufferMemory: 300, lingerMs: 0, maxBlockMs: 60_000 })
    await h.run(p.partitionsFor('t'))
    await h.run(p.ready())
    expect(p.produce({ topic: 't', value: v100(0) })).toBe(true)
    expect(p.produce({ topic: 't', value: v100(1) })).toBe(true)
    expect(p.produce({ topic: 't', value: v100(2) })).toBe(false) // no room: it waits in line
    expect(p.produce({ topic: 't', value: v100(3) })).toBe(false) // behind it, even if it would fit
    let ready = false
    void p.ready().then(() => (ready = true))
    await h.advance(5000)
    expect(ready).toBe(false) // the partition has no leader: nothing drains
    h.cluster.moveLeader('t', 0, 1)
    await h.run(p.flush(), 30_000)
    expect(ready).toBe(true)
    expect(values('t', 0)).toEqual([0, 1, 2, 3].map(v100))
  })

  it('bad input and a closed producer throw typed errors at once; later refusals go to the callback', async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer()
    await h.run(p.partitionsFor('t'))
    expect(() => p.produce({ topic: 'bad topic!', value: 'x' })).toThrow(InvalidArgumentError)
    expect(() => p.produce({ topic: 't', value: 42 as any })).toThrow(
      expect.objectContaining({ code: 'SERIALIZATION_ERROR' }),
    )
    expect(() => p.produce({ topic: 't', value: 'x' }, 'nope' as any)).toThrow(InvalidArgumentError)
    // partition 5 of a 2-partition topic is only known to be wrong against metadata: the callback gets it, later
    const seen: Outcome[] = []
    p.produce({ topic: 't', partition: 5, value: 'x' }, (err, meta) => seen.push({ err, meta }))
    expect(seen).toEqual([])
    p.produce({ topic: 't', value: 'fine' }, (err, meta) => seen.push({ err, meta }))
    await h.run(p.flush())
    expect(seen[0]!.err).toMatchObject({ code: 'INVALID_PARTITION' })
    expect(seen[1]!.err).toBeNull()
    expect(text(h.cluster.records('t', seen[1]!.meta!.partition)[0]!.value)).toBe('fine')
    await h.run(p.close())
    expect(() => p.produce({ topic: 't', value: 'late' })).toThrow(ProducerClosedError)
  })

  it("a tag comes back as the callback's third argument: acked, failed by the broker, and refused before a batch", async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer({ lingerMs: 5, retries: 0, enableIdempotence: false })
    await h.run(p.partitionsFor('t'))
    const seen = new Map<unknown, Outcome>()
    const one = (err: Error | null, meta: RecordMetadata | null, tag: unknown) => {
      expect(seen.has(tag), `tag ${String(tag)} called back twice`).toBe(false)
      seen.set(tag, { err, meta })
    }
    const key = { any: 'value' }
    // interleaved partitions, a tag of any type, and one record without a tag
    for (let i = 0; i < 6; i++) p.produce({ topic: 't', partition: i % 2, value: `v${i}` }, one, i)
    p.produce({ topic: 't', partition: 0, value: 'object' }, one, key)
    p.produce({ topic: 't', partition: 1, value: 'untagged' }, one)
    await h.run(p.flush())
    expect([...seen.keys()]).toEqual(expect.arrayContaining([0, 1, 2, 3, 4, 5, key, undefined]))
    for (let i = 0; i < 6; i++) expect(seen.get(i)!.meta).toMatchObject({ partition: i % 2, offset: Math.floor(i / 2) })
    expect(seen.get(key)!.meta).toMatchObject({ partition: 0, offset: 3 })
    expect(seen.get(undefined)!.meta).toMatchObject({ partition: 1, offset: 3 })
    // a broker error fails the batch: each record's callback still gets its own tag
    seen.clear()
    h.cluster.failNext(ApiKey.Produce, 87) // INVALID_RECORD: not retriable
    for (let i = 10; i < 13; i++) p.produce({ topic: 't', partition: 0, value: `x${i}` }, one, i)
    await h.run(p.flush())
    expect([...seen.keys()].sort()).toEqual([10, 11, 12])
    for (const o of seen.values()) expect(o.err).toMatchObject({ code: 'INVALID_RECORD' })
    // refused before it reached a batch (a partition the topic does not have)
    seen.clear()
    p.produce({ topic: 't', partition: 9, value: 'nowhere' }, one, 'refused')
    await h.run(p.flush())
    expect(seen.get('refused')!.err).toMatchObject({ code: 'INVALID_PARTITION' })
  })

  it('a callback that throws does not stop the others; its error is rethrown on its own', async () => {
    const rethrown: unknown[] = []
    const realQueueMicrotask = globalThis.queueMicrotask
    vi.stubGlobal('queueMicrotask', (fn: () => void) =>
      realQueueMicrotask(() => {
        try {
          fn()
        } catch (err) {
          rethrown.push(err)
        }
      }),
    )
    h = new Harness({ topics: { t: 1 } })
    const p = h.producer({ lingerMs: 5 })
    await h.run(p.partitionsFor('t'))
    const delivered: number[] = []
    for (let i = 0; i < 5; i++) {
      p.produce({ topic: 't', value: `v${i}` }, (_err, meta) => {
        if (i === 1) throw new Error('user bug')
        delivered.push(meta!.offset)
      })
    }
    const viaSend = p.send({ topic: 't', value: 'v5' })
    await h.run(p.flush())
    expect(delivered).toEqual([0, 2, 3, 4])
    expect((await h.run(viaSend)).offset).toBe(5)
    expect(rethrown).toEqual([new Error('user bug')])
  })
})

describe('turns: produce() asks a synchronous loop to let the sender run', () => {
  // batchSize 1024 holds 7 records of 100 bytes; 2 partitions and 2 requests in flight make the turn mark 8 full batches
  const options = { batchSize: 1024, lingerMs: 60_000, bufferMemory: 1 << 20, maxInFlightRequestsPerConnection: 2 }

  it('false once full batches pile up; awaiting ready() sends them while the loop still has records to go', async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer(options)
    await h.run(p.partitionsFor('t'))
    const N = 400
    let falses = 0
    let firstFalseAt = -1
    const requestsWhenAppended: number[] = []
    const offsets: number[][] = [[], []]
    const loop = (async () => {
      for (let i = 0; i < N; i++) {
        const accepted = p.produce({ topic: 't', partition: i % 2, value: v100(i) }, (err, meta) => {
          if (err) throw err
          offsets[meta!.partition]!.push(meta!.offset)
        })
        if (!accepted) {
          if (firstFalseAt < 0) firstFalseAt = i
          falses++
          await p.ready()
        }
      }
      requestsWhenAppended.push(h.cluster.requestCount(ApiKey.Produce))
      await p.flush()
    })()
    await h.run(loop, 60_000)
    // the buffer had room for all 400 records: without turns produce() never says false and nothing is sent
    // before the loop ends (the sender runs between tasks)
    expect(firstFalseAt).toBeGreaterThanOrEqual(8 * 7 - 1)
    expect(firstFalseAt).toBeLessThan(10 * 7)
    expect(falses).toBeGreaterThan(5)
    expect(requestsWhenAppended[0]).toBeGreaterThan(10)
    // every record kept, in order (a false return is not a refusal)
    for (const partition of [0, 1]) {
      expect(offsets[partition]).toEqual(Array.from({ length: N / 2 }, (_, i) => i))
      expect(values('t', partition)).toEqual(Array.from({ length: N / 2 }, (_, i) => v100(2 * i + partition)))
    }
  })

  it('while the window of requests is full, ready() waits for a response; without requests in flight it does not', async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer(options)
    await h.run(p.partitionsFor('t'))
    h.cluster.delayNext(ApiKey.Produce, 1_000, { count: Infinity })
    let i = 0
    while (p.produce({ topic: 't', partition: i % 2, value: v100(i) })) i++
    // a loop that ignores the signal: 10 more full batches wait
    for (let k = 1; k <= 70; k++) p.produce({ topic: 't', partition: (i + k) % 2, value: v100(i + k) })
    const total = i + 71
    let ready = false
    const turn = p.ready().then(() => (ready = true))
    await h.settle()
    // the pass filled the window of two requests and full batches still wait: no turn yet
    expect(ready).toBe(false)
    await h.advance(1_000)
    expect(ready).toBe(false) // one response let one more request go; more than the mark still waits
    await h.run(turn, 60_000)
    // the turn came once responses had taken all but fewer than 8 full batches (+ 2 requests of 2 in flight, 1 open)
    expect(h.cluster.records('t').length).toBeGreaterThanOrEqual(total - 7 * (8 + 4 + 1))
    h.cluster.clearFaults()
    await h.run(p.flush())
    expect(h.cluster.records('t').length).toBe(total)

    // a send() loop that ignores the signal loses nothing either, and ready() does not hang when nothing is in flight
    const sends = Array.from({ length: 100 }, (_, k) => p.send({ topic: 't', partition: k % 2, value: v100(k) }))
    await h.run(p.ready())
    await h.run(Promise.all(sends))
    await h.run(p.ready())
    expect(h.cluster.records('t').length).toBe(total + 100)
  })

  it('a producer that fails or closes while a loop waits for its turn lets ready() resolve', async () => {
    h = new Harness({ topics: { t: 2 } })
    const p = h.producer({ ...options, lingerMs: 5, deliveryTimeoutMs: 5_000, requestTimeoutMs: 2_000 })
    await h.run(p.partitionsFor('t'))
    h.cluster.stallNext(ApiKey.Produce, { count: Infinity })
    let i = 0
    while (p.produce({ topic: 't', partition: i % 2, value: v100(i) }, () => {})) i++
    const waiting = p.ready()
    await h.run(p.close({ timeoutMs: 100 }))
    await h.run(waiting)
  })
})
