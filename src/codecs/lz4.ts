/**
 * LZ4 for Kafka (codec id 3), pure TypeScript so it runs wherever the core runs (Workers included, no WebAssembly).
 *
 * Kafka (magic v2) carries an LZ4 *frame* as the LZ4 frame spec defines it, written the way Java's producer writes it:
 *
 *   magic 0x184D2204 (LE) | FLG 0x60: version 01, independent blocks, no block/content checksum, no content size
 *   BD 0x40: 64 KiB blocks | HC: second byte of xxHash32(FLG, BD; seed 0)
 *   blocks  [uint32 LE size, high bit = stored uncompressed][data]...   then the end mark 0x00000000
 *
 * Java's reader decodes every block on its own (no window into the previous one), so each 64 KiB block is compressed
 * independently. A block is LZ4 sequences:
 * token (literal length, match length − 4; 15 = more bytes follow), literals, 16-bit LE offset. The matcher is LZ4's
 * fast one (a hash table of 4-byte sequences, lookups that skip faster while nothing matches); the format's rules
 * hold: the last 5 bytes are literals and no match starts within the last 12.
 *
 * lz4.c is the same matcher in C, compiled to WebAssembly (lz4-wasm.ts): faster, and byte for byte the same output.
 * `loadLz4Wasm()` switches `lz4Compress` to it where the runtime compiles WebAssembly from bytes; elsewhere
 * (Cloudflare Workers, a page whose CSP forbids it) this TypeScript matcher does the work.
 */
import { loadWasmMatcher } from './wasm-matcher.js'

const MAGIC = 0x184d2204
const BLOCK = 64 * 1024
const FLG = 0x60
const BD = 0x40
const MIN_MATCH = 4
const LAST_LITERALS = 5
const MF_LIMIT = 12
const TABLE_BITS = 14

const PRIME1 = 0x9e3779b1
const PRIME2 = 0x85ebca77
const PRIME3 = 0xc2b2ae3d
const PRIME4 = 0x27d4eb2f
const PRIME5 = 0x165667b1
const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r))
const load32 = (a: Uint8Array, i: number): number => a[i]! | (a[i + 1]! << 8) | (a[i + 2]! << 16) | (a[i + 3]! << 24)

