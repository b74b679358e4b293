/**
 * Snappy for Kafka (codec id 2), pure TypeScript so it runs wherever the core runs (Workers included, no WebAssembly).
 *
 * Kafka's snappy is the xerial "snappy-java" stream: Java's producer writes it and both Java and librdkafka read it:
 *
 *   header   0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00, int32 version = 1, int32 compatible version = 1 (big endian)
 *   chunks   [int32 compressed length][raw snappy block of ≤ 32 KiB input]...   (snappy-java's default block size)
 *
 * A raw snappy block is `varint(uncompressed length)` then elements: a literal (tag 00, length in the tag or 1–4 extra
 * bytes) or a copy of earlier output (tag 01: length 4–11 and an 11-bit offset; tag 10: length 1–64 and a 16-bit
 * offset; tag 11, 32-bit offsets, is never needed since a chunk is ≤ 32 KiB).
 *
 * The matcher is Snappy's own greedy one: a hash table of 4-byte sequences, lookups that skip faster the longer no
 * match turns up (incompressible input costs little), and after each copy the positions just before and at its end
 * go into the table.
 *
 * snappy.c is the same matcher in C, compiled to WebAssembly (snappy-wasm.ts): ~1.3x faster, and byte for byte the
 * same output. `loadSnappyWasm()` switches `snappyCompress` to it where the runtime compiles WebAssembly from bytes;
 * elsewhere (Cloudflare Workers, a page whose CSP forbids it) this TypeScript matcher does the work.
 */

import { loadWasmMatcher } from './wasm-matcher.js'

const BLOCK = 32 * 1024
const HEADER = new Uint8Array([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])
/** Snappy stops looking for matches this close to the end of a block (loads of 4–8 bytes stay in range). */
const INPUT_MARGIN = 15
const TABLE_BITS = 14

/** Worst case of one raw block: every byte a literal, plus tags and the length varint. */
const maxBlockLength = (n: number): number => 32 + n + Math.floor(n / 6)

/**
 * The hash table, kept across calls and never cleared: an entry is `position + gen - start` of the block that wrote
 * it, and each block raises `gen` past every position an earlier one could have stored, so an earlier block's entry
 * reads as a position before the current block's start (skipped, as an empty slot is). Cleared only when `gen` nears
 * 2^30.
 */
const table = new Int32Array(1 << TABLE_BITS)
// from BLOCK, not 0: an empty slot (0) then never reads as a position of the first block (snappy.c does the same, and
// the two write the same bytes)
let gen = BLOCK
/** The output is written here (grown when a batch needs more), then copied out once. */
let scratch = new Uint8Array(0)
let scratchView = new DataView(scratch.buffer)
/** Beyond this a call allocates its own buffer rather than keeping one that large. */
const KEEP_SCRATCH = 4 << 20

function emitLiteral(
  dst: Uint8Array,
  dv: DataView,
  d: number,
  src: Uint8Array,
  sv: DataView,
  from: number,
  to: number,
): number {
  const len = to - from
  const n = len - 1
  if (n < 60) dst[d++] = n << 2
  else if (n < 0x100) {
    dst[d++] = 60 << 2
    dst[d++] = n
  } else {
    // chunks are ≤ 32 KiB, so two length bytes always suffice
    dst[d++] = 61 << 2
    dst[d++] = n & 0xff
    dst[d++] = n >>> 8
  }
  if (len > 64) dst.set(src.subarray(from, to), d)
  else if (to + 3 < src.length) {
    // 4 bytes at a time, up to 3 past the literal's end: the output has slack, and what follows overwrites them
    for (let k = 0; k < len; k += 4) dv.setInt32(d + k, sv.getInt32(from + k, true), true)
  } else for (let k = 0; k < len; k++) dst[d + k] = src[from + k]!
  return d + len
}

function emitCopy(dst: Uint8Array, d: number, offset: number, length: number): number {
  // copies longer than 64 go out as 64s (leaving ≥ 4 for the last one, so it may still be a 2-byte copy)
  while (length >= 68) {
    dst[d++] = (63 << 2) | 2
    dst[d++] = offset & 0xff
    dst[d++] = offset >>> 8
    length -= 64
  }
  if (length > 64) {
    dst[d++] = (59 << 2) | 2
    dst[d++] = offset & 0xff
    dst[d++] = offset >>> 8
    length -= 60
  }
  if (length >= 12 || offset >= 2048) {
    dst[d++] = ((length - 1) << 2) | 2
    dst[d++] = offset & 0xff
    dst[d++] = offset >>> 8
  } else {
    dst[d++] = ((offset >>> 8) << 5) | ((length - 4) << 2) | 1
    dst[d++] = offset & 0xff
  }
  return d
}

