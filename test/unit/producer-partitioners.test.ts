import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { Harness, text } from '../helpers/producer-harness.js'
import type { PartitionerFunction } from '../../src/producer/partitioners.js'

let h: Harness
afterEach(async () => {
  await h?.dispose()
})

/** Which partition each value landed in, according to the broker. */
function placement(topic: string): Map<string, number> {
  return new Map(h.cluster.records(topic).map((r) => [text(r.value)!, r.partition]))
}

describe('partitioners', () => {
  it('default: keyed records go to toPositive(murmur2(key)) % partitions (Java UtilsTest vectors)', async () => {
    h = new Harness({ brokers: 3, topics: { t: 6 } })
    const p = h.producer({ lingerMs: 0 })
    // murmur2 values from Kafka's UtilsTest.testMurmur2
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ]
    const metas = await h.run(Promise.all(vectors.map(([key]) => p.send({ topic: 't', key, value: key }))))
    const where = placement('t')
    vectors.forEach(([key, hash], i) => {
      const expected = (hash & 0x7fffffff) % 6
      expect(metas[i]!.partition).toBe(expected)
      expect(where.get(key)).toBe(expected)
    })
  })

  it('default: the same key always lands in the same partition, in send order', async () => {
    h = new Harness({ topics: { t: 5 } })
    const p = h.producer({ lingerMs: 1 })
    const sends = Array.from({ length: 60 }, (_, i) => p.send({ topic: 't', key: `k${i % 4}`, value: `${i % 4}:${i}` }))
    const metas = await h.run(Promise.all(sends))
    for (let k = 0; k < 4; k++) {
      const parts = new Set(metas.filter((_, i) => i % 4 === k).map((m) => m.partition))
      expect(parts.size).toBe(1)
      const [part] = parts
      const mine = h.cluster
        .records('t', part!)
        .map((r) => text(r.value)!)
        .filter((v) => v.startsWith(`${k}:`))
      expect(mine).toEqual(Array.from({ length: 15 }, (_, j) => `${k}:${j * 4 + k}`))
    }
  })

  it('default without key: sticky to one partition until batchSize bytes went to it, then another one', async () => {
    h = new Harness({ topics: { t: 4 } })
    const p = h.producer({ lingerMs: 0, batchSize: 1000 })
    await h.run(p.partitionsFor('t'))
    // 100-byte values are 136 bytes each for the partitioner: 8 of them reach batchSize
    const metas = await h.run(
      Promise.all(Array.from({ length: 40 }, (_, i) => p.send({ topic: 't', value: String(i).padStart(100, '.') }))),
    )
    const runs: Array<{ partition: number; length: number }> = []
    for (const m of metas) {
      const last = runs[runs.length - 1]
      if (last && last.partition === m.partition) last.length++
      else runs.push({ partition: m.partition, length: 1 })
    }
    expect(runs.map((r) => r.length)).toEqual([8, 8, 8, 8, 8])
    expect(new Set(runs.map((r) => r.partition)).size).toBeGreaterThan(1)
  })

  it('default without key: sticky picks only partitions that have a leader', async () => {
    h = new Harness({ topics: { t: { partitions: 4, leaders: [-1, 1, -1, 1] } } })
    const p = h.producer({ lingerMs: 0, batchSize: 200 })
    const metas = await h.run(
      Promise.all(Array.from({ length: 30 }, (_, i) => p.send({ topic: 't', value: String(i).padStart(100, '.') }))),
    )
    expect(new Set(metas.map((m) => m.partition))).toEqual(new Set([1, 3]))
  })

  it('roundRobin cycles over the partitions with a leader', async () => {
    h = new Harness({ topics: { t: 3, u: { partitions: 3, leaders: [1, -1, 1] } } })
    const p = h.producer({ lingerMs: 0, partitioner: 'roundRobin' })
    const t = await h.run(
      Promise.all(Array.from({ length: 6 }, (_, i) => p.send({ topic: 't', key: 'same', value: `${i}` }))),
    )
    expect(t.map((m) => m.partition)).toEqual([0, 1, 2, 0, 1, 2])
    const u = await h.run(Promise.all(Array.from({ length: 4 }, (_, i) => p.send({ topic: 'u', value: `${i}` }))))
    expect(u.map((m) => m.partition)).toEqual([0, 2, 0, 2])
  })

  it('sha256 (async): placement by the first 4 digest bytes, and send order is kept across the async wait', async () => {
    h = new Harness({ topics: { t: 4 } })
    const p = h.producer({ lingerMs: 0, partitioner: 'sha256' })
    const expected = (key: string) => (createHash('sha256').update(key).digest().readUInt32BE(0) & 0x7fffffff) % 4
    const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`)
    const resolvedOrder: number[] = []
    // keyed (async partition) and explicit-partition sends interleaved: the broker must see them in call order
    const sends = keys.flatMap((key, i) => [
      p.send({ topic: 't', key, value: `k${i}` }).then((m) => (resolvedOrder.push(2 * i), m)),
      p.send({ topic: 't', partition: expected(key), value: `e${i}` }).then((m) => (resolvedOrder.push(2 * i + 1), m)),
    ])
    const metas = await h.runRealtime(Promise.all(sends))
    keys.forEach((key, i) => {
      expect(metas[2 * i]!.partition).toBe(expected(key))
      expect(metas[2 * i + 1]!.offset).toBe(metas[2 * i]!.offset + 1)
    })
    for (let part = 0; part < 4; part++) {
      const vs = h.cluster.records('t', part).map((r) => text(r.value)!)
      const idx = vs.map((v) => Number(v.slice(1)) * 2 + (v[0] === 'e' ? 1 : 0))
      expect(idx).toEqual([...idx].sort((a, b) => a - b))
    }
    // records without a key fall back to sticky
    expect(await h.runRealtime(p.send({ topic: 't', value: 'no-key' }))).toMatchObject({ topic: 't' })
  })

  it('a custom partitioner, sync or async, is used as given', async () => {
    h = new Harness({ topics: { t: 5 } })
    const seen: Array<[string | null, number]> = []
    const last: PartitionerFunction = (record, count) => {
      seen.push([text(record.key), count])
      return count - 1
    }
    const p = h.producer({ lingerMs: 0, partitioner: last })
    expect(await h.run(p.send({ topic: 't', key: 'a', value: 'x' }))).toMatchObject({ partition: 4 })
    expect(seen).toEqual([['a', 5]])
    const q = h.producer({ lingerMs: 0, partitioner: async (r) => (text(r.value) === 'x' ? 2 : 3) })
    const metas = await h.run(Promise.all([q.send({ topic: 't', value: 'x' }), q.send({ topic: 't', value: 'y' })]))
    expect(metas.map((m) => m.partition)).toEqual([2, 3])
  })

  it('a custom partitioner returning an invalid partition → INVALID_PARTITION; the next sends are fine', async () => {
    h = new Harness({ topics: { t: 2 } })
    let answer: unknown = 7
    const p = h.producer({ lingerMs: 0, partitioner: () => answer as number })
    expect(await h.rejection(p.send({ topic: 't', value: 'x' }))).toMatchObject({ code: 'INVALID_PARTITION' })
    answer = 0.5
    expect(await h.rejection(p.send({ topic: 't', value: 'x' }))).toMatchObject({ code: 'INVALID_PARTITION' })
    answer = Promise.resolve(-1)
    expect(await h.rejection(p.send({ topic: 't', value: 'x' }))).toMatchObject({ code: 'INVALID_PARTITION' })
    answer = undefined
    expect(await h.rejection(p.send({ topic: 't', value: 'x' }), 10)).toMatchObject({ code: 'INVALID_PARTITION' })
    answer = '1'
    expect(await h.rejection(p.send({ topic: 't', value: 'x' }), 10)).toMatchObject({ code: 'INVALID_PARTITION' })
    answer = 1
    expect(await h.run(p.send({ topic: 't', value: 'ok' }))).toMatchObject({ partition: 1, offset: 0 })
  })

  it('a custom partitioner that throws (sync or async) → PARTITIONER_FAILED; sends before and after go through', async () => {
    h = new Harness({ topics: { t: 2 } })
    const boom = new Error('boom')
    const p = h.producer({
      lingerMs: 0,
      partitioner: (r) => {
        const v = text(r.value)
        if (v === 'sync-throw') throw boom
        if (v === 'async-throw') return Promise.reject(boom)
        return 0
      },
    })
    await h.run(p.partitionsFor('t'))
    const before = p.send({ topic: 't', value: 'before' })
    const syncThrow = p.send({ topic: 't', value: 'sync-throw' })
    const asyncThrow = p.send({ topic: 't', value: 'async-throw' })
    const after = p.send({ topic: 't', value: 'after' })
    const [b, e1, e2, a] = await h.run(
      Promise.all(
        [before, syncThrow, asyncThrow, after].map((s) =>
          s.then(
            (m) => m,
            (e) => e,
          ),
        ),
      ),
    )
    expect(e1.code).toBe('PARTITIONER_FAILED')
    expect(e1.cause).toBe(boom)
    expect(e2.code).toBe('PARTITIONER_FAILED')
    expect(e2.cause).toBe(boom)
    expect([b.offset, a.offset]).toEqual([0, 1])
  })
})
