/**
 * The fast path for produce frames: a MessagePack reader that validates a produce frame in place, over its bytes,
 * and later hands each record's fields to the producer as views of the same bytes. No object per record is built
 * before the producer appends (the general decoder built a 4-element array, a Buffer view per key and value and a
 * headers array per record, and the gateway then an object per record for the producer: ~30 % of the gateway's CPU
 * went to garbage collection at 200 clients).
 *
 * It accepts exactly the frames parseProduce() (validate.ts) accepts, or gives up: anything it does not recognise
 * (an unknown field, a duplicate key, a header name that is not ASCII, a limit exceeded, any malformation) returns
 * null, and the frame takes the general path (@msgpack/msgpack + parseProduce), which answers with the same typed
 * refusal as before. So the refusals, their codes and messages stay those of one implementation.
 */
import { validTopicName } from './validate.js'
import { RECORD_OVERHEAD_BYTES } from './limits.js'
import { mixBytesAt, mixWord, DIGEST_SEED, DIGEST_NULL } from './batch-ledger.js'

/** One client batch of a fast-parsed frame: its records stay in `src`, from byte `at`. */
export interface FastBatch {
  topic: string
  partition: number
  batchId: string
  count: number
  /** batchDigest() of its records, computed from the bytes (the same value). */
  digest: number
  /** recordCost() of its records together. */
  cost: number
  src: Uint8Array
  at: number
}

export interface FastProduce {
  id: number
  acks: number
  timeoutMs: number
  batches: FastBatch[]
  records: number
}

/** What a record hands over: views of the frame's bytes (valid as long as the frame is). */
export type RecordSink = (
  i: number,
  timestamp: number,
  key: Uint8Array | null,
  value: Uint8Array | null,
  headers: Array<[string, Uint8Array | null]>,
) => void

const NO_HEADERS: Array<[string, Uint8Array | null]> = []
Object.freeze(NO_HEADERS)

// ---- the reader (not reentrant; nothing it calls calls back) ----

let src: Uint8Array = new Uint8Array(0)
let view = new DataView(src.buffer)
let pos = 0
let end = 0

/** Thrown inside the reader when the bytes are not what the fast path takes; caught in parseProduceFast. */
const GIVE_UP = new Error('not a fast produce frame')

function byte(): number {
  if (pos >= end) throw GIVE_UP
  return src[pos++]!
}

function uintN(k: number): number {
  if (pos + k > end) throw GIVE_UP
  let v = 0
  for (let i = 0; i < k; i++) v = v * 256 + src[pos++]!
  return v
}

function mapLength(): number {
  const c = byte()
  if (c >= 0x80 && c <= 0x8f) return c & 15
  if (c === 0xde) return uintN(2)
  if (c === 0xdf) return uintN(4)
  throw GIVE_UP
}

function arrayLength(): number {
  const c = byte()
  if (c >= 0x90 && c <= 0x9f) return c & 15
  if (c === 0xdc) return uintN(2)
  if (c === 0xdd) return uintN(4)
  throw GIVE_UP
}

/** A string's length in bytes; pos is then at its first byte. */
function strLength(): number {
  const c = byte()
  let n: number
  if (c >= 0xa0 && c <= 0xbf) n = c & 31
  else if (c === 0xd9) n = uintN(1)
  else if (c === 0xda) n = uintN(2)
  else if (c === 0xdb) n = uintN(4)
  else throw GIVE_UP
  if (pos + n > end) throw GIVE_UP
  return n
}

/**
 * An ASCII string (else give up: the general decoder's UTF-8 handling decides), made flat: built a character at a
 * time, a string past 12 characters is a chain of cons strings (~32 B a character). A batch id is kept as the
 * ledger's key for 100,000 batches, and a chain made each entry ~380 B larger and each lookup walk it.
 */
function asciiString(): string {
  const n = strLength()
  const start = pos
  let s = ''
  if (n <= 12) {
    for (let i = 0; i < n; i++) {
      const b = src[start + i]!
      if (b >= 0x80) throw GIVE_UP
      s += String.fromCharCode(b)
    }
  } else {
    for (let i = 0; i < n; i++) if (src[start + i]! >= 0x80) throw GIVE_UP
    s = String.fromCharCode.apply(null, src.subarray(start, start + n) as unknown as number[])
  }
  pos += n
  return s
}

/** A key of a map, compared without making a string: returns its index in `keys`, or gives up. */
function keyIndex(keys: readonly Uint8Array[]): number {
  const n = strLength()
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!
    if (key.length !== n) continue
    let same = true
    for (let i = 0; i < n; i++) if (src[pos + i] !== key[i]) same = false
    if (same) {
      pos += n
      return k
    }
  }
  throw GIVE_UP // a field the fast path does not know: the general path ignores it (or refuses the frame)
}

