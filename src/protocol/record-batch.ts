import { Reader, Writer } from './codec.js'
import { crc32c } from './crc32c.js'
import type { CompressionCodec } from '../compression.js'
import { MalformedResponseError } from '../errors.js'

/*
 * RecordBatch v2 (magic 2):
 *   baseOffset INT64, batchLength INT32 (bytes after this field), partitionLeaderEpoch INT32, magic INT8 (2),
 *   crc UINT32 (CRC32C of everything after it), attributes INT16 (bits 0–2 codec, 3 timestamp type, 4 transactional,
 *   5 control), lastOffsetDelta INT32, baseTimestamp INT64, maxTimestamp INT64, producerId INT64, producerEpoch INT16,
 *   baseSequence INT32, recordCount INT32, records (compressed as a whole when a codec is set)
 * Record:
 *   length VARINT, attributes INT8 (0), timestampDelta VARLONG, offsetDelta VARINT, keyLength VARINT (-1 null), key,
 *   valueLength VARINT (-1 null), value, headerCount VARINT, headers [keyLength VARINT, key, valueLength VARINT, value]
 */
export const BATCH_HEADER_SIZE = 61
const CRC_OFFSET = 17
const ATTRIBUTES_OFFSET = 21

/**
 * A record as the builder takes it. An object rather than four arguments because the timestamp is a double (ms since
 * 1970 is past the small-integer range): passed as an argument to a call that is not inlined, V8 boxes it in a fresh
 * heap number, once per record per call. Read from the caller's object it stays unboxed.
 */
export interface RecordInput {
  timestamp: number
  key: Uint8Array | null
  value: Uint8Array | null
  headers: readonly EncodedHeader[]
}

export interface EncodedHeader {
  key: Uint8Array
  value: Uint8Array | null
}

function varintSize(v: number): number {
  let z = ((v << 1) ^ (v >> 31)) >>> 0
  let n = 1
  while (z > 0x7f) {
    z >>>= 7
    n++
  }
  return n
}
function varlongSize(v: number): number {
  if (v >= -0x40000000 && v < 0x40000000) return varintSize(v)
  let z = v >= 0 ? v * 2 : -v * 2 - 1
  let n = 1
  while (z >= 0x80) {
    z = Math.floor(z / 128)
    n++
  }
  return n
}

/** Zigzag varint of a signed 32-bit `v` at `p` (the caller made room); returns the position after it. */
function putVarint(b: Uint8Array, p: number, v: number): number {
  let z = ((v << 1) ^ (v >> 31)) >>> 0
  while (z > 0x7f) {
    b[p++] = (z & 0x7f) | 0x80
    z >>>= 7
  }
  b[p++] = z
  return p
}

/** Upper bound of a record's encoded size before we know its deltas (used for memory and size checks). */
export function estimateRecordSize(
  key: Uint8Array | null,
  value: Uint8Array | null,
  headers: readonly EncodedHeader[],
): number {
  let size = 5 + 1 + 10 + 5 + 5 + (key?.length ?? 0) + 5 + (value?.length ?? 0) + 5
  for (const h of headers) size += 5 + h.key.length + 5 + (h.value?.length ?? 0)
  return size
}

/**
 * Collects records of one batch in their final wire form (uncompressed), so the size is known exactly as they
 * arrive and nothing is encoded twice. The 61-byte header is written when the batch is sealed for sending, because
 * producer id, epoch and sequence are assigned then.
 */
export class RecordBatchBuilder {
  private readonly w: Writer
  count = 0
  firstTimestamp = 0
  maxTimestamp = -1

  /** `buffer`: a pooled buffer to write into (it is replaced by a larger copy if the batch outgrows it). */
  constructor(initialCapacity: number, buffer?: Uint8Array) {
    this.w = new Writer(buffer ?? Math.max(BATCH_HEADER_SIZE + 64, initialCapacity))
    // room for the header, written in place when the batch is sealed (no copy on the uncompressed path)
    this.w.pos = BATCH_HEADER_SIZE
  }

  /** Bytes of the batch so far, header included (before compression). */
  get sizeInBytes(): number {
    return this.w.pos
  }

