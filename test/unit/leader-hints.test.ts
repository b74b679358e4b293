// Leader hints (KIP-951): a broker that refuses a Produce with NOT_LEADER_OR_FOLLOWER names the new leader and its
// epoch (Produce v10+ current_leader, node_endpoints); the producer moves the partition at once, without waiting for a
// metadata round trip or a retry backoff. The fake cluster sends the hints as Kafka 4.x does.
import { describe, expect, it } from 'vitest'
import { Harness, text } from '../helpers/producer-harness.js'
import { ApiKey } from '../../src/testing/index.js'

let h: Harness

const values = (topic: string, partition: number) => h.cluster.records(topic, partition).map((r) => text(r.value))

describe('leader hints (KIP-951)', () => {
  it('a refused batch goes to the leader the broker named, at once: no Metadata request, no backoff', async () => {
    h = new Harness({ brokers: 3, topics: { t: { partitions: 1, leaders: [1] } } })
    const p = h.producer({ lingerMs: 0, retryBackoffMs: 1000, retryBackoffMaxMs: 1000, metadataMaxAgeMs: 300_000 })
    await h.run(p.send({ topic: 't', value: 'first' }))
    h.cluster.moveLeader('t', 0, 2)
    const metadataBefore = h.cluster.requestCount(ApiKey.Metadata)
    const t0 = h.clock.now()
    const meta = await h.run(p.send({ topic: 't', value: 'second' }))
    expect(meta.offset).toBe(1)
    expect(h.clock.now() - t0).toBeLessThan(1000) // not one retryBackoffMs
    expect(h.cluster.requestCount(ApiKey.Metadata)).toBe(metadataBefore)
    expect(h.cluster.requestCount(ApiKey.Produce, 2)).toBe(1)
    expect(values('t', 0)).toEqual(['first', 'second'])
    await h.run(p.close())
  })

  it('with batches in flight to the old leader, every record lands once and in order on the new one (idempotent)', async () => {
    h = new Harness({ brokers: 3, topics: { t: { partitions: 1, leaders: [1] } } })
    const p = h.producer({
      lingerMs: 1,
      batchSize: 256,
      enableIdempotence: true,
      acks: 'all',
      retryBackoffMs: 500,
      metadataMaxAgeMs: 300_000,
    })
    await h.run(p.partitionsFor('t'))
    const sends: Promise<unknown>[] = []
    for (let i = 0; i < 200; i++) {
      sends.push(p.send({ topic: 't', value: `r${i}` }))
      if (i % 10 === 9) await h.advance(1) // let batches go out: the moves below find some in flight
      if (i === 60) h.cluster.moveLeader('t', 0, 3)
      if (i === 140) h.cluster.moveLeader('t', 0, 2)
    }
    await h.run(Promise.all(sends), 60_000)
    expect(values('t', 0)).toEqual(Array.from({ length: 200 }, (_, i) => `r${i}`))
    expect(h.cluster.requestCount(ApiKey.Produce, 3)).toBeGreaterThan(0)
    await h.run(p.close())
  })

  it('leadership moving away and back follows each newer epoch from the hints alone', async () => {
    h = new Harness({ brokers: 2, topics: { t: { partitions: 1, leaders: [1] } } })
    const p = h.producer({ lingerMs: 0, retryBackoffMs: 200, retryBackoffMaxMs: 200, metadataMaxAgeMs: 300_000 })
    await h.run(p.send({ topic: 't', value: 'a' }))
    const metadataBefore = h.cluster.requestCount(ApiKey.Metadata)
    h.cluster.moveLeader('t', 0, 2) // epoch 1
    await h.run(p.send({ topic: 't', value: 'b' }))
    h.cluster.moveLeader('t', 0, 1) // epoch 2: back where it was
    await h.run(p.send({ topic: 't', value: 'c' }))
    expect(h.cluster.requestCount(ApiKey.Metadata)).toBe(metadataBefore)
    expect(h.cluster.requestCount(ApiKey.Produce, 1)).toBe(3) // a; b refused; c
    expect(h.cluster.requestCount(ApiKey.Produce, 2)).toBe(2) // b; c refused
    expect(values('t', 0)).toEqual(['a', 'b', 'c'])
    await h.run(p.close())
  })
})