/** Any MessagePack number as a JS number (integers of every width, float 32/64). */
function number(): number {
  const c = byte()
  if (c < 0x80) return c
  if (c >= 0xe0) return c - 256
  switch (c) {
    case 0xcc:
      return uintN(1)
    case 0xcd:
      return uintN(2)
    case 0xce:
      return uintN(4)
    case 0xcf: {
      const hi = uintN(4)
      return hi * 4294967296 + uintN(4)
    }
    case 0xd0:
      return (uintN(1) << 24) >> 24
    case 0xd1:
      return (uintN(2) << 16) >> 16
    case 0xd2:
      return uintN(4) | 0
    case 0xd3: {
      const hi = uintN(4) | 0
      return hi * 4294967296 + uintN(4)
    }
    case 0xca: {
      if (pos + 4 > end) throw GIVE_UP
      const v = view.getFloat32(pos)
      pos += 4
      return v
    }
    case 0xcb: {
      if (pos + 8 > end) throw GIVE_UP
      const v = view.getFloat64(pos)
      pos += 8
      return v
    }
    default:
      throw GIVE_UP
  }
}

/** bin or nil: the length (-1 for nil); pos is then at its first byte. */
function binLength(): number {
  const c = byte()
  let n: number
  if (c === 0xc0) return -1
  if (c === 0xc4) n = uintN(1)
  else if (c === 0xc5) n = uintN(2)
  else if (c === 0xc6) n = uintN(4)
  else throw GIVE_UP
  if (pos + n > end) throw GIVE_UP
  return n
}

const enc = new TextEncoder()
const FRAME_KEYS = ['t', 'id', 'acks', 'timeoutMs', 'batches'].map((k) => enc.encode(k))
const BATCH_KEYS = ['topic', 'partition', 'batchId', 'records'].map((k) => enc.encode(k))
const PRODUCE = enc.encode('produce')

/** Does the frame start as a produce frame (`t` first, as every encoder of the protocol puts it)? Cheap. */
function startsAsProduce(b: Uint8Array): boolean {
  // fixmap, fixstr "t", fixstr "produce"
  if (b.length < 12 || (b[0]! & 0xf0) !== 0x80 || b[1] !== 0xa1 || b[2] !== 0x74 || b[3] !== 0xa7) return false
  for (let i = 0; i < 7; i++) if (b[4 + i] !== PRODUCE[i]) return false
  return true
}

/**
 * A produce frame read in place, or null when the general path must take it (see the file comment). `limits` as
 * parseProduce's: more batches or records than they allow → null (the general path answers LIMIT_EXCEEDED).
 */
export function parseProduceFast(
  bytes: Uint8Array,
  limits: { maxInFlightBatches: number; maxRecordsPerFrame: number },
): FastProduce | null {
  if (!startsAsProduce(bytes)) return null
  src = bytes
  view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  pos = 0
  end = bytes.length
  try {
    return readFrame(limits)
  } catch (err) {
    if (err === GIVE_UP) return null
    throw err
  } finally {
    src = new Uint8Array(0)
    view = new DataView(src.buffer)
  }
}

function readFrame(limits: { maxInFlightBatches: number; maxRecordsPerFrame: number }): FastProduce {
  const fields = mapLength()
  let seen = 0
  let id = NaN
  let acks = -1
  let timeoutMs = 30_000
  let batches: FastBatch[] | null = null
  let records = 0
  for (let f = 0; f < fields; f++) {
    const k = keyIndex(FRAME_KEYS)
    if (seen & (1 << k)) throw GIVE_UP // a repeated key
    seen |= 1 << k
    if (k === 0) {
      const n = strLength()
      if (n !== 7) throw GIVE_UP
      pos += 7 // checked by startsAsProduce (t is the first field)
      if (f !== 0) throw GIVE_UP
    } else if (k === 1) {
      id = number()
      if (!Number.isSafeInteger(id)) throw GIVE_UP
    } else if (k === 2) {
      acks = number()
      if (acks !== -1 && acks !== 0 && acks !== 1) throw GIVE_UP
    } else if (k === 3) {
      timeoutMs = number()
      if (!(timeoutMs > 0)) throw GIVE_UP
    } else {
      const n = arrayLength()
      if (n === 0 || n > limits.maxInFlightBatches) throw GIVE_UP
      batches = new Array<FastBatch>(n)
      for (let b = 0; b < n; b++) {
        const batch = readBatch()
        records += batch.count
        if (records > limits.maxRecordsPerFrame) throw GIVE_UP
        batches[b] = batch
      }
    }
  }
  if (pos !== end || batches === null || !(seen & 2) || !(seen & 1)) throw GIVE_UP
  if (batches.length > 1) {
    const ids = new Set<string>()
    for (const b of batches) {
      if (ids.has(b.batchId)) throw GIVE_UP
      ids.add(b.batchId)
    }
  }
  return { id, acks, timeoutMs: Math.min(Math.max(timeoutMs, 100), 300_000), batches, records }
}

