import { spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { FakeCluster, ApiKey, ErrorCode, type FakeClusterOptions } from '../../src/testing/index.js'
import { serveFakeCluster, type FakeClusterServer } from '../../adapters/testing-node/index.js'
import { tcp } from '../../adapters/node-tcp/index.js'
import { BrokerConnection } from '../../src/client/connection.js'
import { systemClock, type Clock } from '../../src/clock.js'
import { createProducer } from '../../src/producer/producer.js'
import { RecordBatchBuilder, sealBatch } from '../../src/protocol/record-batch.js'
import { Produce, type ProduceResponse } from '../../src/protocol/messages/produce.js'
import { Metadata } from '../../src/protocol/messages/metadata.js'
import { InitProducerId } from '../../src/protocol/messages/init-producer-id.js'
import { ApiVersions } from '../../src/protocol/messages/api-versions.js'
import { encodeRequest } from '../../src/protocol/framing.js'
import { ConnectionError, MalformedResponseError, RequestTimeoutError } from '../../src/errors.js'
import type { SocketTransport } from '../../src/transport.js'
import { FakeClock } from '../helpers/fake-clock.js'
import { text } from '../helpers/producer-harness.js'

const enc = new TextEncoder()
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function connect(
  cluster: FakeCluster,
  broker = 1,
  options: { clock?: Clock; transport?: SocketTransport; requestTimeoutMs?: number } = {},
): Promise<BrokerConnection> {
  const transport = options.transport ?? cluster.transport()
  const [host, port] =
    transport === undefined
      ? ['', 0]
      : (() => {
          const a = options.transport ? transport.bootstrap[broker - 1]! : `fake-${broker}:9092`
          const i = a.lastIndexOf(':')
          return [a.slice(0, i), Number(a.slice(i + 1))] as const
        })()
  const conn = new BrokerConnection(host, port, transport, {
    clientId: 'test',
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    connectTimeoutMs: 1000,
    clock: options.clock ?? systemClock,
  })
  await conn.connect()
  cleanups.push(() => conn.close())
  return conn
}

/** One encoded batch of `values`, with the given producer id/epoch/first sequence. */
function batch(values: string[], producerId = -1, producerEpoch = -1, baseSequence = -1): Uint8Array {
  const b = new RecordBatchBuilder(128)
  values.forEach((v, i) => b.append({ timestamp: 1_700_000_000_000 + i, key: null, value: enc.encode(v), headers: [] }))
  return sealBatch(
    b.recordsBytes(),
    b.count,
    b.firstTimestamp,
    b.maxTimestamp,
    { producerId, producerEpoch, baseSequence },
    null,
  )
}

async function produce(
  conn: BrokerConnection,
  records: Uint8Array,
  partition = 0,
  topic = 't',
): Promise<ProduceResponse['topics'][number]['partitions'][number]> {
  const res = await conn.request(Produce, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 1000,
    topics: [{ topic, partitions: [{ partition, records }] }],
  })
  return res.topics[0]!.partitions[0]!
}

const valuesOf = (cluster: FakeCluster, topic = 't', partition = 0) =>
  cluster.records(topic, partition).map((r) => text(r.value))

