/**
 * The isokafka gateway frames (docs/gateway-protocol.md), declared once for the gateway server and the websocket and
 * fetch transports. Runtime-free: Web-standard APIs only; MessagePack is ./msgpack.ts (a compact codec for the types
 * frames use, wire-compatible with any standard MessagePack library).
 *
 * Every frame is one MessagePack map with a string `t` (type). Requests carry a numeric `id` echoed by the answer.
 * Encoders here put `t` and `id` first, so a server can answer a frame it refuses to decode (too large) with its id.
 */
import { decode, encode, encodeClientValue, MsgpackRaw, type DecodeLimits } from './msgpack.js'
export { MsgpackError, MsgpackRaw } from './msgpack.js'
import { AuthenticationError, IsoKafkaError, MalformedResponseError, RecordTooLargeError } from '../../src/errors.js'
import type {
  GatewayPartitionBatch,
  GatewayPartitionResult,
  GatewayRecord,
  GatewayTopicMetadata,
} from '../../src/transport.js'

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

/** A batch as a client encodes it: the producer's records as they are (see GatewayPartitionBatch.records). */
export interface OutgoingBatch {
  topic: string
  partition: number
  batchId: string
  records: MsgpackRaw
}

export interface GatewayLimits {
  /** Largest frame (WebSocket message or HTTP body) in bytes. */
  maxFrameBytes: number
  /** Client batches a connection may have waiting for Kafka at once. */
  maxInFlightBatches: number
  /** Records per second per connection (token bucket, one second of burst); 0 = unlimited. */
  recordsPerSecond: number
  /**
   * Records in one frame at most (never more than recordsPerSecond when that is set). Absent from gateways before
   * this limit existed; clients then assume no limit.
   */
  maxRecordsPerFrame?: number
  /** Topic lookups (metadata frames and the topics of produce frames) per second per connection; 0 = unlimited. */
  metadataTopicsPerSecond?: number
}

/**
 * A gateway's default batch and record limits per frame (its welcome can say otherwise). The server's defaults, and
 * what the transports assume before a welcome (WebSocket) or without one (fetch).
 */
export const DEFAULT_MAX_IN_FLIGHT_BATCHES = 256
export const DEFAULT_MAX_RECORDS_PER_FRAME = 10_000

export interface HelloFrame {
  t: 'hello'
  v: number
  token?: string
}
export interface WelcomeFrame {
  t: 'welcome'
  v: number
  session: string
  subject: string | null
  expiresAt: number
  limits: GatewayLimits
}
export interface MetadataRequestFrame {
  t: 'metadata'
  id: number
  topics: string[]
}
export interface MetadataResponseFrame {
  t: 'metadata'
  id: number
  topics: Array<GatewayTopicMetadata & { message?: string }>
}
export interface ProduceFrame {
  t: 'produce'
  id: number
  acks: -1 | 0 | 1
  timeoutMs: number
  batches: WireBatch[]
}
/** The same frame as a client encodes it. */
export interface OutgoingProduceFrame {
  t: 'produce'
  id: number
  acks: -1 | 0 | 1
  timeoutMs: number
  batches: OutgoingBatch[]
}
export interface WireResult extends GatewayPartitionResult {
  /** Present only when the batch's offsets are not consecutive. */
  offsets?: number[]
}
export interface AckFrame {
  t: 'ack'
  id: number
  results: WireResult[]
}
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
  | 'LIMIT_EXCEEDED' // a frame that no wait makes acceptable: more batches than maxInFlightBatches, more records than maxRecordsPerFrame
  | 'UNAVAILABLE' // the gateway is over capacity or shutting down
  | 'INTERNAL'

const RETRIABLE_CODES = new Set<GatewayErrorCode>(['RATE_LIMITED', 'TOO_MANY_IN_FLIGHT', 'UNAVAILABLE', 'INTERNAL'])
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
export function encodeFrame(frame: ClientFrame | OutgoingProduceFrame | ServerFrame): Uint8Array {
  return encode(frame)
}

