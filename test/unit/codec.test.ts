import { describe, expect, it } from 'vitest'
import { Reader, Writer } from '../../src/protocol/codec.js'
import { MalformedResponseError } from '../../src/errors.js'

describe('codec', () => {
  it('round-trips fixed-width integers including int64 edge values', () => {
    const w = new Writer(4)
    const longs = [0, 1, -1, 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53 - 1), 1795598911190]
    w.int8(-128).int16(-32768).int32(-2147483648).uint32(0xffffffff)
    for (const v of longs) w.int64(v)
    const r = new Reader(w.finish())
    expect([r.int8(), r.int16(), r.int32(), r.uint32()]).toEqual([-128, -32768, -2147483648, 0xffffffff])
    for (const v of longs) expect(r.int64()).toBe(v)
    r.expectEnd('test')
  })

  it('encodes varints as Kafka does (zigzag) and round-trips them', () => {
    const cases: Array<[number, number[]]> = [
      [0, [0]],
      [-1, [1]],
      [1, [2]],
      [63, [0x7e]],
      [-64, [0x7f]],
      [64, [0x80, 0x01]],
      [300, [0xd8, 0x04]],
    ]
    for (const [v, bytes] of cases) {
      expect([...new Writer().varint(v).finish()]).toEqual(bytes)
      expect(new Reader(Uint8Array.from(bytes)).varint()).toBe(v)
    }
    const values = [0, 1, -1, 2147483647, -2147483648, 12345678]
    const w = new Writer()
    for (const v of values) w.varint(v)
    const r = new Reader(w.finish())
    for (const v of values) expect(r.varint()).toBe(v)
  })

  it('round-trips varlongs beyond 32 bits', () => {
    const values = [0, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 40 + 7, -(2 ** 45), 2 ** 52, 1795598911190]
    const w = new Writer()
    for (const v of values) w.varlong(v)
    const r = new Reader(w.finish())
    for (const v of values) expect(r.varlong()).toBe(v)
  })

  it('round-trips classic and compact strings, bytes and arrays', () => {
    const w = new Writer(1)
    w.string('héllo').nullableString(null).compactString('topic').compactNullableString(null)
    w.bytes(Uint8Array.of(1, 2)).compactBytes(Uint8Array.of(3)).compactNullableBytes(null)
    w.array([1, 2, 3], true, (w, v) => w.int32(v))
      .array(['a'], false, (w, v) => w.string(v))
      .emptyTags()
    const r = new Reader(w.finish())
    expect(r.string()).toBe('héllo')
    expect(r.nullableString()).toBeNull()
    expect(r.compactString()).toBe('topic')
    expect(r.compactNullableString()).toBeNull()
    expect([...r.nullableBytes()!]).toEqual([1, 2])
    expect([...r.compactNullableBytes()!]).toEqual([3])
    expect(r.compactNullableBytes()).toBeNull()
    expect(r.array(true, (r) => r.int32())).toEqual([1, 2, 3])
    expect(r.array(false, (r) => r.string())).toEqual(['a'])
    r.skipTags()
    r.expectEnd('test')
  })

  it('skips unknown tagged fields', () => {
    const w = new Writer()
    w.uvarint(2)
      .uvarint(0)
      .uvarint(3)
      .raw(Uint8Array.of(9, 9, 9))
      .uvarint(5)
      .uvarint(1)
      .raw(Uint8Array.of(1))
      .int8(7)
    const r = new Reader(w.finish())
    r.skipTags()
    expect(r.int8()).toBe(7)
  })

  it('rejects truncated and malformed input with a typed error', () => {
    expect(() => new Reader(Uint8Array.of(0, 1)).int32()).toThrow(MalformedResponseError)
    expect(() => new Reader(Uint8Array.of(0, 5, 65)).string()).toThrow(MalformedResponseError)
    expect(() => new Reader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01)).uvarint()).toThrow(
      MalformedResponseError,
    )
    expect(() => new Reader(Uint8Array.of(0, 0, 0, 100, 1)).array(false, (r) => r.int8())).toThrow(
      MalformedResponseError,
    )
    expect(() => new Reader(Uint8Array.of(0, 2, 0xc3, 0x28)).string()).toThrow(MalformedResponseError)
    expect(() => new Reader(Uint8Array.of(1)).expectEnd('x')).toThrow(MalformedResponseError)
  })
})
