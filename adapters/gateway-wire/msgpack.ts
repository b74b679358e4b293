/**
 * A compact MessagePack codec for the gateway frames, written from the spec
 * (https://github.com/msgpack/msgpack/blob/master/spec.md). Runtime-free: TextEncoder, TextDecoder and DataView only.
 *
 * It covers what frames use: nil, bool, int/uint of every width (64-bit ones only within ±(2^53 − 1), the JS safe
 * range), float 64 (float 32 is decoded too), str, bin, array, and maps with string keys. Ext types (fixext, ext 8/16/32)
 * and 0xc1 are refused. Every failure is a MsgpackError.
 *
 * encode(): formats as the spec's "smallest format" rule gives them, so the bytes equal @msgpack/msgpack's
 * `encode(v, { ignoreUndefined: true })` for these types:
 * - null, undefined → nil (map entries whose value is undefined are left out; in arrays undefined is nil)
 * - boolean → bool; number: safe integers → the smallest int format, every other number → float 64 (-0 → 0)
 * - string → str (UTF-8 as TextEncoder makes it: a lone surrogate becomes U+FFFD)
 * - an ArrayBufferView (Uint8Array, ...) → bin of the view's bytes; Array → array
 * - a plain object → map of its own enumerable string keys, in Object.keys order
 * - anything else (bigint, symbol, function, Date, Map, ArrayBuffer, ...) or more than 100 levels of nesting → MsgpackError
 * encodeClientValue(): the same bytes for the types a client's frames hold (str, numbers, arrays, maps, MsgpackRaw),
 * without the rest, so the browser transports carry only that (test/unit/msgpack-client-frames.test.ts).
 *
 * decode(): nil → null, maps → plain objects, bins → Uint8Array views into the input (no copy). Refused: truncated
 * input, trailing bytes, ext types, 0xc1, 64-bit integers outside the safe range, invalid UTF-8 in a str, map keys that
 * are not str (or are "__proto__"), and what exceeds the limits. Like msgpackShapeOk (protocol.ts), it checks every
 * array/map header against the bytes left before allocating, so what it allocates is bounded by the input's size, and
 * it nests at most `maxDepth` containers deep, so its recursion is bounded too.
 */

export class MsgpackError extends Error {
  override name = 'MsgpackError'
}

export interface DecodeLimits {
  /** Containers nested at most this deep (a top-level map is depth 1). Default 100. */
  maxDepth?: number
  /** Longest str, in bytes. Default unlimited (but never more than the input holds). */
  maxStr?: number
  /** Longest bin, in bytes. */
  maxBin?: number
  /** Most items in an array. */
  maxArray?: number
  /** Most entries in a map. */
  maxMap?: number
}

// ---- encoding ----

/** Bytes that already are one MessagePack value (a producer batch's records): encode() copies them as they are. */
export class MsgpackRaw {
  /** `count`: what the value holds (the records of a batch), for the encoder's caller; not encoded. */
  constructor(
    readonly bytes: Uint8Array,
    readonly count = 0,
  ) {}
}

const textEncoder = new TextEncoder()
let out = new Uint8Array(4096)
let outView = new DataView(out.buffer)
let pos = 0

function room(k: number): void {
  if (pos + k > out.length) {
    const next = new Uint8Array(Math.max(out.length * 2, pos + k))
    next.set(out.subarray(0, pos))
    out = next
    outView = new DataView(next.buffer)
  }
}

/** `v` (a safe integer) big-endian in `k` bytes, two's complement when negative. */
function be(v: number, k: number): void {
  for (let i = k; i-- > 0; v = Math.floor(v / 256)) out[pos + i] = v & 255
  pos += k
}