  append(record: RecordInput): void {
    const { timestamp, key, value, headers } = record
    if (this.count === 0) this.firstTimestamp = timestamp
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp
    const tsDelta = timestamp - this.firstTimestamp
    const offsetDelta = this.count
    const keyLen = key === null ? -1 : key.length
    const valueLen = value === null ? -1 : value.length
    const w = this.w
    if (tsDelta >= 0 && tsDelta < 0x40000000 && headers.length === 0) {
      // the common record (time moving forward, no headers): sized and written straight into the buffer, one bounds
      // check; the delta is below 2^30 here, so it goes on as an int32
      const delta = tsDelta | 0
      const body =
        2 +
        varintSize(delta) +
        varintSize(offsetDelta) +
        varintSize(keyLen) +
        (key?.length ?? 0) +
        varintSize(valueLen) +
        (value?.length ?? 0)
      w.ensure(body + 5)
      const b = w.buf
      let p = putVarint(b, w.pos, body)
      b[p++] = 0 // attributes
      p = putVarint(b, p, delta)
      p = putVarint(b, p, offsetDelta)
      p = putVarint(b, p, keyLen)
      if (key !== null) {
        b.set(key, p)
        p += key.length
      }
      p = putVarint(b, p, valueLen)
      if (value !== null) {
        b.set(value, p)
        p += value.length
      }
      b[p++] = 0 // header count
      w.pos = p
      this.count++
      return
    }
    let body = 1 + varlongSize(tsDelta) + varintSize(offsetDelta) + varintSize(keyLen) + (key?.length ?? 0)
    body += varintSize(valueLen) + (value?.length ?? 0) + varintSize(headers.length)
    for (const h of headers) {
      body += varintSize(h.key.length) + h.key.length
      body += varintSize(h.value === null ? -1 : h.value.length) + (h.value?.length ?? 0)
    }
    w.ensure(body + 5)
    w.varint(body)
    w.buf[w.pos++] = 0 // attributes
    w.varlong(tsDelta)
    w.varint(offsetDelta)
    w.varint(keyLen)
    if (key) w.raw(key)
    w.varint(valueLen)
    if (value) w.raw(value)
    w.varint(headers.length)
    for (const h of headers) {
      w.varint(h.key.length).raw(h.key)
      if (h.value === null) w.varint(-1)
      else w.varint(h.value.length).raw(h.value)
    }
    this.count++
  }

  /** The records section, uncompressed. */
  recordsBytes(): Uint8Array {
    return this.w.buf.subarray(BATCH_HEADER_SIZE, this.w.pos)
  }

  /** The buffer written into (returned to the pool when the batch is done). */
  get buffer(): Uint8Array {
    return this.w.buf
  }

  /** Writes the header in front of the records and returns the whole batch (uncompressed; no copy). */
  sealInPlace(fields: BatchHeaderFields): Uint8Array {
    const out = this.w.buf.subarray(0, this.w.pos)
    writeHeader(
      new DataView(out.buffer, out.byteOffset, out.byteLength),
      out,
      this.count,
      this.firstTimestamp,
      this.maxTimestamp,
      fields,
      0,
    )
    return out
  }
}

/** Batches as Kafka RecordBatches (the Kafka path's RecordFormat). */
export const kafkaRecordFormat = {
  builder: (capacity: number, buffer?: Uint8Array) => new RecordBatchBuilder(capacity, buffer),
  estimate: estimateRecordSize,
}

function writeHeader(
  view: DataView,
  out: Uint8Array,
  count: number,
  firstTimestamp: number,
  maxTimestamp: number,
  fields: BatchHeaderFields,
  codecId: number,
): void {
  const setInt64 = (pos: number, v: number) => {
    const hi = Math.floor(v / 4294967296)
    view.setInt32(pos, hi)
    view.setUint32(pos + 4, v - hi * 4294967296)
  }
  setInt64(0, 0) // baseOffset: the broker assigns offsets
  view.setInt32(8, out.length - 12) // batchLength
  view.setInt32(12, -1) // partitionLeaderEpoch
  view.setInt8(16, 2) // magic
  let attributes = codecId & 0x07
  if (fields.transactional) attributes |= 0x10
  view.setInt16(21, attributes)
  view.setInt32(23, count - 1) // lastOffsetDelta
  setInt64(27, firstTimestamp)
  setInt64(35, maxTimestamp)
  setInt64(43, fields.producerId)
  view.setInt16(51, fields.producerEpoch)
  view.setInt32(53, fields.baseSequence)
  view.setInt32(57, count)
  view.setUint32(CRC_OFFSET, crc32c(out, ATTRIBUTES_OFFSET, out.length))
}

export interface BatchHeaderFields {
  producerId: number
  producerEpoch: number
  baseSequence: number
  transactional?: boolean
}

/**
 * Seals a batch: header + (compressed) records, CRC32C computed over attributes..end. Synchronous when there is
 * no codec, so the uncompressed hot path allocates one buffer and no promise.
 */
export function sealBatch(
  records: Uint8Array,
  count: number,
  firstTimestamp: number,
  maxTimestamp: number,
  fields: BatchHeaderFields,
  compressed: { codecId: number; bytes: Uint8Array } | null,
): Uint8Array {
  const body = compressed ? compressed.bytes : records
  const out = new Uint8Array(BATCH_HEADER_SIZE + body.length)
  out.set(body, BATCH_HEADER_SIZE)
  writeHeader(
    new DataView(out.buffer),
    out,
    count,
    firstTimestamp,
    maxTimestamp,
    fields,
    compressed ? compressed.codecId : 0,
  )
  return out
}