/** xxHash32 (the frame header checksum uses it on the two descriptor bytes). */
export function xxhash32(data: Uint8Array, seed = 0): number {
  const n = data.length
  let i = 0
  let h: number
  if (n >= 16) {
    let v1 = (seed + PRIME1 + PRIME2) | 0
    let v2 = (seed + PRIME2) | 0
    let v3 = seed | 0
    let v4 = (seed - PRIME1) | 0
    for (; i + 16 <= n; i += 16) {
      v1 = Math.imul(rotl((v1 + Math.imul(load32(data, i), PRIME2)) | 0, 13), PRIME1)
      v2 = Math.imul(rotl((v2 + Math.imul(load32(data, i + 4), PRIME2)) | 0, 13), PRIME1)
      v3 = Math.imul(rotl((v3 + Math.imul(load32(data, i + 8), PRIME2)) | 0, 13), PRIME1)
      v4 = Math.imul(rotl((v4 + Math.imul(load32(data, i + 12), PRIME2)) | 0, 13), PRIME1)
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0
  } else h = (seed + PRIME5) | 0
  h = (h + n) | 0
  for (; i + 4 <= n; i += 4) h = Math.imul(rotl((h + Math.imul(load32(data, i), PRIME3)) | 0, 17), PRIME4)
  for (; i < n; i++) h = Math.imul(rotl((h + Math.imul(data[i]!, PRIME5)) | 0, 11), PRIME1)
  h = Math.imul(h ^ (h >>> 15), PRIME2)
  h = Math.imul(h ^ (h >>> 13), PRIME3)
  return (h ^ (h >>> 16)) >>> 0
}

const HC = (xxhash32(new Uint8Array([FLG, BD])) >>> 8) & 0xff

/**
 * The hash table, kept across calls and never cleared: an entry is `position + gen - start` of the block that wrote
 * it, and each block raises `gen` past every position an earlier one could have stored, so an earlier block's entry
 * reads as a position before the current block's start (skipped, as an empty slot is). Cleared only when `gen` nears
 * 2^30.
 */
const table = new Int32Array(1 << TABLE_BITS)
// from BLOCK, not 0: an empty slot (0) then never reads as a position of the first block (lz4.c does the same, and the
// two write the same bytes)
let gen = BLOCK
/** The frame is written here (grown when a batch needs more), then copied out once. */
let scratch = new Uint8Array(0)
let scratchView = new DataView(scratch.buffer)
/** Beyond this a call allocates its own buffer rather than keeping one that large. */
const KEEP_SCRATCH = 4 << 20

function writeLength(dst: Uint8Array, d: number, rest: number): number {
  for (; rest >= 255; rest -= 255) dst[d++] = 255
  dst[d++] = rest
  return d
}

/** LZ4 sequences for `src[start, end)` into `dst` at `d`; returns the new end of `dst`. */
function compressBlock(
  src: Uint8Array,
  sv: DataView,
  start: number,
  end: number,
  dst: Uint8Array,
  dv: DataView,
  d: number,
): number {
  let anchor = start
  if (end - start >= MF_LIMIT + 1) {
    if (gen > 0x3fff0000) {
      table.fill(0)
      gen = BLOCK
    }
    // a position p goes into the table as p + g; what comes out, minus g, is below `start` if an earlier block wrote it
    const g = gen - start
    gen += BLOCK
    // the hot loop's constants as locals: a bundle turns module-level consts into vars, which V8 then reads from the
    // module context on every use and checks for a number each time (PRIME1, above 2^30, is even a heap number)
    const t = table
    const K = 0x9e3779b1 // PRIME1
    const SHIFT = 32 - 14 // TABLE_BITS
    const MINMATCH = 4 // MIN_MATCH
    const mfLimit = end - MF_LIMIT
    const matchLimit = end - LAST_LITERALS
    let s = start + 1
    // the 4 bytes at the next position to probe, loaded (and hashed) one probe ahead, once for the hash and the
    // comparison
    let nextWord = sv.getInt32(s, true)
    let nextHash = Math.imul(nextWord, K) >>> SHIFT
    outer: for (;;) {
      let ref = 0
      // lookups skip faster the longer nothing matches (1 byte at a time for 64 probes, then 2, ...)
      let attempts = 1 << 6
      let nextS = s
      for (;;) {
        s = nextS
        const word = nextWord
        nextS = s + (attempts++ >> 6)
        if (nextS >= mfLimit) break outer
        ref = t[nextHash]! - g
        t[nextHash] = s + g
        nextWord = sv.getInt32(nextS, true)
        nextHash = Math.imul(nextWord, K) >>> SHIFT
        if (ref >= start && sv.getInt32(ref, true) === word) break
      }
      // extend backwards into the pending literals, then forwards: 4 bytes at a time while they fit, the first
      // differing byte from the XOR
      while (s > anchor && ref > start && src[s - 1] === src[ref - 1]) {
        s--
        ref--
      }
      let m = s + MINMATCH
      let r = ref + MINMATCH
      for (;;) {
        if (m > matchLimit - 4) {
          while (m < matchLimit && src[m] === src[r]) {
            m++
            r++
          }
          break
        }
        const x = sv.getInt32(m, true) ^ sv.getInt32(r, true)
        if (x !== 0) {
          m += (31 - Math.clz32(x & -x)) >> 3
          break
        }
        m += 4
        r += 4
      }
      const litLen = s - anchor
      const matchLen = m - s - MINMATCH
      const token = d++
      dst[token] = ((litLen >= 15 ? 15 : litLen) << 4) | (matchLen >= 15 ? 15 : matchLen)
      if (litLen >= 15) d = writeLength(dst, d, litLen - 15)
      if (litLen > 64) dst.set(src.subarray(anchor, s), d)
      else {
        // 4 bytes at a time, up to 3 past the literals' end (s < end - 12): the output has slack, and what follows
        // overwrites them
        for (let k = 0; k < litLen; k += 4) dv.setInt32(d + k, sv.getInt32(anchor + k, true), true)
      }
      d += litLen
      const offset = s - ref
      dv.setUint16(d, offset, true)
      d += 2
      if (matchLen >= 15) d = writeLength(dst, d, matchLen - 15)
      s = m
      anchor = s
      if (s >= mfLimit) break
      t[Math.imul(sv.getInt32(s - 2, true), K) >>> SHIFT] = s - 2 + g
      nextWord = sv.getInt32(s, true)
      nextHash = Math.imul(nextWord, K) >>> SHIFT
    }
  }
  const litLen = end - anchor
  dst[d++] = (litLen >= 15 ? 15 : litLen) << 4
  if (litLen >= 15) d = writeLength(dst, d, litLen - 15)
  dst.set(src.subarray(anchor, end), d)
  return d + litLen
}

let wasm: ((data: Uint8Array) => Uint8Array) | null = null
let wasmLoad: Promise<boolean> | undefined

/**
 * Compiles lz4.c's WebAssembly (once) so that `lz4Compress` uses it; resolves false, and leaves the TypeScript matcher
 * in place, where this runtime cannot compile WebAssembly from bytes.
 */
export function loadLz4Wasm(): Promise<boolean> {
  // lz4Compress's worst case (below) plus 16 bytes of slack for lz4.c's 8-byte stores
  const bound = (n: number) => 7 + Math.max(1, Math.ceil(n / BLOCK)) * 20 + n + Math.ceil(n / 255) + 4 + 16
  wasmLoad ??= loadWasmMatcher(() => import('./lz4-wasm.js'), 'lz4_frame', bound, HC).then((f) => (wasm = f) !== null)
  return wasmLoad
}

/** `data` as one LZ4 frame (what Kafka calls lz4): lz4.c's WebAssembly once loaded, else TypeScript. */
export function lz4Compress(data: Uint8Array): Uint8Array {
  return wasm ? wasm(data) : lz4CompressTs(data)
}

/** `data` as one LZ4 frame, by the TypeScript matcher (what runs where WebAssembly cannot). */
export function lz4CompressTs(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / BLOCK))
  // worst case: every block stored, or sequences that grow it by 1/255 plus a token (compressBlock writes before the
  // stored fallback replaces it); + 8: literals are copied 4 bytes at a time, up to 3 bytes past their end
  const need = 7 + blocks * (4 + 16) + data.length + Math.ceil(data.length / 255) + 4 + 8
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
  ov.setUint32(0, MAGIC, true)
  out[4] = FLG
  out[5] = BD
  out[6] = HC
  let d = 7
  for (let p = 0; p < data.length; p += BLOCK) {
    const end = Math.min(data.length, p + BLOCK)
    const at = d
    d = compressBlock(data, sv, p, end, out, ov, d + 4)
    const len = d - at - 4
    if (len >= end - p) {
      // incompressible: the block goes out stored, as the spec's high bit says
      out.set(data.subarray(p, end), at + 4)
      d = at + 4 + end - p
      ov.setUint32(at, (end - p) | 0x80000000, true)
    } else ov.setUint32(at, len, true)
  }
  ov.setUint32(d, 0, true)
  return out.slice(0, d + 4)
}

