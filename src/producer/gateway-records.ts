import type { EncodedHeader, RecordInput } from '../protocol/record-batch.js'
import type { BatchBuilder, RecordFormat } from './producer-batch.js'

/*
 * A gateway batch's records, written as they arrive in the form a produce frame carries them
 * (docs/gateway-protocol.md), so nothing is encoded twice and the browser bundle carries no Kafka RecordBatch code:
 *
 *   records = array32 (0xdd, uint32 count) of record
 *   record  = fixarray 4 (0x94): timestamp, key, value, headers
 *     timestamp  uint 64 (0xcf) when ≥ 2^32, else the smallest uint / positive fixint
 *     key, value nil (0xc0) | bin 8/16/32 (0xc4/0xc5/0xc6)
 *     headers    fixarray / array 16 / array 32 of fixarray 2 (0x92): name str (UTF-8), value nil | bin
 *
 * The count is written when the batch is sealed (it is not known before), always as array 32: valid MessagePack,
 * though not the smallest form for small counts, which every decoder accepts.
 */

/** Bytes in front of the records: the array 32 header. */
const HEAD = 5

/** Room for a record's framing around its key, value and header bytes: 1 + 9 + 5 + 5 + 5. */
const RECORD_OVERHEAD = 25

export class GatewayRecordsBuilder implements BatchBuilder {
  buffer: Uint8Array
  #pos = HEAD
  count = 0
  firstTimestamp = 0

  constructor(capacity: number, buffer?: Uint8Array) {
    this.buffer = buffer ?? new Uint8Array(Math.max(64, capacity))
  }

  get sizeInBytes(): number {
    return this.#pos
  }

  append(record: RecordInput): void {
    const { timestamp, key, value, headers } = record
    if (this.count === 0) this.firstTimestamp = timestamp
    const need = estimate(key, value, headers)
    if (this.#pos + need > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.#pos + need))
      grown.set(this.buffer.subarray(0, this.#pos))
      this.buffer = grown
    }
    const b = this.buffer
    let p = this.#pos
    b[p++] = 0x94
    if (timestamp < 128) b[p++] = timestamp
    else if (timestamp < 4294967296) (b[p] = 0xce), put32(b, p + 1, timestamp), (p += 5)
    else (b[p] = 0xcf), put32(b, p + 1, Math.floor(timestamp / 4294967296)), put32(b, p + 5, timestamp >>> 0), (p += 9)
    p = bin(b, p, key)
    p = bin(b, p, value)
    const n = headers.length
    if (n < 16) b[p++] = 0x90 | n
    else (b[p] = 0xdd), put32(b, p + 1, n), (p += 5)
    for (let i = 0; i < n; i++) {
      const h = headers[i]!
      b[p++] = 0x92
      const len = h.key.length
      if (len < 32) b[p++] = 0xa0 | len
      else (b[p] = 0xdb), put32(b, p + 1, len), (p += 5)
      b.set(h.key, p)
      p = bin(b, p + len, h.value)
    }
    this.#pos = p
    this.count++
  }

  /** The records as MessagePack (a view of the buffer: valid until the batch is done). */
  seal(): Uint8Array {
    this.buffer[0] = 0xdd
    put32(this.buffer, 1, this.count)
    return this.buffer.subarray(0, this.#pos)
  }
}

function put32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24
  b[p + 1] = v >>> 16
  b[p + 2] = v >>> 8
  b[p + 3] = v
}

/** nil, or bin 8/16/32 with the bytes; returns the position after it. */
function bin(b: Uint8Array, p: number, v: Uint8Array | null): number {
  if (v === null) {
    b[p] = 0xc0
    return p + 1
  }
  const n = v.length
  if (n < 256) (b[p] = 0xc4), (b[p + 1] = n), (p += 2)
  else if (n < 65536) (b[p] = 0xc5), (b[p + 1] = n >>> 8), (b[p + 2] = n), (p += 3)
  else (b[p] = 0xc6), put32(b, p + 1, n), (p += 5)
  b.set(v, p)
  return p + n
}

/** Upper bound of a record's size as gateway MessagePack. */
function estimate(key: Uint8Array | null, value: Uint8Array | null, headers: readonly EncodedHeader[]): number {
  let size = RECORD_OVERHEAD + (key?.length ?? 0) + (value?.length ?? 0)
  for (const h of headers) size += 11 + h.key.length + (h.value?.length ?? 0)
  return size
}

/** The gateway path's RecordFormat (see RecordAccumulator.format). */
export const gatewayRecordFormat: RecordFormat = {
  builder: (capacity, buffer) => new GatewayRecordsBuilder(capacity, buffer),
  estimate,
}
