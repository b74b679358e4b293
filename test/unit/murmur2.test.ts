import { describe, it, expect } from 'vitest'
import { murmur2, murmur2Partition, toPositive } from '../../src/producer/murmur2'

const bytes = (s: string) => new TextEncoder().encode(s)

describe('murmur2', () => {
  // Kafka's UtilsTest.testMurmur2 table.
  const cases: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]

  it.each(cases)('murmur2(%j) === %i, as Java Utils.murmur2', (key, expected) => {
    expect(murmur2(bytes(key))).toBe(expected)
  })

  it('returns a signed 32-bit int', () => {
    for (let n = 0; n < 64; n++) {
      const h = murmur2(Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff))
      expect(h).toBe(h | 0)
    }
  })

  it('hashes the empty key', () => {
    const h = murmur2(new Uint8Array(0))
    expect(h).toBe(h | 0)
  })
})

describe('toPositive', () => {
  it('clears the sign bit like Java Utils.toPositive', () => {
    expect(toPositive(0)).toBe(0)
    expect(toPositive(5)).toBe(5)
    expect(toPositive(-1)).toBe(0x7fffffff)
    expect(toPositive(-2147483648)).toBe(0)
    expect(toPositive(-973932308)).toBe(-973932308 & 0x7fffffff)
  })
})

describe('murmur2Partition', () => {
  it('is toPositive(murmur2(key)) % numPartitions', () => {
    for (const [key, hash] of [
      ['21', -973932308],
      ['foobar', -790332482],
      ['abc', 479470107],
    ] as const) {
      for (const n of [1, 2, 3, 7, 12, 100]) {
        expect(murmur2Partition(bytes(key), n)).toBe((hash & 0x7fffffff) % n)
      }
    }
  })

  // From Kafka's KTableKTableForeignKeyInnerJoinMultiIntegrationTest, whose
  // comments give the partitions of String keys "0".."9" for 3 partitions.
  it.each([
    ['0', 2],
    ['1', 0],
    ['2', 2],
    ['3', 2],
    ['4', 1],
    ['5', 0],
    ['6', 1],
    ['7', 0],
    ['8', 0],
    ['9', 2],
  ] as const)('key %j goes to partition %i of 3', (key, partition) => {
    expect(murmur2Partition(bytes(key), 3)).toBe(partition)
  })

  it('always gives 0 for a single partition', () => {
    expect(murmur2Partition(bytes('anything'), 1)).toBe(0)
  })

  it('rejects a non-positive partition count', () => {
    expect(() => murmur2Partition(bytes('k'), 0)).toThrow(RangeError)
    expect(() => murmur2Partition(bytes('k'), -3)).toThrow(RangeError)
    expect(() => murmur2Partition(bytes('k'), 1.5)).toThrow(RangeError)
  })
})
