import fc from 'fast-check'
import { decode as refDecode, encode as refEncode } from '@msgpack/msgpack'
import { describe, expect, it } from 'vitest'
import { MsgpackError, decode, encode } from '../../adapters/gateway-wire/msgpack.js'
import {
  createFrameDecoder,
  decodeServerFrame,
  encodeFrame,
  msgpackShapeOk,
} from '../../adapters/gateway-wire/index.js'
import { IsoKafkaError } from '../../src/errors.js'

/*
 * The gateway's MessagePack codec (adapters/gateway/msgpack.ts) against the spec and against @msgpack/msgpack (the
 * reference; other clients may use any library):
 * - random frame-like values round-trip, and our bytes are exactly @msgpack/msgpack's (`ignoreUndefined: true`);
 * - each side decodes what the other encodes; both decode the same non-minimal encodings another library may choose;
 * - random, truncated and mutated input gives a value or a MsgpackError, nothing else, and never a value
 *   msgpackShapeOk (the server's allocation-bomb guard) would refuse.
 * MSGPACK_RUNS scales the runs per property (default 1: about 26k cases, a few seconds).
 */
const SCALE = Math.max(0.01, Number(process.env.MSGPACK_RUNS ?? 1))
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)) })
const TIMEOUT = 60_000

const refEnc = (v: unknown) => refEncode(v, { ignoreUndefined: true })

/** Runs `fn`; anything thrown other than MsgpackError fails. Returns the value, or undefined when it threw. */
function valueOrMsgpackError(fn: () => unknown): { value: unknown } | undefined {
  try {
    return { value: fn() }
  } catch (err) {
    if (!(err instanceof MsgpackError))
      throw new Error(`threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`, { cause: err })
    return undefined
  }
}

/**
 * Strict structural equality for decoded values (throws naming the first difference): same types, Object.is for
 * numbers, byte-equal bins, arrays item by item, maps with the same keys in the same order. A decoded map must be a
 * plain object with Object.prototype; the expected one may have a null prototype (fast-check's records do).
 * (vitest's toStrictEqual trips over an own "constructor" key and is slow on megabyte arrays.)
 */
