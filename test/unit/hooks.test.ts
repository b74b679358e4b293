// Producer hooks (src/hooks.ts) on the fake cluster: which events come, in which shape, and that a hook cannot
// disturb the producer (one that throws is ignored; removing one stops its events).
import { describe, expect, it } from 'vitest'
import type { ProducerHooks } from '../../src/index.js'
import { ApiKey, ErrorCode } from '../../src/testing/index.js'
import { Harness } from '../helpers/producer-harness.js'

let h: Harness

/** Every event of every kind, as [name, event] in the order they came. */
function recorder(): { hooks: ProducerHooks; events: Array<[string, any]>; of: (name: string) => any[] } {
  const events: Array<[string, any]> = []
  const names: Array<keyof ProducerHooks> = [
    'brokerConnected',
    'brokerDisconnected',
    'requestWritten',
    'responseRead',
    'batchSent',
    'batchRetried',
    'batchFailed',
    'batchAcked',
    'recordAcked',
    'recordFailed',
    'throttled',
    'metadataRefreshed',
    'producerIdChanged',
    'transactionStateChanged',
  ]
  const hooks: ProducerHooks = {}
  for (const n of names) (hooks as Record<string, (e: unknown) => void>)[n] = (e) => events.push([n, e])
  return { hooks, events, of: (name) => events.filter(([n]) => n === name).map(([, e]) => e) }
}

describe('producer hooks', () => {
  it('connections, requests, metadata, producer id, batches and records, each with its facts', async () => {
    h = new Harness({ topics: { t: 1 } })
    const r = recorder()
    const p = h.producer({ hooks: r.hooks, enableIdempotence: true, acks: 'all', lingerMs: 0 })
    await h.run(Promise.all([p.send({ topic: 't', value: 'a' }), p.send({ topic: 't', value: 'b' })]))
    await h.run(p.send({ topic: 't', value: 'c' }))
    expect(r.of('brokerConnected').length).toBeGreaterThan(0)
    expect(r.of('brokerConnected')[0].broker).toMatchObject({ host: expect.any(String), port: expect.any(Number) })
    const apis = new Set(r.of('requestWritten').map((e) => e.api))
    for (const api of ['ApiVersions', 'Metadata', 'InitProducerId', 'Produce']) expect(apis).toContain(api)
    const produceReads = r.of('responseRead').filter((e) => e.api === 'Produce')
    expect(produceReads.length).toBeGreaterThan(0)
    for (const e of produceReads)
      expect(e).toMatchObject({ apiKey: ApiKey.Produce, bytes: expect.any(Number), latencyMs: expect.any(Number) })
    expect(r.of('metadataRefreshed')[0]).toMatchObject({ topics: ['t'], brokers: 1 })
    expect(r.of('producerIdChanged')[0]).toMatchObject({ producerId: expect.any(Number), producerEpoch: 0 })
    const sent = r.of('batchSent')
    expect(sent.reduce((n, e) => n + e.records, 0)).toBe(3)
    for (const e of sent) expect(e).toMatchObject({ topic: 't', partition: 0, attempt: 1, bytes: expect.any(Number) })
    expect(sent[0].bytes).toBeGreaterThan(61) // a RecordBatch header and its records
    expect(r.of('batchAcked').map((e) => e.baseOffset)).toEqual(sent.length === 2 ? [0, 2] : [0, 1, 2])
    expect(r.of('recordAcked').map((e) => e.offset)).toEqual([0, 1, 2])
    expect(r.of('batchFailed')).toEqual([])
    await h.run(p.close())
    expect(r.of('brokerDisconnected').length).toBeGreaterThan(0)
    expect(r.of('brokerDisconnected')[0].cause).toBeInstanceOf(Error)
  })

  it('a retriable error: batchRetried with the error and the attempt to come, then batchAcked', async () => {
    h = new Harness({ topics: { t: 1 } })
    const r = recorder()
    const p = h.producer({ hooks: r.hooks, lingerMs: 0, retryBackoffMs: 10 })
    await h.run(p.send({ topic: 't', value: 'warm' }))
    h.cluster.failNext(ApiKey.Produce, ErrorCode.NOT_ENOUGH_REPLICAS)
    await h.run(p.send({ topic: 't', value: 'x' }))
    expect(r.of('batchRetried')).toEqual([
      expect.objectContaining({
        topic: 't',
        partition: 0,
        records: 1,
        attempt: 2,
        error: expect.objectContaining({ code: 'NOT_ENOUGH_REPLICAS' }),
      }),
    ])
    expect(r.of('batchSent').map((e) => e.attempt)).toEqual([1, 1, 2])
    expect(r.of('batchAcked').at(-1)).toMatchObject({ baseOffset: 1, attempt: 2 })
  })

  it('a failure for good: batchFailed and recordFailed per record; throttling is reported', async () => {
    h = new Harness({ topics: { t: 1 } })
    h.cluster.produceThrottleMs = 250
    const r = recorder()
    const p = h.producer({ hooks: r.hooks, lingerMs: 5 })
    await h.run(p.send({ topic: 't', value: 'ok' }))
    expect(r.of('throttled')[0]).toMatchObject({ api: 'Produce', throttleTimeMs: 250, broker: { nodeId: 1 } })
    h.cluster.failNext(ApiKey.Produce, ErrorCode.INVALID_RECORD)
    const outcomes = await h.run(
      Promise.allSettled([p.send({ topic: 't', value: 'a' }), p.send({ topic: 't', value: 'b' })]),
    )
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected'])
    expect(r.of('batchFailed')).toEqual([
      expect.objectContaining({ records: 2, error: expect.objectContaining({ code: 'INVALID_RECORD' }) }),
    ])
    expect(r.of('recordFailed')).toHaveLength(2)
  })

  it('a hook that throws never disturbs the producer or the other hooks; addHooks returns what removes them', async () => {
    h = new Harness({ topics: { t: 2 } })
    const thrower: ProducerHooks = new Proxy(
      {},
      {
        get: () => () => {
          throw new Error('a broken hook')
        },
      },
    )
    const r = recorder()
    const p = h.producer({ hooks: [thrower, r.hooks], lingerMs: 0 })
    const metas = await h.run(
      Promise.all(Array.from({ length: 10 }, (_, i) => p.send({ topic: 't', key: `k${i}`, value: 'v' }))),
    )
    expect(metas).toHaveLength(10)
    expect(r.of('recordAcked')).toHaveLength(10)
    const late = recorder()
    const remove = p.addHooks(late.hooks)
    await h.run(p.send({ topic: 't', value: 'seen' }))
    expect(late.of('recordAcked')).toHaveLength(1)
    remove()
    await h.run(p.send({ topic: 't', value: 'unseen' }))
    expect(late.of('recordAcked')).toHaveLength(1)
    expect(r.of('recordAcked')).toHaveLength(12)
    expect(() => p.addHooks(null as never)).toThrow(TypeError)
  })

  it('a transactional producer reports its state changes', async () => {
    h = new Harness({ topics: { t: 1 } })
    const r = recorder()
    const p = h.producer<string, string>({ hooks: r.hooks, transactionalId: 'tx-hooks', lingerMs: 0 })
    await h.run(p.initTransactions())
    p.beginTransaction()
    await h.run(p.send({ topic: 't', value: 'in' }))
    await h.run(p.commitTransaction())
    expect(r.of('transactionStateChanged').map((e) => `${e.from}>${e.to}`)).toEqual([
      'uninitialized>ready',
      'ready>in-transaction',
      'in-transaction>committing',
      'committing>ready',
    ])
  })
})