/** The header of a str/bin/array/map of `n` bytes or items: fix format below `fixMax`, then 8 (if any), 16, 32 bits. */
function head(n: number, fix: number, fixMax: number, c8: number, c16: number): void {
  room(5)
  if (n < fixMax) out[pos++] = fix | n
  else if (c8 && n < 256) (out[pos++] = c8), (out[pos++] = n)
  else if (n < 65536) (out[pos++] = c16), (out[pos++] = n >>> 8), (out[pos++] = n & 255)
  else (out[pos++] = c16 + 1), outView.setUint32(pos, n), (pos += 4) // the 32-bit format follows the 16-bit one for all four types
}

const strHeadSize = (n: number): number => (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5)

function str(s: string): void {
  const n = s.length
  room(5 + 3 * n) // UTF-8 takes at most 3 bytes per UTF-16 unit
  // write the bytes after room for the longest header they could need, then close up the gap for the actual one
  const reserved = strHeadSize(3 * n)
  const at = pos + reserved
  let len = 0
  let c: number
  if (n < 64) while (len < n && (c = s.charCodeAt(len)) < 128) out[at + len++] = c
  if (len < n) len = textEncoder.encodeInto(s, out.subarray(at)).written
  const h = strHeadSize(len)
  if (h < reserved) out.copyWithin(pos + h, at, at + len)
  head(len, 0xa0, 32, 0xd9, 0xda)
  pos += len
}

/** A number: a safe integer in the smallest int format, any other number as float 64. */
function num(v: number): void {
  room(9)
  if (!Number.isSafeInteger(v)) {
    out[pos++] = 0xcb
    outView.setFloat64(pos, v)
    pos += 8
  } else if (v >= -32 && v < 128)
    out[pos++] = v & 255 // positive / negative fixint
  else {
    // uint 8/16/32/64 (0xcc..0xcf) for positives, int 8/16/32/64 (0xd0..0xd3) for negatives: the first of 8, 16, 32
    // bits that holds v (64 when none does)
    // (a negative v fits where 2 × (-v - 1) fits unsigned: int 8 holds -128 and 2 × 127 = 254 < 256)
    const m = v >= 0 ? v : 2 * (-v - 1)
    const k = m < 0x100 ? 0 : m < 0x10000 ? 1 : m < 0x100000000 ? 2 : 3
    out[pos++] = (v >= 0 ? 0xcc : 0xd0) + k
    be(v, 1 << k)
  }
}

function raw(v: MsgpackRaw): void {
  room(v.bytes.length)
  out.set(v.bytes, pos)
  pos += v.bytes.length
}

/** An array, each item written by `item`. */
function list(a: readonly unknown[], item: (x: unknown) => void): void {
  head(a.length, 0x90, 16, 0, 0xdc)
  for (const x of a) item(x)
}

/** A map of `o`'s own enumerable string keys whose value is not undefined, each value written by `item`. */
function map(o: Record<string, unknown>, item: (x: unknown) => void): void {
  const keys = Object.keys(o)
  let n = 0
  for (const k of keys) if (o[k] !== undefined) n++
  head(n, 0x80, 16, 0, 0xde)
  for (const k of keys) {
    const x = o[k]
    if (x !== undefined) str(k), item(x)
  }
}

function value(v: unknown, depth: number): void {
  if (depth > 100) throw new MsgpackError('cannot encode more than 100 levels of nesting (a cycle?)')
  room(1)
  if (v === null || v === undefined) out[pos++] = 0xc0
  else if (v === false || v === true) out[pos++] = v ? 0xc3 : 0xc2
  else if (typeof v === 'number') num(v)
  else if (typeof v === 'string') str(v)
  else if (v instanceof MsgpackRaw) raw(v)
  else if (ArrayBuffer.isView(v)) {
    const n = v.byteLength
    head(n, 0, 0, 0xc4, 0xc5)
    room(n)
    out.set(v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, n), pos)
    pos += n
  } else if (Array.isArray(v)) list(v, (x) => value(x, depth + 1))
  else if (Object.prototype.toString.call(v) === '[object Object]')
    map(v as Record<string, unknown>, (x) => value(x, depth + 1))
  else throw new MsgpackError(`cannot encode ${typeof v === 'object' ? Object.prototype.toString.call(v) : typeof v}`)
}

