/// <reference types="node" />
// The built-in codecs without a broker: snappy (xerial framing), lz4 (LZ4 frame) and zstd round trips on record-like,
// repetitive, incompressible and boundary-sized inputs, and (snappy, lz4) inputs aimed at the matchers; frames checked
// against the formats' fixed parts; lz4 and zstd output read back by the reference command-line tools (`lz4 -d`,
// `zstd -d`) where installed (no independent snappy decoder is installed here: kcat and Java's consumer read snappy
// in test/integration/compression.test.ts, as they do the others).
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import {
  loadSnappyWasm,
  snappyCompress,
  snappyCompressTs,
  snappyDecompress,
  snappyDecompressBlock,
} from '../../src/codecs/snappy.js'
import { loadLz4Wasm, lz4Compress, lz4CompressTs, lz4Decompress, xxhash32 } from '../../src/codecs/lz4.js'
import { zstd } from '../../src/codecs/zstd.js'
import { zstdWasmBytes } from '../../src/codecs/zstd-wasm.js'
import { resolveCodec } from '../../src/compression.js'
import { RecordBatchBuilder, decodeRecordBatches, sealBatch } from '../../src/protocol/record-batch.js'
import { xorshift32 } from '../helpers/xorshift.js'

const root = path.resolve(import.meta.dirname, '../..')
const enc = new TextEncoder()

/** JSON events of 200–1,000 bytes, as an application sends them. */
/** Integers in [0, 2^32) from the shared xorshift32. */
function ints(seed: number): () => number {
  const r = xorshift32(seed)
  return () => Math.floor(r() * 4294967296)
}

function events(n: number, seed = 1): Uint8Array {
  const rnd = ints(seed)
  let s = ''
  for (let i = 0; i < n; i++) {
    const pad = 'lorem ipsum dolor sit amet '.repeat(rnd() % 30)
    s += JSON.stringify({
      id: `evt-${i}-${rnd().toString(36)}`,
      user: `user-${rnd() % 5000}`,
      type: ['click', 'view', 'purchase'][rnd() % 3],
      ts: 1_700_000_000_000 + i * 17,
      amount: (rnd() % 100000) / 100,
      note: pad,
    })
  }
  return enc.encode(s)
}

function random(n: number, seed = 7): Uint8Array {
  const rnd = ints(seed)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = rnd() & 0xff
  return out
}

const inputs: Array<[string, Uint8Array]> = [
  ['empty', new Uint8Array(0)],
  ['1 byte', new Uint8Array([42])],
  ['16 bytes', enc.encode('abcdabcdabcdabcd')],
  ['17 bytes', enc.encode('abcdabcdabcdabcda')],
  ['zeros 100k', new Uint8Array(100_000)],
  ['events 40k', events(80)],
  ['events 300k (several blocks)', events(600, 3)],
  ['random 70k (incompressible)', random(70_000)],
  [
    'random then repeated',
    (() => {
      const r = random(40_000, 9)
      const out = new Uint8Array(120_000)
      out.set(r)
      out.set(r, 40_000)
      out.set(r, 80_000)
      return out
    })(),
  ],
  ['exactly 32 KiB', events(200, 5).subarray(0, 32 * 1024)],
  ['exactly 64 KiB', events(200, 5).subarray(0, 64 * 1024)],
  ['64 KiB + 1', events(200, 5).subarray(0, 64 * 1024 + 1)],
]

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Where two byte arrays first differ (-1: equal); vitest's deep equality walks large arrays slowly. */
function mismatch(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}

function tool(name: string): boolean {
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0
}

