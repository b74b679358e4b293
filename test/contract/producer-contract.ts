// The producer contract: one set of behavioural cases, written against the public API and Web-standard globals
// only, run on every transport in every runtime:
//   Node      — test/contract/node.test.ts: Node TCP, WebSocket → gateway (`ws` injected), fetch → gateway
//   Chromium  — test/browser/contract.test.ts: WebSocket → gateway, fetch → gateway
//   workerd   — test/workers/contract-worker.ts: Workers TCP (cloudflare:sockets), fetch and WebSocket → gateway
//
// A case takes a `Transport` factory (a SocketTransport or a GatewayTransport). Most cases mean the same thing for
// both kinds and run on both; a case that only makes sense for one kind says so in `kinds`, and `casesFor(kind)`
// leaves it out elsewhere. Where a case has to reach below the public API (hold acknowledgements, lose one, count
// network operations), it does so through `instrument()`, which has one implementation per kind and the same
// meaning for both.
//
// Each case throws on a broken expectation and returns what a reader needs to check the broker independently: for
// every record it produced, where it landed and its bytes (hex; null stays null). The runner reads the topic back
// with kcat (in Node: directly; from Chromium: through a Vitest browser command; from workerd: in the Node test that
// drives Miniflare) and checks it with `checkReadBack` / `checkSendOrder` / `checkTopicHoldsExactly` below.
// A case that a transport kind fails today is listed in `knownFailures`: runners mark it `it.fails`.
import {
  ConnectionError,
  createProducer,
  defaultSerializer,
  InvalidArgumentError,
  IsoKafkaError,
  murmur2Partition,
  ProducerClosedError,
  SerializationError,
  type ByteStream,
  type ByteStreamHandlers,
  type GatewayTransport,
  type HeaderValue,
  type RecordMetadata,
  type SocketTransport,
  type Transport,
} from '../../src/index.js'

export type TransportKind = Transport['kind']

export interface ExpectedRecord {
  partition: number
  offset: number
  key: string | null
  value: string | null
  headers: Array<[string, string | null]>
}

/** A record as read back from the broker, bytes as hex (what the runners' kcat read-back produces). */
export interface HexRecord {
  partition: number
  offset: number
  timestamp?: number
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
  /** A fresh transport to the cluster under test (a new one per call). */
  transport(): Transport
  /** An existing topic with `partitions` partitions. Cases share it: the runner checks positions, not counts. */
  topic: string
  partitions: number
}

export interface ContractCase {
  /** The transport kinds the case means something for. */
  kinds: readonly TransportKind[]
  run(ctx: ContractContext): Promise<CaseResult>
}

type Value = string | Uint8Array | null | undefined
interface SentRecord {
  key?: Value
  value: Value
  headers?: Record<string, HeaderValue> | Array<[string, HeaderValue]>
  partition?: number
}