class Lz4Error extends Error {}

function decompressBlock(src: Uint8Array, o: Uint8Array, outStart: number, outCap: number): number {
  let s = 0
  let d = outStart
  for (;;) {
    if (s >= src.length) throw new Lz4Error('lz4: truncated block')
    const token = src[s++]!
    let lit = token >>> 4
    if (lit === 15) for (let b = 255; b === 255; lit += b) b = src[s++]!
    if (s + lit > src.length || d + lit > outCap) throw new Lz4Error('lz4: literal out of range')
    o.set(src.subarray(s, s + lit), d)
    s += lit
    d += lit
    if (s === src.length) return d
    const offset = src[s]! | (src[s + 1]! << 8)
    s += 2
    let len = token & 15
    if (len === 15) for (let b = 255; b === 255; len += b) b = src[s++]!
    len += MIN_MATCH
    if (offset === 0 || d - offset < outStart || d + len > outCap) throw new Lz4Error('lz4: match out of range')
    for (let k = 0; k < len; k++, d++) o[d] = o[d - offset]!
  }
}

/** One LZ4 frame of independent blocks (as Kafka's writers make them); checksums are skipped, not checked. */
export function lz4Decompress(data: Uint8Array): Uint8Array {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength)
  if (data.length < 7 || dv.getUint32(0, true) !== MAGIC) throw new Lz4Error('lz4: not an LZ4 frame')
  const flg = data[4]!
  const maxBlock = 1 << (8 + 2 * ((data[5]! >>> 4) & 7))
  let p = 7 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0)
  const parts: Uint8Array[] = []
  let total = 0
  for (;;) {
    if (p + 4 > data.length) throw new Lz4Error('lz4: truncated frame')
    const word = dv.getUint32(p, true)
    p += 4
    if (word === 0) break
    const size = word & 0x7fffffff
    if (p + size > data.length) throw new Lz4Error('lz4: truncated block')
    const body = data.subarray(p, p + size)
    p += size + (flg & 0x10 ? 4 : 0)
    let part: Uint8Array
    if (word & 0x80000000) part = body.slice()
    else {
      const buf = new Uint8Array(maxBlock)
      part = buf.subarray(0, decompressBlock(body, buf, 0, maxBlock))
    }
    parts.push(part)
    total += part.length
  }
  const out = new Uint8Array(total)
  let d = 0
  for (const part of parts) {
    out.set(part, d)
    d += part.length
  }
  return out
}