/** `write` from the start of the buffer; a fresh copy of what it wrote. */
function encoded(write: () => void): Uint8Array {
  pos = 0
  try {
    write()
    return out.slice(0, pos)
  } finally {
    // keep a buffer for frames of the usual sizes, not the largest ever encoded
    if (out.length > 1 << 22) (out = new Uint8Array(4096)), (outView = new DataView(out.buffer))
  }
}

// Small results of encode() (the gateway's answers) are copied into a shared slab, as Node pools small Buffers: a
// fresh ArrayBuffer per answer (slice()) cost more than encoding the answer did (~1.4 µs against ~0.5). A result keeps
// its slab alive while it is held. (Client frames keep encoded()'s copy: the browser bundles carry none of this.)
// (made on first use: a module-level `new Uint8Array()` would stay in every bundle that imports this module)
let slab: Uint8Array | null = null
let slabPos = 0

/**
 * One value as MessagePack (a fresh copy; a small one shares a slab with others, so its `.buffer` is not its own).
 * Not reentrant: a getter of `v` must not call encode().
 */
export function encode(v: unknown): Uint8Array {
  pos = 0
  try {
    value(v, 0)
    if (pos > 4096) return out.slice(0, pos)
    if (slab === null || slabPos + pos > slab.length) (slab = new Uint8Array(64 * 1024)), (slabPos = 0)
    const copy = slab.subarray(slabPos, slabPos + pos)
    copy.set(out.subarray(0, pos))
    slabPos += (pos + 7) & ~7
    return copy
  } finally {
    if (out.length > 1 << 22) (out = new Uint8Array(4096)), (outView = new DataView(out.buffer))
  }
}

/**
 * A client's frame: encode()'s bytes for a value of only the types a client frame holds (str, numbers, arrays, maps
 * with string keys, MsgpackRaw; anything else that is an object is written as a map). A transport's bundle then
 * carries no nil, bool, bin, type or depth checks, which only the server's frames (and its general encode()) need.
 */
export function encodeClientValue(v: object): Uint8Array {
  return encoded(() => clientValue(v))
}

function clientValue(v: unknown): void {
  if (typeof v === 'string') str(v)
  else if (typeof v === 'number') num(v)
  else if (v instanceof MsgpackRaw) raw(v)
  else if (Array.isArray(v)) list(v, clientValue)
  else map(v as Record<string, unknown>, clientValue)
}

// ---- decoding (not reentrant, and needs not be: it calls nothing that could call back) ----

const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const EMPTY = new Uint8Array(0)
const EMPTY_VIEW = new DataView(EMPTY.buffer)
let src: Uint8Array = EMPTY
let view: DataView = EMPTY_VIEW
let at = 0
let maxDepth = 0
let maxStr = 0
let maxBin = 0
let maxArray = 0
let maxMap = 0

function fail(why: string): never {
  throw new MsgpackError(`${why} (at byte ${at})`)
}

/** Consume `k` bytes; returns where they start. */
function take(k: number): number {
  if (k > src.length - at) fail(`truncated: ${k} more bytes needed, ${src.length - at} left`)
  at += k
  return at - k
}

function uint(k: number): number {
  let v = 0
  for (let p = take(k), end = p + k; p < end; p++) v = v * 256 + src[p]!
  return v
}

