/**
 * The isokafka gateway wire protocol (docs/gateway-protocol.md), shared by the gateway server and the websocket and
 * fetch transports. Runtime-free: Web-standard APIs only; MessagePack is ./msgpack.ts (a compact codec for the types
 * frames use, wire-compatible with any standard MessagePack library).
 *
 * Every frame is one MessagePack map with a string `t` (type). Requests carry a numeric `id` echoed by the answer.
 * Encoders here put `t` and `id` first, so a server can answer a frame it refuses to decode (too large) with its id.
 */
import { decode, encode, type DecodeLimits } from './msgpack.js'
export { MsgpackError } from './msgpack.js'
import { AuthenticationError, IsoKafkaError, RecordTooLargeError } from '../../src/errors.js'
import type { GatewayPartitionBatch, GatewayPartitionResult, GatewayRecord, GatewayTopicMetadata } from '../../src/transport.js'

export const PROTOCOL_VERSION = 1
/** WebSocket subprotocol the gateway selects. */
export const SUBPROTOCOL = 'isokafka.v1'
/** A browser can present its token as a second subprotocol `isokafka.token.<token>` (never echoed back). */
export const TOKEN_SUBPROTOCOL_PREFIX = 'isokafka.token.'
export const MSGPACK_CONTENT_TYPE = 'application/vnd.msgpack'

/** `[timestamp, key, value, headers]`: a record on the wire. */
export type WireRecord = [number, Uint8Array | null, Uint8Array | null, Array<[string, Uint8Array | null]>]

export interface WireBatch {
  topic: string
  partition: number
  batchId: string
  records: WireRecord[]
}

export interface GatewayLimits {
  /** Largest frame (WebSocket message or HTTP body) in bytes. */
  maxFrameBytes: number
  /** Client batches a connection may have waiting for Kafka at once. */
  maxInFlightBatches: number
  /** Records per second per connection (token bucket, one second of burst); 0 = unlimited. */
  recordsPerSecond: number
}

export interface HelloFrame { t: 'hello'; v: number; token?: string }
export interface WelcomeFrame { t: 'welcome'; v: number; session: string; subject: string | null; expiresAt: number; limits: GatewayLimits }
export interface MetadataRequestFrame { t: 'metadata'; id: number; topics: string[] }
export interface MetadataResponseFrame { t: 'metadata'; id: number; topics: Array<GatewayTopicMetadata & { message?: string }> }
export interface ProduceFrame { t: 'produce'; id: number; acks: -1 | 0 | 1; timeoutMs: number; batches: WireBatch[] }
export interface WireResult extends GatewayPartitionResult {
  /** Present only when the batch's offsets are not consecutive. */
  offsets?: number[]
}
export interface AckFrame { t: 'ack'; id: number; results: WireResult[] }
export interface ErrorFrame {
  t: 'error'
  /** The request this answers, when known. */
  id?: number
  code: GatewayErrorCode
  message: string
  retriable: boolean
  /** For RATE_LIMITED / TOO_MANY_IN_FLIGHT: when trying again makes sense. */
  retryAfterMs?: number
  /** The gateway closes the connection after this frame. */
  fatal?: boolean
}
export type ClientFrame = HelloFrame | MetadataRequestFrame | ProduceFrame
export type ServerFrame = WelcomeFrame | MetadataResponseFrame | AckFrame | ErrorFrame

export type GatewayErrorCode =
  | 'UNAUTHENTICATED' // no token, bad signature, malformed token
  | 'TOKEN_EXPIRED'
  | 'FORBIDDEN_ORIGIN'
  | 'FRAME_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'TOO_MANY_IN_FLIGHT'
  | 'MALFORMED' // not MessagePack, or not a valid frame
  | 'UNSUPPORTED' // unknown frame type or protocol version
  | 'INTERNAL'

const RETRIABLE_CODES = new Set<GatewayErrorCode>(['RATE_LIMITED', 'TOO_MANY_IN_FLIGHT', 'INTERNAL'])
export function isRetriableCode(code: GatewayErrorCode): boolean {
  return RETRIABLE_CODES.has(code)
}

/** WebSocket close codes the gateway uses (4000–4999 are for applications). */
export const CLOSE_UNAUTHENTICATED = 4401
export const CLOSE_SHUTDOWN = 1001

/**
 * A frame as MessagePack, in the smallest formats (the bytes @msgpack/msgpack's encoder with ignoreUndefined makes):
 * map entries whose value is undefined are left out. Throws MsgpackError on a value with no MessagePack form here.
 */
export function encodeFrame(frame: ClientFrame | ServerFrame): Uint8Array {
  return encode(frame)
}

export interface FrameDecoder {
  /** Throws MsgpackError on anything that is not one complete, well-formed MessagePack value within the limits. */
  decode(bytes: Uint8Array): unknown
}

