/**
 * Compression codecs for record batches. The attribute ids are Kafka's: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
 * gzip uses the Web `CompressionStream`, present in Node ≥ 18, browsers and workerd. snappy and lz4 are our own pure
 * TypeScript (src/codecs/), zstd is libzstd as WebAssembly (src/codecs/zstd.ts); each is a dynamic import made on
 * the first batch it compresses, so a bundle split by its bundler loads none of them unless the option names it
 * (docs/architecture.md, "Codecs"). Any other codec plugs in through this interface (`compression: myCodec`).
 */
export interface CompressionCodec {
  readonly name: string
  /** Kafka's codec id in the batch attributes (bits 0–2). */
  readonly id: 1 | 2 | 3 | 4
  compress(data: Uint8Array): Promise<Uint8Array>
  decompress(data: Uint8Array): Promise<Uint8Array>
}

async function pipe(
  data: Uint8Array,
  stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
): Promise<Uint8Array> {
  const writer = stream.writable.getWriter()
  const written = writer.write(data).then(() => writer.close())
  // on corrupt input both sides fail with the same error: the read loop below throws it, and this promise must not
  // be left rejected without a handler (an unhandled rejection ends a Node process)
  written.catch(() => {})
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = stream.readable.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    total += value.length
  }
  await written
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(total)
  let p = 0
  for (const c of chunks) {
    out.set(c, p)
    p += c.length
  }
  return out
}

export const gzip: CompressionCodec = {
  name: 'gzip',
  id: 1,
  compress: (data) =>
    pipe(
      data,
      new CompressionStream('gzip') as unknown as {
        readable: ReadableStream<Uint8Array>
        writable: WritableStream<Uint8Array>
      },
    ),
  decompress: (data) =>
    pipe(
      data,
      new DecompressionStream('gzip') as unknown as {
        readable: ReadableStream<Uint8Array>
        writable: WritableStream<Uint8Array>
      },
    ),
}

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
export type CompressionOption = CompressionName | CompressionCodec

/** A codec whose implementation is imported when it first compresses (or decompresses). */
function lazy(name: string, id: CompressionCodec['id'], load: () => Promise<CompressionCodec>): CompressionCodec {
  let codec: Promise<CompressionCodec> | undefined
  const get = () => (codec ??= load().catch((e: unknown) => ((codec = undefined), Promise.reject(e))))
  return {
    name,
    id,
    compress: async (data) => (await get()).compress(data),
    decompress: async (data) => (await get()).decompress(data),
  }
}

/** The codec the option names (`level` is zstd's; snappy has none, lz4 is LZ4's fast mode, gzip CompressionStream's). */
export function resolveCodec(option: CompressionOption | undefined, level?: number): CompressionCodec | null {
  switch (option) {
    case undefined:
    case 'none':
      return null
    case 'gzip':
      return gzip
    case 'snappy':
      return lazy('snappy', 2, async () => {
        const m = await import('./codecs/snappy.js')
        await m.loadSnappyWasm() // the faster matcher where this runtime compiles WebAssembly; TypeScript elsewhere
        return {
          name: 'snappy',
          id: 2,
          compress: async (d) => m.snappyCompress(d),
          decompress: async (d) => m.snappyDecompress(d),
        }
      })
    case 'lz4':
      return lazy('lz4', 3, async () => {
        const m = await import('./codecs/lz4.js')
        await m.loadLz4Wasm() // the faster matcher where this runtime compiles WebAssembly; TypeScript elsewhere
        return {
          name: 'lz4',
          id: 3,
          compress: async (d) => m.lz4Compress(d),
          decompress: async (d) => m.lz4Decompress(d),
        }
      })
    case 'zstd':
      return lazy('zstd', 4, async () => (await import('./codecs/zstd.js')).zstd(level === undefined ? {} : { level }))
    default:
      return option
  }
}