function item(depth: number): unknown {
  const c = src[take(1)]!
  if (c < 0x80) return c
  if (c >= 0xe0) return c - 256
  if (c < 0x90) return container(2, c & 15, depth)
  if (c < 0xa0) return container(1, c & 15, depth)
  if (c < 0xc0) return text(c & 31)
  switch (c) {
    case 0xc0:
      return null
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xc4:
    case 0xc5:
    case 0xc6: {
      const n = uint(1 << (c - 0xc4))
      if (n > maxBin) fail(`a bin of ${n} bytes is above the limit of ${maxBin}`)
      const p = take(n)
      return src.subarray(p, at)
    }
    case 0xca:
      return view.getFloat32(take(4))
    case 0xcb:
      return view.getFloat64(take(8))
    case 0xcc:
    case 0xcd:
    case 0xce:
      return uint(1 << (c - 0xcc))
    case 0xd0:
      return view.getInt8(take(1))
    case 0xd1:
      return view.getInt16(take(2))
    case 0xd2:
      return view.getInt32(take(4))
    case 0xcf:
    case 0xd3: {
      const p = take(8)
      // exact below 2^53 in magnitude; beyond, rounding keeps it beyond, so the safe-integer check is exact
      const v = (c === 0xcf ? view.getUint32(p) : view.getInt32(p)) * 4294967296 + view.getUint32(p + 4)
      if (!Number.isSafeInteger(v)) fail('a 64-bit integer outside ±(2^53 − 1)')
      return v
    }
    case 0xd9:
    case 0xda:
    case 0xdb:
      return text(uint(1 << (c - 0xd9)))
  }
  // array 16/32 (0xdc, 0xdd), map 16/32 (0xde, 0xdf)
  if (c >= 0xdc) return container(c < 0xde ? 1 : 2, uint(c & 1 ? 4 : 2), depth)
  return fail(c === 0xc1 ? 'byte 0xc1 (never used)' : `ext type 0x${c.toString(16)} (not supported)`)
}

function text(n: number): string {
  if (n > maxStr) fail(`a str of ${n} bytes is above the limit of ${maxStr}`)
  const p = take(n)
  let s = ''
  let i = p
  // ASCII up to 12 characters: no TextDecoder call. Not longer: past 12 characters each `+=` makes a cons string
  // (~32 B a character) that a Map keeps as its key (the gateway's batch ledger) and walks on every lookup.
  if (n <= 12) while (i < at && src[i]! < 128) s += String.fromCharCode(src[i++]!)
  if (i === at) return s
  try {
    return textDecoder.decode(src.subarray(p, at))
  } catch {
    return fail('invalid UTF-8 in a str')
  }
}

/** An array (`per` 1) or map (`per` 2) of `n` items / entries. */
function container(per: 1 | 2, n: number, depth: number): unknown {
  if (depth >= maxDepth) fail(`containers nested more than ${maxDepth} deep`)
  if (n > (per === 1 ? maxArray : maxMap))
    fail(`${per === 1 ? 'an array' : 'a map'} of ${n} items is above the limit of ${per === 1 ? maxArray : maxMap}`)
  // every item takes at least one byte: a header cannot declare more than the rest of the input could hold
  if (n * per > src.length - at) fail(`${per === 1 ? 'an array' : 'a map'} of ${n} items in ${src.length - at} bytes`)
  if (per === 1) {
    const a: unknown[] = new Array(n)
    for (let i = 0; i < n; i++) a[i] = item(depth + 1)
    return a
  }
  const o: Record<string, unknown> = {}
  for (let i = 0; i < n; i++) {
    const k = item(depth + 1)
    if (typeof k !== 'string' || k === '__proto__') fail(`a map key must be a str other than "__proto__"`)
    o[k] = item(depth + 1)
  }
  return o
}

/** One MessagePack value that must fill `bytes` exactly. Throws MsgpackError. */
export function decode(bytes: Uint8Array, limits: DecodeLimits = {}): unknown {
  src = bytes
  view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  at = 0
  maxDepth = limits.maxDepth ?? 100
  maxStr = limits.maxStr ?? Infinity
  maxBin = limits.maxBin ?? Infinity
  maxArray = limits.maxArray ?? Infinity
  maxMap = limits.maxMap ?? Infinity
  try {
    const v = item(0)
    if (at !== bytes.length) fail(`${bytes.length - at} bytes after the value`)
    return v
  } finally {
    src = EMPTY // hold no reference to the input
    view = EMPTY_VIEW
  }
}