describe('FakeCluster: ApiVersions and Metadata', () => {
  it('advertises Kafka 4.x ranges; the client picks its highest common versions', async () => {
    const cluster = new FakeCluster({ topics: { t: 1 } })
    const ranges = Object.fromEntries(cluster.advertisedVersions().map((r) => [r.apiKey, [r.minVersion, r.maxVersion]]))
    expect(ranges).toEqual({
      0: [3, 12],
      3: [0, 12],
      10: [1, 6],
      17: [0, 1],
      18: [0, 4],
      22: [0, 4],
      24: [0, 3],
      25: [0, 4],
      26: [0, 5],
      28: [0, 5],
      36: [0, 2],
    })
    const conn = await connect(cluster)
    expect([Produce, Metadata, InitProducerId, ApiVersions].map((api) => conn.versionFor(api))).toEqual([12, 12, 4, 3])
  })

  it('answers a too-new ApiVersions with UNSUPPORTED_VERSION in v0 layout, and closes on an unknown API key', async () => {
    const cluster = new FakeCluster({ apiVersions: { [ApiKey.ApiVersions]: [0, 1] } })
    const conn = await connect(cluster) // v3 refused, v1 used
    expect(cluster.requests.filter((r) => r.apiKey === ApiKey.ApiVersions).map((r) => r.apiVersion)).toEqual([3, 1])
    const closed = new Promise((resolve) => conn.onClose(resolve))
    // the client would refuse an API the broker does not list: write the request bytes directly
    const unknownKey = { ...Metadata, apiKey: 99, name: 'Unknown' }
    const raw = encodeRequest(unknownKey as typeof Metadata, 1, 42, null, { topics: [], allowAutoTopicCreation: false })
    ;(conn as unknown as { stream: { write(b: Uint8Array): void } }).stream.write(raw)
    expect(await closed).toBeInstanceOf(ConnectionError)
  })

  it('metadata: brokers with their addresses, leaders, epochs, replicas; unknown, invalid and leaderless topics', async () => {
    const cluster = new FakeCluster({
      brokers: [1, 2, 3],
      topics: { t: 3, u: { partitions: 2, leaders: [3, -1], replicationFactor: 2 } },
    })
    cluster.moveLeader('t', 0, 2)
    cluster.stopBroker(3)
    const conn = await connect(cluster)
    const md = await conn.request(Metadata, { topics: ['t', 'u', 'nope', 'bad name'], allowAutoTopicCreation: true })
    expect(md.brokers).toEqual([
      { nodeId: 1, host: 'fake-1', port: 9092, rack: null },
      { nodeId: 2, host: 'fake-2', port: 9092, rack: null },
    ])
    expect(md.clusterId).toBe('fake-cluster')
    const [t, u, nope, bad] = md.topics
    expect(t!.partitions.map((p) => [p.partition, p.errorCode, p.leaderId, p.leaderEpoch])).toEqual([
      [0, 0, 2, 1],
      [1, 0, 2, 0],
      [2, 0, 1, 1],
    ])
    // u-0 was led by broker 3: stopping it moved leadership to the next live replica (1); u-1 never had a leader
    expect(u!.partitions.map((p) => [p.errorCode, p.leaderId, p.leaderEpoch])).toEqual([
      [0, 1, 1],
      [ErrorCode.LEADER_NOT_AVAILABLE, -1, 0],
    ])
    expect(u!.partitions[0]!.replicas).toEqual([3, 1])
    expect(u!.partitions[0]!.isr).toEqual([1])
    expect(nope).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitions: [] })
    expect(bad).toMatchObject({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION })
    const all = await conn.request(Metadata, { topics: null, allowAutoTopicCreation: false })
    expect(all.topics.map((x) => x.name).sort()).toEqual(['t', 'u'])
  })

  it('auto-creates a topic when asked to (LEADER_NOT_AVAILABLE first), not when the client says no', async () => {
    const cluster = new FakeCluster({ autoCreateTopics: { partitions: 4 } })
    const conn = await connect(cluster)
    const no = await conn.request(Metadata, { topics: ['a'], allowAutoTopicCreation: false })
    expect(no.topics[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    const first = await conn.request(Metadata, { topics: ['a'], allowAutoTopicCreation: true })
    expect(first.topics[0]!.errorCode).toBe(ErrorCode.LEADER_NOT_AVAILABLE)
    const then = await conn.request(Metadata, { topics: ['a'], allowAutoTopicCreation: true })
    expect(then.topics[0]!.partitions).toHaveLength(4)
  })
})

