/// <reference types="node" />
// Frame generators for the gateway fuzzer (fuzz.test.ts) and the "Kafka slow/down" suite (kafka-faults.test.ts).
// Black-box: frames are built with @msgpack/msgpack or by hand, nothing from adapters/ is imported.
//
// Every frame is drawn from a fast-check arbitrary (a "recipe"), sampled with a fixed seed in chunks, so a run is
// reproducible from its seed: FUZZ_SEED=<seed> reproduces the same frame stream (the gateway's timing may differ).
import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { Decoder, Encoder } from '@msgpack/msgpack'
import { xorshift32 } from '../../helpers/xorshift.js'

// ---------------------------------------------------------------------------------------------------------------
// small utilities

/** Deterministic pseudo-random numbers in [0, 1) (xorshift32; seed 0 starts from 0x9e3779b9, as it always has here). */
export const xorshift = (seed: number): (() => number) => xorshift32(seed, 0x9e3779b9)

export function randomBytes(len: number, seed: number): Uint8Array {
  const r = xorshift(seed)
  const b = new Uint8Array(len)
  for (let i = 0; i < len; i++) b[i] = (r() * 256) | 0
  return b
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url')

/** An HS256 gateway token made with node:crypto (docs/gateway-protocol.md: claims iat, exp, topics, sub). */
export function mintToken(
  secret: string,
  claims: { topics: string[]; sub?: string; expiresInSec?: number; iat?: number; extra?: Record<string, unknown> },
): string {
  const iat = claims.iat ?? Math.floor(Date.now() / 1000)
  const body: Record<string, unknown> = {
    iat,
    exp: iat + (claims.expiresInSec ?? 600),
    topics: claims.topics,
    ...(claims.extra ?? {}),
  }
  if (claims.sub !== undefined) body.sub = claims.sub
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(body))}`
  return `${input}.${b64url(createHmac('sha256', secret).update(input).digest())}`
}

const encoder = new Encoder({ ignoreUndefined: true, useBigInt64: true })
const decoder = new Decoder({
  maxStrLength: 1 << 21,
  maxBinLength: 1 << 22,
  maxArrayLength: 1 << 22,
  maxMapLength: 1 << 16,
  maxExtLength: 1 << 16,
})

/** @msgpack/msgpack as the spec says clients encode (bigint → 64-bit ints for the fuzzer's type confusion). */
export function pack(v: unknown): Uint8Array {
  return encoder.encode(v)
}

/** Decode like a lenient server would; undefined when the bytes are not one MessagePack value. */
export function tryDecode(b: Uint8Array): unknown {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0 // most fuzz frames fail to decode: no stack traces for those errors
  try {
    return decoder.decode(b)
  } catch {
    return undefined
  } finally {
    Error.stackTraceLimit = limit
  }
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)

/** A MessagePack scalar at `p` read as a number (ints of every width, floats); undefined otherwise. */
function scalarAt(b: Uint8Array, p: number): number | undefined {
  if (p >= b.length) return undefined
  const c = b[p]!
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const need = (k: number) => p + 1 + k <= b.length
  if (c <= 0x7f) return c
  if (c >= 0xe0) return c - 256
  switch (c) {
    case 0xcc:
      return need(1) ? dv.getUint8(p + 1) : undefined
    case 0xcd:
      return need(2) ? dv.getUint16(p + 1) : undefined
    case 0xce:
      return need(4) ? dv.getUint32(p + 1) : undefined
    case 0xcf:
      return need(8) ? dv.getUint32(p + 1) * 4294967296 + dv.getUint32(p + 5) : undefined
    case 0xd0:
      return need(1) ? dv.getInt8(p + 1) : undefined
    case 0xd1:
      return need(2) ? dv.getInt16(p + 1) : undefined
    case 0xd2:
      return need(4) ? dv.getInt32(p + 1) : undefined
    case 0xd3:
      return need(8) ? dv.getInt32(p + 1) * 4294967296 + dv.getUint32(p + 5) : undefined
    case 0xca:
      return need(4) ? dv.getFloat32(p + 1) : undefined
    case 0xcb:
      return need(8) ? dv.getFloat64(p + 1) : undefined
  }
  return undefined
}

/**
 * Every numeric id a server could read from these bytes: the `id` of the decoded map, and (a superset of any
 * "peek" a server does on a frame it refuses to decode) every safe integer that follows an `"id"` key anywhere.
 */
export function readableIds(b: Uint8Array, decoded: unknown = tryDecode(b)): number[] {
  const out = new Set<number>()
  const v = decoded
  if (isMap(v) && Number.isSafeInteger(v.id)) out.add(v.id as number)
  for (let i = 0; i + 3 < b.length; i++) {
    let p = -1
    if (b[i] === 0xa2 && b[i + 1] === 0x69 && b[i + 2] === 0x64)
      p = i + 3 // fixstr "id"
    else if (b[i] === 0xd9 && b[i + 1] === 2 && b[i + 2] === 0x69 && b[i + 3] === 0x64) p = i + 4 // str8 "id"
    if (p < 0) continue
    const n = scalarAt(b, p)
    if (n !== undefined && Number.isSafeInteger(n)) out.add(n)
  }
  return [...out]
}

/** Key/value/headers as one string (the identity of a record when reading Kafka back). */
export function recordFingerprint(
  key: Uint8Array | null,
  value: Uint8Array | null,
  headers: Array<[string, Uint8Array | null]>,
): string {
  const hex = (x: Uint8Array | null) => (x === null ? 'null' : Buffer.from(x).toString('hex'))
  // kcat (librdkafka) hands header names to its JSON writer as C strings: a name is cut at its first NUL there, so
  // both sides are compared up to it (the gateway wrote the whole name; kcat cannot show it)
  const name = (k: string) => (k.includes('\u0000') ? k.slice(0, k.indexOf('\u0000')) : k)
  return `${hex(key)}|${hex(value)}|${headers.map(([k, v]) => `${name(k)}=${hex(v)}`).join(',')}`
}

// ---------------------------------------------------------------------------------------------------------------
// recipes

/** The frames that may reach Kafka, as the fuzzer reads them back from what it sent. */
type WireRecordLike = [number, Uint8Array | null, Uint8Array | null, Array<[string, Uint8Array | null]>]

export interface SentBatch {
  batchId: string
  topic: string
  partition: number
  fps: string[]
}

export interface FuzzFrame {
  index: number
  kind: string
  /** A string is sent as a WebSocket text frame. */
  data: Uint8Array | string
  /** Numeric ids the gateway could read (see readableIds). */
  ids: number[]
  /** A valid frame sent as generated (it must get exactly one answer). */
  intact: boolean
  /** A hello (valid or not): may end the connection. */
  hello: boolean
  /** When the bytes decode to a produce frame: its batches (for the Kafka read-back), and its id. */
  produce?: { id: unknown; batches: SentBatch[] }
}

export interface FrameContext {
  seed: number
  /** The one topic the fuzz token may produce to. */
  topic: string
  /** A topic that exists for nobody (not on the allow-list). */
  otherTopic: string
  token: string
  /** A token signed with another secret, an expired one, ... (for hello mutations). */
  badTokens: string[]
  maxFrameBytes: number
  /** Above this the WebSocket library closes the connection (1009); oversized fuzz frames stay below it. */
  hardCapBytes: number
}

const ODD_TOPICS = [
  '',
  '.',
  '..',
  'a'.repeat(250),
  'a'.repeat(10_000),
  'тема',
  'a b',
  'a/b',
  'x\u0000y',
  '$',
  '🦄',
  'topic\n',
  '-',
  '_',
  '../../etc/passwd',
  '%2e%2e',
  'a,b',
  '*',
  'T'.repeat(249),
  '\ud800',
  'a\u202eb',
]
const TYPES = [
  'produce',
  'metadata',
  'hello',
  'welcome',
  'ack',
  'error',
  'PRODUCE',
  '',
  'produce ',
  'constructor',
  '__proto__',
  'toString',
]

const byteMutation = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('flip' as const),
      at: fc.nat(),
      bits: fc.integer({ min: 1, max: 4 }),
      s: fc.nat(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('length' as const),
      at: fc.nat(),
      v: fc.constantFrom(0, 1, 15, 0xff, 0xffff, 0x7fffffff, 0xffffffff, -1, +1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('byte' as const),
      at: fc.nat(),
      b: fc.constantFrom(0xc1, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xdd, 0xdf, 0xdc, 0xde, 0xc0),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  },
)
type ByteMutation = typeof byteMutation extends fc.Arbitrary<infer T> ? T : never

const weird = fc.oneof(
  fc.constantFrom<unknown>(
    NaN,
    Infinity,
    -Infinity,
    -0,
    -1,
    0.5,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    2 ** 53 - 1,
    -(2 ** 53),
    1e300,
    -1e300,
    Number.MIN_VALUE,
    9007199254740993n,
    18446744073709551615n,
    -9223372036854775808n,
    9223372036854775807n,
    '',
    '0',
    '1',
    'NaN',
    null,
    true,
    false,
    [],
    {},
    new Uint8Array(0),
    new Uint8Array([1, 2, 3]),
    [[[]]],
    { t: 'produce' },
  ),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
)

const semanticMutation = fc.oneof(
  {
    weight: 120,
    arbitrary: fc.record({
      k: fc.constantFrom(
        'batchesAsMap',
        'batchesAsString',
        'batchesEmpty',
        'batchesNull',
        'recordsAsString',
        'recordsAsMap',
        'recordsEmpty',
        'recordShort',
        'recordLong',
        'recordAsMap',
        'dupBatchId',
        'headersAsMap',
        'headerBad',
        'keyAsString',
        'valueAsNumber',
        'deepNesting',
        'manyKeys',
        'dropId',
        'dropT',
        'longBatchId',
        'batchIdNewline',
        'batchIdNumber',
        'topicsNotList',
      ),
      v: weird,
    }),
  },
  // big ones (limits): rarer, they cost time to build and to refuse
  { weight: 1, arbitrary: fc.record({ k: fc.constantFrom('manyBatches', 'manyRecords', 'manyTopics'), v: weird }) },
  {
    weight: 60,
    arbitrary: fc.record({
      k: fc.constantFrom('partition', 'id', 'timestamp', 'acks', 'timeoutMs', 't', 'batchId', 'v', 'token', 'topic'),
      v: weird,
    }),
  },
  { weight: 16, arbitrary: fc.record({ k: fc.constant('oddTopic'), v: fc.constantFrom(...ODD_TOPICS) }) },
  { weight: 12, arbitrary: fc.record({ k: fc.constant('oddType'), v: fc.constantFrom(...TYPES) }) },
)
type SemanticMutation = typeof semanticMutation extends fc.Arbitrary<infer T> ? T : never

const recordArb = fc.record({
  key: fc.oneof(
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 24 }) },
  ),
  vlen: fc.integer({ min: 0, max: 200 }),
  headers: fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.option(fc.uint8Array({ maxLength: 8 }), { nil: null })), {
    maxLength: 2,
  }),
})

const baseFrame = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('produce' as const),
      acks: fc.constantFrom(-1, -1, -1, 1, 0),
      batches: fc.array(
        fc.record({
          topicSel: fc.constantFrom('main', 'main', 'main', 'main', 'main', 'other', 'odd'),
          odd: fc.constantFrom(...ODD_TOPICS),
          partition: fc.constantFrom(0, 0, 1, 1, 2),
          records: fc.array(recordArb, { minLength: 1, maxLength: 5 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('metadata' as const),
      topics: fc.array(fc.constantFrom('main', 'other', 'odd', 'main'), { minLength: 0, maxLength: 4 }),
    }),
  },
)
const helloBase = fc.record({ t: fc.constant('hello' as const), good: fc.boolean() })
type BaseFrame = (typeof baseFrame extends fc.Arbitrary<infer T> ? T : never) | { t: 'hello'; good: boolean }

export type Recipe =
  | { k: 'random'; len: number; s: number }
  | { k: 'anything'; v: unknown; wrap: boolean; t: string }
  | { k: 'valid'; base: BaseFrame }
  | { k: 'mutated'; base: BaseFrame; sem: SemanticMutation[]; bytes: ByteMutation[] }
  | { k: 'text'; text: string; json: boolean }
  | { k: 'oversize'; frac: number; readableId: boolean }
  | { k: 'replay'; back: number; alter: boolean }

export const recipeArb: fc.Arbitrary<Recipe> = fc.oneof(
  {
    weight: 98,
    arbitrary: fc.record({
      k: fc.constant('random' as const),
      len: fc.oneof(
        { weight: 84, arbitrary: fc.integer({ min: 0, max: 300 }) },
        { weight: 7, arbitrary: fc.integer({ min: 301, max: 32_768 }) },
      ),
      s: fc.nat(),
    }),
  },
  {
    weight: 98,
    arbitrary: fc.record({
      k: fc.constant('anything' as const),
      v: fc.anything({
        maxDepth: 3,
        maxKeys: 6,
        withBigInt: true,
        withTypedArray: true,
        withNullPrototype: false,
        withDate: true,
        withSparseArray: true,
      }),
      wrap: fc.boolean(),
      t: fc.constantFrom(...TYPES),
    }),
  },
  { weight: 112, arbitrary: fc.record({ k: fc.constant('valid' as const), base: baseFrame }) },
  // on an authenticated connection: a new hello with the good token (a token refresh), rarely a damaged one (which
  // may end the connection: that costs a reconnect, so it stays rare)
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('valid' as const),
      base: fc.record({ t: fc.constant('hello' as const), good: fc.constant(true) }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('mutated' as const),
      base: helloBase,
      sem: fc.array(semanticMutation, { maxLength: 1 }),
      bytes: fc.array(byteMutation, { maxLength: 1 }),
    }),
  },
  {
    weight: 308,
    arbitrary: fc.record({
      k: fc.constant('mutated' as const),
      base: baseFrame,
      sem: fc.array(semanticMutation, { maxLength: 2 }),
      bytes: fc.array(byteMutation, { maxLength: 3 }),
    }),
  },
  {
    weight: 35,
    arbitrary: fc.record({
      k: fc.constant('text' as const),
      text: fc.string({ maxLength: 200, unit: 'binary' }),
      json: fc.boolean(),
    }),
  },
  { weight: 21, arbitrary: fc.record({ k: fc.constant('replay' as const), back: fc.nat(2000), alter: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('oversize' as const),
      frac: fc.double({ min: 0, max: 1, noNaN: true }),
      readableId: fc.boolean(),
    }),
  },
)

/** The recipe mix for connections that are not authenticated: hellos (mostly damaged) and anything else. */
export const unauthRecipeArb: fc.Arbitrary<Recipe> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('mutated' as const),
      base: helloBase,
      sem: fc.array(semanticMutation, { maxLength: 2 }),
      bytes: fc.array(byteMutation, { maxLength: 2 }),
    }),
  },
  { weight: 5, arbitrary: recipeArb.filter((r) => r.k !== 'oversize' && r.k !== 'replay') },
)

// ---------------------------------------------------------------------------------------------------------------
// building frames from recipes

const OVERSIZE_FILL = new Uint8Array(4 << 20) // shared zero bytes for oversized frames
/** More records than any frame may carry (maxRecordsPerFrame 10000), all the same tiny record (one shared array). */
const MANY_RECORDS: unknown[] = Array.from({ length: 10_001 }, () => [1, null, null, []])

export class FrameFactory {
  private index = 0
  private nextId = 1
  private readonly replayable: Array<Record<string, unknown>> = []

  constructor(private readonly ctx: FrameContext) {}

  /** A hello with the good token. */
  helloBytes(): Uint8Array {
    return pack({ t: 'hello', v: 1, token: this.ctx.token })
  }

  /** `n` frames from the recipe stream (chunk `chunk` of this seed). */
  static sample(arb: fc.Arbitrary<Recipe>, seed: number, chunk: number, n: number): Recipe[] {
    return fc.sample(arb, { seed: (seed + chunk * 7919) | 0, numRuns: n })
  }

  private topicOf(sel: string, odd: string): string {
    return sel === 'main' ? this.ctx.topic : sel === 'other' ? this.ctx.otherTopic : odd
  }

  private materialize(base: BaseFrame, index: number): Record<string, unknown> {
    if (base.t === 'hello')
      return {
        t: 'hello',
        v: 1,
        token: base.good ? this.ctx.token : this.ctx.badTokens[index % this.ctx.badTokens.length],
      }
    const id = this.nextId++
    if (base.t === 'metadata') {
      return {
        t: 'metadata',
        id,
        topics: base.topics.map((s, i) => this.topicOf(s, ODD_TOPICS[(index + i) % ODD_TOPICS.length]!)),
      }
    }
    const now = Date.now()
    return {
      t: 'produce',
      id,
      acks: base.acks,
      timeoutMs: 30_000,
      batches: base.batches.map((b, bi) => ({
        topic: this.topicOf(b.topicSel, b.odd),
        partition: b.partition,
        batchId: `fz-${this.ctx.seed}-${index}-${bi}`,
        records: b.records.map((r, ri) => {
          // a value unique to this record (its first bytes name it), then filler
          const tag = Buffer.from(`${this.ctx.seed}:${index}:${bi}:${ri}:`)
          const value = new Uint8Array(tag.length + r.vlen)
          value.set(tag)
          value.set(randomBytes(r.vlen, index * 131 + ri), tag.length)
          return [now - ri, r.key, value, r.headers]
        }),
      })),
    }
  }

  private applySemantic(f: Record<string, unknown>, m: SemanticMutation): void {
    const batches = Array.isArray(f.batches) ? (f.batches as Array<Record<string, unknown>>) : []
    const b0 = batches[0]
    const recs = b0 && Array.isArray(b0.records) ? (b0.records as unknown[][]) : []
    switch (m.k) {
      case 'batchesAsMap':
        f.batches = Object.fromEntries(batches.map((b, i) => [String(i), b]))
        break
      case 'batchesAsString':
        f.batches = JSON.stringify(batches.length).repeat(3)
        break
      case 'batchesEmpty':
        f.batches = []
        break
      case 'batchesNull':
        f.batches = null
        break
      case 'recordsAsString':
        if (b0) b0.records = 'records'
        break
      case 'recordsAsMap':
        if (b0) b0.records = { 0: recs[0] ?? null }
        break
      case 'recordsEmpty':
        if (b0) b0.records = []
        break
      case 'recordShort':
        if (recs[0]) recs[0] = recs[0].slice(0, 3)
        break
      case 'recordLong':
        if (recs[0]) recs[0] = [...recs[0], m.v]
        break
      case 'recordAsMap':
        if (recs[0]) recs[0] = { timestamp: recs[0][0], key: recs[0][1], value: recs[0][2] } as unknown as unknown[]
        break
      case 'dupBatchId':
        if (b0) batches.push({ ...b0 })
        break
      case 'manyBatches':
        if (b0)
          f.batches = Array.from({ length: 300 }, (_, i) => ({
            ...b0,
            batchId: `${String(b0.batchId)}-m${i}`,
            records: [[1, null, null, []]],
          }))
        break
      case 'manyRecords':
        if (b0) b0.records = MANY_RECORDS
        break
      case 'headersAsMap':
        if (recs[0]) recs[0][3] = { a: new Uint8Array(1) }
        break
      case 'headerBad':
        if (recs[0]) recs[0][3] = [[m.v, m.v]]
        break
      case 'keyAsString':
        if (recs[0]) recs[0][1] = 'key'
        break
      case 'valueAsNumber':
        if (recs[0]) recs[0][2] = 42
        break
      case 'deepNesting': {
        let v: unknown = m.v
        for (let i = 0; i < 40; i++) v = [v]
        f.x = v
        break
      }
      case 'manyKeys':
        for (let i = 0; i < 100; i++) f[`k${i}`] = i
        break
      case 'dropId':
        delete f.id
        break
      case 'dropT':
        delete f.t
        break
      case 'longBatchId':
        if (b0) b0.batchId = 'b'.repeat(m.v === null ? 129 : 10_000)
        break
      case 'batchIdNewline':
        if (b0) b0.batchId = `x\n${String(b0.batchId)}`
        break
      case 'batchIdNumber':
        if (b0) b0.batchId = 12345
        break
      case 'topicsNotList':
        f.topics = 'topics'
        break
      case 'manyTopics':
        f.topics = Array.from({ length: 1500 }, (_, i) => `t${i}`)
        break
      case 'partition':
        if (b0) b0.partition = m.v
        break
      case 'id':
        f.id = m.v
        break
      case 'timestamp':
        if (recs[0]) recs[0][0] = m.v
        break
      case 'acks':
        f.acks = m.v
        break
      case 'timeoutMs':
        f.timeoutMs = m.v
        break
      case 't':
        f.t = m.v
        break
      case 'batchId':
        if (b0) b0.batchId = m.v
        break
      case 'v':
        f.v = m.v
        break
      case 'token':
        f.token = typeof m.v === 'string' ? `${String(f.token ?? '')}${m.v}` : m.v
        break
      case 'topic':
        if (b0) b0.topic = m.v
        else if (Array.isArray(f.topics)) f.topics.push(m.v)
        break
      case 'oddTopic':
        if (b0) b0.topic = m.v
        else if (Array.isArray(f.topics)) f.topics.push(m.v)
        else f.t = 'metadata'
        break
      case 'oddType':
        f.t = m.v
        break
    }
  }

  private applyBytes(b: Uint8Array, m: ByteMutation): Uint8Array {
    const n = b.length
    if (n === 0) return m.k === 'insert' || m.k === 'append' ? m.bytes : b
    const at = (m as { at?: number }).at! % n
    switch (m.k) {
      case 'flip': {
        const out = b.slice()
        const r = xorshift(m.s + 1)
        for (let i = 0; i < m.bits; i++) {
          const p = (at + Math.floor(r() * Math.min(n, 64))) % n
          out[p]! ^= 1 << Math.floor(r() * 8)
        }
        return out
      }
      case 'truncate':
        return b.slice(0, at)
      case 'insert': {
        const out = new Uint8Array(n + m.bytes.length)
        out.set(b.subarray(0, at))
        out.set(m.bytes, at)
        out.set(b.subarray(at), at + m.bytes.length)
        return out
      }
      case 'delete': {
        const k = Math.min(m.n, n - at)
        const out = new Uint8Array(n - k)
        out.set(b.subarray(0, at))
        out.set(b.subarray(at + k), at)
        return out
      }
      case 'byte': {
        const out = b.slice()
        out[at] = m.b
        return out
      }
      case 'append': {
        const out = new Uint8Array(n + m.bytes.length)
        out.set(b)
        out.set(m.bytes, n)
        return out
      }
      case 'length': {
        // find a container/str/bin header at or after `at` and give it another length
        const out = b.slice()
        const dv = new DataView(out.buffer)
        for (let p = at, k = 0; k < n; k++, p = (p + 1) % n) {
          const c = out[p]!
          const nl = (old: number, bits: number) => {
            const max = bits >= 32 ? 0xffffffff : 2 ** bits - 1
            const v = m.v === -1 ? old - 1 : m.v === 1 ? old + 1 : m.v
            return Math.max(0, Math.min(max, v))
          }
          if ((c >= 0x80 && c <= 0x9f) || (c >= 0xa0 && c <= 0xbf)) {
            const mask = c <= 0x9f ? 0x0f : 0x1f
            out[p] = (c & ~mask) | (nl(c & mask, c <= 0x9f ? 4 : 5) & mask)
            return out
          }
          if ((c === 0xc4 || c === 0xd9) && p + 1 < n) {
            out[p + 1] = nl(out[p + 1]!, 8)
            return out
          }
          if ((c === 0xc5 || c === 0xda || c === 0xdc || c === 0xde) && p + 2 < n) {
            dv.setUint16(p + 1, nl(dv.getUint16(p + 1), 16))
            return out
          }
          if ((c === 0xc6 || c === 0xdb || c === 0xdd || c === 0xdf) && p + 4 < n) {
            dv.setUint32(p + 1, nl(dv.getUint32(p + 1), 32))
            return out
          }
        }
        return out
      }
    }
  }

  private encodeSafely(v: unknown): Uint8Array {
    try {
      return pack(v)
    } catch {
      try {
        return pack(JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)) ?? 'null'))
      } catch {
        return new Uint8Array([0xc0])
      }
    }
  }

  /** The frame for one recipe. */
  build(r: Recipe): FuzzFrame {
    const index = this.index++
    let data: Uint8Array | string
    let hello = false
    switch (r.k) {
      case 'random':
        data = randomBytes(r.len, r.s + 1)
        break
      case 'anything': {
        let v = r.v
        if (r.wrap) v = { t: r.t, id: this.nextId++, ...(isMap(v) && !(v instanceof Map) ? v : { x: v }) }
        data = this.encodeSafely(v)
        break
      }
      case 'valid': {
        const f = this.materialize(r.base, index)
        if (f.t === 'produce' && this.replayable.length < 5000) this.replayable.push(f)
        return this.describeValid(f, pack(f), index, r.k)
      }
      case 'mutated': {
        const f = this.materialize(r.base, index)
        hello = f.t === 'hello'
        const sem = r.sem.length === 0 && r.bytes.length === 0 ? [{ k: 'id' as const, v: -1 }] : r.sem
        for (const m of sem) {
          try {
            this.applySemantic(f, m)
          } catch {
            // a mutation that does not fit what an earlier one left (records already a map, ...): skip it
          }
        }
        let b = this.encodeSafely(f)
        for (const m of r.bytes) b = this.applyBytes(b, m)
        data = b
        break
      }
      case 'text':
        data = r.json ? JSON.stringify({ t: 'produce', id: this.nextId++, batches: [] }) + r.text : r.text
        break
      case 'replay': {
        const orig = this.replayable.length
          ? this.replayable[this.replayable.length - 1 - (r.back % this.replayable.length)]!
          : null
        if (!orig) {
          data = new Uint8Array([0x80])
          break
        }
        // the same batches (ids and records) under a new frame id: dedup, or with other values: batch id reused
        const batches = (orig.batches as Array<Record<string, unknown>>).map((b) => ({
          ...b,
          records: (b.records as unknown[][]).map((rec) => {
            if (!r.alter) return rec
            const v = (rec[2] as Uint8Array).slice()
            v[v.length - 1] = (v[v.length - 1] ?? 0) ^ 0xff
            return [rec[0], rec[1], v.length ? v : new Uint8Array([7]), rec[3]]
          }),
        }))
        const f = { ...orig, id: this.nextId++, batches }
        return this.describeValid(f, pack(f), index, r.k)
      }
      case 'oversize': {
        const size =
          this.ctx.maxFrameBytes + 1 + Math.floor(r.frac ** 3 * (this.ctx.hardCapBytes - this.ctx.maxFrameBytes - 4096))
        const id = this.nextId++
        const head = r.readableId
          ? pack({
              t: 'produce',
              id,
              acks: -1,
              timeoutMs: 1000,
              batches: [
                {
                  topic: this.ctx.topic,
                  partition: 0,
                  batchId: `big-${index}`,
                  records: [[1, null, OVERSIZE_FILL.subarray(0, 8), []]],
                },
              ],
            })
          : pack({ x: OVERSIZE_FILL.subarray(0, 8), t: 'produce', id })
        const b = new Uint8Array(size)
        b.set(head)
        data = b
        break
      }
    }
    return FrameFactory.describe(data, index, r.k, false, hello, this.ctx.topic)
  }

  /** A valid frame: what describe() would find, read from the frame itself (no decoding). */
  private describeValid(f: Record<string, unknown>, data: Uint8Array, index: number, kind: string): FuzzFrame {
    const frame: FuzzFrame = {
      index,
      kind,
      data,
      ids: typeof f.id === 'number' ? [f.id] : [],
      intact: f.t !== 'hello',
      hello: f.t === 'hello',
    }
    if (f.t === 'produce') {
      const batches: SentBatch[] = []
      for (const b of f.batches as Array<{
        topic: string
        partition: number
        batchId: string
        records: WireRecordLike[]
      }>) {
        if (b.topic !== this.ctx.topic) continue
        batches.push({
          batchId: b.batchId,
          topic: b.topic,
          partition: b.partition,
          fps: b.records.map((r) => recordFingerprint(r[1], r[2], r[3])),
        })
      }
      frame.produce = { id: f.id, batches }
    }
    return frame
  }

  /** Ids, produce batches, ... of some bytes as the gateway could read them. */
  static describe(
    data: Uint8Array | string,
    index: number,
    kind: string,
    intact: boolean,
    hello: boolean,
    onlyTopic?: string,
  ): FuzzFrame {
    const frame: FuzzFrame = { index, kind, data, ids: [], intact, hello }
    if (typeof data === 'string') return frame
    if (data.length > 1 << 16) {
      // oversized: only the leading entries can be read
      frame.ids = readableIds(data.subarray(0, 256))
      return frame
    }
    const v = tryDecode(data)
    frame.ids = readableIds(data, v)
    if (isMap(v) && v.t === 'hello') frame.hello = true
    if (isMap(v) && v.t === 'produce' && Array.isArray(v.batches)) {
      const batches: SentBatch[] = []
      for (const b of v.batches as unknown[]) {
        // only batches for `onlyTopic` can reach Kafka (the token allows no other)
        if (!isMap(b) || typeof b.batchId !== 'string' || typeof b.topic !== 'string' || !Array.isArray(b.records))
          continue
        if (onlyTopic !== undefined && b.topic !== onlyTopic) continue
        const fps: string[] = []
        for (const rec of b.records as unknown[]) {
          if (!Array.isArray(rec)) continue
          const key = rec[1] instanceof Uint8Array ? rec[1] : null
          const value = rec[2] instanceof Uint8Array ? rec[2] : null
          const headers = Array.isArray(rec[3])
            ? (rec[3] as unknown[]).filter(
                (h): h is [string, Uint8Array | null] =>
                  Array.isArray(h) && typeof h[0] === 'string' && (h[1] === null || h[1] instanceof Uint8Array),
              )
            : []
          fps.push(recordFingerprint(key, value, headers))
        }
        batches.push({
          batchId: b.batchId,
          topic: b.topic,
          partition: typeof b.partition === 'number' ? b.partition : -1,
          fps,
        })
      }
      frame.produce = { id: v.id, batches }
    }
    return frame
  }
}

// ---------------------------------------------------------------------------------------------------------------
// answers

/** Substrings no answer may contain: a stack frame, a broker address, the token, a socket error name. */
const leakPatterns = new WeakMap<object, RegExp>()
export function leakIn(text: string, secrets: { brokers: string[]; tokens: string[] }): string | null {
  let re = leakPatterns.get(secrets)
  if (!re) {
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    const needles = ['    at ', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].map(esc)
    for (const b of secrets.brokers) if (b) needles.push(`${esc(b)}(?!\\d)`)
    for (const t of secrets.tokens) {
      if (t.length >= 16) needles.push(esc(t))
      const sig = t.split('.')[2] // a token's signature alone is enough to be a leak
      if (sig && sig.length >= 16) needles.push(esc(sig))
    }
    re = new RegExp(needles.join('|'))
    leakPatterns.set(secrets, re)
  }
  const m = re.exec(text)
  if (!m) return null
  const hit = m[0]
  if (hit === '    at ') return 'a stack trace ("    at ")'
  if (/^E[A-Z]+$/.test(hit)) return `a socket error name (${hit})`
  if (secrets.brokers.includes(hit)) return `the broker address ${hit}`
  return 'a token (or its signature)'
}

/** host:port strings a broker can be named by (what bootstrap says, and its usual aliases). */
export function brokerNames(bootstrap: string): string[] {
  const out = new Set<string>()
  for (const hp of bootstrap
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    out.add(hp)
    const port = hp.slice(hp.lastIndexOf(':') + 1)
    for (const h of ['127.0.0.1', 'localhost', '[::1]', '::1']) out.add(`${h}:${port}`)
  }
  return [...out]
}
