/**
 * The CRC-32C slice-by-16 loop as a tiny WebAssembly module, for long inputs (record batches).
 *
 * Why: the same table-driven loop runs ~2x faster as WebAssembly than as JS in V8 (no bounds check per table
 * lookup, native little-endian word loads, the table offsets as load immediates). The module is emitted here, byte by
 * byte, from the instruction list below: nothing pre-built to trust, ~400 bytes.
 *
 * Where WebAssembly cannot be compiled from bytes (Cloudflare Workers forbid it; a page's CSP may), `loadCrcKernel`
 * returns null and crc32c.ts keeps its JS loop. The result is the same function either way (tests compare both).
 *
 * Memory layout (2 pages, 128 KiB): [0, 16 KiB) the sixteen 256-entry tables, copied in from the JS tables;
 * [16 KiB, 128 KiB) a window the caller copies input into, CHUNK bytes at a time.
 *
 * Exported function u(crc, ptr, len) -> crc, the raw register (same convention as crc32cUpdate):
 *   end = ptr + len
 *   while ptr + 16 <= end:                      a = crc ^ word(ptr); b, d, e = the next three words
 *     crc = T15[a0] ^ T14[a1] ^ T13[a2] ^ T12[a3] ^ T11[b0] ^ ... ^ T0[e3]   (x_k: byte k of word x)
 *     ptr += 16
 *   while ptr < end:  crc = T0[(crc ^ byte(ptr)) & 255] ^ (crc >>> 8); ptr += 1
 */

export interface CrcKernel {
  /** Input window: copy bytes here (at most CHUNK at a time), then call update(crc, WINDOW, length). */
  readonly memory: Uint8Array
  update(crc: number, ptr: number, len: number): number
}

/** Start of the input window in the module's memory (right after the tables). */
export const WINDOW = 16384
/** Bytes the window holds. */
export const CHUNK = 2 * 65536 - WINDOW

// opcodes (WebAssembly core spec, binary format)
const BLOCK = 0x02,
  LOOP = 0x03,
  BR = 0x0c,
  BR_IF = 0x0d,
  END = 0x0b,
  VOID = 0x40
const LOCAL_GET = 0x20,
  LOCAL_SET = 0x21,
  I32_LOAD = 0x28,
  I32_LOAD8_U = 0x2d,
  I32_CONST = 0x41
const I32_GE_U = 0x4f,
  I32_ADD = 0x6a,
  I32_SUB = 0x6b,
  I32_AND = 0x71,
  I32_XOR = 0x73,
  I32_SHL = 0x74,
  I32_SHR_U = 0x76
const I32 = 0x7f

function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}
/** i32.const n for 0 <= n < 2^31 (signed LEB128: a set bit 6 in the last byte would read as negative). */
function i32const(n: number): number[] {
  const out: number[] = []
  for (;;) {
    const byte = n & 0x7f
    n >>>= 7
    if (n === 0 && (byte & 0x40) === 0) return [I32_CONST, ...out, byte]
    out.push(byte | 0x80)
  }
}
const load = (offset: number) => [I32_LOAD, 2, ...uleb(offset)] // align 2^2
/** A section: id, then its contents prefixed by their size. */
const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes]

// locals: 0 crc, 1 ptr, 2 len (params); 3 end, 4 end16, 5 a, 6 b, 7 d, 8 e
function body(): number[] {
  const get = (i: number) => [LOCAL_GET, i]
  const set = (i: number) => [LOCAL_SET, i]
  const code: number[] = []
  code.push(...get(1), ...get(2), I32_ADD, ...set(3))
  code.push(...get(3), ...i32const(15), I32_SUB, ...set(4)) // ptr < end - 15  <=>  16 bytes left (ptr >= WINDOW: no wrap)
  code.push(BLOCK, VOID, LOOP, VOID)
  code.push(...get(1), ...get(4), I32_GE_U, BR_IF, 1)
  code.push(...get(0), ...get(1), ...load(0), I32_XOR, ...set(5))
  code.push(...get(1), ...load(4), ...set(6), ...get(1), ...load(8), ...set(7), ...get(1), ...load(12), ...set(8))
  const words = [5, 6, 7, 8]
  for (let w = 0; w < 4; w++) {
    for (let k = 0; k < 4; k++) {
      const table = 15 - (w * 4 + k)
      code.push(...get(words[w]!))
      if (k > 0) code.push(...i32const(8 * k), I32_SHR_U)
      if (k < 3) code.push(...i32const(255), I32_AND)
      code.push(...i32const(2), I32_SHL, ...load(table * 1024))
      if (w + k > 0) code.push(I32_XOR)
    }
  }
  code.push(...set(0), ...get(1), ...i32const(16), I32_ADD, ...set(1), BR, 0, END, END)
  code.push(BLOCK, VOID, LOOP, VOID)
  code.push(...get(1), ...get(3), I32_GE_U, BR_IF, 1)
  code.push(
    ...get(0),
    ...get(1),
    I32_LOAD8_U,
    0,
    0,
    I32_XOR,
    ...i32const(255),
    I32_AND,
    ...i32const(2),
    I32_SHL,
    ...load(0),
  )
  code.push(...get(0), ...i32const(8), I32_SHR_U, I32_XOR, ...set(0))
  code.push(...get(1), ...i32const(1), I32_ADD, ...set(1), BR, 0, END, END)
  code.push(...get(0), END)
  const fn = [1, 6, I32, ...code] // one run of 6 i32 locals
  return [...uleb(fn.length), ...fn]
}

/** The module's bytes. */
export function crcKernelBytes(): Uint8Array<ArrayBuffer> {
  const name = (s: string) => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))]
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00, // "\0asm", version 1
    ...section(1, [1, 0x60, 3, I32, I32, I32, 1, I32]), // type 0: (i32, i32, i32) -> i32
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(5, [1, 0, 2]), // one memory, 2 pages, no maximum
    ...section(7, [2, ...name('m'), 2, 0, ...name('u'), 0, 0]), // exports: memory 0 as "m", function 0 as "u"
    ...section(10, [1, ...body()]),
  ])
}

/**
 * Compiles the kernel and loads `tables` (the 16 x 256 slice tables) into it, as host-order bytes: little-endian hosts
 * only (crc32c.ts checks). Null where WebAssembly is missing or may not be compiled from bytes; the caller then stays
 * on its JS loop.
 */
export function loadCrcKernel(tables: Uint32Array): CrcKernel | null {
  try {
    if (typeof WebAssembly !== 'object') return null
    const instance = new WebAssembly.Instance(new WebAssembly.Module(crcKernelBytes()))
    const exports = instance.exports as { m: WebAssembly.Memory; u: (crc: number, ptr: number, len: number) => number }
    const memory = new Uint8Array(exports.m.buffer)
    memory.set(new Uint8Array(tables.buffer, tables.byteOffset, 16 * 1024), 0)
    return { memory, update: exports.u }
  } catch {
    return null
  }
}
