// Timeouts whose timers never fire. Workers drops the timers of a request once that request is over, while a producer
// kept in module scope lives on into the next request: a request or connect attempt left waiting on such a timer must
// still fail when its deadline has passed (at the sender's next pass), and be retried, instead of holding the in-flight
// slot, the producer id or the metadata refresh for ever.
import { afterEach, describe, expect, it } from 'vitest'
import { Harness, text } from '../helpers/producer-harness.js'
import { ApiKey } from '../../src/testing/index.js'
import type { ByteStream, SocketTransport } from '../../src/transport.js'

let h: Harness
afterEach(async () => {
  await h?.dispose()
})

const values = (topic: string) => h.cluster.records(topic, 0).map((r) => text(r.value))

describe('timeouts whose timers died with an earlier Workers request', () => {
  it('fails a Produce request past its deadline at the next pass and delivers both records once', async () => {
    h = new Harness({ topics: { t: 1 } })
    // one request in flight: the second record's batch waits for the first, so no later request brings a live timer
    const p = h.producer({ requestTimeoutMs: 1_000, lingerMs: 0, maxInFlightRequestsPerConnection: 1 })
    await h.run(p.partitionsFor('t'))
    h.cluster.stallNext(ApiKey.Produce) // this request is never answered
    const first = p.send({ topic: 't', value: 'a' })
    await h.settle()
    expect(h.cluster.requests.filter((r) => r.apiKey === ApiKey.Produce)).toHaveLength(1)
    h.clock.dropTimers() // the request ended: the request timeout will never fire
    await h.clock.advance(5_000) // the next request, later (no timer left to run)
    const second = p.send({ topic: 't', value: 'b' })
    const [a, b] = await Promise.all([h.outcome(first, 60_000), h.outcome(second, 60_000)])
    expect(a.ok && b.ok).toBe(true)
    expect(values('t')).toEqual(['a', 'b']) // the stalled request was not appended: no duplicate, order kept
  })

  it('does not let a metadata refresh stuck on a dead timer keep a new topic unknown', async () => {
    h = new Harness({ topics: { t: 1, u: 1 } })
    const p = h.producer({ requestTimeoutMs: 1_000 })
    await h.run(p.partitionsFor('t'))
    h.cluster.stallNext(ApiKey.Metadata)
    const metadataRequests = () => h.cluster.requests.filter((r) => r.apiKey === ApiKey.Metadata).length
    const before = metadataRequests()
    const first = p.partitionsFor('u') // its refresh waits on a request that is never answered
    await h.advance(500) // past the refresh backoff: the Metadata request is out
    expect(metadataRequests()).toBe(before + 1)
    h.clock.dropTimers()
    await h.clock.advance(5_000)
    const sent = p.send({ topic: 'u', value: 'x' }) // the next request asks for the topic again
    const o = await h.outcome(sent, 60_000)
    expect(o.ok).toBe(true)
    expect((await h.outcome(first, 60_000)).ok).toBe(true)
    expect(h.cluster.records('u', 0).map((r) => text(r.value))).toEqual(['x'])
  })

  it('a send queued behind one that waits for metadata on a dead timer moves both along', async () => {
    h = new Harness({ topics: { t: 1, u: 1 } })
    const p = h.producer({ requestTimeoutMs: 1_000 })
    await h.run(p.partitionsFor('t'))
    h.cluster.stallNext(ApiKey.Metadata)
    const first = p.send({ topic: 'u', value: 'x' }) // waits in line for the metadata of u
    await h.advance(500)
    h.clock.dropTimers() // the wait for metadata and the request timeout both die
    await h.clock.advance(5_000)
    const second = p.send({ topic: 'u', value: 'y' }) // queues behind the first
    const [a, b] = await Promise.all([h.outcome(first, 60_000), h.outcome(second, 60_000)])
    expect(a.ok && b.ok).toBe(true)
    expect(h.cluster.records('u', 0).map((r) => text(r.value))).toEqual(['x', 'y'])
  })

  it('gives up on a connect attempt that neither connects nor times out, and closes the socket if it turns up late', async () => {
    h = new Harness({ topics: { t: 1 } })
    const inner = h.cluster.transport()
    let hung: ((s: ByteStream) => void) | null = null
    let lateClosed = false
    let attempts = 0
    const transport: SocketTransport = {
      ...inner,
      connect: (o, handlers) => {
        attempts++
        if (attempts === 1) {
          // the first connect never settles (its transport's timeout timer is gone); the socket turns up later
          return new Promise<ByteStream>((resolve) => (hung = resolve))
        }
        return inner.connect(o, handlers)
      },
    }
    const p = h.producer({ transport, connectTimeoutMs: 1_000, requestTimeoutMs: 1_000 })
    const count = p.partitionsFor('t')
    await h.advance(1) // the metadata refresh starts (on a 0 ms timer) and connects
    expect(attempts).toBe(1)
    h.clock.dropTimers()
    await h.clock.advance(5_000)
    const sent = p.send({ topic: 't', value: 'v' })
    expect((await h.outcome(sent, 60_000)).ok).toBe(true)
    expect(await h.run(count)).toBe(1)
    expect(attempts).toBeGreaterThan(1)
    hung!({ write() {}, close: () => void (lateClosed = true) })
    await h.settle()
    expect(lateClosed).toBe(true)
  })

  it("waits out a transport's own, longer connect timeout before giving up on the attempt", async () => {
    h = new Harness({ topics: { t: 1 } })
    const inner = h.cluster.transport()
    const timeouts: number[] = []
    const transport: SocketTransport = {
      ...inner,
      connectTimeoutMs: 30_000, // e.g. tcp({ connectTimeoutMs: 30000 }): it wins over the producer's
      connect: (o, handlers) => {
        timeouts.push(o.connectTimeoutMs)
        return timeouts.length === 1 ? new Promise<ByteStream>(() => {}) : inner.connect(o, handlers)
      },
    }
    const p = h.producer({ transport, connectTimeoutMs: 1_000 })
    p.partitionsFor('t').catch(() => {})
    await h.advance(1)
    h.clock.dropTimers()
    await h.clock.advance(5_000) // past the producer's 1 s, within the transport's 30 s
    const early = p.send({ topic: 't', value: 'a' })
    await h.settle()
    expect(timeouts).toEqual([30_000]) // the attempt is still given its time
    await h.clock.advance(30_000)
    const late = p.send({ topic: 't', value: 'b' })
    const [a, b] = await Promise.all([h.outcome(early, 60_000), h.outcome(late, 60_000)])
    expect(a.ok && b.ok).toBe(true)
    expect(timeouts).toEqual([30_000, 30_000])
  })
})
