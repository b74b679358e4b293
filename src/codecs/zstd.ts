/**
 * zstd for Kafka (codec id 4): one standard zstd frame per batch, made by the reference C library (libzstd, BSD)
 * compiled to WebAssembly. The module is `zstd.wasm` of the npm package @bokuweb/zstd-wasm 0.0.27 (MIT), kept
 * byte for byte in src/codecs/zstd.wasm (dist/zstd.wasm, the package export 'isokafka/zstd.wasm'); this file is our
 * own loader for it, so no Emscripten glue is shipped and the module can come from anywhere:
 *
 * - Node and browsers: `compression: 'zstd'` compiles the bytes embedded in zstd-wasm.ts (loaded on first use only);
 * - Cloudflare Workers cannot compile WebAssembly from bytes at run time; a Worker imports the module instead and
 *   passes it: `import zstdWasm from 'isokafka/zstd.wasm'` and `compression: zstd({ wasm: zstdWasm })`
 *   (`zstd` from 'isokafka/zstd'; wrangler turns a .wasm import into a compiled WebAssembly.Module).
 *
 * The module's imports are Emscripten's minimal runtime ('a'.'a'–'e': exit, keep-alive, abort, timers, heap growth);
 * its exports are minified names, mapped below as the package's own glue maps them.
 */
import type { CompressionCodec } from '../compression.js'
import { InvalidArgumentError } from '../errors.js'

export interface ZstdOptions {
  /** 1–22 (negative levels are the fast modes). Default 3, as Java's compression.zstd.level and librdkafka. */
  level?: number
  /** The compiled module (Workers: `import zstdWasm from 'isokafka/zstd.wasm'`) or its bytes. */
  wasm?: WebAssembly.Module | BufferSource
}

interface ZstdExports {
  memory: WebAssembly.Memory
  init(): void
  isError(code: number): number
  compressBound(n: number): number
  createCCtx(): number
  /** ZSTD_compress_usingDict(cctx, dst, cap, src, n, dict, dictSize, level): a frame with a reused context. */
  compressCCtx(
    cctx: number,
    dst: number,
    cap: number,
    src: number,
    n: number,
    dict: number,
    dictSize: number,
    level: number,
  ): number
  getFrameContentSize(src: number, n: number): number
  decompress(dst: number, cap: number, src: number, n: number): number
  malloc(n: number): number
  free(p: number): void
}

class ZstdAbort extends Error {}

function importsFor(memory: () => WebAssembly.Memory): WebAssembly.Imports {
  return {
    a: {
      a: (code: number) => {
        throw new ZstdAbort(`zstd: exit(${code})`)
      },
      b: () => {},
      c: () => {
        throw new ZstdAbort('zstd: abort')
      },
      d: () => 0,
      // emscripten_resize_heap(bytes): grow to at least that size (64 KiB pages), 1 on success
      e: (requested: number) => {
        const m = memory()
        const need = Math.ceil(((requested >>> 0) - m.buffer.byteLength) / 65536)
        try {
          m.grow(Math.max(need, Math.ceil(m.buffer.byteLength / 65536 / 4)))
          return 1
        } catch {
          try {
            m.grow(need)
            return 1
          } catch {
            return 0
          }
        }
      },
    },
  }
}

async function instantiate(source: WebAssembly.Module | BufferSource): Promise<ZstdExports> {
  let memory: WebAssembly.Memory | undefined
  const imports = importsFor(() => memory!)
  const instance =
    source instanceof WebAssembly.Module
      ? await WebAssembly.instantiate(source, imports)
      : (await WebAssembly.instantiate(source, imports)).instance
  const e = instance.exports as Record<string, any>
  memory = e.f as WebAssembly.Memory
  const x: ZstdExports = {
    memory,
    init: e.g,
    isError: e.h,
    compressBound: e.i,
    createCCtx: e.j,
    compressCCtx: e.l,
    getFrameContentSize: e.p,
    decompress: e.r,
    malloc: e.s,
    free: e.t,
  }
  x.init()
  return x
}

