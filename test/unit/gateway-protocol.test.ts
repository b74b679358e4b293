// The shared wire helpers (adapters/gateway/protocol.ts): the MessagePack shape check that guards the decoder,
// reading a frame's id without decoding it, the REST JSON stream splitter, base64.
import fc from 'fast-check'
import { encode } from '@msgpack/msgpack'
import { describe, expect, it } from 'vitest'
import {
  decodeServerFrame,
  encodeFrame,
  fromBase64,
  msgpackShapeOk,
  peekFrameId,
  splitJsonStream,
  toBase64,
} from '../../adapters/gateway-wire/index.js'

const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.maxSafeInteger(),
    fc.string(),
    fc.uint8Array(),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(fc.string(), tie('v'), { maxKeys: 5 }),
  ),
})).v

describe('msgpackShapeOk', () => {
  it('accepts every encoded value (depth ≤ 10) and rejects every strict prefix of it', () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encode(v)
        expect(msgpackShapeOk(bytes, 64)).toBe(true)
        for (let cut = 0; cut < Math.min(bytes.length, 64); cut++)
          expect(msgpackShapeOk(bytes.subarray(0, cut), 64)).toBe(false)
      }),
      { numRuns: 300 },
    )
  })

  it('rejects trailing bytes, 0xc1, too deep nesting and counts that cannot fit (the allocation bomb)', () => {
    expect(msgpackShapeOk(new Uint8Array([0x01, 0x02]))).toBe(false)
    expect(msgpackShapeOk(new Uint8Array([0xc1]))).toBe(false)
    const deep = encode([[[[[[[[[[[1]]]]]]]]]]])
    expect(msgpackShapeOk(deep, 10)).toBe(false)
    expect(msgpackShapeOk(deep, 11)).toBe(true)
    // 20k nested array32 headers, each declaring 100000 items: 100 KB that would make the decoder allocate ~16 GB
    const bomb = new Uint8Array(5 * 20_000)
    for (let i = 0; i < 20_000; i++) bomb.set([0xdd, 0x00, 0x01, 0x86, 0xa0], i * 5)
    expect(msgpackShapeOk(bomb)).toBe(false)
    expect(() => decodeServerFrame(bomb)).toThrow(/MessagePack/)
    // one array declaring more items than bytes remain
    expect(msgpackShapeOk(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(false)
  })
})

describe('frames', () => {
  it('peekFrameId reads the id of frames our encoders produce, without decoding them', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.uint8Array({ maxLength: 2000 }), (id, blob) => {
        const f = encodeFrame({
          t: 'produce',
          id,
          acks: -1,
          timeoutMs: 1000,
          batches: [{ topic: 't', partition: 0, batchId: 'b', records: [[1, null, blob, []]] }],
        })
        expect(peekFrameId(f)).toBe(id)
      }),
    )
    expect(peekFrameId(encodeFrame({ t: 'hello', v: 1, token: 'x' }))).toBeUndefined()
    expect(peekFrameId(new Uint8Array([0xc1, 1, 2]))).toBeUndefined()
    expect(peekFrameId(new Uint8Array([]))).toBeUndefined()
  })

  it('decodeServerFrame rejects garbage as a retriable MALFORMED_RESPONSE', () => {
    expect(() => decodeServerFrame(new Uint8Array([0x93, 1, 2, 3]))).toThrow(
      expect.objectContaining({ code: 'MALFORMED_RESPONSE', retriable: true }),
    )
    expect(decodeServerFrame(encodeFrame({ t: 'ack', id: 3, results: [] }))).toEqual({ t: 'ack', id: 3, results: [] })
  })
})

describe('REST helpers', () => {
  it('splitJsonStream splits concatenated and newline-separated JSON objects, strings with braces included', () => {
    expect(splitJsonStream('{"a":1}{"b":"}{"}\n{"c":[1,{"d":"\\"}"}]}\n')).toEqual([
      { a: 1 },
      { b: '}{' },
      { c: [1, { d: '"}' }] },
    ])
    expect(splitJsonStream('  ')).toEqual([])
    expect(() => splitJsonStream('{"a":1')).toThrow(SyntaxError)
    expect(() => splitJsonStream('{"a":1} x')).toThrow(SyntaxError)
    expect(() => splitJsonStream('"str"')).toThrow(SyntaxError)
    fc.assert(
      fc.property(fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { maxLength: 6 }), (objs) => {
        expect(splitJsonStream(objs.map((o) => JSON.stringify(o)).join(''))).toEqual(
          objs.map((o) => JSON.parse(JSON.stringify(o))),
        )
      }),
    )
  })

  it('base64 round-trips all byte values and large inputs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100_000 }), (b) => {
        expect(fromBase64(toBase64(b))).toEqual(b)
        expect(toBase64(b)).toBe(Buffer.from(b).toString('base64'))
      }),
      { numRuns: 50 },
    )
  })
})
