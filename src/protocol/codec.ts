import { MalformedResponseError } from '../errors.js'

/**
 * Byte-level encoding shared by every Kafka message: big-endian fixed-width integers, (zigzag) varints,
 * classic and "compact" (flexible-version) strings/bytes/arrays, and tagged fields.
 *
 * int64 values are JS numbers: offsets, producer ids and timestamps all stay below 2^53 in practice, and
 * numbers keep the hot path free of BigInt allocation.
 */

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })
const TWO_32 = 4294967296

export class Writer {
  buf: Uint8Array
  pos = 0
  // made on first use: a record batch's writer writes varints and bytes only, and a DataView costs ~1 µs to create
  private dataView: DataView | null = null
  /**
   * raw() references byte arrays of at least this many bytes instead of copying them (Infinity: always copy). A
   * Produce request then goes out as chunks: its own bytes between the record batches, which stay where they are.
   */
  shareFrom = Infinity
  /** Chunks cut off so far (own bytes and shared arrays, in order); null while everything is in `buf`. */
  private chunks: Uint8Array[] | null = null
  private chunkStart = 0
  private chunkedBytes = 0

  /** A new buffer of `initial` bytes, or write into the given buffer (grown by copying when it is too small). */
  constructor(initial: number | Uint8Array = 256) {
    this.buf = typeof initial === 'number' ? new Uint8Array(initial) : initial
  }

  get view(): DataView {
    return (this.dataView ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength))
  }

  /** Make room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.pos + n
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.dataView = null
  }

  /** The bytes written so far (a view, not a copy). Only for a writer that shared nothing (see shareFrom). */
  finish(): Uint8Array {
    if (this.chunks) throw new Error('Writer.finish() after shared raw bytes: use finishChunks()')
    return this.buf.subarray(0, this.pos)
  }

  /** Everything written, as chunks in order (one chunk unless raw() shared arrays), and their total length. */
  finishChunks(): { chunks: Uint8Array[]; length: number } {
    if (!this.chunks) return { chunks: [this.buf.subarray(0, this.pos)], length: this.pos }
    const chunks = this.chunks
    if (this.pos > this.chunkStart) chunks.push(this.buf.subarray(this.chunkStart, this.pos))
    return { chunks: chunks.filter((c) => c.length > 0), length: this.chunkedBytes + this.pos - this.chunkStart }
  }

  int8(v: number): this {
    this.ensure(1)
    this.view.setInt8(this.pos, v)
    this.pos += 1
    return this
  }
  int16(v: number): this {
    this.ensure(2)
    this.view.setInt16(this.pos, v)
    this.pos += 2
    return this
  }
  int32(v: number): this {
    this.ensure(4)
    this.view.setInt32(this.pos, v)
    this.pos += 4
    return this
  }
  uint32(v: number): this {
    this.ensure(4)
    this.view.setUint32(this.pos, v >>> 0)
    this.pos += 4
    return this
  }
  int64(v: number): this {
    this.ensure(8)
    const hi = Math.floor(v / TWO_32)
    this.view.setInt32(this.pos, hi)
    this.view.setUint32(this.pos + 4, v - hi * TWO_32)
    this.pos += 8
    return this
  }
  boolean(v: boolean): this {
    return this.int8(v ? 1 : 0)
  }
  /** Overwrite an int32 at an earlier position (length prefixes, CRCs). */
  int32At(pos: number, v: number): void {
    this.view.setInt32(pos, v)
  }
  uint32At(pos: number, v: number): void {
    this.view.setUint32(pos, v >>> 0)
  }

  /** Unsigned varint (up to 32 bits). */
  uvarint(v: number): this {
    this.ensure(5)
    const b = this.buf
    let p = this.pos
    v >>>= 0
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80
      v >>>= 7
    }
    b[p++] = v
    this.pos = p
    return this
  }
  /** Zigzag varint (signed 32-bit). */
  varint(v: number): this {
    return this.uvarint(((v << 1) ^ (v >> 31)) >>> 0)
  }
  /** Zigzag varlong (signed, exact up to 2^53). */
  varlong(v: number): this {
    if (v >= -0x40000000 && v < 0x40000000) return this.varint(v)
    this.ensure(10)
    // zigzag in floating-point arithmetic: v >= 0 → 2v, v < 0 → -2v - 1
    let z = v >= 0 ? v * 2 : -v * 2 - 1
    const b = this.buf
    let p = this.pos
    while (z >= 0x80) {
      b[p++] = (z % 128) | 0x80
      z = Math.floor(z / 128)
    }
    b[p++] = z
    this.pos = p
    return this
  }

  raw(bytes: Uint8Array): this {
    if (bytes.length >= this.shareFrom) {
      ;(this.chunks ??= []).push(this.buf.subarray(this.chunkStart, this.pos), bytes)
      this.chunkedBytes += this.pos - this.chunkStart + bytes.length
      this.chunkStart = this.pos
      return this
    }
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
    return this
  }

  string(s: string): this {
    const bytes = textEncoder.encode(s)
    return this.int16(bytes.length).raw(bytes)
  }
  nullableString(s: string | null): this {
    return s === null ? this.int16(-1) : this.string(s)
  }
  compactString(s: string): this {
    const bytes = textEncoder.encode(s)
    return this.uvarint(bytes.length + 1).raw(bytes)
  }
  compactNullableString(s: string | null): this {
    return s === null ? this.uvarint(0) : this.compactString(s)
  }
  bytes(b: Uint8Array): this {
    return this.int32(b.length).raw(b)
  }
  nullableBytes(b: Uint8Array | null): this {
    return b === null ? this.int32(-1) : this.bytes(b)
  }
  compactBytes(b: Uint8Array): this {
    return this.uvarint(b.length + 1).raw(b)
  }
  compactNullableBytes(b: Uint8Array | null): this {
    return b === null ? this.uvarint(0) : this.compactBytes(b)
  }

  /** An array: int32 length (classic) or uvarint length+1 (compact), then each item. */
  array<T>(items: readonly T[], compact: boolean, each: (w: this, item: T) => void): this {
    if (compact) this.uvarint(items.length + 1)
    else this.int32(items.length)
    for (const item of items) each(this, item)
    return this
  }
  nullableArray<T>(items: readonly T[] | null, compact: boolean, each: (w: this, item: T) => void): this {
    if (items === null) return compact ? this.uvarint(0) : this.int32(-1)
    return this.array(items, compact, each)
  }
  /** Tagged fields we never send: an empty set. */
  emptyTags(): this {
    return this.uvarint(0)
  }
}

