/**
 * Loads a matcher compiled from C (snappy.c, lz4.c → `<codec>-wasm.ts`, by scripts/codecs-wasm.mjs) and wraps it as a
 * `(data) => compressed` function. Each module exports its linear memory, `__heap_base` and one function
 * `(src, n, dst, extra) → length`; the input is copied in above the module's data and stack, the output follows it,
 * and the result is copied out (the memory is reused by the next call). Resolves null where this runtime cannot
 * compile WebAssembly from bytes (Workers: the bytes module is a stub there; a page whose CSP forbids it), and the
 * codec keeps its TypeScript matcher, which writes the same bytes.
 */
export async function loadWasmMatcher(
  load: () => Promise<{ wasmBytes(): Uint8Array | null }>,
  exportName: string,
  /** Bytes the output may need for n bytes of input, slack for 8-byte stores included. */
  bound: (n: number) => number,
  extra = 0,
): Promise<((data: Uint8Array) => Uint8Array) | null> {
  try {
    const bytes = (await load()).wasmBytes()
    if (!bytes) return null
    const instance = await WebAssembly.instantiate(await WebAssembly.compile(bytes as BufferSource), {})
    const e = instance.exports as Record<string, unknown>
    const memory = e.memory as WebAssembly.Memory
    const run = e[exportName] as (src: number, n: number, dst: number, extra: number) => number
    const src = (Number((e.__heap_base as WebAssembly.Global).value) + 15) & ~15
    return (data) => {
      const n = data.length
      const dst = (src + n + 15) & ~15
      const end = dst + bound(n)
      const have = memory.buffer.byteLength
      if (end > have) memory.grow(Math.ceil((end - have) / 65536))
      const mem = new Uint8Array(memory.buffer)
      mem.set(data, src)
      const len = run(src, n, dst, extra)
      return mem.slice(dst, dst + len)
    }
  } catch {
    return null
  }
}
