import fc from 'fast-check'
import { encode as refEncode } from '@msgpack/msgpack'
import { describe, expect, it } from 'vitest'
import { encodeClientFrame, encodeFrame, MsgpackRaw } from '../../adapters/gateway-wire/frames.js'
import { decode } from '../../adapters/gateway-wire/msgpack.js'

/*
 * encodeClientFrame() (what the websocket and fetch transports send, from an encoder of only the types client frames
 * hold) writes exactly encodeFrame()'s bytes (the general encoder, itself byte-equal to @msgpack/msgpack) for every
 * client frame: hello, metadata, and produce with the producer's records as they are (MsgpackRaw).
 */

const str = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 28, maxLength: 300 }),
  fc.string({ unit: 'binary', minLength: 60, maxLength: 120 }),
)
const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 64 })
/** Integers around every format bound, and numbers that are not safe integers (timeoutMs may be Infinity). */
const num = fc.oneof(
  fc.integer({ min: -40, max: 300 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -33, -129, -32769, -(2 ** 31) - 1),
  fc.constantFrom(Number.POSITIVE_INFINITY, 1.5, 2 ** 53),
)
/** A producer batch's records: any MessagePack value, copied as they are. */
const records = fc
  .array(fc.tuple(fc.maxSafeNat(), fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null })), { maxLength: 5 })
  .map((r) => new MsgpackRaw(encodeFrame(r as never), r.length))
const batch = fc.record({ topic: name, partition: fc.nat({ max: 100_000 }), batchId: name, records })

const clientFrame = fc.oneof(
  fc.record(
    { t: fc.constant('hello' as const), v: fc.constant(1), token: fc.string({ maxLength: 400 }) },
    { requiredKeys: ['t', 'v'] },
  ),
  fc.record({ t: fc.constant('metadata' as const), id: num, topics: fc.array(str, { maxLength: 40 }) }),
  fc.record({
    t: fc.constant('produce' as const),
    id: num,
    acks: fc.constantFrom(-1 as const, 0 as const, 1 as const),
    timeoutMs: num,
    batches: fc.array(batch, { maxLength: 20 }),
  }),
)

describe('encodeClientFrame', () => {
  it('writes the bytes encodeFrame() writes, for every client frame', () => {
    fc.assert(
      fc.property(clientFrame, (f) => {
        const bytes = encodeClientFrame(f as never)
        expect(Buffer.from(bytes).equals(Buffer.from(encodeFrame(f as never)))).toBe(true)
        decode(bytes) // and it is one well-formed value
      }),
      { numRuns: 3000 },
    )
  })

  it('picks the larger formats as encodeFrame() does (str 16/32, array 16/32, 64-bit ints)', () => {
    const big = {
      t: 'metadata' as const,
      id: Number.MAX_SAFE_INTEGER,
      topics: Array.from({ length: 70_000 }, (_, i) => (i === 0 ? 'é'.repeat(40_000) : `t${i}`)),
    }
    const bytes = encodeClientFrame(big)
    expect(Buffer.from(bytes).equals(Buffer.from(encodeFrame(big)))).toBe(true)
    expect(Buffer.from(bytes).equals(Buffer.from(refEncode(big)))).toBe(true)
  })

  it('leaves out map entries whose value is undefined, as encodeFrame() does', () => {
    const f = { t: 'hello' as const, v: 1, token: undefined }
    expect([...encodeClientFrame(f)]).toEqual([...encodeFrame(f)])
  })
})