export class Reader {
  readonly buf: Uint8Array
  readonly view: DataView
  pos: number
  readonly end: number

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    this.pos = start
    this.end = end
  }

  get remaining(): number {
    return this.end - this.pos
  }

  private need(n: number): number {
    const p = this.pos
    if (n < 0 || p + n > this.end) {
      throw new MalformedResponseError(`truncated data: needed ${n} bytes at offset ${p}, ${this.end - p} left`)
    }
    this.pos = p + n
    return p
  }

  int8(): number {
    return this.view.getInt8(this.need(1))
  }
  int16(): number {
    return this.view.getInt16(this.need(2))
  }
  int32(): number {
    return this.view.getInt32(this.need(4))
  }
  uint32(): number {
    return this.view.getUint32(this.need(4))
  }
  int64(): number {
    const p = this.need(8)
    return this.view.getInt32(p) * TWO_32 + this.view.getUint32(p + 4)
  }
  boolean(): boolean {
    return this.int8() !== 0
  }

  uvarint(): number {
    let result = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      const b = this.buf[this.need(1)]!
      result |= (b & 0x7f) << shift
      if ((b & 0x80) === 0) return result >>> 0
      shift += 7
    }
    throw new MalformedResponseError('varint is longer than 5 bytes')
  }
  varint(): number {
    const z = this.uvarint()
    return (z >>> 1) ^ -(z & 1)
  }
  varlong(): number {
    let result = 0
    let mul = 1
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.need(1)]!
      result += (b & 0x7f) * mul
      if ((b & 0x80) === 0) {
        // un-zigzag in floating point: even → z/2, odd → -(z+1)/2
        return result % 2 === 0 ? result / 2 : -(result + 1) / 2
      }
      mul *= 128
    }
    throw new MalformedResponseError('varlong is longer than 10 bytes')
  }

  raw(n: number): Uint8Array {
    const p = this.need(n)
    return this.buf.subarray(p, p + n)
  }

  private utf8(n: number): string {
    const bytes = this.raw(n)
    try {
      return textDecoder.decode(bytes)
    } catch (cause) {
      throw new MalformedResponseError('string is not valid UTF-8', { cause })
    }
  }

  string(): string {
    const s = this.nullableString()
    if (s === null) throw new MalformedResponseError('null where a string is required')
    return s
  }
  nullableString(): string | null {
    const n = this.int16()
    if (n < -1) throw new MalformedResponseError(`negative string length ${n}`)
    return n === -1 ? null : this.utf8(n)
  }
  compactString(): string {
    const s = this.compactNullableString()
    if (s === null) throw new MalformedResponseError('null where a string is required')
    return s
  }
  compactNullableString(): string | null {
    const n = this.uvarint()
    return n === 0 ? null : this.utf8(n - 1)
  }
  nullableBytes(): Uint8Array | null {
    const n = this.int32()
    if (n < -1) throw new MalformedResponseError(`negative bytes length ${n}`)
    return n === -1 ? null : this.raw(n)
  }
  compactNullableBytes(): Uint8Array | null {
    const n = this.uvarint()
    return n === 0 ? null : this.raw(n - 1)
  }

  /** An array length: int32 (classic, -1 = null) or uvarint-1 (compact, 0 = null). Guards against absurd sizes. */
  arrayLength(compact: boolean): number {
    const n = compact ? this.uvarint() - 1 : this.int32()
    if (n < -1) throw new MalformedResponseError(`negative array length ${n}`)
    // every element takes at least one byte, so a length beyond the bytes left is garbage
    if (n > this.remaining)
      throw new MalformedResponseError(`array length ${n} exceeds the ${this.remaining} bytes left`)
    return n
  }
  array<T>(compact: boolean, each: (r: Reader) => T): T[] {
    const n = this.arrayLength(compact)
    const out: T[] = []
    for (let i = 0; i < n; i++) out.push(each(this))
    return out
  }

  /** Skip a tagged-field section (we read none of the optional tags we do not know). */
  skipTags(): void {
    const count = this.uvarint()
    for (let i = 0; i < count; i++) {
      this.uvarint() // tag
      const size = this.uvarint()
      this.need(size)
    }
  }

  /** Reading must consume the whole frame: leftovers mean we misread the message. */
  expectEnd(what: string): void {
    if (this.pos !== this.end) {
      throw new MalformedResponseError(`${what}: ${this.end - this.pos} unexpected trailing bytes`)
    }
  }
}