function frameLimits(maxFrameBytes: number): DecodeLimits {
  return { maxDepth: 10, maxStr: 1 << 20, maxBin: maxFrameBytes, maxArray: maxFrameBytes, maxMap: 64 }
}

/**
 * Decoder limits: a frame cannot make the decoder allocate more than the frame could describe. The decoder also
 * enforces what msgpackShapeOk checks (complete, no trailing bytes, at most 10 containers deep, no header declaring
 * more items than bytes remain), so it never accepts a frame msgpackShapeOk rejects; the server runs that check
 * first all the same.
 */
export function createFrameDecoder(maxFrameBytes: number): FrameDecoder {
  const limits = frameLimits(maxFrameBytes)
  return { decode: (bytes) => decode(bytes, limits) }
}

/**
 * Walks one MessagePack value without building it: true when it is complete, has no trailing bytes, nests at most
 * `maxDepth` containers deep, and every array/map declares no more items than bytes remain. A decoder that allocates
 * an array of the declared length on each header could be made to allocate gigabytes by a small frame of nested
 * headers; after this check, what any decoder allocates is bounded by the frame's size. The gateway runs it before
 * decoding (./msgpack.ts makes the same checks as it goes, so it is safe without it too).
 */
export function msgpackShapeOk(b: Uint8Array, maxDepth = 10): boolean {
  const n = b.length
  let p = 0
  const stack: number[] = []
  let remaining = 1
  const uint = (k: number): number => {
    if (p + k > n) return -1
    let v = 0
    for (let i = 0; i < k; i++) v = v * 256 + b[p++]!
    return v
  }
  for (;;) {
    if (remaining === 0) {
      if (stack.length === 0) return p === n
      remaining = stack.pop()!
      continue
    }
    if (p >= n) return false
    remaining--
    const c = b[p++]!
    let skip = -1
    let items = -1
    if (c <= 0x7f || c >= 0xe0) skip = 0
    else if (c <= 0x8f) items = (c & 0x0f) * 2
    else if (c <= 0x9f) items = c & 0x0f
    else if (c <= 0xbf) skip = c & 0x1f
    else {
      switch (c) {
        case 0xc0: case 0xc2: case 0xc3: skip = 0; break
        case 0xc4: case 0xd9: skip = uint(1); break
        case 0xc5: case 0xda: skip = uint(2); break
        case 0xc6: case 0xdb: skip = uint(4); break
        case 0xc7: skip = uint(1); if (skip >= 0) skip += 1; break
        case 0xc8: skip = uint(2); if (skip >= 0) skip += 1; break
        case 0xc9: skip = uint(4); if (skip >= 0) skip += 1; break
        case 0xca: case 0xce: case 0xd2: skip = 4; break
        case 0xcb: case 0xcf: case 0xd3: skip = 8; break
        case 0xcc: case 0xd0: skip = 1; break
        case 0xcd: case 0xd1: skip = 2; break
        case 0xd4: skip = 2; break
        case 0xd5: skip = 3; break
        case 0xd6: skip = 5; break
        case 0xd7: skip = 9; break
        case 0xd8: skip = 17; break
        case 0xdc: items = uint(2); break
        case 0xdd: items = uint(4); break
        case 0xde: items = uint(2); if (items >= 0) items *= 2; break
        case 0xdf: items = uint(4); if (items >= 0) items *= 2; break
        default: return false // 0xc1: never used
      }
    }
    if (items >= 0) {
      if (items > n - p || stack.length >= maxDepth) return false
      stack.push(remaining)
      remaining = items
    } else {
      if (skip < 0 || p + skip > n) return false
      p += skip
    }
  }
}

const CLIENT_LIMITS = frameLimits(64 << 20)
/** Decode a server frame (client side). Throws IsoKafkaError MALFORMED_RESPONSE on garbage. */
export function decodeServerFrame(bytes: Uint8Array): ServerFrame {
  let v: unknown
  try {
    // the decoder itself checks the frame's shape (depth, lengths against the bytes left) before allocating
    v = decode(bytes, CLIENT_LIMITS)
  } catch (cause) {
    throw new IsoKafkaError('MALFORMED_RESPONSE', 'the gateway sent a frame that is not MessagePack', { retriable: true, cause })
  }
  if (!v || typeof v !== 'object' || typeof (v as { t?: unknown }).t !== 'string') {
    throw new IsoKafkaError('MALFORMED_RESPONSE', 'the gateway sent a frame without a type', { retriable: true })
  }
  return v as ServerFrame
}

/**
 * Reads `t` and `id` from the first entries of an encoded frame without decoding the rest (used to answer a frame
 * that is refused for its size). Returns undefined when they are not among the leading scalar entries.
 */