describe('snappy (xerial snappy-java framing)', () => {
  it.each(inputs)('round-trips %s', (_, data) => {
    expect(mismatch(snappyDecompress(snappyCompress(data)), data)).toBe(-1)
  })

  it('writes the snappy-java header, then [int32 length][block] chunks of at most 32 KiB input', () => {
    const data = events(300, 11)
    const out = snappyCompress(data)
    expect([...out.subarray(0, 16)]).toEqual([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength)
    let total = 0
    let chunks = 0
    for (let p = 16; p < out.length; chunks++) {
      const len = dv.getUint32(p)
      const part = snappyDecompressBlock(out.subarray(p + 4, p + 4 + len))
      expect(part.length).toBeLessThanOrEqual(32 * 1024)
      total += part.length
      p += 4 + len
    }
    expect(total).toBe(data.length)
    expect(chunks).toBe(Math.ceil(data.length / (32 * 1024)))
  })

  it('compresses JSON events at least 2:1', () => {
    const data = events(400)
    expect(snappyCompress(data).length).toBeLessThan(data.length / 2)
  })
})

describe('lz4 (LZ4 frame)', () => {
  it('xxHash32 matches the reference values', () => {
    expect(xxhash32(new Uint8Array(0))).toBe(0x02cc5d05)
    expect(xxhash32(enc.encode('a'))).toBe(0x550d7456)
    expect(xxhash32(enc.encode('abc'))).toBe(0x32d153ff)
    expect(xxhash32(enc.encode('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f)
  })

  it.each(inputs)('round-trips %s', (_, data) => {
    expect(mismatch(lz4Decompress(lz4Compress(data)), data)).toBe(-1)
  })

  it('writes the header Java writes: magic, FLG 0x60 (independent blocks), BD 0x40 (64 KiB), HC 0x82', () => {
    expect([...lz4Compress(enc.encode('x')).subarray(0, 7)]).toEqual([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82])
  })

  it('stores an incompressible block as is (high bit of its size)', () => {
    const out = lz4Compress(random(1000))
    expect(new DataView(out.buffer, out.byteOffset).getUint32(7, true)).toBe((0x80000000 | 1000) >>> 0)
  })

  it.skipIf(!tool('lz4'))('is read by the reference lz4 tool', () => {
    // one run over every input's frame, one after another: the tool writes their contents one after another
    const r = spawnSync('lz4', ['-d', '-c'], {
      input: concat(inputs.map(([, d]) => lz4Compress(d))),
      maxBuffer: 64 << 20,
    })
    expect(r.status, String(r.stderr)).toBe(0)
    expect(mismatch(new Uint8Array(r.stdout), concat(inputs.map(([, d]) => d)))).toBe(-1)
  })
})

/** The largest copy offset in a snappy-java stream (walking every chunk's elements). */
function snappyMaxOffset(stream: Uint8Array): number {
  const dv = new DataView(stream.buffer, stream.byteOffset, stream.byteLength)
  let max = 0
  for (let p = 16; p < stream.length; ) {
    const end = p + 4 + dv.getUint32(p)
    let s = p + 4
    while (stream[s++]! >= 0x80);
    while (s < end) {
      const tag = stream[s++]!
      if ((tag & 3) === 0) {
        let len = tag >>> 2
        if (len >= 60) {
          const extra = len - 59
          len = 0
          for (let k = 0; k < extra; k++) len |= stream[s++]! << (8 * k)
        }
        s += len + 1
      } else if ((tag & 3) === 1) max = Math.max(max, ((tag >>> 5) << 8) | stream[s++]!)
      else if ((tag & 3) === 2) {
        max = Math.max(max, dv.getUint16(s, true))
        s += 2
      } else {
        max = Math.max(max, dv.getUint32(s, true))
        s += 4
      }
    }
    p = end
  }
  return max
}

/** The largest match offset in an LZ4 frame (walking every compressed block's sequences). */
function lz4MaxOffset(frame: Uint8Array): number {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  let max = 0
  for (let p = 7; ; ) {
    const word = dv.getUint32(p, true)
    p += 4
    if (word === 0) return max
    const end = p + (word & 0x7fffffff)
    if (!(word & 0x80000000)) {
      for (let s = p; ; ) {
        const token = frame[s++]!
        let lit = token >>> 4
        if (lit === 15) for (let b = 255; b === 255; lit += b) b = frame[s++]!
        s += lit
        if (s >= end) break
        max = Math.max(max, dv.getUint16(s, true))
        s += 2
        if ((token & 15) === 15) while (frame[s++] === 255);
      }
    }
    p = end
  }
}

/** `copy` random bytes, then filler, then the same bytes again, `length` bytes in all: one far match. */
function farMatch(length: number, copy: number, filler: 'zeros' | 'random', seed: number): Uint8Array {
  const out = filler === 'random' ? random(length, seed + 1) : new Uint8Array(length)
  const head = random(copy, seed)
  out.set(head)
  out.set(head, length - copy)
  return out
}

/** `n` bytes repeating a random pattern of `period` bytes. */
function periodic(n: number, period: number, seed: number): Uint8Array {
  const pattern = random(period, seed)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = pattern[i % period]!
  return out
}

// Inputs aimed at the matchers (their hash tables persist across calls, literals and match lengths are read and
// written 4 bytes at a time near the ends of blocks): every size from 1 to 300 bytes, random and repetitive, periods
// of 1-20 bytes, matches as far back as a chunk (snappy: 32 KiB) or a block (LZ4: 64 KiB) allows, and lengths at the
// block boundaries.
const matcherInputs: Array<[string, Uint8Array]> = [
  ...Array.from({ length: 300 }, (_, i): [string, Uint8Array] => [`random ${i + 1} B`, random(i + 1, 100 + i)]),
  ...Array.from({ length: 300 }, (_, i): [string, Uint8Array] => [
    `periodic ${i + 1} B`,
    periodic(i + 1, 1 + (i % 7), 500 + i),
  ]),
  ...Array.from({ length: 20 }, (_, i): [string, Uint8Array] => [
    `period ${i + 1}, 10,000 B`,
    periodic(10_000, i + 1, 900 + i),
  ]),
  ['events 1..300 B', events(3, 21).subarray(0, 300)],
  ['repeated 4-byte word 100k', enc.encode('abcd'.repeat(25_000))],
  ['far match in 32 KiB (zeros between)', farMatch(32 * 1024, 1000, 'zeros', 31)],
  ['far match in 64 KiB (zeros between)', farMatch(64 * 1024, 1000, 'zeros', 32)],
  ['far match in 64 KiB (random between)', farMatch(64 * 1024, 2000, 'random', 33)],
  ['far match across 64 KiB', farMatch(64 * 1024 + 500, 2000, 'zeros', 34)],
  ...[32 * 1024 - 1, 32 * 1024 + 1, 64 * 1024 - 1, 2 * 64 * 1024 + 13].map((n): [string, Uint8Array] => [
    `events ${n} B`,
    events(400, 35).subarray(0, n),
  ]),
]

describe('the snappy and lz4 matchers', () => {
  it('round-trip every size from 1 to 300 bytes, periodic data, far matches and block boundaries', () => {
    for (const [name, data] of matcherInputs) {
      expect(mismatch(snappyDecompress(snappyCompress(data)), data), `snappy ${name}`).toBe(-1)
      expect(mismatch(lz4Decompress(lz4Compress(data)), data), `lz4 ${name}`).toBe(-1)
    }
  })

  it('find matches as far back as a snappy chunk and an LZ4 block reach', () => {
    const snappy = snappyCompress(farMatch(32 * 1024, 1000, 'zeros', 31))
    expect(snappyMaxOffset(snappy)).toBeGreaterThan(31 * 1024)
    expect(snappyMaxOffset(snappy)).toBeLessThan(32 * 1024)
    const lz4 = lz4Compress(farMatch(64 * 1024, 1000, 'zeros', 32))
    expect(lz4MaxOffset(lz4)).toBeGreaterThan(63 * 1024)
    expect(lz4MaxOffset(lz4)).toBeLessThanOrEqual(65_535)
    // and never further: a block's matches stay in the block (a later LZ4 block starts a new window)
    expect(lz4MaxOffset(lz4Compress(farMatch(3 * 64 * 1024, 3000, 'random', 36)))).toBeLessThanOrEqual(65_535)
  })

  it('compress periodic data to a small fraction (long matches, overlapping copies)', () => {
    for (const period of [1, 2, 3, 4, 5, 7, 8, 13]) {
      const data = periodic(100_000, period, period)
      expect(snappyCompress(data).length, `snappy period ${period}`).toBeLessThan(data.length / 20)
      expect(lz4Compress(data).length, `lz4 period ${period}`).toBeLessThan(data.length / 20)
    }
  })

  it('the hash tables kept between calls leak nothing into the next call, across their periodic clearing', () => {
    // the tables are cleared when a generation counter nears 2^30: every 32,767 snappy chunks and 16,383 LZ4 blocks
    const a = events(1, 41).subarray(0, 100)
    const b = events(1, 42).subarray(0, 100)
    for (let i = 0; i < 40_000; i++) {
      const data = i % 3 === 2 ? b : a
      const s = snappyCompress(data)
      const l = lz4Compress(data)
      if (i % 997 === 0 || i > 32_700) {
        expect(mismatch(snappyDecompress(s), data), `snappy call ${i}`).toBe(-1)
        expect(mismatch(lz4Decompress(l), data), `lz4 call ${i}`).toBe(-1)
      }
    }
    // a long input right after many short ones, and the same input twice
    const big = events(300, 43)
    for (let k = 0; k < 2; k++) {
      expect(mismatch(snappyDecompress(snappyCompress(big)), big)).toBe(-1)
      expect(mismatch(lz4Decompress(lz4Compress(big)), big)).toBe(-1)
    }
  })

  it('return a buffer of their own (the next call does not overwrite it)', () => {
    const first = events(20, 44)
    const s = snappyCompress(first)
    const l = lz4Compress(first)
    snappyCompress(random(50_000, 45))
    lz4Compress(random(50_000, 46))
    expect(mismatch(snappyDecompress(s), first)).toBe(-1)
    expect(mismatch(lz4Decompress(l), first)).toBe(-1)
    expect(s.byteLength).toBe(s.buffer.byteLength)
    expect(l.byteLength).toBe(l.buffer.byteLength)
  })

  it('compress a subarray at an odd offset of a larger buffer the same as a copy of it', () => {
    const whole = events(200, 47)
    const part = whole.subarray(333, 333 + 40_000)
    expect(mismatch(snappyCompress(part), snappyCompress(part.slice()))).toBe(-1)
    expect(mismatch(lz4Compress(part), lz4Compress(part.slice()))).toBe(-1)
  })

  it.skipIf(!tool('lz4'))('LZ4 frames of all of these are read by the reference lz4 tool', () => {
    const r = spawnSync('lz4', ['-d', '-c'], {
      input: concat(matcherInputs.map(([, d]) => lz4Compress(d))),
      maxBuffer: 64 << 20,
    })
    expect(r.status, String(r.stderr)).toBe(0)
    expect(mismatch(new Uint8Array(r.stdout), concat(matcherInputs.map(([, d]) => d)))).toBe(-1)
  })
})

// Runs after the tests above, which use the TypeScript matchers (snappyCompress / lz4Compress until their WebAssembly is
// loaded): from here on both are the C matchers (snappy.c, lz4.c) compiled to WebAssembly, and each input must come out
// byte for byte as the TypeScript writes it.
describe.each([
  ['snappy.c', loadSnappyWasm, snappyCompress, snappyCompressTs, snappyDecompress, 32 * 1024],
  ['lz4.c', loadLz4Wasm, lz4Compress, lz4CompressTs, lz4Decompress, 64 * 1024],
] as const)(
  '%s (WebAssembly) writes what the TypeScript writes',
  (_, load, compress, compressTs, decompress, block) => {
    it('compiles here (Node) and takes over the codec', async () => {
      const data = events(50, 51)
      const before = compress(data)
      expect(await load()).toBe(true)
      expect(await load()).toBe(true) // once
      expect(mismatch(compress(data), before)).toBe(-1)
    })

    it('the same bytes for every input of the matcher tests, JSON events of every size up to 3 blocks, random data', () => {
      const cases: Array<[string, Uint8Array]> = [
        ...inputs,
        ...matcherInputs,
        ['empty', new Uint8Array(0)],
        ['one byte', new Uint8Array([7])],
        ['periodic 100k', periodic(100_000, 7, 7)],
        ['far match', farMatch(block, 1000, 'zeros', 31)],
        ['random 150k', random(150_000, 52)],
      ]
      const all = events(700, 53)
      for (let n = 1; n < all.length && n < 3 * block + 100; n += 1 + (n >> 4))
        cases.push([`events ${n} B`, all.subarray(0, n)])
      // subarrays at odd offsets of a larger buffer
      for (const off of [1, 3, 333]) cases.push([`events at offset ${off}`, all.subarray(off, off + 20_000)])
      for (const [name, data] of cases) {
        const wasm = compress(data)
        expect(mismatch(wasm, compressTs(data)), name).toBe(-1)
        expect(mismatch(decompress(wasm), data), name).toBe(-1)
      }
    })

    it('returns a buffer of its own, and its memory grows for a large batch and keeps working', () => {
      const first = events(20, 54)
      const s = compress(first)
      const big = events(4000, 55) // ~2.4 MB: more than the module's memory at first
      const b = compress(big)
      expect(s.byteLength).toBe(s.buffer.byteLength)
      expect(mismatch(decompress(s), first)).toBe(-1)
      expect(mismatch(decompress(b), big)).toBe(-1)
      expect(mismatch(b, compressTs(big))).toBe(-1)
    })

    it('its table clearing (every 2^30 / block size blocks) leaks nothing: the same bytes as TypeScript across it', () => {
      const a = events(1, 56).subarray(0, 100)
      const b = events(1, 57).subarray(0, 100)
      const clearing = Math.floor(0x3fff0000 / block)
      for (let i = 0; i < clearing + 300; i++) {
        const data = i % 3 === 2 ? b : a
        const w = compress(data)
        // every call: the earlier tests moved this module's counter, so its clearing falls somewhere before `clearing`
        const m = mismatch(w, compressTs(data))
        if (m !== -1) expect(m, `call ${i}`).toBe(-1)
      }
    })
  },
)

describe('zstd (libzstd as WebAssembly)', () => {
  it('the embedded bytes (zstd-wasm.ts) are src/codecs/zstd.wasm', () => {
    expect(mismatch(zstdWasmBytes(), new Uint8Array(readFileSync(path.join(root, 'src/codecs/zstd.wasm'))))).toBe(-1)
  })

  it.each(inputs)('round-trips %s', async (_, data) => {
    const z = zstd()
    expect(mismatch(await z.decompress(await z.compress(data)), data)).toBe(-1)
  })

  it('a higher level compresses JSON events smaller; the level is range-checked', async () => {
    const data = events(600, 13)
    const [l1, l19] = await Promise.all([zstd({ level: 1 }).compress(data), zstd({ level: 19 }).compress(data)])
    expect(l19.length).toBeLessThan(l1.length)
    expect(() => zstd({ level: 23 })).toThrow(RangeError)
  })

  it('takes the module or its bytes (as a Worker passes an imported module)', async () => {
    const module = new WebAssembly.Module(readFileSync(path.join(root, 'src/codecs/zstd.wasm')))
    const data = events(50)
    expect(await zstd({ wasm: module }).decompress(await zstd().compress(data))).toEqual(data)
    expect(await zstd().decompress(await zstd({ wasm: zstdWasmBytes() }).compress(data))).toEqual(data)
  })

  it.skipIf(!tool('zstd'))('is read by the reference zstd tool', async () => {
    const frames = await Promise.all(inputs.map(([, d]) => zstd().compress(d)))
    const r = spawnSync('zstd', ['-d', '-c', '-q'], { input: concat(frames), maxBuffer: 64 << 20 })
    expect(r.status, String(r.stderr)).toBe(0)
    expect(mismatch(new Uint8Array(r.stdout), concat(inputs.map(([, d]) => d)))).toBe(-1)
  })

  it('a corrupt frame is an error, not a crash of the module (which keeps working)', async () => {
    const z = zstd()
    const good = await z.compress(events(20))
    const bad = good.slice()
    bad[bad.length - 5]! ^= 0xff
    bad[8]! ^= 0xff
    await expect(z.decompress(bad)).rejects.toThrow()
    expect(await z.decompress(good)).toEqual(events(20))
  })
})

describe('the codecs by name (lazy)', () => {
  it.each([
    ['snappy', 2],
    ['lz4', 3],
    ['zstd', 4],
  ] as const)('%s (id %i) seals a batch the decoder reads back', async (name, id) => {
    const codec = resolveCodec(name)!
    expect(codec).toMatchObject({ name, id })
    const b = new RecordBatchBuilder(1 << 20)
    const rnd = ints(id)
    const values: Uint8Array[] = []
    for (let i = 0; i < 300; i++) {
      const v = events(1 + (rnd() % 3), i)
      values.push(v)
      b.append({
        timestamp: 1_700_000_000_000 + i,
        key: enc.encode(`k${i}`),
        value: v,
        headers: [{ key: enc.encode('h'), value: i % 2 ? null : enc.encode('x') }],
      })
    }
    const compressed = await codec.compress(b.recordsBytes())
    expect(compressed.length).toBeLessThan(b.recordsBytes().length / 2)
    const bytes = sealBatch(
      b.recordsBytes(),
      b.count,
      b.firstTimestamp,
      b.maxTimestamp,
      { producerId: 1, producerEpoch: 0, baseSequence: 0 },
      { codecId: codec.id, bytes: compressed },
    )
    const [batch] = await decodeRecordBatches(bytes, [codec])
    expect(batch!.codecId).toBe(id)
    expect(batch!.records.map((r, i) => mismatch(r.value!, values[i]!))).toEqual(values.map(() => -1))
  })

  it('a zstd level reaches the codec', async () => {
    const data = events(600, 17)
    const [l1, l19] = await Promise.all([
      resolveCodec('zstd', 1)!.compress(data),
      resolveCodec('zstd', 19)!.compress(data),
    ])
    expect(l19.length).toBeLessThan(l1.length)
  })
})

describe('a producer with each codec, against the fake cluster (which decodes them all by default)', () => {
  it.each([
    ['snappy', 2],
    ['lz4', 3],
    ['zstd', 4],
  ] as const)('%s', async (compression, id) => {
    const { createProducer } = await import('../../src/index.js')
    const { FakeCluster } = await import('../../src/testing/index.js')
    const cluster = new FakeCluster({ topics: { t: 2 } })
    const producer = createProducer({ transport: cluster.transport(), compression, lingerMs: 1 })
    const values = Array.from(
      { length: 500 },
      (_, i) => `{"i":${i},"event":"click","note":"${'lorem ipsum '.repeat(i % 20)}"}`,
    )
    await Promise.all(values.map((value, i) => producer.send({ topic: 't', key: `k${i % 7}`, value })))
    await producer.close()
    const stored = [...cluster.records('t', 0), ...cluster.records('t', 1)].map((r) =>
      new TextDecoder().decode(r.value!),
    )
    expect(stored.sort()).toEqual([...values].sort())
    const codecs = new Set([...cluster.batches('t', 0), ...cluster.batches('t', 1)].map((b) => b.codecId))
    expect(codecs).toEqual(new Set([id]))
  })
})
