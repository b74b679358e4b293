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
 */

const BLOCK = 32 * 1024
const HEADER = new Uint8Array([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])
/** Snappy stops looking for matches this close to the end of a block (loads of 4–8 bytes stay in range). */
const INPUT_MARGIN = 15
const MAX_TABLE_BITS = 14

/** Worst case of one raw block: every byte a literal, plus tags and the length varint. */
const maxBlockLength = (n: number): number => 32 + n + Math.floor(n / 6)

const load32 = (a: Uint8Array, i: number): number => a[i]! | (a[i + 1]! << 8) | (a[i + 2]! << 16) | (a[i + 3]! << 24)

const table = new Uint16Array(1 << MAX_TABLE_BITS)

function emitLiteral(dst: Uint8Array, d: number, src: Uint8Array, from: number, to: number): number {
  const n = to - from - 1
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
  // short literals byte by byte: a subarray per literal (an object) costs more than copying up to ~64 bytes
  if (to - from > 64) dst.set(src.subarray(from, to), d)
  else for (let i = from; i < to; i++) dst[d + i - from] = src[i]!
  return d + to - from
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
function compressBlock(src: Uint8Array, start: number, end: number, dst: Uint8Array, d: number): number {
  const n = end - start
  for (let v = n; ; v >>>= 7) {
    if (v < 0x80) {
      dst[d++] = v
      break
    }
    dst[d++] = (v & 0x7f) | 0x80
  }
  if (n < INPUT_MARGIN + 2) return n === 0 ? d : emitLiteral(dst, d, src, start, end)
  let bits = 8
  while (bits < MAX_TABLE_BITS && 1 << bits < n) bits++
  const shift = 32 - bits
  table.fill(0, 0, 1 << bits)
  // the table holds positions relative to `start` (a chunk is ≤ 32 KiB, so they fit 16 bits); 0 is a valid entry
  const hash = (i: number): number => Math.imul(load32(src, i), 0x1e35a7bd) >>> shift
  const sLimit = end - INPUT_MARGIN
  let nextEmit = start
  let s = start + 1
  // the 4 bytes at the next position to probe, loaded once for its hash and its comparison
  let nextWord = load32(src, s)
  let nextHash = Math.imul(nextWord, 0x1e35a7bd) >>> shift
  outer: for (;;) {
    let skip = 32
    let nextS = s
    let candidate = 0
    let word = 0
    do {
      s = nextS
      word = nextWord
      const step = skip >> 5
      nextS = s + step
      skip += step
      if (nextS > sLimit) break outer
      candidate = start + table[nextHash]!
      table[nextHash] = s - start
      nextWord = load32(src, nextS)
      nextHash = Math.imul(nextWord, 0x1e35a7bd) >>> shift
    } while (word !== load32(src, candidate))
    d = emitLiteral(dst, d, src, nextEmit, s)
    for (;;) {
      const base = s
      let i = candidate + 4
      s += 4
      while (s < end && src[i] === src[s]) {
        i++
        s++
      }
      d = emitCopy(dst, d, base - candidate, s - base)
      nextEmit = s
      if (s >= sLimit) break outer
      table[hash(s - 1)] = s - 1 - start
      const cur = load32(src, s)
      const h = Math.imul(cur, 0x1e35a7bd) >>> shift
      candidate = start + table[h]!
      table[h] = s - start
      if (cur !== load32(src, candidate)) {
        nextWord = load32(src, ++s)
        nextHash = Math.imul(nextWord, 0x1e35a7bd) >>> shift
        break
      }
    }
  }
  if (nextEmit < end) d = emitLiteral(dst, d, src, nextEmit, end)
  return d
}

/** `data` as a xerial snappy-java stream (what Kafka calls snappy). */
export function snappyCompress(data: Uint8Array): Uint8Array {
  const chunks = Math.max(1, Math.ceil(data.length / BLOCK))
  const out = new Uint8Array(HEADER.length + chunks * 4 + maxBlockLength(data.length) + chunks * 32)
  out.set(HEADER)
  let d = HEADER.length
  for (let p = 0; p < data.length; p += BLOCK) {
    const at = d
    d = compressBlock(data, p, Math.min(data.length, p + BLOCK), out, d + 4)
    const len = d - at - 4
    out[at] = len >>> 24
    out[at + 1] = (len >>> 16) & 0xff
    out[at + 2] = (len >>> 8) & 0xff
    out[at + 3] = len & 0xff
  }
  return out.subarray(0, d)
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
