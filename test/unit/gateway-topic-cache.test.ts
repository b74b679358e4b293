// The gateway's topic metadata cache (adapters/gateway/producing.ts, KafkaSide) and how lookups are charged
// (adapters/gateway/requests.ts, Requests.chargeLookups): a topic Kafka knows is served from the cache after its
// entry ages out and refreshed in the background, one lookup for everyone, charged to nobody's own bucket.
// Only Date is faked: the fake cluster and the producer run on real timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FakeCluster } from '../../src/testing/index.js'
import { KafkaSide } from '../../adapters/gateway/producing.js'
import { Requests, type Session } from '../../adapters/gateway/requests.js'
import { BatchLedger } from '../../adapters/gateway/batch-ledger.js'
import { Backpressure } from '../../adapters/gateway/limits.js'
import { MetricsRegistry } from '../../adapters/gateway/metrics.js'
import { createGatewayLog } from '../../adapters/gateway/log.js'
import { DEFAULT_LIMITS, type GatewayOptions } from '../../adapters/gateway/options.js'

const log = createGatewayLog({ logLevel: 'silent' })
let cluster: FakeCluster
let kafka: KafkaSide
let metrics: MetricsRegistry

/** Counts the producer's describeTopic() calls (each lookup is one; for a topic the producer knows it is answered
 * from the producer's own metadata, else it asks Kafka). */
let lookups = 0
const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5))
  expect(cond()).toBe(true)
}
const settle = () => new Promise((r) => setTimeout(r, 20))

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
  cluster = new FakeCluster({ brokers: 1, topics: { orders: 3 } })
  kafka = new KafkaSide(cluster.transport(), { bootstrap: 'fake:9092' } as GatewayOptions, false, log)
  const describe = kafka.producer.describeTopic.bind(kafka.producer)
  lookups = 0
  kafka.producer.describeTopic = (topic, options) => {
    lookups++
    return describe(topic, options)
  }
  metrics = new MetricsRegistry()
})

afterEach(async () => {
  await kafka.close(100)
  vi.useRealTimers()
})

function requests(metadataTopicsPerSecond: number): Requests {
  return new Requests(
    kafka,
    new BatchLedger(100, 100),
    new Backpressure(1 << 20),
    metrics,
    { ...DEFAULT_LIMITS, metadataTopicsPerSecond },
    false,
    log,
  )
}

const session = (req: Requests, sub: string, topics: string[]): Session =>
  req.newSession({ sub, topics, exp: Date.now() / 1000 + 3600, iat: null }, 'h.p.sig')

describe('gateway topic cache', () => {
  it('serves a known topic from its stale entry at once, and refreshes it once in the background', async () => {
    const first = await kafka.lookupTopic('orders')
    expect(first).toMatchObject({ errorCode: 0, partitions: 3 })
    expect(kafka.cacheState('orders')).toBe('cached')
    expect(lookups).toBe(1)
    vi.advanceTimersByTime(11_000) // past CACHE_OK_MS (10 s)
    expect(kafka.cacheState('orders')).toBe('stale')
    // callers do not wait for a lookup: the cached entry, and no lookup made for them
    expect(await kafka.lookupTopic('orders')).toBe(first)
    expect(lookups).toBe(1)

    kafka.refresh('orders')
    expect(kafka.cacheState('orders')).toBe('cached') // a lookup of it runs: callers join it, nobody is charged
    kafka.refresh('orders')
    expect(await kafka.lookupTopic('orders')).toBe(first) // still the old entry while the refresh runs
    await waitFor(() => kafka.cacheState('orders') === 'cached' && lookups === 1 + 1)
    await settle()
    expect(lookups).toBe(2)
    const refreshed = await kafka.lookupTopic('orders')
    expect(refreshed).not.toBe(first)
    expect(refreshed).toMatchObject({ errorCode: 0, partitions: 3, at: Date.now() })
  })

  it('an unknown topic is a miss again once its error entry expires (1 s), and misses are charged', async () => {
    const meta = await kafka.lookupTopic('nope')
    expect(meta.errorCode).toBe(3) // UNKNOWN_TOPIC_OR_PARTITION
    expect(kafka.cacheState('nope')).toBe('cached')
    vi.advanceTimersByTime(1_500)
    expect(kafka.cacheState('nope')).toBe('miss')

    const req = requests(2)
    const s = session(req, 's', ['*'])
    expect(req.chargeLookups(s, ['nope', 'never-1'])).toBeNull()
    expect(req.chargeLookups(s, ['never-2']), 'the session bucket (2 a second) is empty').toBeGreaterThan(0)
  })

  it('charges no bucket for a known topic whose entry aged out, with a thousand sessions at once', async () => {
    await kafka.lookupTopic('orders')
    vi.advanceTimersByTime(11_000)
    const req = requests(1)
    const sessions = Array.from({ length: 1000 }, (_, i) => session(req, `s${i}`, ['orders']))
    // before: each of these was a charged miss until the lookup ended, and the gateway's bucket (200 a second) refused
    // most of them with RATE_LIMITED
    for (const s of sessions) expect(req.chargeLookups(s, ['orders'])).toBeNull()
    for (const s of sessions) expect(s.lookups.check(1), 'the session was not charged').toBeNull()
    await waitFor(() => lookups === 2 && kafka.cacheState('orders') === 'cached')
    await settle()
    expect(lookups, 'one refresh for everyone').toBe(2)
  })

  it("bounds background refreshes by the gateway's bucket: a token for 300 known topics, all stale, gets 200", async () => {
    // hostile: a subject allowed '*' makes many topics known (each charged once), waits, then names them all again
    const names = Array.from({ length: 300 }, (_, i) => `t${i}`)
    for (const n of names) cluster.createTopic(n, { partitions: 1 })
    for (const n of names) await kafka.lookupTopic(n)
    vi.advanceTimersByTime(11_000)
    const req = requests(100) // the gateway's bucket: max(200, 2 × 100) = 200
    const s = session(req, 'flood', ['*'])
    const before = lookups
    expect(req.chargeLookups(s, names), 'stale known topics are answered, never refused').toBeNull()
    expect(s.lookups.check(100), 'and never charged to the session').toBeNull()
    expect(lookups - before, 'refreshes started').toBe(200)
    // the other 100 are still answered from the cache meanwhile
    for (const n of names) expect((await kafka.lookupTopic(n)).errorCode).toBe(0)
    await settle()
  })

  it('keeps serving a known topic when its refresh fails, and tries again CACHE_ERROR_MS later', async () => {
    const first = await kafka.lookupTopic('orders')
    vi.advanceTimersByTime(11_000)
    const describe = kafka.producer.describeTopic
    kafka.producer.describeTopic = () => Promise.reject(new Error('Kafka unreachable'))
    kafka.refresh('orders')
    await settle()
    kafka.producer.describeTopic = describe
    const kept = await kafka.lookupTopic('orders')
    expect(kept).toMatchObject({ errorCode: 0, partitions: first.partitions, leaders: first.leaders })
    expect(kafka.cacheState('orders')).toBe('cached')
    vi.advanceTimersByTime(500)
    expect(kafka.cacheState('orders')).toBe('cached')
    vi.advanceTimersByTime(600)
    expect(kafka.cacheState('orders')).toBe('stale')
  })
})