/** One instance per module source; its buffers grow to the largest batch seen and are reused. */
class ZstdInstance {
  private src = 0
  private srcCap = 0
  private dst = 0
  private dstCap = 0
  private readonly cctx: number

  constructor(private readonly x: ZstdExports) {
    this.cctx = x.createCCtx()
    if (this.cctx === 0) throw new ZstdAbort('zstd: out of memory')
  }

  private input(data: Uint8Array): void {
    if (this.srcCap < data.length) {
      if (this.src) this.x.free(this.src)
      this.srcCap = Math.max(data.length, 64 * 1024)
      this.src = this.x.malloc(this.srcCap)
    }
    this.output(0)
    new Uint8Array(this.x.memory.buffer).set(data, this.src)
  }

  private output(n: number): void {
    if (this.dstCap >= n) return
    if (this.dst) this.x.free(this.dst)
    this.dstCap = Math.max(n, 64 * 1024)
    this.dst = this.x.malloc(this.dstCap)
    if (this.dst === 0) throw new ZstdAbort('zstd: out of memory')
  }

  private result(size: number, what: string): Uint8Array {
    if (this.x.isError(size)) throw new ZstdAbort(`zstd: ${what} failed (code ${-size >>> 0})`)
    return new Uint8Array(this.x.memory.buffer, this.dst, size >>> 0).slice()
  }

  compress(data: Uint8Array, level: number): Uint8Array {
    const bound = this.x.compressBound(data.length)
    this.output(bound)
    this.input(data)
    return this.result(this.x.compressCCtx(this.cctx, this.dst, bound, this.src, data.length, 0, 0, level), 'compress')
  }

  decompress(data: Uint8Array): Uint8Array {
    this.input(data)
    // the size is in the frame header when the writer knew it (ours, Java's, librdkafka's, franz-go's all do)
    const size = this.x.getFrameContentSize(this.src, data.length)
    if (size < 0 || size > 256 * 1024 * 1024) throw new ZstdAbort('zstd: frame without a usable content size')
    this.output(size)
    return this.result(this.x.decompress(this.dst, size, this.src, data.length), 'decompress')
  }
}

const instances = new WeakMap<object, Promise<ZstdInstance>>()
let embedded: Promise<ZstdInstance> | undefined

function instanceFor(wasm: ZstdOptions['wasm']): Promise<ZstdInstance> {
  if (wasm === undefined) {
    embedded ??= import('./zstd-wasm.js')
      .then((m) => instantiate(m.zstdWasmBytes()))
      .then((x) => new ZstdInstance(x))
      .catch((cause: unknown) => {
        embedded = undefined
        // a setting this runtime cannot honour, not a passing failure: non-retriable INVALID_CONFIG on the sends
        throw new InvalidArgumentError(
          'INVALID_CONFIG',
          'zstd: could not compile the embedded WebAssembly (Cloudflare Workers cannot compile from bytes: pass ' +
            "compression: zstd({ wasm }) from 'isokafka/zstd' with `import wasm from 'isokafka/zstd.wasm'`)",
          { cause },
        )
      })
    return embedded
  }
  let p = instances.get(wasm)
  if (!p) {
    p = instantiate(wasm).then((x) => new ZstdInstance(x))
    instances.set(wasm, p)
  }
  return p
}

/** The zstd codec; the WebAssembly is compiled on the first batch, not here. */
export function zstd(options: ZstdOptions = {}): CompressionCodec {
  const level = options.level ?? 3
  if (!Number.isInteger(level) || level < -131072 || level > 22)
    throw new RangeError(`zstd level ${level} is not an integer from -131072 to 22`)
  return {
    name: 'zstd',
    id: 4,
    compress: async (data) => (await instanceFor(options.wasm)).compress(data, level),
    decompress: async (data) => (await instanceFor(options.wasm)).decompress(data),
  }
}
