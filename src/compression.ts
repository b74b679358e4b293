/**
 * Compression codecs for record batches. The attribute ids are Kafka's: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
 * gzip uses the Web `CompressionStream`, present in Node ≥ 18, browsers and workerd; other codecs plug in through
 * this interface (`compression: myZstdCodec`).
 */
export interface CompressionCodec {
  readonly name: string
  /** Kafka's codec id in the batch attributes (bits 0–2). */
  readonly id: 1 | 2 | 3 | 4
  compress(data: Uint8Array): Promise<Uint8Array>
  decompress(data: Uint8Array): Promise<Uint8Array>
}

async function pipe(data: Uint8Array, stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }): Promise<Uint8Array> {
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
  compress: (data) => pipe(data, new CompressionStream('gzip') as unknown as { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }),
  decompress: (data) => pipe(data, new DecompressionStream('gzip') as unknown as { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }),
}

export type CompressionOption = 'none' | 'gzip' | CompressionCodec

export function resolveCodec(option: CompressionOption | undefined): CompressionCodec | null {
  if (option === undefined || option === 'none') return null
  if (option === 'gzip') return gzip
  return option
}