const utf8 = new TextEncoder()
const bytes = (v: Value): Uint8Array | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? utf8.encode(v) : v
export const hex = (v: Value): string | null => {
  const b = bytes(v)
  return b === null ? null : Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

/** A broken expectation. `records` are the ones the case did get written before it failed (for the topic check). */
export class ContractFailure extends Error {
  constructor(
    message: string,
    readonly records?: ExpectedRecord[],
  ) {
    super(`contract: ${message}`)
    this.name = 'ContractFailure'
  }
}
function fail(message: string, records?: ExpectedRecord[]): never {
  throw new ContractFailure(message, records)
}
function expectEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`)
}
function expectTrue(cond: boolean, what: string): void {
  if (!cond) fail(what)
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function expected(record: SentRecord, meta: RecordMetadata): ExpectedRecord {
  const entries =
    record.headers === undefined ? [] : Array.isArray(record.headers) ? record.headers : Object.entries(record.headers)
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
  const problems = checkSendOrder(metas)
  if (problems.length > 0) fail(`${what}: ${problems.join('; ')}`)
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  return fail('expected a rejection')
}

/** A typed isokafka error with this code and retriable flag. */
function expectTyped(err: unknown, code: string, retriable: boolean, what: string): IsoKafkaError {
  if (!(err instanceof IsoKafkaError)) fail(`${what}: expected an IsoKafkaError ${code}, got ${String(err)}`)
  expectEqual([err.code, err.retriable], [code, retriable], `${what}: [code, retriable]`)
  return err
}

type Settled = { ok: true; meta: RecordMetadata } | { ok: false; error: unknown }
const settle = (p: Promise<RecordMetadata>): Promise<Settled> =>
  p.then(
    (meta) => ({ ok: true as const, meta }),
    (error: unknown) => ({ ok: false as const, error }),
  )

async function sendAll(ctx: ContractContext, records: SentRecord[], options: { lingerMs?: number } = {}) {
  const producer = createProducer<Value, Value>({ transport: ctx.transport(), ...options })
  const metas = await Promise.all(records.map((r) => producer.send({ topic: ctx.topic, ...r })))
  await producer.close()
  return metas
}

// ---- instrument(): reaching below the public API, one implementation per transport kind ----

export interface Instrumented {
  transport: Transport
  /** Network operations started: socket connects, or gateway metadata/produce requests. */
  readonly operations: number
  /** Socket connections opened (0 for a gateway transport). */
  readonly connects: number
  /** Hold every acknowledgement (socket: bytes from the broker; gateway: produce results) until `resume()`. */
  pause(): void
  resume(): void
  /**
   * Lose the next acknowledgement after the records were written: socket — the connection carrying the next bytes
   * from a broker is dropped instead (ConnectionError to the core); gateway — the next produce() that succeeded is
   * reported as a ConnectionError. `lost` counts how often that happened.
   */
  loseNextAck(): void
  readonly lost: number
}

export function instrument(inner: Transport): Instrumented {
  let operations = 0
  let connects = 0
  let paused = false
  let loseNext = false
  let lost = 0
  const resumeWaiters: Array<() => void> = []
  const gate = () => (paused ? new Promise<void>((resolve) => resumeWaiters.push(resolve)) : Promise.resolve())
  const held: Array<() => void> = []
  const control: Instrumented = {
    transport: inner,
    get operations() {
      return operations
    },
    get connects() {
      return connects
    },
    get lost() {
      return lost
    },
    pause() {
      paused = true
    },
    resume() {
      paused = false
      for (const deliver of held.splice(0)) deliver()
      for (const w of resumeWaiters.splice(0)) w()
    },
    loseNextAck() {
      loseNext = true
    },
  }
  if (inner.kind === 'socket') {
    const socket: SocketTransport = {
      kind: 'socket',
      backend: inner.backend,
      bootstrap: inner.bootstrap,
      clientId: inner.clientId,
      sasl: inner.sasl,
      async connect(options, handlers: ByteStreamHandlers): Promise<ByteStream> {
        operations++
        connects++
        let dead = false
        let stream: ByteStream | null = null
        const wrapped: ByteStreamHandlers = {
          onData(chunk) {
            if (dead) return
            if (loseNext && stream) {
              loseNext = false
              lost++
              dead = true
              stream.close()
              handlers.onClose(new ConnectionError('contract: connection dropped before the acknowledgement arrived'))
              return
            }
            if (paused || held.length > 0) {
              const copy = chunk.slice()
              held.push(() => !dead && handlers.onData(copy))
              return
            }
            handlers.onData(chunk)
          },
          onClose(error) {
            if (dead) return
            if (paused || held.length > 0) {
              held.push(() => {
                if (dead) return
                dead = true
                handlers.onClose(error)
              })
              return
            }
            dead = true
            handlers.onClose(error)
          },
        }
        stream = await inner.connect(options, wrapped)
        return stream
      },
    }
    control.transport = socket
    return control
  }
  const gateway: GatewayTransport = {
    kind: 'gateway',
    backend: inner.backend,
    metadata(topics, signal) {
      operations++
      return inner.metadata(topics, signal)
    },
    async produce(batches, options) {
      operations++
      const results = await inner.produce(batches, options)
      if (loseNext) {
        loseNext = false
        lost++
        throw new ConnectionError('contract: the acknowledgement was lost')
      }
      await gate()
      return results
    },
    close: () => inner.close(),
  }
  control.transport = gateway
  return control
}

// ---- the cases ----

const BOTH = ['socket', 'gateway'] as const

export const contractCases: Record<string, ContractCase> = {
  /** flush() resolves only once every earlier send is acknowledged; close() is final and idempotent. */
  'send-flush-close': {
    kinds: BOTH,
    async run(ctx) {
      const producer = createProducer<Value, Value>({ transport: ctx.transport(), lingerMs: 1000 })
      const records: SentRecord[] = [0, 1, 2, 3, 4].map((i) => ({ key: `sfc-${i}`, value: `value-${i}` }))
      const acked: boolean[] = []
      const sends = records.map((r, i) => producer.send({ topic: ctx.topic, ...r }).then((m) => ((acked[i] = true), m)))
      await producer.flush() // well before the 1 s linger
      expectEqual(acked.filter(Boolean).length, records.length, 'records acknowledged when flush() resolved')
      const metas = await Promise.all(sends)
      for (const m of metas) {
        if (m.topic !== ctx.topic || m.offset < 0 || m.partition < 0 || m.partition >= ctx.partitions)
          fail(`bad metadata ${JSON.stringify(m)}`)
      }
      await producer.close()
      const after = await rejection(producer.send({ topic: ctx.topic, value: 'after close' }))
      if (!(after instanceof ProducerClosedError)) fail(`send after close: ${String(after)}`)
      expectEqual((after as IsoKafkaError).code, 'PRODUCER_CLOSED', 'code after close')
      await producer.close() // a second close is a no-op
      return { ok: true, records: records.map((r, i) => expected(r, metas[i]!)) }
    },
  },

  /** close() delivers what was sent before it; afterwards send/sendBatch fail with PRODUCER_CLOSED, flush() resolves. */
  'send-after-close': {
    kinds: BOTH,
    async run(ctx) {
      const producer = createProducer<Value, Value>({ transport: ctx.transport(), lingerMs: 50 })
      const records: SentRecord[] = Array.from({ length: 20 }, (_, i) => ({
        key: `sac-${i % 4}`,
        value: `before-close-${i}`,
      }))
      const sends = records.map((r) => producer.send({ topic: ctx.topic, ...r }))
      await producer.close() // flushes first
      const metas = await Promise.all(sends) // already settled: close() waited for them
      expectOrderPerPartition(metas, 'records sent before close()')
      const errors = [
        await rejection(producer.send({ topic: ctx.topic, value: 'after close' })),
        await rejection(
          producer.sendBatch([
            { topic: ctx.topic, value: 'a' },
            { topic: ctx.topic, value: 'b' },
          ]),
        ),
        await rejection(producer.send({ topic: 'not valid either', value: 'x' })), // closed wins over validation
      ]
      for (const [i, err] of errors.entries()) {
        if (!(err instanceof ProducerClosedError)) fail(`call ${i} after close: ${String(err)}`)
        expectTyped(err, 'PRODUCER_CLOSED', false, `call ${i} after close`)
      }
      await producer.flush() // nothing pending: resolves
      await producer.close() // idempotent
      return { ok: true, records: records.map((r, i) => expected(r, metas[i]!)) }
    },
  },

  /** Headers (object and array form, repeated names, binary, null, empty) and null keys/values reach the broker as sent. */
  'headers-and-null-keys': {
    kinds: BOTH,
    async run(ctx) {
      const records: SentRecord[] = [
        { value: 'key omitted' },
        { key: null, value: null },
        { key: '', value: '' },
        { key: new Uint8Array([0x00, 0xff]), value: new Uint8Array([0x00, 0xc3, 0x28, 0x0a]) },
        { key: 'h-object', value: 'v', headers: { a: 'x', b: new Uint8Array([0, 1, 255]), c: null, d: '' } },
        {
          key: null,
          value: 'h-array',
          headers: [
            ['h', '1'],
            ['h', '2'],
            ['h', null],
            ['ключ', 'значение ✓'],
          ],
        },
        {
          key: null,
          value: new Uint8Array(256).map((_, i) => i),
          headers: [['all-bytes', new Uint8Array(256).map((_, i) => 255 - i)]],
        },
      ]
      const metas = await sendAll(ctx, records)
      for (const [i, r] of records.entries()) {
        const k = bytes(r.key)
        if (k !== null)
          expectEqual(metas[i]!.partition, murmur2Partition(k, ctx.partitions), `partition of keyed record ${i}`)
      }
      return { ok: true, records: records.map((r, i) => expected(r, metas[i]!)) }
    },
  },

  /** Send order is log order within a partition: keyed, explicit-partition and null-key records. */
  'ordering-per-partition': {
    kinds: BOTH,
    async run(ctx) {
      const records: SentRecord[] = Array.from({ length: 600 }, (_, i) =>
        i % 3 === 0
          ? { key: 'order-key', value: `k-${i}` }
          : i % 3 === 1
            ? { partition: ctx.partitions - 1, value: `p-${i}` }
            : { value: `n-${i}` },
      )
      const metas = await sendAll(ctx, records, { lingerMs: 2 })
      expectOrderPerPartition(metas, 'ordering')
      const keyed = new Set(metas.filter((_, i) => i % 3 === 0).map((m) => m.partition))
      expectEqual([...keyed], [murmur2Partition(utf8.encode('order-key'), ctx.partitions)], 'partitions of one key')
      return { ok: true, records: records.map((r, i) => expected(r, metas[i]!)) }
    },
  },

  /**
   * A small bufferMemory bounds what is buffered: with acknowledgements held, sends beyond the buffer wait and fail
   * with MAX_BLOCK_TIMEOUT after maxBlockMs (the ones that fitted are delivered once acks flow again); with acks
   * flowing, 25× the buffer goes through it, all delivered, in order.
   */
  backpressure: {
    kinds: BOTH,
    async run(ctx) {
      const net = instrument(ctx.transport())
      const bufferMemory = 16 * 1024
      const valueBytes = 1000
      const producer = createProducer<Value, Value>({
        transport: net.transport,
        bufferMemory,
        batchSize: 2048,
        lingerMs: 0,
        maxBlockMs: 800,
      })
      const value = (tag: string, i: number) => `${tag}-${String(i).padStart(5, '0')}-`.padEnd(valueBytes, 'x')
      const warm: SentRecord = { partition: 0, value: value('bp-warm', 0) }
      const warmMeta = await producer.send({ topic: ctx.topic, ...warm })

      // 1. acknowledgements held: the buffer fills, later sends block and time out
      net.pause()
      const held: SentRecord[] = Array.from({ length: 40 }, (_, i) => ({
        partition: i % ctx.partitions,
        value: value('bp-held', i),
      }))
      const heldResults: Array<Settled | undefined> = new Array(held.length)
      const heldSends = held.map((r, i) =>
        settle(producer.send({ topic: ctx.topic, ...r })).then((s) => (heldResults[i] = s)),
      )
      await sleep(800 + 700)
      const accepted = heldResults.findIndex((s) => s !== undefined)
      expectTrue(accepted > 0, `some records fit the ${bufferMemory}-byte buffer (first settled: ${accepted})`)
      expectTrue(
        accepted * valueBytes <= bufferMemory,
        `${accepted} records of ${valueBytes} bytes were buffered: more than bufferMemory ${bufferMemory}`,
      )
      for (let i = 0; i < held.length; i++) {
        const s = heldResults[i]
        if (i < accepted) {
          expectTrue(s === undefined, `record ${i} fitted the buffer: it waits for its ack while acks are held`)
        } else {
          if (!s || s.ok)
            fail(`record ${i} did not fit the buffer: expected MAX_BLOCK_TIMEOUT, got ${s ? 'success' : 'nothing yet'}`)
          expectTyped(s.error, 'MAX_BLOCK_TIMEOUT', true, `record ${i} beyond the buffer`)
        }
      }
      net.resume()
      await Promise.all(heldSends)
      const heldMetas = heldResults.slice(0, accepted).map((s, i) => {
        if (!s?.ok)
          fail(`record ${i} fitted the buffer but failed after acks resumed: ${String(s && !s.ok && s.error)}`)
        return s.meta
      })
      expectOrderPerPartition(heldMetas, 'records that fitted the buffer')

      await producer.close()

      // 2. acknowledgements flowing: 25× the buffer passes through the same small buffer (default maxBlockMs)
      const flowing: SentRecord[] = Array.from({ length: 400 }, (_, i) => ({
        key: `bp-${i % 7}`,
        value: value('bp-flow', i),
      }))
      const producer2 = createProducer<Value, Value>({
        transport: ctx.transport(),
        bufferMemory,
        batchSize: 2048,
        lingerMs: 0,
      })
      const flowStarted = Date.now()
      const flowMetas = await Promise.all(flowing.map((r) => producer2.send({ topic: ctx.topic, ...r })))
      const flowMs = Date.now() - flowStarted
      expectOrderPerPartition(flowMetas, 'records through the small buffer')
      await producer2.close()
      return {
        ok: true,
        bufferedWhileHeld: accepted,
        blockedWhileHeld: held.length - accepted,
        flowMs,
        records: [
          expected(warm, warmMeta),
          ...held.slice(0, accepted).map((r, i) => expected(r, heldMetas[i]!)),
          ...flowing.map((r, i) => expected(r, flowMetas[i]!)),
        ],
      }
    },
  },

  /** Invalid topic names are rejected with a typed, non-retriable error, without touching the network. */
  'invalid-topic': {
    kinds: BOTH,
    async run(ctx) {
      const net = instrument(ctx.transport())
      const producer = createProducer<Value, Value>({ transport: net.transport })
      const names = ['bad topic!', '', '.', '..', 'x'.repeat(250), 'ünïcode']
      const errors = []
      for (const topic of names) {
        const err = await rejection(producer.send({ topic, value: 'v' }))
        if (!(err instanceof InvalidArgumentError) || !(err instanceof IsoKafkaError))
          fail(`topic ${JSON.stringify(topic)}: ${String(err)}`)
        expectEqual([err.code, err.retriable], ['INVALID_TOPIC', false], `error for ${JSON.stringify(topic)}`)
        errors.push({ name: err.name, code: err.code })
      }
      const viaPartitionsFor = await rejection(producer.partitionsFor('no spaces allowed'))
      expectEqual((viaPartitionsFor as IsoKafkaError).code, 'INVALID_TOPIC', 'partitionsFor code')
      await producer.close()
      expectEqual(net.operations, 0, 'network operations (connects / gateway requests)')
      return { ok: true, errors }
    },
  },

  /**
   * A serializer that throws, or returns something that is not bytes, fails that send only, with a typed
   * SERIALIZATION_ERROR (cause kept); the records around it are delivered.
   */
  'serializer-failure': {
    kinds: BOTH,
    async run(ctx) {
      const boom = new Error('boom from the value serializer')
      const producer = createProducer<unknown, unknown>({
        transport: ctx.transport(),
        lingerMs: 20,
        valueSerializer: (v, topic) => {
          if (v === 'throw') throw boom
          if (v === 'not-bytes') return 42 as unknown as Uint8Array
          return defaultSerializer(v as Value, topic)
        },
      })
      const inputs: Array<{ key?: unknown; value: unknown; fails?: string }> = [
        { key: 'ser-0', value: 'good-0' },
        { key: 'ser-1', value: 'throw', fails: 'throws' },
        { key: 'ser-2', value: 'good-2' },
        { key: 'ser-3', value: 'not-bytes', fails: 'returns a number' },
        { key: 12345, value: 'good-value-bad-key', fails: 'the default key serializer gets a number' },
        { key: { an: 'object' }, value: 'good-value-bad-key', fails: 'the default key serializer gets an object' },
        { key: 'ser-6', value: 'good-6' },
      ]
      const results = await Promise.all(
        inputs.map((r) => settle(producer.send({ topic: ctx.topic, key: r.key, value: r.value }))),
      )
      await producer.close()
      const delivered: ExpectedRecord[] = []
      const errors: Array<{ code: string; cause?: string }> = []
      for (const [i, r] of inputs.entries()) {
        const s = results[i]!
        if (r.fails) {
          if (s.ok) fail(`record ${i} (${r.fails}) was sent`)
          if (!(s.error instanceof SerializationError)) fail(`record ${i} (${r.fails}): ${String(s.error)}`)
          expectTyped(s.error, 'SERIALIZATION_ERROR', false, `record ${i} (${r.fails})`)
          if (r.value === 'throw')
            expectTrue((s.error as Error).cause === boom, "the serializer's own error is the cause")
          errors.push({ code: s.error.code, cause: (s.error.cause as Error | undefined)?.message })
        } else {
          if (!s.ok) fail(`record ${i} failed: ${String(s.error)}`)
          delivered.push(expected({ key: r.key as string, value: r.value as string }, s.meta))
        }
      }
      return { ok: true, errors, records: delivered }
    },
  },

  /**
   * Records the producer can tell are too large fail at once with RECORD_TOO_LARGE (non-retriable, no network):
   * above maxRequestSize, and above bufferMemory. A record the producer accepts but the server side refuses (above
   * the broker's message.max.bytes / the gateway's limits) fails with a typed, non-retriable error; its partition
   * and the producer keep working.
   */
  'record-too-large': {
    kinds: BOTH,
    async run(ctx) {
      // client side
      const net = instrument(ctx.transport())
      const small = createProducer<Value, Value>({
        transport: net.transport,
        maxRequestSize: 10_000,
        bufferMemory: 8_000,
      })
      const overRequest = await rejection(small.send({ topic: ctx.topic, value: new Uint8Array(12_000) }))
      expectTyped(overRequest, 'RECORD_TOO_LARGE', false, 'a record above maxRequestSize')
      const overBuffer = await rejection(small.send({ topic: ctx.topic, value: new Uint8Array(9_000) }))
      expectTyped(overBuffer, 'RECORD_TOO_LARGE', false, 'a record above bufferMemory')
      expectEqual(net.operations, 0, 'network operations for records refused client-side')
      const fits: SentRecord = { partition: 1 % ctx.partitions, value: new Uint8Array(7_000).fill(7) }
      const fitsMeta = await small.send({ topic: ctx.topic, ...fits }) // the producer is still usable
      await small.close()

      // server side: 1.5 MB, above Kafka's default message.max.bytes (1 MiB) and the gateway producer's maxRequestSize
      const big = createProducer<Value, Value>({ transport: ctx.transport(), maxRequestSize: 4 << 20 })
      const err = await rejection(
        big.send({ topic: ctx.topic, partition: 0, value: new Uint8Array(1_500_000).fill(0xab) }),
      )
      if (
        !(err instanceof IsoKafkaError) ||
        !['MESSAGE_TOO_LARGE', 'RECORD_TOO_LARGE'].includes(err.code) ||
        err.retriable
      ) {
        fail(
          `a record too large for the server: expected a non-retriable MESSAGE_TOO_LARGE or RECORD_TOO_LARGE, got ${String(err)} (${(err as IsoKafkaError)?.code})`,
        )
      }
      const next: SentRecord = { partition: 0, value: 'after the too-large record' }
      const nextMeta = await big.send({ topic: ctx.topic, ...next }) // the partition and the producer still work
      await big.close()
      return { ok: true, serverSideCode: err.code, records: [expected(fits, fitsMeta), expected(next, nextMeta)] }
    },
  },

  /**
   * A batch too large for the server side, shipped in the same request as other partitions' batches (one flush()
   * sends them together), fails alone: its neighbours in other partitions, and the record after it in its own
   * partition, are delivered. 2.5 MB is above every server-side limit here (Kafka's message.max.bytes, the
   * gateway's maxFrameBytes, the fetch transport's frame limit).
   */
  'too-large-batch-alone': {
    kinds: BOTH,
    async run(ctx) {
      const producer = createProducer<Value, Value>({
        transport: ctx.transport(),
        maxRequestSize: 8 << 20,
        lingerMs: 1000,
      })
      const warm: SentRecord = { partition: 0, value: 'too-large-alone warm-up' }
      const warmMeta = await producer.send({ topic: ctx.topic, ...warm })
      const bigSend = settle(
        producer.send({ topic: ctx.topic, partition: 0, value: new Uint8Array(2_500_000).fill(0xcd) }),
      )
      const neighbours: SentRecord[] = []
      for (let p = 1; p < ctx.partitions; p++)
        for (let j = 0; j < 3; j++) neighbours.push({ partition: p, value: `neighbour-${p}-${j}` })
      neighbours.push({ partition: 0, value: 'after-the-big-one' })
      const sends = neighbours.map((r) => settle(producer.send({ topic: ctx.topic, ...r })))
      await producer.flush() // everything goes now, in as few requests as the limits allow
      const [bigR, results] = await Promise.all([bigSend, Promise.all(sends)])
      await producer.close()
      if (bigR.ok) fail(`a 2.5 MB record was accepted at ${bigR.meta.partition}:${bigR.meta.offset}`)
      const err = bigR.error
      if (
        !(err instanceof IsoKafkaError) ||
        !['MESSAGE_TOO_LARGE', 'RECORD_TOO_LARGE'].includes(err.code) ||
        err.retriable
      ) {
        fail(
          `the too-large record: expected a non-retriable MESSAGE_TOO_LARGE or RECORD_TOO_LARGE, got ${String(err)} (${(err as IsoKafkaError)?.code})`,
        )
      }
      const delivered = [
        expected(warm, warmMeta),
        ...results.flatMap((s, i) => (s.ok ? [expected(neighbours[i]!, s.meta)] : [])),
      ]
      const failed = results.flatMap((s, i) =>
        s.ok ? [] : [`${neighbours[i]!.value}: ${(s.error as IsoKafkaError)?.code ?? String(s.error)}`],
      )
      if (failed.length > 0)
        fail(
          `${failed.length} of ${neighbours.length} neighbours of the too-large batch failed with it: ${failed.slice(0, 4).join('; ')}`,
          delivered,
        )
      return { ok: true, code: err.code, records: delivered }
    },
  },

  /** A topic that does not exist (and is not auto-created) fails with MAX_BLOCK_TIMEOUT after maxBlockMs, cause UNKNOWN_TOPIC_OR_PARTITION. */
  'unknown-topic': {
    kinds: BOTH,
    async run(ctx) {
      const producer = createProducer<Value, Value>({
        transport: ctx.transport(),
        maxBlockMs: 1500,
        allowAutoTopicCreation: false,
      })
      const started = Date.now()
      const err = await rejection(producer.send({ topic: `${ctx.topic}-missing`, value: 'v' }))
      const ms = Date.now() - started
      await producer.close()
      const e = expectTyped(err, 'MAX_BLOCK_TIMEOUT', true, 'send to a missing topic')
      expectEqual((e.cause as IsoKafkaError | undefined)?.code, 'UNKNOWN_TOPIC_OR_PARTITION', 'cause of the timeout')
      expectTrue(ms >= 1400 && ms < 10_000, `failed after ${ms} ms, expected about maxBlockMs (1500)`)
      return { ok: true, ms }
    },
  },

  /**
   * An acknowledgement lost after the records were written (socket: the broker connection drops before the
   * response; gateway: the answer is lost) is retried, and the retry does not write the records twice: idempotent
   * sequence numbers on a socket, the gateway's batch-id deduplication on a gateway. The runner's final check
   * (`checkTopicHoldsExactly`) sees any duplicate.
   */
  'lost-ack-no-duplicate': {
    kinds: BOTH,
    async run(ctx) {
      const net = instrument(ctx.transport())
      const producer = createProducer<Value, Value>({ transport: net.transport, lingerMs: 5, retryBackoffMs: 50 })
      const warm: SentRecord = { key: 'lost-ack', value: 'warm-up' }
      const warmMeta = await producer.send({ topic: ctx.topic, ...warm })
      net.loseNextAck()
      const records: SentRecord[] = Array.from({ length: 50 }, (_, i) => ({
        key: `lost-ack-${i % 5}`,
        value: `lost-ack-${i}`,
        headers: { i: String(i) },
      }))
      const metas = await Promise.all(records.map((r) => producer.send({ topic: ctx.topic, ...r })))
      await producer.close()
      expectEqual(net.lost, 1, 'acknowledgements lost')
      expectOrderPerPartition([warmMeta, ...metas], 'records around the lost ack')
      return { ok: true, records: [expected(warm, warmMeta), ...records.map((r, i) => expected(r, metas[i]!))] }
    },
  },

  /** Socket only: one connection per broker, reused: later waves of sends open no new connections. */
  'connections-reused': {
    kinds: ['socket'],
    async run(ctx) {
      const net = instrument(ctx.transport())
      const producer = createProducer<Value, Value>({ transport: net.transport, lingerMs: 1 })
      const all: SentRecord[] = []
      const metas: RecordMetadata[] = []
      let afterFirstWave = 0
      for (let wave = 0; wave < 3; wave++) {
        const records: SentRecord[] = Array.from({ length: 60 }, (_, i) => ({
          partition: i % ctx.partitions,
          value: `wave-${wave}-${i}`,
        }))
        metas.push(...(await Promise.all(records.map((r) => producer.send({ topic: ctx.topic, ...r })))))
        all.push(...records)
        if (wave === 0) afterFirstWave = net.connects
      }
      await producer.close()
      expectTrue(afterFirstWave >= 1, 'the first wave connected')
      expectEqual(net.connects, afterFirstWave, 'connections after three waves')
      return { ok: true, connects: net.connects, records: all.map((r, i) => expected(r, metas[i]!)) }
    },
  },

  /**
   * Gateway only: a topic that is not on the token's allow-list fails at once (well before maxBlockMs) with a
   * non-retriable TOPIC_AUTHORIZATION_FAILED; the same producer keeps working for allowed topics.
   * (The runners' tokens allow their test topics' prefix, never `forbidden-*`.)
   */
  'topic-not-allowed': {
    kinds: ['gateway'],
    async run(ctx) {
      const producer = createProducer<Value, Value>({ transport: ctx.transport(), maxBlockMs: 20_000 })
      const started = Date.now()
      const err = await rejection(producer.send({ topic: 'forbidden-contract-topic', value: 'v' }))
      const ms = Date.now() - started
      expectTyped(err, 'TOPIC_AUTHORIZATION_FAILED', false, 'send to a topic off the allow-list')
      expectTrue(ms < 10_000, `refused after ${ms} ms: it should not wait for maxBlockMs`)
      const ok: SentRecord = { key: 'allowed', value: 'still works' }
      const meta = await producer.send({ topic: ctx.topic, ...ok })
      await producer.close()
      return { ok: true, ms, records: [expected(ok, meta)] }
    },
  },
}

/**
 * Cases known to fail on some transport kinds today, with the reason. Runners mark them as expected failures
 * (`it.fails`), so the suite stays green while the bug is open and turns red once it is fixed: then delete the entry.
 */
export const knownFailures: Record<string, { kinds: readonly TransportKind[]; reason: string }> = {}

/** Why a case is expected to fail on this transport kind, or null. */
export function knownFailure(name: string, kind: TransportKind): string | null {
  const k = knownFailures[name]
  return k && k.kinds.includes(kind) ? k.reason : null
}

/** The names of the cases that apply to a transport kind, in a stable order. */
export function casesFor(kind: TransportKind): string[] {
  return Object.entries(contractCases)
    .filter(([, c]) => c.kinds.includes(kind))
    .map(([name]) => name)
}

/** Run one case by name (throws for an unknown name or a case that does not apply to the transport's kind). */
export async function runCase(name: string, ctx: ContractContext): Promise<CaseResult> {
  const c = contractCases[name]
  if (!c) throw new Error(`contract: no case ${name}`)
  const kind = ctx.transport().kind
  if (!c.kinds.includes(kind))
    throw new Error(`contract: case ${name} is for ${c.kinds.join('/')} transports, not ${kind}`)
  return c.run(ctx)
}

// ---- checks on the read-back, shared by the runners (runtime-free) ----

/** Offsets grow in send order within each partition. */
export function checkSendOrder(positions: ReadonlyArray<{ partition: number; offset: number }>): string[] {
  const problems: string[] = []
  const last = new Map<number, number>()
  for (const [i, e] of positions.entries()) {
    const prev = last.get(e.partition)
    if (prev !== undefined && e.offset <= prev)
      problems.push(`record ${i} at offset ${e.offset} after ${prev} in partition ${e.partition}`)
    last.set(e.partition, e.offset)
  }
  return problems.slice(0, 20)
}

/** Every expected record is in the read-back at its partition/offset with the same key, value and headers (bytes). */
export function checkReadBack(read: readonly HexRecord[], expectedRecords: readonly ExpectedRecord[]): string[] {
  const problems: string[] = []
  const at = new Map(read.map((r) => [`${r.partition}:${r.offset}`, r]))
  for (const [i, e] of expectedRecords.entries()) {
    const r = at.get(`${e.partition}:${e.offset}`)
    if (!r) {
      problems.push(`record ${i} is not at ${e.partition}:${e.offset}`)
      continue
    }
    if (r.key !== e.key) problems.push(`record ${i} at ${e.partition}:${e.offset}: key ${r.key} != ${e.key}`)
    if (r.value !== e.value)
      problems.push(`record ${i} at ${e.partition}:${e.offset}: value ${short(r.value)} != ${short(e.value)}`)
    if (JSON.stringify(r.headers) !== JSON.stringify(e.headers)) {
      problems.push(
        `record ${i} at ${e.partition}:${e.offset}: headers ${JSON.stringify(r.headers)} != ${JSON.stringify(e.headers)}`,
      )
    }
    if (problems.length >= 20) break
  }
  return problems
}

/** The topic holds exactly these records: nothing missing, nothing extra (a duplicate shows up as extra). */
export function checkTopicHoldsExactly(
  read: readonly HexRecord[],
  expectedRecords: readonly ExpectedRecord[],
): string[] {
  const problems = checkReadBack(read, expectedRecords)
  const wanted = new Set(expectedRecords.map((e) => `${e.partition}:${e.offset}`))
  if (wanted.size !== expectedRecords.length)
    problems.push(`${expectedRecords.length - wanted.size} records were reported at a position another record has`)
  for (const r of read) {
    if (!wanted.has(`${r.partition}:${r.offset}`))
      problems.push(`unexpected record at ${r.partition}:${r.offset} (value ${short(r.value)})`)
    if (problems.length >= 20) break
  }
  return problems
}

function short(h: string | null): string {
  return h === null ? 'null' : h.length > 40 ? `${h.slice(0, 40)}…(${h.length / 2} bytes)` : h
}
