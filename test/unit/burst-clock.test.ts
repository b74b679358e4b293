// burstClock: the per-record time source. One clock read serves a burst of calls in one synchronous run; a slow run
// reads every time; the next microtask starts afresh. Driven by a fake clock and a hand-run "microtask".
import { describe, expect, it } from 'vitest'
import { burstClock } from '../../src/clock.js'

function setup(burst = 4) {
  let t = 1_000
  let reads = 0
  const pending: Array<() => void> = []
  const now = burstClock(
    () => {
      reads++
      return t
    },
    burst,
    (fn) => pending.push(fn),
  )
  return {
    now,
    reads: () => reads,
    advance: (ms: number) => (t += ms),
    endRun: () => pending.splice(0).forEach((fn) => fn()),
    scheduled: () => pending.length,
  }
}

describe('burstClock', () => {
  it('by default a run ends at the next microtask: a send per microtask (for await) reads the clock each time', async () => {
    let t = 5_000
    let reads = 0
    const now = burstClock(() => {
      reads++
      return t
    })
    expect([now(), now(), now()]).toEqual([5_000, 5_000, 5_000])
    expect(reads).toBe(1)
    t = 5_007
    await null // the run ended: the next call reads the clock again
    expect(now()).toBe(5_007)
    expect(reads).toBe(2)
    for (let i = 0; i < 3; i++) {
      t++
      await null
      expect(now()).toBe(t)
    }
    expect(reads).toBe(5)
  })

  it('reads the clock once per burst of calls in one run, and schedules one end-of-run', () => {
    const c = setup(4)
    const seen = Array.from({ length: 10 }, () => c.now())
    expect(seen.every((v) => v === 1_000)).toBe(true)
    expect(c.reads()).toBe(3) // calls 1, 5 and 9
    expect(c.scheduled()).toBe(1)
  })

  it('a new run reads the clock on its first call', () => {
    const c = setup(4)
    c.now()
    c.advance(7)
    c.endRun()
    expect(c.now()).toBe(1_007)
    expect(c.reads()).toBe(2)
  })

  it('time moving by one tick inside a fast run keeps the bursts', () => {
    const c = setup(4)
    for (let i = 0; i < 4; i++) c.now()
    c.advance(1)
    expect(c.now()).toBe(1_001)
    for (let i = 0; i < 3; i++) c.now()
    expect(c.reads()).toBe(2)
  })

  it('slow calls (two ms or more between reads) read the clock every time, until a burst of reads sees one ms', () => {
    const c = setup(4)
    for (let i = 0; i < 4; i++) c.now()
    c.advance(5)
    expect(c.now()).toBe(1_005) // the read that finds the run slow
    c.advance(3)
    expect(c.now()).toBe(1_008) // no cached value: read again
    expect(c.reads()).toBe(3)
    // fast again: four reads in the same ms bring the bursts back
    for (let i = 0; i < 4; i++) c.now()
    const before = c.reads()
    for (let i = 0; i < 4; i++) c.now()
    expect(c.reads()).toBe(before + 1)
  })

  it('the end of a slow run restores the bursts', () => {
    const c = setup(4)
    for (let i = 0; i < 4; i++) c.now()
    c.advance(5)
    c.now()
    c.endRun()
    for (let i = 0; i < 8; i++) c.now()
    expect(c.reads()).toBe(2 + 2)
  })

  it('a producer on the system clock stamps a hot loop with its time, and a send after a pause with the later time', async () => {
    const { createProducer } = await import('../../src/index.js')
    const { FakeCluster } = await import('../../src/testing/index.js')
    const cluster = new FakeCluster({ topics: { t: 1 } })
    const producer = createProducer({ transport: cluster.transport(), lingerMs: 0 })
    await producer.partitionsFor('t')
    const before = Date.now()
    const sends = Array.from({ length: 2_000 }, (_, i) => producer.send({ topic: 't', value: `v${i}` }))
    const after = Date.now()
    await Promise.all(sends)
    await new Promise((r) => setTimeout(r, 30))
    const later = Date.now()
    const last = await producer.send({ topic: 't', value: 'late' })
    await producer.close()
    const stamps = cluster.records('t', 0).map((r) => r.timestamp)
    expect(stamps).toHaveLength(2_001)
    for (const ts of stamps.slice(0, 2_000)) {
      expect(ts).toBeGreaterThanOrEqual(before)
      expect(ts).toBeLessThanOrEqual(after)
    }
    expect(last.timestamp).toBeGreaterThanOrEqual(later)
    expect(stamps[2_000]).toBe(last.timestamp)
  })
})