export function peekFrameId(b: Uint8Array): number | undefined {
  let p = 0
  const n = b.length
  const u8 = () => (p < n ? b[p++]! : -1)
  const uN = (k: number) => {
    let v = 0
    for (let i = 0; i < k; i++) v = v * 256 + u8()
    return p <= n ? v : -1
  }
  const head = u8()
  let entries: number
  if ((head & 0xf0) === 0x80) entries = head & 0x0f
  else if (head === 0xde) entries = uN(2)
  else return undefined
  const str = (): string | null => {
    const c = u8()
    let len: number
    if ((c & 0xe0) === 0xa0) len = c & 0x1f
    else if (c === 0xd9) len = u8()
    else if (c === 0xda) len = uN(2)
    else return null
    if (len < 0 || p + len > n || len > 64) return null
    let s = ''
    for (let i = 0; i < len; i++) s += String.fromCharCode(b[p + i]!)
    p += len
    return s
  }
  /** An integer, or skip a short scalar (returns NaN), or null when the value is not a scalar we can skip. */
  const scalar = (): number | null => {
    const c = u8()
    if (c < 0) return null
    if (c <= 0x7f) return c
    if (c >= 0xe0) return c - 256
    if (c === 0xcc) return uN(1)
    if (c === 0xcd) return uN(2)
    if (c === 0xce) return uN(4)
    if (c === 0xcf) return uN(8)
    if (c === 0xc0 || c === 0xc2 || c === 0xc3) return NaN
    if ((c & 0xe0) === 0xa0) return (p += c & 0x1f), NaN
    if (c === 0xd9) return (p += u8()), NaN
    return null
  }
  for (let i = 0; i < Math.min(entries, 4); i++) {
    const key = str()
    if (key === null) return undefined
    const v = scalar()
    if (v === null) return undefined
    if (key === 'id') return Number.isSafeInteger(v) ? v : undefined
  }
  return undefined
}

// ---- records ----

export function toWireBatch(b: GatewayPartitionBatch): WireBatch {
  const records: WireRecord[] = new Array(b.records.length)
  for (let i = 0; i < b.records.length; i++) {
    const r = b.records[i]!
    records[i] = [r.timestamp, r.key, r.value, r.headers]
  }
  return { topic: b.topic, partition: b.partition, batchId: b.batchId, records }
}

export function fromWireRecord(r: WireRecord): GatewayRecord {
  return { timestamp: r[0], key: r[1], value: r[2], headers: r[3] }
}

/** The error a client raises for an error frame. */
export function errorFromFrame(f: ErrorFrame, tokenRefreshable = false): IsoKafkaError {
  const message = `gateway: ${f.message || f.code}`
  switch (f.code) {
    case 'UNAUTHENTICATED':
      return new AuthenticationError(message)
    case 'TOKEN_EXPIRED':
      // with a token provider a reconnect fetches a fresh token: worth retrying
      return tokenRefreshable ? new IsoKafkaError('TOKEN_EXPIRED', message, { retriable: true }) : new AuthenticationError(message)
    case 'FRAME_TOO_LARGE':
      return new RecordTooLargeError(message)
    default:
      return new IsoKafkaError(f.code, message, { retriable: f.retriable === true || isRetriableCode(f.code) })
  }
}

// ---- base64 (REST proxies carry binary as base64) ----

export function toBase64(bytes: Uint8Array): string {
  let s = ''
  const CHUNK = 0x8000
  for (let i = 0; i < bytes.length; i += CHUNK) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[])
  }
  return btoa(s)
}

export function fromBase64(s: string): Uint8Array {
  const bin = atob(s)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/**
 * Splits concatenated JSON values (`{...}{...}` or one per line), as REST Proxy v3 streams records and responses.
 * Returns the parsed values; throws SyntaxError on malformed input.
 */
export function splitJsonStream(text: string): unknown[] {
  const out: unknown[] = []
  let depth = 0
  let inString = false
  let start = -1
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) {
      if (depth === 0) throw new SyntaxError(`a JSON stream holds objects or arrays, found a string at ${i}`)
      inString = true
    } else if (c === 0x7b || c === 0x5b) {
      if (depth === 0) start = i
      depth++
    } else if (c === 0x7d || c === 0x5d) {
      depth--
      if (depth < 0) throw new SyntaxError('unbalanced JSON stream')
      if (depth === 0) {
        out.push(JSON.parse(text.slice(start, i + 1)))
        start = -1
      }
    } else if (depth === 0 && !(c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x2c)) {
      throw new SyntaxError(`unexpected character at ${i} in a JSON stream`)
    }
  }
  if (depth !== 0 || inString) throw new SyntaxError('truncated JSON stream')
  return out
}

/** The result for a batch that cannot fit in any frame: Kafka's MESSAGE_TOO_LARGE (10), for that batch alone. */
export function messageTooLarge(b: { topic: string; partition: number; batchId: string }, message: string): GatewayPartitionResult {
  return { topic: b.topic, partition: b.partition, batchId: b.batchId, errorCode: 10, baseOffset: -1, logAppendTime: -1, message }
}
