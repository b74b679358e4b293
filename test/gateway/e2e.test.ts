/// <reference types="node" />
// End to end: producer (core) → websocket / fetch transport → gateway → Kafka, read back with kcat, byte-exact.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import WebSocket from 'ws'
import { createProducer, murmur2Partition, type RecordMetadata } from '../../src/index.js'
import { websocket } from '../../adapters/websocket/index.js'
import { fetchTransport } from '../../adapters/fetch/index.js'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'
import { expectExactlyOnce, makeRecords, startGateway, token, type RunningGateway, type Sent } from './helpers.js'

const bootstrap = inject('kafkaBootstrap')
const PARTITIONS = 6

let gw: RunningGateway
beforeAll(async () => {
  gw = await startGateway(bootstrap)
})
afterAll(async () => {
  await gw?.close()
})

async function produceAll(
  producer: ReturnType<typeof createProducer>,
  topic: string,
  records: Sent[],
): Promise<RecordMetadata[]> {
  const acks = records.map((r) =>
    producer.send({ topic, key: r.key ?? undefined, value: r.value, headers: r.headers, timestamp: r.timestamp }),
  )
  const out = await Promise.all(acks)
  await producer.close()
  return out
}

describe('gateway end to end (real broker, kcat read-back)', () => {
  it('websocket transport: 20k records land byte-exact, at the offsets the sends resolved with', async () => {
    const topic = uniqueTopic('gw-ws')
    await createTopic(bootstrap, topic, PARTITIONS)
    const records = makeRecords(20_000, 11)
    const producer = createProducer({ transport: websocket({ url: gw.wsUrl, token: await token([topic]), WebSocket }) })
    const acked = await produceAll(producer, topic, records)
    // keyed records are placed by the same murmur2 partitioner as the TCP path
    records.forEach((r, i) => {
      if (r.key !== null && r.key.length > 0) expect(acked[i]!.partition).toBe(murmur2Partition(r.key, PARTITIONS))
    })
    const read = await readAllWithKcat(bootstrap, topic, records.length, 60_000)
    expect(expectExactlyOnce(records, read, acked, { timestamps: true })).toEqual([])
  })

  it('websocket transport with the token in Sec-WebSocket-Protocol and in the query string', async () => {
    const topic = uniqueTopic('gw-ws-tok')
    await createTopic(bootstrap, topic, 2)
    for (const tokenIn of ['protocol', 'query'] as const) {
      const records = makeRecords(500, tokenIn === 'protocol' ? 1 : 2)
      const producer = createProducer({
        transport: websocket({ url: gw.wsUrl, token: await token([topic]), WebSocket, tokenIn }),
      })
      await produceAll(producer, topic, records)
    }
    const read = await readAllWithKcat(bootstrap, topic, 1000, 30_000)
    expect(read.length).toBe(1000)
  })

  it('fetch transport, gateway mode: 5k records byte-exact', async () => {
    const topic = uniqueTopic('gw-fetch')
    await createTopic(bootstrap, topic, PARTITIONS)
    const records = makeRecords(5_000, 12)
    const producer = createProducer({
      transport: fetchTransport({ url: gw.url, token: await token([topic]), mode: 'gateway' }),
    })
    const acked = await produceAll(producer, topic, records)
    const read = await readAllWithKcat(bootstrap, topic, records.length, 60_000)
    expect(expectExactlyOnce(records, read, acked, { timestamps: true })).toEqual([])
  })

  it('fetch transport, REST Proxy v3 mode: 3k records with headers byte-exact, partition_id from our partitioner', async () => {
    const topic = uniqueTopic('gw-v3')
    await createTopic(bootstrap, topic, PARTITIONS)
    const records = makeRecords(3_000, 13)
    const producer = createProducer({
      transport: fetchTransport({ url: gw.url, token: await token([topic]), mode: 'rest-v3' }),
    })
    const acked = await produceAll(producer, topic, records)
    records.forEach((r, i) => {
      if (r.key !== null && r.key.length > 0) expect(acked[i]!.partition).toBe(murmur2Partition(r.key, PARTITIONS))
    })
    const read = await readAllWithKcat(bootstrap, topic, records.length, 60_000)
    expect(expectExactlyOnce(records, read, acked, { timestamps: true })).toEqual([])
  })

  it('fetch transport, REST Proxy v2 mode: 3k records (no headers in v2) byte-exact; a record with headers fails', async () => {
    const topic = uniqueTopic('gw-v2')
    await createTopic(bootstrap, topic, PARTITIONS)
    const records = makeRecords(3_000, 14, { headers: false })
    const transport = fetchTransport({ url: gw.url, token: await token([topic]), mode: 'rest-v2' })
    const producer = createProducer({ transport })
    const acked = await Promise.all(
      records.map((r) => producer.send({ topic, key: r.key ?? undefined, value: r.value })),
    )
    const withHeaders = await producer.send({ topic, value: 'x', headers: { h: 'v' } }).then(
      () => null,
      (e) => e,
    )
    await producer.close()
    expect(withHeaders?.code).toBe('INVALID_RECORD')
    const read = await readAllWithKcat(bootstrap, topic, records.length, 60_000)
    expect(expectExactlyOnce(records, read, acked, { headers: false })).toEqual([])
  })

  it('unknown topic: sends through the gateway wait for it (maxBlockMs), then fail with MAX_BLOCK_TIMEOUT', async () => {
    const topic = uniqueTopic('gw-missing')
    const producer = createProducer({
      transport: websocket({ url: gw.wsUrl, token: await token([topic]), WebSocket }),
      maxBlockMs: 1500,
    })
    const err = await producer.send({ topic, value: 'x' }).then(
      () => null,
      (e) => e,
    )
    await producer.close()
    expect(err?.code).toBe('MAX_BLOCK_TIMEOUT')
    expect(String(err?.cause?.message ?? '')).toMatch(/UNKNOWN_TOPIC|does not host/i)
  })

  it('measures records/s for 20k records websocket → gateway → Kafka (acks=all)', async () => {
    const topic = uniqueTopic('gw-rate')
    await createTopic(bootstrap, topic, PARTITIONS)
    const N = 20_000
    const value = new Uint8Array(100).fill(7)
    const producer = createProducer({
      transport: websocket({ url: gw.wsUrl, token: await token([topic]), WebSocket }),
      lingerMs: 5,
    })
    await producer.partitionsFor(topic)
    const t0 = performance.now()
    const sends: Promise<RecordMetadata>[] = []
    for (let i = 0; i < N; i++) sends.push(producer.send({ topic, value }))
    await Promise.all(sends)
    const ms = performance.now() - t0
    await producer.close()
    const rate = Math.round(N / (ms / 1000))
    console.log(
      `[gateway throughput] ${N} records of 100 B: ${ms.toFixed(0)} ms, ${rate} records/s (websocket → gateway → Kafka, acks=all)`,
    )
    const read = await readAllWithKcat(bootstrap, topic, N, 60_000)
    expect(read.length).toBe(N)
  })
})
