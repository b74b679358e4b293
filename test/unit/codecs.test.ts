/// <reference types="node" />
// The built-in codecs without a broker: snappy (xerial framing), lz4 (LZ4 frame) and zstd round trips on record-like,
// repetitive, incompressible and boundary-sized inputs; frames checked against the formats' fixed parts; lz4 and zstd
// output read back by the reference command-line tools (`lz4 -d`, `zstd -d`) where installed. Kafka itself (broker,
// kcat, Java ConsoleConsumer) reads them in test/integration/compression.test.ts.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { snappyCompress, snappyDecompress, snappyDecompressBlock } from '../../src/codecs/snappy.js'
import { lz4Compress, lz4Decompress, xxhash32 } from '../../src/codecs/lz4.js'
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