function readBatch(): FastBatch {
  const fields = mapLength()
  if (fields !== 4) throw GIVE_UP
  let seen = 0
  let topic = ''
  let partition = -1
  let batchId = ''
  let count = 0
  let at = 0
  let digest = 0
  let cost = 0
  for (let f = 0; f < 4; f++) {
    const k = keyIndex(BATCH_KEYS)
    if (seen & (1 << k)) throw GIVE_UP
    seen |= 1 << k
    if (k === 0) {
      topic = asciiString()
      if (!validTopicName(topic)) throw GIVE_UP
    } else if (k === 1) {
      partition = number()
      if (!Number.isSafeInteger(partition) || partition < 0 || partition > 0x7fffffff) throw GIVE_UP
    } else if (k === 2) {
      batchId = asciiString()
      if (batchId.length === 0 || batchId.length > 128) throw GIVE_UP
    } else {
      count = arrayLength()
      if (count === 0) throw GIVE_UP
      at = pos
      ;({ digest, cost } = scanRecords(count))
    }
  }
  return { topic, partition, batchId, count, digest, cost, src, at }
}

/** Validates `count` records from pos and computes their digest and cost. */
function scanRecords(count: number): { digest: number; cost: number } {
  let h = DIGEST_SEED
  let cost = 0
  for (let r = 0; r < count; r++) {
    if (byte() !== 0x94) throw GIVE_UP
    if (pos + 9 <= end && src[pos] === 0xcf) {
      // a uint 64 (how clients write a millisecond timestamp): a safe integer when its high word is below 2^21,
      // checked without making the number (as a call returning a double, it cost a heap number per record)
      if (view.getUint32(pos + 1) >= 0x200000) throw GIVE_UP
      pos += 9
    } else {
      const ts = number()
      if (!Number.isSafeInteger(ts) || ts < 0) throw GIVE_UP
    }
    cost += RECORD_OVERHEAD_BYTES
    for (let kv = 0; kv < 2; kv++) {
      const n = binLength()
      if (n < 0) h = mixWord(h, DIGEST_NULL)
      else {
        h = mixBytesAt(h, src, view, pos, n)
        pos += n
        cost += n
      }
    }
    const headers = arrayLength()
    h = mixWord(h, headers)
    for (let i = 0; i < headers; i++) {
      if (byte() !== 0x92) throw GIVE_UP
      const n = strLength()
      h = mixWord(h, n)
      for (let j = 0; j < n; j++) {
        const c = src[pos + j]!
        if (c >= 0x80) throw GIVE_UP // a name's UTF-16 length and code units: only ASCII is read here
        h = mixWord(h, c)
      }
      pos += n
      const v = binLength()
      if (v < 0) h = mixWord(h, DIGEST_NULL)
      else {
        h = mixBytesAt(h, src, view, pos, v)
        pos += v
        cost += v
      }
      cost += n * 3 + 16
    }
  }
  return { digest: h >>> 0, cost }
}

/**
 * Hands a batch's records to `sink`, in order, as views of the frame (the batch was validated by parseProduceFast:
 * nothing here can fail). Records whose `skip(i)` is true are passed over (a partial resend).
 */
export function forEachFastRecord(b: FastBatch, sink: RecordSink, skip: ((i: number) => boolean) | null): void {
  const s = b.src
  const buffer = s.buffer
  const base = s.byteOffset
  let p = b.at
  const u = (k: number) => {
    let v = 0
    for (let i = 0; i < k; i++) v = v * 256 + s[p++]!
    return v
  }
  const num = (): number => {
    const c = s[p++]!
    if (c < 0x80) return c
    switch (c) {
      case 0xcc:
        return u(1)
      case 0xcd:
        return u(2)
      case 0xce:
        return u(4)
      case 0xcf:
        return u(4) * 4294967296 + u(4)
      case 0xd0:
        return (u(1) << 24) >> 24
      case 0xd1:
        return (u(2) << 16) >> 16
      case 0xd2:
        return u(4) | 0
      case 0xd3:
        return (u(4) | 0) * 4294967296 + u(4)
      case 0xca: {
        const v = new DataView(buffer, base + p, 4).getFloat32(0)
        p += 4
        return v
      }
      case 0xcb: {
        const v = new DataView(buffer, base + p, 8).getFloat64(0)
        p += 8
        return v
      }
      default:
        return c - 256 // negative fixint (validated)
    }
  }
  const bin = (): Uint8Array | null => {
    const c = s[p++]!
    if (c === 0xc0) return null
    const n = u(1 << (c - 0xc4))
    const v = new Uint8Array(buffer, base + p, n)
    p += n
    return v
  }
  const len = (c: number, fix: number, mask: number, w16: number): number => {
    if ((c & ~mask) === fix) return c & mask
    return u(c === w16 ? 2 : 4)
  }
  for (let r = 0; r < b.count; r++) {
    p++ // 0x94
    const ts = num()
    const key = bin()
    const value = bin()
    const nh = len(s[p++]!, 0x90, 15, 0xdc)
    let headers = NO_HEADERS
    if (nh > 0) {
      headers = new Array(nh)
      for (let i = 0; i < nh; i++) {
        p++ // 0x92
        const c = s[p++]!
        const n = c >= 0xa0 && c <= 0xbf ? c & 31 : u(c === 0xd9 ? 1 : c === 0xda ? 2 : 4)
        let name = ''
        for (let j = 0; j < n; j++) name += String.fromCharCode(s[p + j]!)
        p += n
        headers[i] = [name, bin()]
      }
    }
    if (skip === null || !skip(r)) sink(r, ts, key, value, headers)
  }
}