function same(actual: unknown, expected: unknown, path = '$'): void {
  const fail = (why: string) => {
    throw new Error(`${path}: ${why}`)
  }
  if (expected === null || typeof expected !== 'object') {
    if (!Object.is(actual, expected)) fail(`${String(actual)} instead of ${String(expected)}`)
  } else if (expected instanceof Uint8Array) {
    if (!(actual instanceof Uint8Array)) return fail('not a Uint8Array')
    if (actual.length !== expected.length) fail(`${actual.length} bytes instead of ${expected.length}`)
    if (Buffer.compare(actual, expected) !== 0) fail('different bytes')
  } else if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return fail('not an array')
    if (actual.length !== expected.length) fail(`${actual.length} items instead of ${expected.length}`)
    for (let i = 0; i < expected.length; i++) same(actual[i], expected[i], `${path}[${i}]`)
  } else {
    if (actual === null || typeof actual !== 'object' || Object.getPrototypeOf(actual) !== Object.prototype)
      return fail('not a plain object')
    const ka = Object.keys(actual)
    const ke = Object.keys(expected)
    if (ka.join('\u0000') !== ke.join('\u0000')) fail(`keys ${JSON.stringify(ka)} instead of ${JSON.stringify(ke)}`)
    for (const k of ke)
      same((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`)
  }
}

// ---- arbitraries ----

const BOUNDARY_INTS = [
  0,
  1,
  127,
  128,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 40 + 7,
  Number.MAX_SAFE_INTEGER,
  -1,
  -31,
  -32,
  -33,
  -127,
  -128,
  -129,
  -32767,
  -32768,
  -32769,
  -(2 ** 31) + 1,
  -(2 ** 31),
  -(2 ** 31) - 1,
  -(2 ** 32),
  Number.MIN_SAFE_INTEGER,
]
const int = fc.oneof(
  fc.integer({ min: -40, max: 300 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(...BOUNDARY_INTS),
)
/** Not -0: it is encoded as the integer 0 (as @msgpack/msgpack does), tested on its own. */
const double = fc.double().filter((d) => !Object.is(d, -0))
/** Well-formed strings (a lone surrogate becomes U+FFFD, tested on its own), across the fixstr / str 8 / str 16 bounds. */
const str = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 28, maxLength: 300 }),
  fc.string({ unit: 'binary', minLength: 60, maxLength: 120 }),
)
/** Map keys; "__proto__" is refused by both decoders. */
const key = fc
  .oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('t', 'id', 'topic', '0', '1', 'constructor'))
  .filter((k) => k !== '__proto__')
const bin = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 250, maxLength: 300 }))

/** Any value of the supported types, at most 8 containers deep. */
const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { maxDepth: 7, depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    int,
    double,
    str,
    bin,
    fc.array(tie('v'), { maxLength: 20 }),
    fc.dictionary(key, tie('v'), { maxKeys: 20, noNullPrototype: true }),
  ),
})).v

const bytesOrNull = fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null })
const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 64 })
const id = fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat())
const wireRecord = fc.tuple(
  fc.maxSafeNat(),
  bytesOrNull,
  bytesOrNull,
  fc.array(fc.tuple(str, bytesOrNull), { maxLength: 3 }),
)
const wireBatch = fc.record({
  topic: name,
  partition: fc.nat({ max: 10_000 }),
  batchId: name,
  records: fc.array(wireRecord, { maxLength: 6 }),
})
const limits = fc.record({ maxFrameBytes: fc.nat(), maxInFlightBatches: fc.nat(), recordsPerSecond: fc.nat() })
const result = fc.record(
  {
    topic: name,
    partition: fc.nat(),
    batchId: name,
    errorCode: fc.integer({ min: -1, max: 130 }),
    baseOffset: fc.oneof(fc.constant(-1), fc.maxSafeNat()),
    logAppendTime: fc.oneof(fc.constant(-1), fc.maxSafeNat()),
    offsets: fc.array(fc.maxSafeNat(), { maxLength: 8 }),
    message: str,
  },
  { requiredKeys: ['topic', 'partition', 'batchId', 'errorCode', 'baseOffset', 'logAppendTime'] },
)
const errorCodes = [
  'UNAUTHENTICATED',
  'TOKEN_EXPIRED',
  'FORBIDDEN_ORIGIN',
  'FRAME_TOO_LARGE',
  'RATE_LIMITED',
  'TOO_MANY_IN_FLIGHT',
  'MALFORMED',
  'UNSUPPORTED',
  'INTERNAL',
] as const
/** Every frame type of docs/gateway-protocol.md, with optional fields present or absent. */
const frame = fc.oneof(
  fc.record(
    { t: fc.constant('hello' as const), v: fc.constant(1), token: fc.string({ maxLength: 400 }) },
    { requiredKeys: ['t', 'v'] },
  ),
  fc.record({
    t: fc.constant('welcome' as const),
    v: fc.constant(1),
    session: name,
    subject: fc.option(name, { nil: null }),
    expiresAt: fc.maxSafeNat(),
    limits,
  }),
  fc.record({ t: fc.constant('metadata' as const), id, topics: fc.array(name, { maxLength: 20 }) }),
  fc.record({
    t: fc.constant('metadata' as const),
    id,
    topics: fc.array(
      fc.record(
        { topic: name, partitions: fc.nat(), errorCode: fc.integer({ min: -1, max: 130 }), message: str },
        { requiredKeys: ['topic', 'partitions', 'errorCode'] },
      ),
      { maxLength: 20 },
    ),
  }),
  fc.record({
    t: fc.constant('produce' as const),
    id,
    acks: fc.constantFrom(-1 as const, 0 as const, 1 as const),
    timeoutMs: fc.nat(),
    batches: fc.array(wireBatch, { maxLength: 4 }),
  }),
  fc.record({ t: fc.constant('ack' as const), id, results: fc.array(result, { maxLength: 17 }) }),
  fc.record(
    {
      t: fc.constant('error' as const),
      id,
      code: fc.constantFrom(...errorCodes),
      message: str,
      retriable: fc.boolean(),
      retryAfterMs: fc.nat(),
      fatal: fc.boolean(),
    },
    { requiredKeys: ['t', 'code', 'message', 'retriable'] },
  ),
)

// ---- a second encoder: any valid (not necessarily smallest) format for each value, as other libraries may write ----

function be(n: number, k: number): number[] {
  const u = BigInt.asUintN(8 * k, BigInt(n))
  return Array.from({ length: k }, (_, i) => Number((u >> BigInt(8 * (k - 1 - i))) & 255n))
}
function f32(v: number): number[] {
  const d = new DataView(new ArrayBuffer(4))
  d.setFloat32(0, v)
  return [...new Uint8Array(d.buffer)]
}
function f64(v: number): number[] {
  const d = new DataView(new ArrayBuffer(8))
  d.setFloat64(0, v)
  return [...new Uint8Array(d.buffer)]
}
/** `[fix or 8-bit code, fix limit, 16-bit code]` per length-prefixed type; the 32-bit code follows the 16-bit one. */
function lengthFormats(n: number, fix: number | null, fixMax: number, c8: number | null, c16: number): number[][] {
  const out: number[][] = []
  if (fix !== null && n < fixMax) out.push([fix | n])
  if (c8 !== null && n < 256) out.push([c8, n])
  if (n < 65536) out.push([c16, ...be(n, 2)])
  out.push([c16 + 1, ...be(n, 4)])
  return out
}
function variantEncode(v: unknown, choose: (n: number) => number): number[] {
  const one = (options: number[][]) => options[choose(options.length)]!
  if (v === null) return [0xc0]
  if (typeof v === 'boolean') return [v ? 0xc3 : 0xc2]
  if (typeof v === 'number') {
    const options: number[][] = [[0xcb, ...f64(v)]]
    if (Math.fround(v) === v || Number.isNaN(v)) options.push([0xca, ...f32(v)])
    if (Number.isSafeInteger(v)) {
      if (v >= 0 && v < 128) options.push([v])
      if (v >= -32 && v < 0) options.push([v & 255])
      if (v >= 0) {
        if (v < 256) options.push([0xcc, ...be(v, 1)])
        if (v < 65536) options.push([0xcd, ...be(v, 2)])
        if (v < 2 ** 32) options.push([0xce, ...be(v, 4)])
        options.push([0xcf, ...be(v, 8)])
      }
      if (v >= -128 && v < 128) options.push([0xd0, ...be(v, 1)])
      if (v >= -32768 && v < 32768) options.push([0xd1, ...be(v, 2)])
      if (v >= -(2 ** 31) && v < 2 ** 31) options.push([0xd2, ...be(v, 4)])
      options.push([0xd3, ...be(v, 8)])
    }
    return one(options)
  }
  if (typeof v === 'string') {
    const b = [...new TextEncoder().encode(v)]
    return [...one(lengthFormats(b.length, 0xa0, 32, 0xd9, 0xda)), ...b]
  }
  if (v instanceof Uint8Array) return [...one(lengthFormats(v.length, null, 0, 0xc4, 0xc5)), ...v]
  if (Array.isArray(v))
    return [...one(lengthFormats(v.length, 0x90, 16, null, 0xdc)), ...v.flatMap((x) => variantEncode(x, choose))]
  const entries = Object.entries(v as object)
  return [
    ...one(lengthFormats(entries.length, 0x80, 16, null, 0xde)),
    ...entries.flatMap(([k, x]) => [...variantEncode(k, choose), ...variantEncode(x, choose)]),
  ]
}

/**
 * Does any string in v start with U+FEFF? @msgpack/msgpack decodes long strings with a default TextDecoder, which
 * drops a leading byte order mark (found by this property, seed -1591513142); ours keeps every character.
 */
function hasLeadingBom(v: unknown): boolean {
  if (typeof v === 'string') return v.charCodeAt(0) === 0xfeff
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return false
  if (Array.isArray(v)) return v.some(hasLeadingBom)
  return Object.entries(v).some(([k, x]) => hasLeadingBom(k) || hasLeadingBom(x))
}

// ---- properties ----

describe('msgpack codec: round trip and compatibility with @msgpack/msgpack', () => {
  it(
    'random values: round-trip, the same bytes as @msgpack/msgpack, and each decodes the other',
    () => {
      fc.assert(
        fc.property(anyValue, (v) => {
          const ours = encode(v)
          same(ours, refEnc(v))
          same(decode(ours), v)
          if (!hasLeadingBom(v)) same(refDecode(ours), v)
          same(decode(refEnc(v)), v)
        }),
        runs(7000),
      )
    },
    TIMEOUT,
  )

  it(
    'random frames: round-trip through encodeFrame / the frame decoders, byte-identical with @msgpack/msgpack',
    () => {
      const server = createFrameDecoder(2 << 20)
      fc.assert(
        fc.property(frame, (f) => {
          const bytes = encodeFrame(f)
          same(bytes, refEnc(f))
          expect(bytes[0]! & 0xf0).toBe(0x80) // a map...
          expect(bytes.subarray(1, 3)).toEqual(new Uint8Array([0xa1, 0x74])) // ...whose first key is "t"
          expect(msgpackShapeOk(bytes)).toBe(true)
          same(server.decode(bytes), f)
          same(refDecode(bytes), f)
          same(server.decode(refEnc(f)), f)
          same(decodeServerFrame(bytes), f)
        }),
        runs(3000),
      )
    },
    TIMEOUT,
  )

  it(
    'non-minimal formats another library may write (uint 64 for 5, str 32 for "a", float 32, map 32, ...) decode like @msgpack/msgpack',
    () => {
      fc.assert(
        fc.property(fc.oneof(anyValue, frame), fc.array(fc.nat(), { minLength: 1, maxLength: 64 }), (v, picks) => {
          let i = 0
          const bytes = new Uint8Array(variantEncode(v, (n) => picks[i++ % picks.length]! % n))
          const expected = refDecode(bytes)
          same(expected, v)
          same(decode(bytes), expected)
        }),
        runs(4000),
      )
    },
    TIMEOUT,
  )
})

describe('msgpack codec: malformed input gives a MsgpackError, nothing else', () => {
  /** Bytes biased towards MessagePack headers (every type byte, big lengths), so more inputs get past the first byte. */
  const headerish = fc
    .array(
      fc.oneof(
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom(
          0x80,
          0x81,
          0x8f,
          0x90,
          0x91,
          0x9f,
          0xa0,
          0xa3,
          0xbf,
          0xc0,
          0xc1,
          0xc2,
          0xc3,
          0xc4,
          0xc5,
          0xc6,
          0xc7,
          0xc8,
          0xc9,
          0xca,
          0xcb,
          0xcc,
          0xcd,
          0xce,
          0xcf,
          0xd0,
          0xd1,
          0xd2,
          0xd3,
          0xd4,
          0xd5,
          0xd6,
          0xd7,
          0xd8,
          0xd9,
          0xda,
          0xdb,
          0xdc,
          0xdd,
          0xde,
          0xdf,
          0xff,
          0x00,
          0x7f,
        ),
      ),
      { maxLength: 48 },
    )
    .map((a) => new Uint8Array(a))

  /** What our decoder accepts, @msgpack/msgpack decodes the same, and msgpackShapeOk accepts too. */
  function checkAgainstReference(bytes: Uint8Array, maxDepth = 10): void {
    const ours = valueOrMsgpackError(() => decode(bytes, { maxDepth }))
    if (!ours) return
    expect(msgpackShapeOk(bytes, maxDepth)).toBe(true)
    same(refDecode(bytes), ours.value)
  }

  it(
    'random bytes',
    () => {
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), headerish), (bytes) => {
          checkAgainstReference(bytes)
          // the client path: a typed, retriable IsoKafkaError whose cause is the MsgpackError
          try {
            decodeServerFrame(bytes)
          } catch (err) {
            expect(err).toBeInstanceOf(IsoKafkaError)
            expect(err).toMatchObject({ code: 'MALFORMED_RESPONSE', retriable: true })
            const cause = (err as Error).cause
            if (cause !== undefined) expect(cause).toBeInstanceOf(MsgpackError)
          }
        }),
        runs(6000),
      )
    },
    TIMEOUT,
  )

  it(
    'every strict prefix of an encoded value is refused as truncated',
    () => {
      fc.assert(
        fc.property(fc.oneof(anyValue, frame), fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (v, cuts) => {
          const bytes = encode(v)
          const points =
            bytes.length <= 64 ? Array.from({ length: bytes.length }, (_, i) => i) : cuts.map((c) => c % bytes.length)
          for (const cut of points) {
            const prefix = bytes.subarray(0, cut)
            expect(() => decode(prefix)).toThrow(MsgpackError) // "truncated", or a header declaring more than is left
            expect(() => decodeServerFrame(prefix)).toThrow(expect.objectContaining({ code: 'MALFORMED_RESPONSE' }))
          }
          expect(() => decode(new Uint8Array([...bytes, 0xc0]))).toThrow(/after the value/)
        }),
        runs(2000),
      )
    },
    TIMEOUT,
  )

  it(
    'mutated frames (bytes overwritten, inserted, removed)',
    () => {
      const edit = fc.tuple(fc.constantFrom('set', 'insert', 'delete'), fc.nat(), fc.integer({ min: 0, max: 255 }))
      fc.assert(
        fc.property(frame, fc.array(edit, { minLength: 1, maxLength: 4 }), (f, edits) => {
          const b = [...encodeFrame(f)]
          for (const [op, at, byte] of edits) {
            const i = at % (b.length + 1)
            if (op === 'set' && i < b.length) b[i] = byte
            else if (op === 'insert') b.splice(i, 0, byte)
            else b.splice(i, 1)
          }
          checkAgainstReference(new Uint8Array(b))
        }),
        runs(4000),
      )
    },
    TIMEOUT,
  )
})

describe('msgpack codec: formats and edge cases', () => {
  const roundTrip = (v: unknown) => {
    const bytes = encode(v)
    same(bytes, refEnc(v))
    same(decode(bytes), v)
    same(refDecode(bytes), v)
    return bytes
  }

  it('length boundaries of str (1- to 4-byte characters), bin, array and map pick the smallest format', () => {
    for (const n of [0, 1, 31, 32, 33, 255, 256, 257, 65535, 65536, 70_000]) {
      expect(roundTrip('x'.repeat(n))[0]).toBe(n < 32 ? 0xa0 | n : n < 256 ? 0xd9 : n < 65536 ? 0xda : 0xdb)
      expect(roundTrip(new Uint8Array(n).fill(7))[0]).toBe(n < 256 ? 0xc4 : n < 65536 ? 0xc5 : 0xc6)
      expect(roundTrip(Array.from({ length: n }, (_, i) => i % 200))[0]).toBe(
        n < 16 ? 0x90 | n : n < 65536 ? 0xdc : 0xdd,
      )
    }
    for (const ch of ['é', '€', '😀']) {
      // byte lengths on both sides of each bound, so the header chosen for the longest case shrinks afterwards
      for (const n of [1, 7, 8, 10, 11, 16, 31, 32, 63, 64, 85, 86, 127, 128, 16383, 16384, 21845, 21846, 32768])
        roundTrip(ch.repeat(n))
      roundTrip('a'.repeat(40) + ch)
    }
    for (const n of [0, 15, 16, 17, 65535, 65536]) {
      const o = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
      expect(roundTrip(o)[0]).toBe(n < 16 ? 0x80 | n : n < 65536 ? 0xde : 0xdf)
    }
  })

  it('integers of every width, and the 64-bit safe-range edge', () => {
    for (const v of BOUNDARY_INTS) roundTrip(v)
    expect(encode(127)).toEqual(new Uint8Array([0x7f]))
    expect(encode(-32)).toEqual(new Uint8Array([0xe0]))
    expect(encode(2 ** 32)).toEqual(new Uint8Array([0xcf, 0, 0, 0, 1, 0, 0, 0, 0]))
    expect(encode(-(2 ** 31) - 1)).toEqual(new Uint8Array([0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]))
    const u64 = (hi: number, lo: number) => new Uint8Array([0xcf, ...be(hi, 4), ...be(lo, 4)])
    const i64 = (hi: number, lo: number) => new Uint8Array([0xd3, ...be(hi, 4), ...be(lo, 4)])
    expect(decode(u64(0x1f_ffff, 0xffff_ffff))).toBe(Number.MAX_SAFE_INTEGER)
    expect(decode(i64(-0x20_0000, 1))).toBe(Number.MIN_SAFE_INTEGER)
    expect(decode(i64(-1, 0xffff_ffff))).toBe(-1)
    expect(decode(u64(0, 5))).toBe(5)
    for (const bad of [
      u64(0x20_0000, 0),
      u64(0xffff_ffff, 0xffff_ffff),
      i64(-0x20_0000, 0),
      i64(0x7fff_ffff, 0xffff_ffff),
      i64(-0x8000_0000, 0),
    ]) {
      expect(() => decode(bad)).toThrow(MsgpackError)
      expect(() => decode(bad)).toThrow(/2\^53/)
    }
    // not a safe integer: float 64, as @msgpack/msgpack does
    for (const v of [2 ** 53, -(2 ** 53), 1e300, 0.5, NaN, Infinity, -Infinity]) expect(roundTrip(v)[0]).toBe(0xcb)
    // -0 is the integer 0, as with @msgpack/msgpack
    same(encode(-0), refEnc(-0))
    expect(decode(encode(-0))).toBe(0)
    // float 32 is decoded
    expect(decode(new Uint8Array([0xca, ...f32(1.5)]))).toBe(1.5)
  })

  it('undefined: map entries left out, nil elsewhere (@msgpack/msgpack with ignoreUndefined)', () => {
    for (const v of [
      undefined,
      [undefined, 1],
      { a: undefined, b: 1 },
      { a: undefined },
      { t: 'error', id: undefined, code: 'X' },
    ]) {
      same(encode(v), refEnc(v))
    }
    same(decode(encode({ a: undefined, b: [undefined] })), { b: [null] })
  })

  it('binary from any ArrayBufferView, copies out of the shared buffer, and bins decode as views', () => {
    const big = new Uint8Array(5 << 20).map((_, i) => i)
    const bigBytes = encode(big)
    const small = encode({ a: 1 })
    same(decode(bigBytes), big) // the encoder's buffer grew and later encodes do not disturb earlier results
    expect(decode(small)).toEqual({ a: 1 })
    expect(decode(encode(Buffer.from('hey')))).toEqual(new Uint8Array([104, 101, 121]))
    expect(decode(encode(new Uint16Array([0x0102])))).toEqual(new Uint8Array(new Uint16Array([0x0102]).buffer))
    expect(decode(encode(new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2)))).toEqual(new Uint8Array([2, 3]))
    expect(decode(encode(new Uint8Array([9, 8, 7]).subarray(1)))).toEqual(new Uint8Array([8, 7]))
    const frame = encode([new Uint8Array([1, 2, 3])])
    const [view] = decode(frame) as [Uint8Array]
    expect(view.buffer).toBe(frame.buffer) // no copy
  })

  it('small results share slabs: each keeps its own bytes while later encodes fill and replace the slab', () => {
    const kept: Array<[Uint8Array, unknown]> = []
    // ~200 KB of small values: the 64 KiB slab is filled and replaced several times
    for (let i = 0; i < 3000; i++) {
      const v = { t: 'ack', id: i, results: [{ batchId: `b-${i}`.repeat(1 + (i % 7)), baseOffset: i * 977 }] }
      kept.push([encode(v), v])
    }
    for (const [bytes, v] of kept) {
      same(bytes, refEncode(v))
      expect(decode(bytes)).toEqual(v)
    }
    expect(kept[0]![0].buffer).toBe(kept[1]![0].buffer) // one slab
    expect(kept[0]![0].buffer).not.toBe(kept[2999]![0].buffer) // and a new one after it filled
    const large = encode({ s: 'x'.repeat(8000) })
    expect(large.byteLength).toBe(large.buffer.byteLength) // a larger result is a copy of its own
  })

  it('strings: UTF-8 both ways, BOM kept, lone surrogates → U+FFFD, invalid UTF-8 refused', () => {
    roundTrip('\uFEFFx')
    expect(decode(encode('\uFEFF' + 'y'.repeat(300)))).toBe('\uFEFF' + 'y'.repeat(300))
    expect(decode(encode('a\uD800b'))).toBe('a\uFFFDb')
    expect(decode(encode('\uDC00'.repeat(100)))).toBe('\uFFFD'.repeat(100))
    for (const bad of [
      [0xa1, 0xff],
      [0xa2, 0xc3, 0x28],
      [0xa3, 0xed, 0xa0, 0x80],
      [0xa2, 0xc0, 0xaf],
      [0xd9, 40, ...new Array(39).fill(0x61), 0xe2],
    ]) {
      expect(() => decode(new Uint8Array(bad))).toThrow(/UTF-8/)
    }
  })

  it('refuses ext types, 0xc1, non-str map keys and "__proto__", keeps the last of duplicate keys', () => {
    const cases = [
      [0xc1],
      [0xd4, 1, 0],
      [0xd5, 1, 0, 0],
      [0xd6, 0xff, 0, 0, 0, 0],
      [0xd7, 0xff, ...new Array(8).fill(0)],
      [0xd8, 1, ...new Array(16).fill(0)],
      [0xc7, 0, 1],
      [0xc7, 1, 1, 0],
      [0xc8, 0, 1, 1, 0],
      [0xc9, 0, 0, 0, 1, 1, 0],
      [0x91, 0xd4, 1, 0],
      [0x81, 0x01, 0x02],
      [0x81, 0xc0, 0x02],
      [0x81, 0x90, 0x02],
      [0x81, 0xa9, ...new TextEncoder().encode('__proto__'), 0x80],
    ]
    for (const c of cases) {
      expect(() => decode(new Uint8Array(c))).toThrow(MsgpackError)
      expect(() => decodeServerFrame(new Uint8Array(c))).toThrow(
        expect.objectContaining({ code: 'MALFORMED_RESPONSE', cause: expect.any(MsgpackError) }),
      )
    }
    expect(() => decode(refEncode(new Date(0)))).toThrow(/ext type/) // @msgpack/msgpack's timestamp extension
    same(decode(new Uint8Array([0x82, 0xa1, 0x61, 1, 0xa1, 0x61, 2])), { a: 2 })
    same(refDecode(new Uint8Array([0x82, 0xa1, 0x61, 1, 0xa1, 0x61, 2])), { a: 2 })
  })

  it('refuses to encode what has no MessagePack form here', () => {
    const cyclic: unknown[] = []
    cyclic.push(cyclic)
    for (const v of [
      1n,
      Symbol('s'),
      () => 1,
      new Date(0),
      new Map(),
      new Set(),
      new ArrayBuffer(2),
      new Error('x'),
      { a: [1, { b: 2n }] },
      cyclic,
    ]) {
      expect(() => encode(v)).toThrow(MsgpackError)
    }
    expect(encode(Object.create(null) as object)).toEqual(new Uint8Array([0x80]))
    same(
      encode(
        new (class {
          a = 1
        })(),
      ),
      refEnc({ a: 1 }),
    )
    same(decode(encode({ x: 1 })), { x: 1 }) // a failed encode leaves the encoder usable
  })

  it('limits: exact bounds, and the frame decoder uses the frame limits (depth 10, 64 map entries, 1 MiB str)', () => {
    const nested = (depth: number) => new Uint8Array([...new Array(depth).fill(0x91), 0x00])
    expect(() => decode(nested(10), { maxDepth: 10 })).not.toThrow()
    expect(() => decode(nested(11), { maxDepth: 10 })).toThrow(/nested/)
    expect(() => decode(encode('abc'), { maxStr: 3 })).not.toThrow()
    expect(() => decode(encode('abcd'), { maxStr: 3 })).toThrow(/limit/)
    expect(() => decode(encode(new Uint8Array(3)), { maxBin: 3 })).not.toThrow()
    expect(() => decode(encode(new Uint8Array(4)), { maxBin: 3 })).toThrow(/limit/)
    expect(() => decode(encode([1, 2]), { maxArray: 2 })).not.toThrow()
    expect(() => decode(encode([1, 2, 3]), { maxArray: 2 })).toThrow(/limit/)
    expect(() => decode(encode({ a: 1 }), { maxMap: 1 })).not.toThrow()
    expect(() => decode(encode({ a: 1, b: 2 }), { maxMap: 1 })).toThrow(/limit/)
    const server = createFrameDecoder(1 << 20)
    const map = (n: number) => encode(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))
    expect(() => server.decode(map(64))).not.toThrow()
    expect(() => server.decode(map(65))).toThrow(MsgpackError)
    expect(() => decodeServerFrame(map(65))).toThrow(expect.objectContaining({ code: 'MALFORMED_RESPONSE' }))
    expect(() => server.decode(nested(10))).not.toThrow()
    expect(() => server.decode(nested(11))).toThrow(MsgpackError)
    expect(msgpackShapeOk(nested(11))).toBe(false)
    expect(() => server.decode(encode('x'.repeat(1 << 20)))).not.toThrow()
    expect(() => server.decode(encode('x'.repeat((1 << 20) + 1)))).toThrow(/limit/)
    expect(() => createFrameDecoder(100).decode(encode(new Uint8Array(101)))).toThrow(/limit/)
  })

  it('allocation bombs and deep nesting fail fast with a MsgpackError, without the shape check in front', () => {
    // 20k nested array32 headers each declaring 100000 items (100 KB that would allocate gigabytes if trusted)
    const bomb = new Uint8Array(5 * 20_000)
    for (let i = 0; i < 20_000; i++) bomb.set([0xdd, 0x00, 0x01, 0x86, 0xa0], i * 5)
    const started = performance.now()
    expect(() => decode(bomb)).toThrow(/items in/)
    expect(() => decode(new Uint8Array([0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0, 0xc0]))).toThrow(MsgpackError)
    expect(() => decode(new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]))).toThrow(/truncated/)
    expect(() => decode(new Uint8Array([0xc6, 0xff, 0xff, 0xff, 0xff, 0x61]))).toThrow(/truncated/)
    // a million nested fixarrays: refused by depth, not a stack overflow
    const deep = new Uint8Array(1_000_001).fill(0x91)
    deep[deep.length - 1] = 0
    expect(() => decode(deep)).toThrow(MsgpackError)
    expect(() => decodeServerFrame(deep)).toThrow(expect.objectContaining({ code: 'MALFORMED_RESPONSE' }))
    // a wide array of a million nils is fine and linear
    const wide = new Uint8Array(5 + 1_000_000).fill(0xc0)
    wide.set([0xdd, ...be(1_000_000, 4)])
    expect((decode(wide) as unknown[]).length).toBe(1_000_000)
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(() => decode(new Uint8Array(0))).toThrow(/truncated/)
  })
})