describe('FakeCluster: Produce', () => {
  it('appends and answers offsets; counts requests per API and broker', async () => {
    const cluster = new FakeCluster({ brokers: 2, topics: { t: 2 } })
    const conn = await connect(cluster)
    expect(await produce(conn, batch(['a', 'b']))).toMatchObject({
      errorCode: 0,
      baseOffset: 0,
      logAppendTimeMs: -1,
      logStartOffset: 0,
    })
    expect(await produce(conn, batch(['c']))).toMatchObject({ errorCode: 0, baseOffset: 2 })
    expect(valuesOf(cluster)).toEqual(['a', 'b', 'c'])
    expect(cluster.records('t', 0).map((r) => [r.offset, r.timestamp, r.producerId, r.sequence])).toEqual([
      [0, 1_700_000_000_000, -1, -1],
      [1, 1_700_000_000_001, -1, -1],
      [2, 1_700_000_000_000, -1, -1],
    ])
    expect(cluster.requestCount(ApiKey.Produce)).toBe(2)
    expect(cluster.requestCount(ApiKey.Produce, 1)).toBe(2)
    expect(cluster.requestCount(ApiKey.Produce, 2)).toBe(0)
    expect(cluster.requestCount(ApiKey.ApiVersions)).toBe(1)
    expect(cluster.connectionCount(1)).toBe(1)
  })

  it('not the leader: NOT_LEADER_OR_FOLLOWER, with the leader and its address in the v10+ tags', async () => {
    const cluster = new FakeCluster({ brokers: 2, topics: { t: { partitions: 1, leaders: [2] } } })
    const conn = await connect(cluster, 1)
    const res = await conn.request(Produce, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 1000,
      topics: [{ topic: 't', partitions: [{ partition: 0, records: batch(['x']) }] }],
    })
    expect(res.topics[0]!.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      currentLeader: { leaderId: 2, leaderEpoch: 0 },
    })
    expect(res.nodeEndpoints).toEqual([{ nodeId: 2, host: 'fake-2', port: 9092, rack: null }])
    expect(cluster.records('t', 0)).toEqual([])
  })

  it('unknown topic or partition, bad CRC, two batches, oversize, bad acks, transactional id', async () => {
    const cluster = new FakeCluster({ topics: { t: 1, small: { partitions: 1, maxMessageBytes: 100 } } })
    const conn = await connect(cluster)
    expect((await produce(conn, batch(['x']), 0, 'nope')).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    expect((await produce(conn, batch(['x']), 5)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    const corrupt = batch(['hello'])
    corrupt[corrupt.length - 1] ^= 0xff
    expect(await produce(conn, corrupt)).toMatchObject({
      errorCode: ErrorCode.CORRUPT_MESSAGE,
      errorMessage: expect.stringMatching(/CRC/),
    })
    const two = new Uint8Array([...batch(['a']), ...batch(['b'])])
    expect((await produce(conn, two)).errorCode).toBe(ErrorCode.INVALID_RECORD)
    expect((await produce(conn, new Uint8Array(0))).errorCode).toBe(ErrorCode.INVALID_RECORD)
    expect((await produce(conn, batch(['y'.repeat(200)]), 0, 'small')).errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE)
    const badAcks = await conn.request(Produce, {
      transactionalId: null,
      acks: 2,
      timeoutMs: 1,
      topics: [{ topic: 't', partitions: [{ partition: 0, records: batch(['z']) }] }],
    })
    expect(badAcks.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS)
    const txn = await conn.request(Produce, {
      transactionalId: 'tx',
      acks: -1,
      timeoutMs: 1,
      topics: [{ topic: 't', partitions: [{ partition: 0, records: batch(['z']) }] }],
    })
    // a transactional id with a non-transactional batch (transactions themselves: test/unit/transactions.test.ts)
    expect(txn.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.INVALID_RECORD)
    expect(cluster.records('t', 0)).toEqual([])
  })

  it('acks=0: no answer (the next response still matches its request); a failure makes the broker hang up', async () => {
    const cluster = new FakeCluster({ topics: { t: 1 } })
    const conn = await connect(cluster)
    const req = (records: Uint8Array, topic = 't') => ({
      transactionalId: null,
      acks: 0,
      timeoutMs: 1,
      topics: [{ topic, partitions: [{ partition: 0, records }] }],
    })
    await conn.requestNoResponse(Produce, req(batch(['a'])))
    const md = await conn.request(Metadata, { topics: ['t'], allowAutoTopicCreation: false })
    expect(md.topics[0]!.name).toBe('t')
    expect(valuesOf(cluster)).toEqual(['a'])
    const closed = new Promise((resolve) => conn.onClose(resolve))
    await conn.requestNoResponse(Produce, req(batch(['b']), 'nope'))
    expect(await closed).toBeInstanceOf(ConnectionError)
  })

  it('gzip batches are decompressed; a codec not enabled is UNSUPPORTED_COMPRESSION_TYPE', async () => {
    const { compressRecords } = await import('../../src/protocol/record-batch.js')
    const { gzip } = await import('../../src/compression.js')
    const cluster = new FakeCluster({ topics: { t: 1 }, codecs: [gzip] })
    const conn = await connect(cluster)
    const b = new RecordBatchBuilder(64)
    b.append({
      timestamp: 5,
      key: enc.encode('k'),
      value: enc.encode('zipped'),
      headers: [{ key: enc.encode('h'), value: null }],
    })
    const zipped = sealBatch(
      b.recordsBytes(),
      1,
      5,
      5,
      { producerId: -1, producerEpoch: -1, baseSequence: -1 },
      await compressRecords(gzip, b.recordsBytes()),
    )
    expect((await produce(conn, zipped)).errorCode).toBe(0)
    expect(cluster.records('t', 0)[0]).toMatchObject({
      key: enc.encode('k'),
      value: enc.encode('zipped'),
      headers: [['h', null]],
      timestamp: 5,
    })
    expect(cluster.batches('t', 0)[0]!.codecId).toBe(1)
    const zstd = sealBatch(
      b.recordsBytes(),
      1,
      5,
      5,
      { producerId: -1, producerEpoch: -1, baseSequence: -1 },
      { codecId: 4, bytes: b.recordsBytes() },
    )
    expect((await produce(conn, zstd)).errorCode).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
  })
})

describe('FakeCluster: idempotent producer state (as Kafka ProducerStateManager)', () => {
  it('duplicates of the last 5 batches get the original offset and are not appended again; older ones are out of order', async () => {
    const cluster = new FakeCluster({ topics: { t: 1 } })
    const conn = await connect(cluster)
    const { producerId: pid, producerEpoch: epoch } = await conn.request(InitProducerId, {
      transactionalId: null,
      transactionTimeoutMs: 1,
      producerId: -1,
      producerEpoch: -1,
    })
    expect([pid, epoch]).toEqual([1000, 0])
    const batches = Array.from({ length: 7 }, (_, i) => batch([`a${i}`, `b${i}`], pid, epoch, i * 2))
    for (let i = 0; i < 7; i++)
      expect(await produce(conn, batches[i]!)).toMatchObject({ errorCode: 0, baseOffset: i * 2 })
    for (const i of [2, 6, 4])
      expect(await produce(conn, batches[i]!)).toMatchObject({ errorCode: 0, baseOffset: i * 2 })
    // batch 1 is no longer among the last 5: its sequence is behind, so it is out of order
    expect((await produce(conn, batches[1]!)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    expect(cluster.records('t', 0)).toHaveLength(14)
    expect(cluster.records('t', 0).map((r) => r.sequence)).toEqual(Array.from({ length: 14 }, (_, i) => i))
  })

  it('a gap is OUT_OF_ORDER_SEQUENCE_NUMBER; a stale epoch INVALID_PRODUCER_EPOCH; a new epoch starts at 0', async () => {
    const cluster = new FakeCluster({ topics: { t: 1 } })
    const conn = await connect(cluster)
    const pid = 77
    expect((await produce(conn, batch(['a'], pid, 3, 0))).errorCode).toBe(0)
    expect((await produce(conn, batch(['b'], pid, 3, 2))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    expect((await produce(conn, batch(['b'], pid, 2, 1))).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
    expect((await produce(conn, batch(['b'], pid, 4, 1))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    expect((await produce(conn, batch(['b'], pid, 4, 0))).errorCode).toBe(0)
    expect((await produce(conn, batch(['c'], pid, 3, 1))).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
    expect(valuesOf(cluster)).toEqual(['a', 'b'])
  })

  it('an unknown producer may start at any sequence; sequences wrap after 2^31-1', async () => {
    const cluster = new FakeCluster({ topics: { t: 1 } })
    const conn = await connect(cluster)
    expect((await produce(conn, batch(['a', 'b', 'c'], 5, 0, 2147483646))).errorCode).toBe(0)
    expect(cluster.records('t', 0).map((r) => r.sequence)).toEqual([2147483646, 2147483647, 0])
    expect((await produce(conn, batch(['d'], 5, 0, 0))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    expect((await produce(conn, batch(['d'], 5, 0, 1))).errorCode).toBe(0)
    // a duplicate of the wrapping batch is still recognized
    expect(await produce(conn, batch(['a', 'b', 'c'], 5, 0, 2147483646))).toMatchObject({ errorCode: 0, baseOffset: 0 })
  })

  it('fenceProducer: the producer is refused with INVALID_PRODUCER_EPOCH on every partition', async () => {
    const cluster = new FakeCluster({ topics: { t: 2 } })
    const conn = await connect(cluster)
    expect((await produce(conn, batch(['a'], 9, 0, 0), 0)).errorCode).toBe(0)
    cluster.fenceProducer(9)
    expect((await produce(conn, batch(['b'], 9, 0, 1), 0)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
    expect((await produce(conn, batch(['b'], 9, 0, 0), 1)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH)
    expect((await produce(conn, batch(['b'], 9, 1, 0), 1)).errorCode).toBe(0)
  })
})

describe('FakeCluster: faults', () => {
  it('failNext targets one partition; other partitions of the request are appended', async () => {
    const cluster = new FakeCluster({ topics: { t: 2 } })
    const conn = await connect(cluster)
    cluster.failNext(ApiKey.Produce, ErrorCode.NOT_ENOUGH_REPLICAS, { topic: 't', partition: 1, count: 2 })
    const res = await conn.request(Produce, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 1,
      topics: [
        {
          topic: 't',
          partitions: [
            { partition: 0, records: batch(['p0']) },
            { partition: 1, records: batch(['p1']) },
          ],
        },
      ],
    })
    expect(res.topics[0]!.partitions.map((p) => p.errorCode)).toEqual([0, ErrorCode.NOT_ENOUGH_REPLICAS])
    expect(await produce(conn, batch(['x']), 0)).toMatchObject({ errorCode: 0 }) // partition 0 only: not matched
    expect((await produce(conn, batch(['y']), 1)).errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS)
    expect((await produce(conn, batch(['z']), 1)).errorCode).toBe(0)
    expect(cluster.faults.pending).toHaveLength(0)
    expect(valuesOf(cluster, 't', 1)).toEqual(['z'])
  })

  it('failNext on InitProducerId and Metadata', async () => {
    const cluster = new FakeCluster({ topics: { t: 1, u: 1 } })
    const conn = await connect(cluster)
    cluster.failNext(ApiKey.InitProducerId, ErrorCode.COORDINATOR_NOT_AVAILABLE)
    expect(
      (
        await conn.request(InitProducerId, {
          transactionalId: null,
          transactionTimeoutMs: 1,
          producerId: -1,
          producerEpoch: -1,
        })
      ).errorCode,
    ).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    cluster.failNext(ApiKey.Metadata, ErrorCode.TOPIC_AUTHORIZATION_FAILED, { topic: 'u' })
    const md = await conn.request(Metadata, { topics: ['t', 'u'], allowAutoTopicCreation: false })
    expect(md.topics.map((x) => x.errorCode)).toEqual([0, ErrorCode.TOPIC_AUTHORIZATION_FAILED])
  })

  it('delayNext waits on the cluster clock; later responses on the connection queue behind it', async () => {
    const clock = new FakeClock()
    const cluster = new FakeCluster({ topics: { t: 1 }, clock })
    const conn = await connect(cluster, 1, { clock })
    cluster.delayNext(ApiKey.Produce, 250)
    const order: string[] = []
    const first = produce(conn, batch(['a'])).then((r) => (order.push('produce'), r))
    const second = conn
      .request(Metadata, { topics: [], allowAutoTopicCreation: false })
      .then(() => order.push('metadata'))
    await cluster.idle()
    await clock.advance(249)
    await cluster.idle()
    expect(order).toEqual([])
    expect(valuesOf(cluster)).toEqual(['a'])
    await clock.advance(1)
    await cluster.idle()
    await Promise.all([first, second])
    expect(order).toEqual(['produce', 'metadata'])
  })

  it.each([['truncate'], ['trailing-bytes'], ['correlation-id'], ['oversize'], ['random-bytes']] as const)(
    'corruptNext %s: the client sees MalformedResponseError and drops the connection',
    async (mode) => {
      // a seeded clock makes 'random-bytes' the same bytes every run
      const cluster = new FakeCluster({ topics: { t: 1 }, clock: new FakeClock() })
      const conn = await connect(cluster)
      cluster.corruptNext(ApiKey.Metadata, mode)
      const err = await conn.request(Metadata, { topics: ['t'], allowAutoTopicCreation: false }).catch((e) => e)
      expect(err).toBeInstanceOf(MalformedResponseError)
      expect(conn.isClosed).toBe(true)
    },
  )

  it('partial-frame, disconnects and stalls: ConnectionError or RequestTimeoutError', async () => {
    const cluster = new FakeCluster({ topics: { t: 1 } })
    const md = { topics: ['t'], allowAutoTopicCreation: false }
    cluster.corruptNext(ApiKey.Metadata, 'partial-frame')
    expect(await (await connect(cluster)).request(Metadata, md).catch((e) => e)).toBeInstanceOf(ConnectionError)
    cluster.disconnectNext(ApiKey.Produce, 'before-append')
    expect(await produce(await connect(cluster), batch(['lost'])).catch((e) => e)).toBeInstanceOf(ConnectionError)
    cluster.disconnectNext(ApiKey.Produce, 'after-append')
    expect(await produce(await connect(cluster), batch(['kept'])).catch((e) => e)).toBeInstanceOf(ConnectionError)
    expect(valuesOf(cluster)).toEqual(['kept'])
    const clock = new FakeClock()
    const conn = await connect(cluster, 1, { clock, requestTimeoutMs: 300 })
    cluster.stallNext(ApiKey.Metadata)
    const stalled = conn.request(Metadata, md).catch((e) => e)
    await cluster.idle()
    await clock.advance(300)
    expect(await stalled).toBeInstanceOf(RequestTimeoutError)
    expect(cluster.connectionCount()).toBe(0)
  })

  it('stopBroker refuses connections and moves leadership; startBroker lets them in again', async () => {
    const cluster = new FakeCluster({ brokers: 2, topics: { t: { partitions: 2, leaders: [1, 2] } } })
    const conn = await connect(cluster, 2)
    const closed = new Promise((resolve) => conn.onClose(resolve))
    cluster.stopBroker(2)
    expect(await closed).toBeInstanceOf(ConnectionError)
    expect(cluster.leaderOf('t', 1)).toBe(1)
    await expect(connect(cluster, 2)).rejects.toBeInstanceOf(ConnectionError)
    cluster.startBroker(2)
    await expect(connect(cluster, 2)).resolves.toBeInstanceOf(BrokerConnection)
  })
})

describe('FakeCluster: in-memory transport delivery', () => {
  it.each([
    ['one byte at a time', { chunkSize: 1 }],
    ['7-byte chunks', { chunkSize: 7 }],
    ['on macrotasks', { delivery: 'macrotask' as const }],
  ])('a producer works with bytes delivered %s', async (_name, transport) => {
    const cluster = new FakeCluster({ brokers: 2, topics: { t: 2 } })
    const p = createProducer({ transport: cluster.transport(transport), lingerMs: 0 })
    cleanups.push(() => p.close())
    const metas = await Promise.all(
      Array.from({ length: 20 }, (_, i) => p.send({ topic: 't', partition: i % 2, value: `v${i}` })),
    )
    expect(metas.map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => Math.floor(i / 2)))
    expect(valuesOf(cluster, 't', 1)).toEqual(Array.from({ length: 10 }, (_, i) => `v${2 * i + 1}`))
  })
})

describe('FakeCluster: SASL', () => {
  const sasl: FakeClusterOptions['sasl'] = { users: { alice: 'secret', 'b,o=b': 'pw' }, scramIterations: 4096 }

  it.each([
    ['plain', 'alice', 'secret'],
    ['scram-sha-256', 'alice', 'secret'],
    ['scram-sha-512', 'b,o=b', 'pw'],
  ] as const)('%s with the right password: the producer works', async (mechanism, username, password) => {
    const cluster = new FakeCluster({ topics: { t: 1 }, sasl })
    const p = createProducer({ transport: cluster.transport({ sasl: { mechanism, username, password } }), lingerMs: 0 })
    cleanups.push(() => p.close())
    expect(await p.send({ topic: 't', value: 'x' })).toMatchObject({ offset: 0 })
  })

  it.each(['plain', 'scram-sha-256'] as const)(
    '%s with a wrong password fails fast with AUTHENTICATION_FAILED',
    async (mechanism) => {
      const cluster = new FakeCluster({ topics: { t: 1 }, sasl })
      const p = createProducer({
        transport: cluster.transport({ sasl: { mechanism, username: 'alice', password: 'wrong' } }),
        lingerMs: 0,
        maxBlockMs: 5000,
      })
      cleanups.push(() => p.close({ timeoutMs: 0 }))
      const err = await p.send({ topic: 't', value: 'x' }).catch((e) => e)
      expect(err.code).toBe('AUTHENTICATION_FAILED')
      expect(cluster.records('t', 0)).toEqual([])
    },
  )

  it('oauthbearer: the token is checked', async () => {
    const cluster = new FakeCluster({ topics: { t: 1 }, sasl: { validateToken: (t) => t === 'good' } })
    const ok = createProducer({
      transport: cluster.transport({ sasl: { mechanism: 'oauthbearer', token: () => 'good' } }),
      lingerMs: 0,
    })
    cleanups.push(() => ok.close())
    expect(await ok.send({ topic: 't', value: 'x' })).toMatchObject({ offset: 0 })
    const bad = createProducer({
      transport: cluster.transport({ sasl: { mechanism: 'oauthbearer', token: async () => 'bad' } }),
      lingerMs: 0,
    })
    cleanups.push(() => bad.close({ timeoutMs: 0 }))
    expect(await bad.send({ topic: 't', value: 'y' }).catch((e) => e)).toMatchObject({ code: 'AUTHENTICATION_FAILED' })
  })

  it('a mechanism the cluster does not enable, and requests before authenticating', async () => {
    const cluster = new FakeCluster({ topics: { t: 1 }, sasl: { mechanisms: ['SCRAM-SHA-512'], users: { a: 'b' } } })
    const p = createProducer({
      transport: cluster.transport({ sasl: { mechanism: 'plain', username: 'a', password: 'b' } }),
      lingerMs: 0,
    })
    cleanups.push(() => p.close({ timeoutMs: 0 }))
    const err = await p.send({ topic: 't', value: 'x' }).catch((e) => e)
    expect(err.code).toBe('AUTHENTICATION_FAILED')
    expect(err.message).toMatch(/SCRAM-SHA-512/)
    // a client that skips SASL gets hung up on at its first real request
    const conn = await connect(cluster)
    expect(
      await conn.request(Metadata, { topics: ['t'], allowAutoTopicCreation: false }).catch((e) => e),
    ).toBeInstanceOf(ConnectionError)
  })
})

describe('isokafka/testing is runtime-free', () => {
  it('src/testing/index.ts bundles for platform "neutral" with nothing external', async () => {
    const { build } = await import('esbuild')
    const path = await import('node:path')
    const result = await build({
      entryPoints: [path.resolve(import.meta.dirname, '../../src/testing/index.ts')],
      bundle: true,
      platform: 'neutral',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      metafile: true,
    })
    expect(Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path))).toEqual([])
    expect(result.outputFiles[0]!.text).not.toMatch(/["']node:/)
  })
})

describe('serveFakeCluster (Node TCP)', () => {
  async function serve(options: FakeClusterOptions): Promise<[FakeCluster, FakeClusterServer]> {
    const cluster = new FakeCluster(options)
    const server = await serveFakeCluster(cluster)
    cleanups.push(() => server.close())
    return [cluster, server]
  }

  it('the Node TCP transport produces to a 3-broker fake cluster on 127.0.0.1', async () => {
    const [cluster, server] = await serve({ brokers: 3, topics: { t: 6 } })
    expect(server.bootstrap).toHaveLength(3)
    expect(server.bootstrap.every((a) => /^127\.0\.0\.1:\d+$/.test(a))).toBe(true)
    const p = createProducer({ transport: tcp({ bootstrap: server.bootstrap.slice(0, 1) }), lingerMs: 0 })
    cleanups.push(() => p.close())
    const metas = await Promise.all(
      Array.from({ length: 60 }, (_, i) => p.send({ topic: 't', key: `k${i}`, value: `v${i}` })),
    )
    expect(new Set(metas.map((m) => m.partition)).size).toBeGreaterThan(1)
    expect(cluster.records('t')).toHaveLength(60)
    // every broker that leads a partition got Produce requests over its own port
    for (const id of [1, 2, 3]) expect(cluster.requestCount(ApiKey.Produce, id)).toBeGreaterThan(0)
  })

  it('a dropped TCP connection after the append: the idempotent retry keeps one copy', async () => {
    const [cluster, server] = await serve({ topics: { t: 1 } })
    const p = createProducer({ transport: tcp({ bootstrap: server.bootstrap }), lingerMs: 0, retryBackoffMs: 10 })
    cleanups.push(() => p.close())
    await p.send({ topic: 't', value: 'a' })
    cluster.disconnectNext(ApiKey.Produce, 'after-append')
    expect(await p.send({ topic: 't', value: 'b' })).toMatchObject({ offset: 1 })
    expect(valuesOf(cluster)).toEqual(['a', 'b'])
  })

  const kcat = (args: string[], input?: string) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d) => (out += d))
      child.stderr.on('data', (d) => (err += d))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, out, err }))
      child.stdin.end(input ?? '')
    })

  it('kcat (librdkafka) lists metadata and produces to it', async () => {
    // librdkafka writes RecordBatch v2 only to brokers that also advertise Fetch v4+; the fake does not serve Fetch,
    // but advertising it is enough for a producer that never fetches
    const [cluster, server] = await serve({ brokers: 2, topics: { t: 2 }, apiVersions: { [1]: [4, 17] } })
    const list = await kcat(['-L', '-b', server.bootstrap[0]!, '-t', 't', '-J'])
    expect(list.code).toBe(0)
    const md = JSON.parse(list.out)
    expect(md.brokers.map((b: { name: string }) => b.name).sort()).toEqual([...server.bootstrap].sort())
    expect(md.topics[0].partitions).toHaveLength(2)
    const produced = await kcat(
      ['-P', '-b', server.bootstrap.join(','), '-t', 't', '-p', '1', '-K', ':', '-z', 'gzip'],
      'k1:one\nk2:two\nk3:three\n',
    )
    expect(produced.code, produced.err).toBe(0)
    expect(cluster.records('t', 1).map((r) => [text(r.key), text(r.value)])).toEqual([
      ['k1', 'one'],
      ['k2', 'two'],
      ['k3', 'three'],
    ])
  }, 30_000)
})