/** What a transport sends: the same bytes as encodeFrame(), from an encoder of only the types these frames hold. */
export function encodeClientFrame(frame: HelloFrame | MetadataRequestFrame | OutgoingProduceFrame): Uint8Array {
  return encodeClientValue(frame)
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

const CLIENT_LIMITS = frameLimits(64 << 20)
/** Decode a server frame (client side). Throws MalformedResponseError (MALFORMED_RESPONSE, retriable) on garbage. */
export function decodeServerFrame(bytes: Uint8Array): ServerFrame {
  let v: unknown
  try {
    // the decoder itself checks the frame's shape (depth, lengths against the bytes left) before allocating
    v = decode(bytes, CLIENT_LIMITS)
  } catch (cause) {
    throw new MalformedResponseError('the gateway sent a frame that is not MessagePack', { cause })
  }
  if (!v || typeof v !== 'object' || typeof (v as { t?: unknown }).t !== 'string') {
    throw new MalformedResponseError('the gateway sent a frame without a type')
  }
  return v as ServerFrame
}

/** Most partitions a topic may be said to have: far above any real topic, and the producer lists them all. */
export const MAX_PARTITIONS = 100_000

/**
 * Whether `f` is a well-formed `t` answer to request `id` asking for `asked` (batch ids, or topics): its entries are
 * for ids or topics asked, each at most once, and typed as declared (integer codes and offsets, at most MAX_PARTITIONS
 * partitions). A client refuses any other answer whole (MALFORMED_RESPONSE, retriable), so nothing in it is taken as
 * acknowledged or as a partition count; a batch the answer leaves out is the gateway backend's MALFORMED_RESPONSE.
 */
export function answerOk(f: ServerFrame, t: 'ack' | 'metadata', id: number, asked: readonly string[]): boolean {
  const isInt = Number.isSafeInteger
  const ack = t === 'ack'
  const entries: unknown = ack ? (f as AckFrame).results : (f as MetadataResponseFrame).topics
  const left = new Set(asked)
  return (
    f.t === t &&
    (f as { id?: unknown }).id === id &&
    Array.isArray(entries) &&
    entries.every(
      (e: Record<string, unknown>) =>
        left.delete(e?.[ack ? 'batchId' : 'topic'] as string) &&
        isInt(e.errorCode) &&
        (ack
          ? isInt(e.baseOffset) && (e.offsets === undefined || (Array.isArray(e.offsets) && e.offsets.every(isInt)))
          : isInt(e.partitions) && (e.partitions as number) >= 0 && (e.partitions as number) <= MAX_PARTITIONS),
    )
  )
}

// ---- records ----

/** A producer batch in a frame: its records go in as the producer wrote them (already MessagePack). */
export function toWireBatch(b: GatewayPartitionBatch): OutgoingBatch {
  return { topic: b.topic, partition: b.partition, batchId: b.batchId, records: new MsgpackRaw(b.records, b.count) }
}

/** Records in a frame's batch, decoded or not. */
export function recordCount(b: OutgoingBatch): number {
  return b.records.count
}

/** A producer batch's records, decoded (the REST proxy path sends them as JSON; tests read them). */
export function decodeWireRecords(records: Uint8Array): WireRecord[] {
  return decode(records) as WireRecord[]
}

export function fromWireRecord(r: WireRecord): GatewayRecord {
  return { timestamp: r[0], key: r[1], value: r[2], headers: r[3] }
}

/** The error a client raises for an error frame. */
export function errorFromFrame(f: ErrorFrame, tokenRefreshable = false): IsoKafkaError {
  // only a string message, capped (a gateway's frame may hold anything there)
  const message = `gateway: ${(typeof f.message === 'string' && f.message ? f.message : f.code).slice(0, 1000)}`
  switch (f.code) {
    case 'UNAUTHENTICATED':
      return new AuthenticationError(message)
    case 'TOKEN_EXPIRED':
      // with a token provider a reconnect fetches a fresh token: worth retrying
      return tokenRefreshable
        ? new IsoKafkaError('TOKEN_EXPIRED', message, { retriable: true })
        : new AuthenticationError(message)
    case 'FRAME_TOO_LARGE':
      return new RecordTooLargeError(message)
    default:
      return new IsoKafkaError(f.code, message, { retriable: f.retriable === true || isRetriableCode(f.code) })
  }
}

/** `base` with the limits of a welcome that are integers in a sane range (a hostile gateway may send anything). */
export function welcomeLimits(l: Partial<GatewayLimits> | undefined, base: GatewayLimits): GatewayLimits {
  const ok = (k: keyof GatewayLimits, min: number) => {
    const v = l?.[k]
    return Number.isSafeInteger(v) && v! >= min && v! <= 1 << 26 ? v! : base[k]!
  }
  return {
    ...base,
    maxFrameBytes: ok('maxFrameBytes', 1024),
    maxInFlightBatches: ok('maxInFlightBatches', 1),
    maxRecordsPerFrame: ok('maxRecordsPerFrame', 1),
  }
}

/** The result for a batch that cannot fit in any frame: Kafka's MESSAGE_TOO_LARGE (10), for that batch alone. */
export function messageTooLarge(
  b: { topic: string; partition: number; batchId: string },
  message: string,
): GatewayPartitionResult {
  return {
    topic: b.topic,
    partition: b.partition,
    batchId: b.batchId,
    errorCode: 10,
    baseOffset: -1,
    logAppendTime: -1,
    message,
  }
}