/** One raw snappy block of `src[start, end)` into `dst` at `d`; returns the new end of `dst`. */
function compressBlock(
  src: Uint8Array,
  sv: DataView,
  start: number,
  end: number,
  dst: Uint8Array,
  dv: DataView,
  d: number,
): number {
  const n = end - start
  for (let v = n; ; v >>>= 7) {
    if (v < 0x80) {
      dst[d++] = v
      break
    }
    dst[d++] = (v & 0x7f) | 0x80
  }
  if (n < INPUT_MARGIN + 2) return n === 0 ? d : emitLiteral(dst, dv, d, src, sv, start, end)
  if (gen > 0x3fff0000) {
    table.fill(0)
    gen = BLOCK
  }
  // a position p goes into the table as p + g; what comes out, minus g, is below `start` if an earlier block wrote it
  const g = gen - start
  gen += BLOCK
  // the hot loop's constants as locals: a bundle turns module-level consts into vars, which V8 then reads from the
  // module context on every use and checks for a number each time
  const t = table
  const K = 0x1e35a7bd
  const SHIFT = 32 - 14 // TABLE_BITS
  const sLimit = end - INPUT_MARGIN
  let nextEmit = start
  let s = start + 1
  // the 4 bytes at the next position to probe, loaded once for its hash and its comparison
  let nextWord = sv.getInt32(s, true)
  let nextHash = Math.imul(nextWord, K) >>> SHIFT
  outer: for (;;) {
    // lookups skip faster the longer nothing matches (1 byte at a time for 32 probes, then 2, ...)
    let skip = 32
    let nextS = s
    let candidate = 0
    for (;;) {
      s = nextS
      const word = nextWord
      const step = skip >> 5
      nextS = s + step
      skip += step
      if (nextS > sLimit) break outer
      candidate = t[nextHash]! - g
      t[nextHash] = s + g
      nextWord = sv.getInt32(nextS, true)
      nextHash = Math.imul(nextWord, K) >>> SHIFT
      if (candidate >= start && sv.getInt32(candidate, true) === word) break
    }
    d = emitLiteral(dst, dv, d, src, sv, nextEmit, s)
    for (;;) {
      // the match: 4 bytes known equal, then 4 at a time while they fit, the first differing byte from the XOR
      const base = s
      let i = candidate + 4
      s += 4
      for (;;) {
        if (s > end - 4) {
          while (s < end && src[i] === src[s]) {
            i++
            s++
          }
          break
        }
        const x = sv.getInt32(s, true) ^ sv.getInt32(i, true)
        if (x !== 0) {
          s += (31 - Math.clz32(x & -x)) >> 3
          break
        }
        s += 4
        i += 4
      }
      d = emitCopy(dst, d, base - candidate, s - base)
      nextEmit = s
      if (s >= sLimit) break outer
      // as Snappy: the position before the match's end into the table, then try for a match right at the end
      t[Math.imul(sv.getInt32(s - 1, true), K) >>> SHIFT] = s - 1 + g
      const cur = sv.getInt32(s, true)
      const h = Math.imul(cur, K) >>> SHIFT
      candidate = t[h]! - g
      t[h] = s + g
      if (candidate < start || cur !== sv.getInt32(candidate, true)) {
        nextWord = sv.getInt32(++s, true)
        nextHash = Math.imul(nextWord, K) >>> SHIFT
        break
      }
    }
  }
  if (nextEmit < end) d = emitLiteral(dst, dv, d, src, sv, nextEmit, end)
  return d
}

let wasm: ((data: Uint8Array) => Uint8Array) | null = null
let wasmLoad: Promise<boolean> | undefined

/**
 * Compiles snappy.c's WebAssembly (once) so that `snappyCompress` uses it; resolves false, and leaves the TypeScript
 * matcher in place, where this runtime cannot compile WebAssembly from bytes.
 */
