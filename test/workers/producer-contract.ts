// A small producer contract written against the public API only and Web-standard globals, so that it runs in any
// runtime (here inside workerd, see contract-worker.ts). Each case throws on a broken expectation and returns what a
// reader needs to check the broker independently: for every record, where it landed and its bytes (hex; null is null).
import {
  createProducer, InvalidArgumentError, IsoKafkaError, murmur2Partition, ProducerClosedError,
  type HeaderValue, type RecordMetadata, type SocketTransport,
} from '../../src/index.js'

export interface ExpectedRecord {
  partition: number
  offset: number
  key: string | null
  value: string | null
  headers: Array<[string, string | null]>
}

export interface CaseResult {
  ok: true
  records?: ExpectedRecord[]
  [k: string]: unknown
}

export interface ContractContext {
  /** A fresh transport to the cluster under test. */
  transport(): SocketTransport
  /** An existing topic with `partitions` partitions, for this case alone. */
  topic: string
  partitions: number
}

type Value = string | Uint8Array | null | undefined
interface SentRecord {
  key?: Value
  value: Value
  headers?: Record<string, HeaderValue> | Array<[string, HeaderValue]>
  partition?: number
}

const utf8 = new TextEncoder()
const bytes = (v: Value): Uint8Array | null => (v === null || v === undefined ? null : typeof v === 'string' ? utf8.encode(v) : v)
export const hex = (v: Value): string | null => {
  const b = bytes(v)
  return b === null ? null : Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

function fail(message: string): never {
  throw new Error(`contract: ${message}`)
}
function expectEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`)
}

function expected(record: SentRecord, meta: RecordMetadata): ExpectedRecord {
  const entries = record.headers === undefined ? [] : Array.isArray(record.headers) ? record.headers : Object.entries(record.headers)
  return {
    partition: meta.partition,
    offset: meta.offset,
    key: hex(record.key),
    value: hex(record.value),
    headers: entries.map(([k, v]) => [k, hex(v)] as [string, string | null]),
  }
}

/** Offsets must grow in send order within each partition. */
function expectOrderPerPartition(metas: RecordMetadata[], what: string): void {
  const last = new Map<number, number>()
  for (const [i, m] of metas.entries()) {
    const prev = last.get(m.partition)
    if (prev !== undefined && m.offset <= prev) fail(`${what}: record ${i} got offset ${m.offset} after ${prev} in partition ${m.partition}`)
    last.set(m.partition, m.offset)
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  return fail('expected a rejection')
}

async function sendAll(ctx: ContractContext, records: SentRecord[], options: { lingerMs?: number } = {}) {
  const producer = createProducer<Value, Value>({ transport: ctx.transport(), ...options })
  const metas = await Promise.all(records.map((r) => producer.send({ topic: ctx.topic, ...r })))
  await producer.close()
  return metas
}

export const contractCases: Record<string, (ctx: ContractContext) => Promise<CaseResult>> = {
  /** flush() resolves only once every earlier send is acknowledged; close() is final and idempotent. */
  async 'send-flush-close'(ctx) {
    const producer = createProducer<Value, Value>({ transport: ctx.transport(), lingerMs: 1000 })
    const records: SentRecord[] = [0, 1, 2, 3, 4].map((i) => ({ key: `sfc-${i}`, value: `value-${i}` }))
    const acked: boolean[] = []
    const sends = records.map((r, i) => producer.send({ topic: ctx.topic, ...r }).then((m) => ((acked[i] = true), m)))
    await producer.flush() // well before the 1 s linger
    expectEqual(acked.filter(Boolean).length, records.length, 'records acknowledged when flush() resolved')
    const metas = await Promise.all(sends)
    for (const m of metas) {
      if (m.topic !== ctx.topic || m.offset < 0 || m.partition < 0 || m.partition >= ctx.partitions) fail(`bad metadata ${JSON.stringify(m)}`)
    }
    await producer.close()
    const after = await rejection(producer.send({ topic: ctx.topic, value: 'after close' }))
    if (!(after instanceof ProducerClosedError)) fail(`send after close: ${String(after)}`)
    expectEqual((after as IsoKafkaError).code, 'PRODUCER_CLOSED', 'code after close')
    await producer.close() // a second close is a no-op
    return { ok: true, records: records.map((r, i) => expected(r, metas[i]!)) }
  },

  /** Headers (object and array form, repeated names, binary, null, empty) and null keys/values reach the broker as sent. */
  async 'headers-and-null-keys'(ctx) {
    const records: SentRecord[] = [
      { value: 'key omitted' },
      { key: null, value: null },
      { key: '', value: '' },
      { key: new Uint8Array([0x00, 0xff]), value: new Uint8Array([0x00, 0xc3, 0x28, 0x0a]) },
      { key: 'h-object', value: 'v', headers: { a: 'x', b: new Uint8Array([0, 1, 255]), c: null, d: '' } },
      { key: null, value: 'h-array', headers: [['h', '1'], ['h', '2'], ['h', null], ['ключ', 'значение ✓']] },
    ]
    const metas = await sendAll(ctx, records)
    for (const [i, r] of records.entries()) {
      const k = bytes(r.key)
      if (k !== null) expectEqual(metas[i]!.partition, murmur2Partition(k, ctx.partitions), `partition of keyed record ${i}`)
    }
    return { ok: true, records: records.map((r, i) => expected(r, metas[i]!)) }
  },

  /** Send order is log order within a partition: keyed, explicit-partition and null-key records. */
  async 'ordering-per-partition'(ctx) {
    const records: SentRecord[] = Array.from({ length: 600 }, (_, i) =>
      i % 3 === 0 ? { key: 'order-key', value: `k-${i}` } : i % 3 === 1 ? { partition: ctx.partitions - 1, value: `p-${i}` } : { value: `n-${i}` },
    )
    const metas = await sendAll(ctx, records, { lingerMs: 2 })
    expectOrderPerPartition(metas, 'ordering')
    const keyed = new Set(metas.filter((_, i) => i % 3 === 0).map((m) => m.partition))
    expectEqual([...keyed], [murmur2Partition(utf8.encode('order-key'), ctx.partitions)], 'partitions of one key')
    return { ok: true, records: records.map((r, i) => expected(r, metas[i]!)) }
  },

  /** Invalid topic names are rejected with a typed, non-retriable error, without touching the network. */
  async 'invalid-topic'(ctx) {
    let connects = 0
    const base = ctx.transport()
    const counting: SocketTransport = { ...base, connect: (o, h) => (connects++, base.connect(o, h)) }
    const producer = createProducer<Value, Value>({ transport: counting })
    const names = ['bad topic!', '', '.', '..', 'x'.repeat(250), 'ünïcode']
    const errors = []
    for (const topic of names) {
      const err = await rejection(producer.send({ topic, value: 'v' }))
      if (!(err instanceof InvalidArgumentError) || !(err instanceof IsoKafkaError)) fail(`topic ${JSON.stringify(topic)}: ${String(err)}`)
      expectEqual([err.code, err.retriable], ['INVALID_TOPIC', false], `error for ${JSON.stringify(topic)}`)
      errors.push({ name: err.name, code: err.code })
    }
    const viaPartitionsFor = await rejection(producer.partitionsFor('no spaces allowed'))
    expectEqual((viaPartitionsFor as IsoKafkaError).code, 'INVALID_TOPIC', 'partitionsFor code')
    await producer.close()
    expectEqual(connects, 0, 'connections opened')
    return { ok: true, errors }
  },
}
