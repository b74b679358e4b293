import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createProducer, murmur2Partition, type RecordMetadata } from '../../src/index.js'
import { tcp } from '../../adapters/node-tcp/index.js'
import { createTopic, readAllWithKcat, uniqueTopic, type KcatRecord } from '../helpers/kafka-tools.js'
import { xorshift32 as rng } from '../helpers/xorshift.js'

const bootstrap = inject('kafkaBootstrap')
const N = Number(process.env.E2E_RECORDS ?? 40_000)
const PARTITIONS = 6
const enc = new TextEncoder()

interface Sent {
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
}

function makeRecords(n: number, seed: number): Sent[] {
  const rand = rng(seed)
  const bytes = (len: number) => {
    const b = new Uint8Array(len)
    for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256)
    return b
  }
  const out: Sent[] = []
  for (let i = 0; i < n; i++) {
    const r = rand()
    // 20% null keys (sticky partitioner), 10% empty keys, the rest binary keys from a pool so keys repeat
    const key = r < 0.2 ? null : r < 0.3 ? new Uint8Array(0) : enc.encode(`k-${Math.floor(rand() * 5000)}-`).slice()
    if (key && key.length > 0 && rand() < 0.5) key[key.length - 1] = Math.floor(rand() * 256)
    const value = i % 997 === 0 ? null : i % 331 === 0 ? new Uint8Array(0) : bytes(10 + Math.floor(rand() * 140))
    const headers: Array<[string, Uint8Array | null]> = []
    if (i % 3 === 0) headers.push(['seq', enc.encode(String(i))])
    if (i % 5 === 0) headers.push(['bin', bytes(8)], ['nil', null])
    if (i % 7 === 0) headers.push(['dup', enc.encode('a')], ['dup', enc.encode('b')])
    out.push({ key, value, headers })
  }
  return out
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

async function produceAndVerify(compression: 'none' | 'gzip') {
  const topic = uniqueTopic(`e2e-${compression}`)
  await createTopic(bootstrap, topic, PARTITIONS)
  const records = makeRecords(N, compression === 'gzip' ? 7 : 3)
  const producer = createProducer({ transport: tcp({ bootstrap }), acks: 'all', enableIdempotence: true, compression })
  const metas: Promise<RecordMetadata>[] = []
  for (const r of records)
    metas.push(producer.send({ topic, key: r.key ?? undefined, value: r.value, headers: r.headers }))
  const acked = await Promise.all(metas)
  await producer.close()

  // keyed placement is what Java's murmur2 partitioner predicts
  let keyed = 0
  records.forEach((r, i) => {
    if (r.key !== null) {
      keyed++
      expect(acked[i]!.partition).toBe(murmur2Partition(r.key, PARTITIONS))
    }
  })
  expect(keyed).toBeGreaterThan(N * 0.7)

  const read = await readAllWithKcat(bootstrap, topic, N, 120_000)
  expect(read.length).toBe(N)
  const byPosition = new Map<string, KcatRecord>()
  for (const rec of read) byPosition.set(`${rec.partition}:${rec.offset}`, rec)
  expect(byPosition.size).toBe(N)

  // every record at the partition/offset its send resolved to, byte for byte; offsets per partition follow send order
  const lastOffset = new Array<number>(PARTITIONS).fill(-1)
  let mismatches = 0
  records.forEach((sent, i) => {
    const meta = acked[i]!
    expect(meta.offset).toBeGreaterThan(lastOffset[meta.partition]!)
    lastOffset[meta.partition] = meta.offset
    const got = byPosition.get(`${meta.partition}:${meta.offset}`)
    const ok =
      got !== undefined &&
      sameBytes(got.key, sent.key) &&
      sameBytes(got.value, sent.value) &&
      got.headers.length === sent.headers.length &&
      got.headers.every(([name, value], h) => name === sent.headers[h]![0] && sameBytes(value, sent.headers[h]![1]))
    if (!ok) mismatches++
  })
  expect(mismatches).toBe(0)
  // nothing else in the topic: offsets are dense from 0 per partition
  for (let p = 0; p < PARTITIONS; p++) {
    const offsets = read.filter((r) => r.partition === p).map((r) => r.offset)
    expect(offsets).toEqual(offsets.map((_, i) => i))
  }
  return { topic, perPartition: lastOffset.map((o) => o + 1) }
}

describe('producer against a real Kafka broker, read back by kcat (librdkafka)', () => {
  it(`${N} records with keys, null keys, headers; acks=all, idempotent, no compression`, async () => {
    const { perPartition } = await produceAndVerify('none')
    expect(perPartition.every((n) => n > 0)).toBe(true)
  })

  it(`${N} records with keys, null keys, headers; acks=all, idempotent, gzip`, async () => {
    await produceAndVerify('gzip')
  })
})

describe('typed errors against the real broker', () => {
  it('an unknown topic (auto-create off) fails with MAX_BLOCK_TIMEOUT caused by UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const producer = createProducer({ transport: tcp({ bootstrap }), maxBlockMs: 2000 })
    const started = Date.now()
    const err = await producer.send({ topic: uniqueTopic('missing'), value: 'x' }).catch((e) => e)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900)
    expect(err).toMatchObject({ code: 'MAX_BLOCK_TIMEOUT', retriable: true })
    expect(err.cause).toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION', errorCode: 3 })
    await producer.close()
  })

  it('a record over maxRequestSize fails at once with RECORD_TOO_LARGE; the others are delivered', async () => {
    const topic = uniqueTopic('large')
    await createTopic(bootstrap, topic, 1)
    const producer = createProducer({ transport: tcp({ bootstrap }), maxRequestSize: 10_000 })
    const before = producer.send({ topic, value: 'before' })
    const big = producer.send({ topic, value: new Uint8Array(20_000) })
    const after = producer.send({ topic, value: 'after' })
    await expect(big).rejects.toMatchObject({ code: 'RECORD_TOO_LARGE', retriable: false })
    expect((await before).offset).toBe(0)
    expect((await after).offset).toBe(1)
    await producer.close()
    const read = await readAllWithKcat(bootstrap, topic, 2)
    expect(read.map((r) => new TextDecoder().decode(r.value!))).toEqual(['before', 'after'])
  })
})