export function loadSnappyWasm(): Promise<boolean> {
  // the worst case of snappy.c's output (see snappyCompressTs) plus 16 bytes of slack for its 8-byte stores
  const bound = (n: number) => HEADER.length + n + Math.floor(n / 6) + 64 * (Math.ceil(n / BLOCK) + 1) + 32
  wasmLoad ??= loadWasmMatcher(() => import('./snappy-wasm.js'), 'snappy_xerial', bound).then(
    (f) => (wasm = f) !== null,
  )
  return wasmLoad
}

/** `data` as a xerial snappy-java stream (what Kafka calls snappy): snappy.c's WebAssembly once loaded, else TypeScript. */
export function snappyCompress(data: Uint8Array): Uint8Array {
  return wasm ? wasm(data) : snappyCompressTs(data)
}

/** `data` as a xerial snappy-java stream, by the TypeScript matcher (what runs where WebAssembly cannot). */
export function snappyCompressTs(data: Uint8Array): Uint8Array {
  const chunks = Math.max(1, Math.ceil(data.length / BLOCK))
  // + 8: literals are copied 4 bytes at a time, up to 3 bytes past their end
  const need = HEADER.length + chunks * 4 + maxBlockLength(data.length) + chunks * 32 + 8
  let out = scratch
  let ov = scratchView
  if (out.length < need) {
    out = new Uint8Array(need)
    ov = new DataView(out.buffer)
    if (need <= KEEP_SCRATCH) {
      scratch = out
      scratchView = ov
    }
  }
  const sv = new DataView(data.buffer, data.byteOffset, data.byteLength)
  out.set(HEADER)
  let d = HEADER.length
  for (let p = 0; p < data.length; p += BLOCK) {
    const at = d
    d = compressBlock(data, sv, p, Math.min(data.length, p + BLOCK), out, ov, d + 4)
    ov.setUint32(at, d - at - 4)
  }
  return out.slice(0, d)
}

class SnappyError extends Error {}

/** One raw snappy block (as `compressBlock` writes it, or any conforming writer). */
export function snappyDecompressBlock(src: Uint8Array): Uint8Array {
  let s = 0
  let n = 0
  for (let sh = 0; ; sh += 7) {
    if (s >= src.length || sh > 28) throw new SnappyError('snappy: bad length')
    const b = src[s++]!
    n += (b & 0x7f) * 2 ** sh
    if (b < 0x80) break
  }
  const out = new Uint8Array(n)
  let d = 0
  while (s < src.length) {
    const tag = src[s++]!
    let len: number
    let offset: number
    switch (tag & 3) {
      case 0: {
        len = tag >>> 2
        if (len >= 60) {
          const extra = len - 59
          len = 0
          for (let k = 0; k < extra; k++) len |= src[s++]! << (8 * k)
          len >>>= 0
        }
        len += 1
        if (s + len > src.length || d + len > n) throw new SnappyError('snappy: literal out of range')
        out.set(src.subarray(s, s + len), d)
        s += len
        d += len
        continue
      }
      case 1:
        len = ((tag >>> 2) & 7) + 4
        offset = ((tag >>> 5) << 8) | src[s++]!
        break
      case 2:
        len = (tag >>> 2) + 1
        offset = src[s]! | (src[s + 1]! << 8)
        s += 2
        break
      default:
        len = (tag >>> 2) + 1
        offset = (src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16) | (src[s + 3]! << 24)) >>> 0
        s += 4
    }
    if (s > src.length || offset === 0 || offset > d || d + len > n) throw new SnappyError('snappy: copy out of range')
    for (let k = 0; k < len; k++, d++) out[d] = out[d - offset]!
  }
  if (d !== n) throw new SnappyError('snappy: length mismatch')
  return out
}

/** A xerial snappy-java stream, or (as Java's and librdkafka's readers also accept) one raw snappy block. */
export function snappyDecompress(data: Uint8Array): Uint8Array {
  const framed = data.length >= 16 && HEADER.subarray(0, 8).every((b, i) => data[i] === b)
  if (!framed) return snappyDecompressBlock(data)
  const parts: Uint8Array[] = []
  let total = 0
  for (let p = 16; p < data.length; ) {
    if (p + 4 > data.length) throw new SnappyError('snappy: truncated chunk length')
    const len = ((data[p]! << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!) >>> 0
    p += 4
    if (p + len > data.length) throw new SnappyError('snappy: truncated chunk')
    const part = snappyDecompressBlock(data.subarray(p, p + len))
    parts.push(part)
    total += part.length
    p += len
  }
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(total)
  let d = 0
  for (const part of parts) {
    out.set(part, d)
    d += part.length
  }
  return out
}
