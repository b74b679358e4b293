// Hooks and producer.metrics() against the real broker: what they report matches what Kafka holds (read back by kcat).
import { describe, expect, inject, it } from 'vitest'
import { tcp } from '../../adapters/node-tcp/index.js'
import { createProducer, type ProducerHooks } from '../../src/index.js'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'

const bootstrap = inject('kafkaBootstrap')

describe('hooks and metrics on a real broker', () => {
  it('batchAcked and recordAcked add up to what kcat reads; metrics() names the same counts, per topic and node', async () => {
    const topic = uniqueTopic('observability')
    await createTopic(bootstrap, topic, 3)
    let ackedRecords = 0
    const offsets: number[] = []
    const apis = new Set<string>()
    let connected = 0
    const hooks: ProducerHooks = {
      brokerConnected: () => connected++,
      requestWritten: (e) => apis.add(e.api),
      batchAcked: (e) => (ackedRecords += e.records),
      recordAcked: (e) => offsets.push(e.offset),
    }
    const producer = createProducer({ transport: tcp({ bootstrap: [bootstrap] }), hooks, lingerMs: 5 })
    producer.metrics() // collect from here
    const N = 2000
    await Promise.all(Array.from({ length: N }, (_, i) => producer.send({ topic, key: `k${i % 50}`, value: `v${i}` })))
    const m = producer.metrics()
    await producer.close()
    const read = await readAllWithKcat(bootstrap, topic, N)
    expect(read).toHaveLength(N)
    expect(ackedRecords).toBe(N)
    expect(offsets).toHaveLength(N)
    expect(connected).toBeGreaterThan(0)
    for (const api of ['ApiVersions', 'Metadata', 'InitProducerId', 'Produce']) expect(apis).toContain(api)
    expect(m.producer['record-send-total']).toBe(N)
    expect(m.topics[topic]!['record-send-total']).toBe(N)
    expect(m.producer['record-error-total']).toBe(0)
    expect(m.producer['request-latency-avg']).toBeGreaterThan(0)
    expect(m.producer['records-per-request-avg']).toBeGreaterThan(1)
    expect(m.producer['requests-in-flight']).toBe(0)
    const nodeIds = Object.keys(m.nodes).filter((k) => /^\d+$/.test(k))
    expect(nodeIds.length).toBeGreaterThan(0)
  })
})
