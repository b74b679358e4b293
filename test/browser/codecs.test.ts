// The codecs in real Chromium: each compresses through a producer on the fake cluster (which decodes every batch), and
// snappy's and lz4's WebAssembly matchers compile here (a page without a CSP that forbids it) and write the same bytes
// as their TypeScript matchers. A Kafka-protocol producer runs in a page only over a custom socket transport (the
// gateway transports send records uncompressed), so this is the codecs' own proof for browsers.
import { describe, expect, it } from 'vitest'
import { createProducer } from '../../src/index.js'
import { FakeCluster } from '../../src/testing/index.js'
import { loadLz4Wasm, lz4Compress, lz4CompressTs, lz4Decompress } from '../../src/codecs/lz4.js'
import { loadSnappyWasm, snappyCompress, snappyCompressTs, snappyDecompress } from '../../src/codecs/snappy.js'

const enc = new TextEncoder()
const events = (n: number) =>
  Array.from(
    { length: n },
    (_, i) =>
      `{"i":${i},"user":"user-${(i * 7919) % 5000}","event":"${['click', 'view', 'buy'][i % 3]}","note":"${'lorem ipsum '.repeat(i % 20)}"}`,
  )

describe('codecs in Chromium', () => {
  it.each([
    ['gzip', 1],
    ['snappy', 2],
    ['lz4', 3],
    ['zstd', 4],
  ] as const)('%s: a producer on the fake cluster, every record back', async (compression, id) => {
    const cluster = new FakeCluster({ topics: { t: 2 } })
    const producer = createProducer({ transport: cluster.transport(), compression, lingerMs: 1 })
    const values = events(500)
    await Promise.all(values.map((value, i) => producer.send({ topic: 't', key: `k${i % 7}`, value })))
    await producer.close()
    const stored = [...cluster.records('t', 0), ...cluster.records('t', 1)].map((r) =>
      new TextDecoder().decode(r.value!),
    )
    expect(stored.sort()).toEqual([...values].sort())
    expect(new Set([...cluster.batches('t', 0), ...cluster.batches('t', 1)].map((b) => b.codecId))).toEqual(
      new Set([id]),
    )
  })

  it.each([
    ['snappy', loadSnappyWasm, snappyCompress, snappyCompressTs, snappyDecompress],
    ['lz4', loadLz4Wasm, lz4Compress, lz4CompressTs, lz4Decompress],
  ] as const)(
    '%s: the WebAssembly matcher compiles here and writes what the TypeScript writes',
    async (_, load, wasm, ts, back) => {
      expect(await load()).toBe(true)
      const all = enc.encode(events(2000).join('\n'))
      for (const n of [0, 1, 17, 1000, 16_384, 40_000, 70_000, all.length]) {
        const data = all.subarray(0, n)
        const out = wasm(data)
        expect(out).toEqual(ts(data))
        expect(back(out)).toEqual(data)
      }
    },
  )
})
