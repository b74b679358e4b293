// Test Worker (runs inside workerd, driven by codecs.test.ts through Miniflare): produces the records it is sent with
// gzip, snappy, lz4 or zstd over the Workers TCP transport. zstd's WebAssembly comes in as a module, as wrangler hands a
// `.wasm` import to a Worker (workerd cannot compile WebAssembly from bytes); `?codec=zstd-by-name` tries
// `compression: 'zstd'`, which has only the embedded bytes.
import { createProducer, type CompressionOption } from '../../src/index.js'
import { workersSocket } from '../../adapters/workers-socket/index.js'
import { zstd } from '../../src/codecs/zstd.js'
// @ts-ignore -- a CompiledWasm module of the Worker (Miniflare `modules`), as wrangler's default rule makes it
import zstdWasm from './zstd.wasm'

interface Env {
  KAFKA_BOOTSTRAP: string
}

const hexToBytes = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16))

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    const codec = url.searchParams.get('codec')!
    const topic = url.searchParams.get('topic')!
    const records = (await request.json()) as Array<{ key: string; value: string }>
    const compression: CompressionOption =
      codec === 'zstd'
        ? zstd({ wasm: zstdWasm as WebAssembly.Module })
        : codec === 'zstd-by-name'
          ? 'zstd'
          : (codec as CompressionOption)
    const producer = createProducer({
      transport: workersSocket({ bootstrap: env.KAFKA_BOOTSTRAP }),
      compression,
      lingerMs: 10,
      requestTimeoutMs: 15_000,
      deliveryTimeoutMs: 30_000,
    })
    const started = Date.now()
    try {
      const metas = await Promise.all(
        records.map((r) => producer.send({ topic, key: r.key, value: hexToBytes(r.value) })),
      )
      return Response.json({ ok: true, ms: Date.now() - started, positions: metas.map((m) => [m.partition, m.offset]) })
    } catch (e) {
      const err = e as Error & { code?: string; cause?: Error }
      return Response.json({
        ok: false,
        code: err.code,
        message: err.message,
        cause: err.cause?.message,
        causeCause: (err.cause?.cause as Error | undefined)?.message,
      })
    } finally {
      await producer.close({ timeoutMs: 2000 }).catch(() => {})
    }
  },
}