export async function compressRecords(
  codec: CompressionCodec,
  records: Uint8Array,
): Promise<{ codecId: number; bytes: Uint8Array }> {
  return { codecId: codec.id, bytes: await codec.compress(records) }
}

// ---- decoding (tests, the fake cluster and the gateway read batches back) ----

export interface DecodedRecord {
  offset: number
  timestamp: number
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
}

export interface DecodedBatch {
  baseOffset: number
  partitionLeaderEpoch: number
  attributes: number
  codecId: number
  lastOffsetDelta: number
  firstTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordCount: number
  records: DecodedRecord[]
  /** Encoded size of this batch in the input. */
  sizeInBytes: number
}

const headerKeyDecoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Decodes every batch in `bytes` (a Produce request's records field or a log segment slice). Validates magic,
 * lengths and CRC; decompresses with the codec whose id the attributes name.
 */
export async function decodeRecordBatches(
  bytes: Uint8Array,
  codecs: readonly CompressionCodec[] = [],
): Promise<DecodedBatch[]> {
  const out: DecodedBatch[] = []
  const r = new Reader(bytes)
  while (r.remaining > 0) {
    const start = r.pos
    const baseOffset = r.int64()
    const batchLength = r.int32()
    if (batchLength < BATCH_HEADER_SIZE - 12 || batchLength > r.remaining) {
      throw new MalformedResponseError(`record batch length ${batchLength} is invalid`)
    }
    const end = r.pos + batchLength
    const partitionLeaderEpoch = r.int32()
    const magic = r.int8()
    if (magic !== 2) throw new MalformedResponseError(`record batch magic ${magic} is not supported`)
    const crc = r.uint32()
    const actual = crc32c(bytes, r.pos, end)
    if (crc !== actual)
      throw new MalformedResponseError(`record batch CRC mismatch (stored ${crc}, computed ${actual})`)
    const attributes = r.int16()
    const lastOffsetDelta = r.int32()
    const firstTimestamp = r.int64()
    const maxTimestamp = r.int64()
    const producerId = r.int64()
    const producerEpoch = r.int16()
    const baseSequence = r.int32()
    const recordCount = r.int32()
    if (recordCount < 0) throw new MalformedResponseError(`negative record count ${recordCount}`)
    const codecId = attributes & 0x07
    let body = bytes.subarray(r.pos, end)
    if (codecId !== 0) {
      const codec = codecs.find((c) => c.id === codecId)
      if (!codec)
        throw new MalformedResponseError(`record batch uses compression codec ${codecId}, which is not available`)
      try {
        body = await codec.decompress(body)
      } catch (cause) {
        // corrupt compressed data is malformed input like any other, whatever error type the codec uses
        throw new MalformedResponseError(`record batch could not be decompressed (${codec.name})`, { cause })
      }
    }
    const rr = new Reader(body)
    const records: DecodedRecord[] = []
    for (let i = 0; i < recordCount; i++) {
      const length = rr.varint()
      const recEnd = rr.pos + length
      if (length < 0 || recEnd > rr.end) throw new MalformedResponseError(`record length ${length} is invalid`)
      rr.int8() // attributes
      const tsDelta = rr.varlong()
      const offsetDelta = rr.varint()
      const keyLen = rr.varint()
      const key = keyLen < 0 ? null : rr.raw(keyLen)
      const valueLen = rr.varint()
      const value = valueLen < 0 ? null : rr.raw(valueLen)
      const headerCount = rr.varint()
      if (headerCount < 0 || headerCount > recEnd - rr.pos)
        throw new MalformedResponseError(`header count ${headerCount} is invalid`)
      const headers: Array<[string, Uint8Array | null]> = []
      for (let h = 0; h < headerCount; h++) {
        const hk = rr.varint()
        if (hk < 0) throw new MalformedResponseError('null header key')
        let name: string
        try {
          name = headerKeyDecoder.decode(rr.raw(hk))
        } catch (cause) {
          throw new MalformedResponseError('header key is not UTF-8', { cause })
        }
        const hv = rr.varint()
        headers.push([name, hv < 0 ? null : rr.raw(hv)])
      }
      if (rr.pos !== recEnd) throw new MalformedResponseError('record length does not match its fields')
      records.push({ offset: baseOffset + offsetDelta, timestamp: firstTimestamp + tsDelta, key, value, headers })
    }
    if (rr.remaining !== 0) throw new MalformedResponseError('record batch has trailing bytes')
    r.pos = end
    out.push({
      baseOffset,
      partitionLeaderEpoch,
      attributes,
      codecId,
      lastOffsetDelta,
      firstTimestamp,
      maxTimestamp,
      producerId,
      producerEpoch,
      baseSequence,
      recordCount,
      records,
      sizeInBytes: end - start,
    })
  }
  return out
}
