import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest'
import {
  CRC32C_INIT,
  crc32c,
  crc32cFinish,
  crc32cUpdate,
  crcKernelActive,
  setCrcKernelEnabled,
} from '../../src/protocol/crc32c'
import { crcKernelBytes, loadCrcKernel } from '../../src/protocol/crc32c-wasm'

/** Bit-at-a-time CRC-32C, the definition the fast version must agree with. */
function referenceCrc32c(data: Uint8Array, start = 0, end = data.length): number {
  let c = 0xffffffff
  for (let i = start; i < end; i++) {
    c ^= data[i]!
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return (c ^ 0xffffffff) >>> 0
}

/** Small seeded PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomBytes(next: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (next() * 256) | 0
  return out
}

const ascii = (s: string) => new TextEncoder().encode(s)

describe('crc32c WebAssembly kernel', () => {
  it('loads in Node, and long inputs use it', () => {
    setCrcKernelEnabled(true)
    expect(crcKernelActive()).toBe(true)
  })

  it('is a valid module of a few hundred bytes', () => {
    const bytes = crcKernelBytes()
    expect(WebAssembly.validate(bytes)).toBe(true)
    expect(bytes.length).toBeLessThan(600)
  })

  it('gives way to the JS loop where WebAssembly may not be compiled (Workers, a strict CSP)', () => {
    const tables = new Uint32Array(16 * 256)
    vi.stubGlobal('WebAssembly', {
      Module: function () {
        throw new Error('Wasm code generation disallowed by embedder')
      },
      Instance: function () {},
    })
    try {
      expect(loadCrcKernel(tables)).toBeNull()
    } finally {
      vi.unstubAllGlobals()
    }
    vi.stubGlobal('WebAssembly', undefined)
    try {
      expect(loadCrcKernel(tables)).toBeNull()
    } finally {
      vi.unstubAllGlobals()
    }
  })
})

// Every case runs twice: long inputs through the WebAssembly kernel, then everything through the JS loop.
for (const kernel of [true, false]) {
  describe(`crc32c (${kernel ? 'WebAssembly kernel for long inputs' : 'JS loop only'})`, () => {
    beforeAll(() => setCrcKernelEnabled(kernel))
    afterAll(() => setCrcKernelEnabled(true))

    it('gives the standard check value for "123456789"', () => {
      expect(crc32c(ascii('123456789'))).toBe(0xe3069283)
    })

    it('is 0 for empty input', () => {
      expect(crc32c(new Uint8Array(0))).toBe(0)
    })

    it('matches the RFC 3720 B.4 vectors', () => {
      expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa)
      expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43)
      expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e)
      expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c)
    })

    it('returns an unsigned 32-bit number', () => {
      const next = rng(7)
      for (let n = 0; n < 200; n++) {
        const v = crc32c(randomBytes(next, n))
        expect(Number.isInteger(v)).toBe(true)
        expect(v).toBeGreaterThanOrEqual(0)
        expect(v).toBeLessThanOrEqual(0xffffffff)
      }
    })

    it('agrees with a bitwise reference on lengths 0..100 at every offset', () => {
      const next = rng(1)
      for (let len = 0; len <= 100; len++) {
        const buf = randomBytes(next, len + 16)
        for (let off = 0; off < 16; off++) {
          expect(crc32c(buf, off, off + len)).toBe(referenceCrc32c(buf, off, off + len))
          // The same bytes seen through a subarray with a non-zero byteOffset.
          expect(crc32c(buf.subarray(off, off + len))).toBe(referenceCrc32c(buf, off, off + len))
        }
      }
    })

    it('agrees with the reference on long inputs (word path) at unaligned offsets', () => {
      const next = rng(2)
      for (const len of [127, 128, 129, 255, 256, 257, 263, 264, 1000, 4096, 4099, 65_537, 114_689, 250_001]) {
        const buf = randomBytes(next, len + 8)
        for (let off = 0; off < 8; off++) {
          const want = referenceCrc32c(buf, off, off + len)
          expect(crc32c(buf, off, off + len)).toBe(want)
          expect(crc32c(buf.subarray(off, off + len))).toBe(want)
        }
      }
    })

    it('computes the same in pieces as in one shot, on random splits', () => {
      const next = rng(3)
      for (let round = 0; round < 300; round++) {
        const len = (next() * (round < 200 ? 200 : 5000)) | 0
        const data = randomBytes(next, len)
        const cuts = Array.from({ length: (next() * 5) | 0 }, () => (next() * (len + 1)) | 0).sort((a, b) => a - b)
        let reg = CRC32C_INIT
        let at = 0
        for (const cut of [...cuts, len]) {
          reg = crc32cUpdate(reg, data, at, cut)
          at = cut
        }
        expect(crc32cFinish(reg)).toBe(crc32c(data))
      }
    })

    it('chains across separate arrays', () => {
      const all = ascii('123456789')
      let reg = crc32cUpdate(CRC32C_INIT, all.slice(0, 4))
      reg = crc32cUpdate(reg, all.slice(4))
      expect(crc32cFinish(reg)).toBe(0xe3069283)
    })

    it('rejects ranges outside the array', () => {
      const buf = new Uint8Array(4)
      expect(() => crc32c(buf, -1, 2)).toThrow(RangeError)
      expect(() => crc32c(buf, 0, 5)).toThrow(RangeError)
      expect(() => crc32c(buf, 3, 2)).toThrow(RangeError)
    })
  })
}
