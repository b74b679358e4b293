/**
 * Validation of what clients send: produce frames (shape and limits, checked before any record is looked at
 * twice), REST Proxy records, and request paths. Failures are typed: BadFrame (the client sent something invalid:
 * MALFORMED / HTTP 400) and LimitExceeded (valid, but more than any wait makes acceptable: LIMIT_EXCEEDED / HTTP 413).
 */
import { fromBase64, type WireBatch } from '../gateway-wire/index.js'

export class BadFrame extends Error {}
export class LimitExceeded extends Error {}

export interface ProduceRequest {
  acks: number
  timeoutMs: number
  batches: WireBatch[]
  records: number
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/
export const validTopicName = (t: unknown): t is string =>
  typeof t === 'string' && TOPIC_NAME.test(t) && t !== '.' && t !== '..'
const isBytesOrNull = (v: unknown): v is Uint8Array | null => v === null || v instanceof Uint8Array

/** A produce frame's shape and limits (throws BadFrame or LimitExceeded naming the problem). */
export function parseProduce(
  f: Record<string, unknown>,
  limits: { maxInFlightBatches: number; maxRecordsPerFrame: number },
): ProduceRequest {
  const acks = f.acks ?? -1
  if (acks !== -1 && acks !== 0 && acks !== 1) throw new BadFrame('produce: acks must be -1, 0 or 1')
  const timeoutMs = f.timeoutMs ?? 30_000
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0))
    throw new BadFrame('produce: timeoutMs must be a positive number')
  const batches = f.batches
  if (!Array.isArray(batches) || batches.length === 0) throw new BadFrame('produce: batches must be a non-empty list')
  // limits first, from the lengths alone: a frame of 40,000 batches is refused before any of them is validated
  if (batches.length > limits.maxInFlightBatches) {
    throw new LimitExceeded(
      `produce: ${batches.length} batches in one frame; at most ${limits.maxInFlightBatches} (maxInFlightBatches)`,
    )
  }
  let records = 0
  for (const b of batches as WireBatch[]) {
    if (!b || typeof b !== 'object' || !Array.isArray(b.records))
      throw new BadFrame('produce: a batch is a map with a list of records')
    records += b.records.length
  }
  if (records > limits.maxRecordsPerFrame) {
    throw new LimitExceeded(
      `produce: ${records} records in one frame; at most ${limits.maxRecordsPerFrame} (maxRecordsPerFrame)`,
    )
  }
  const ids = new Set<string>()
  for (const b of batches as WireBatch[]) {
    if (!validTopicName(b.topic))
      throw new BadFrame(`produce: invalid topic name ${JSON.stringify(String(b.topic)).slice(0, 60)}`)
    if (!Number.isSafeInteger(b.partition) || b.partition < 0 || b.partition > 0x7fffffff)
      throw new BadFrame('produce: partition must be a non-negative int32')
    if (typeof b.batchId !== 'string' || b.batchId.length === 0 || b.batchId.length > 128)
      throw new BadFrame('produce: batchId must be a string of 1-128 characters')
    if (ids.has(b.batchId)) throw new BadFrame(`produce: batch id ${b.batchId.slice(0, 40)} appears twice in one frame`)
    ids.add(b.batchId)
    if (b.records.length === 0) throw new BadFrame('produce: records must be a non-empty list')
    for (const r of b.records) {
      if (!Array.isArray(r) || r.length !== 4)
        throw new BadFrame('produce: a record is [timestamp, key, value, headers]')
      if (!Number.isSafeInteger(r[0]) || r[0] < 0)
        throw new BadFrame('produce: a record timestamp must be a non-negative integer (ms)')
      if (!isBytesOrNull(r[1]) || !isBytesOrNull(r[2]))
        throw new BadFrame('produce: key and value must be binary or nil')
      if (!Array.isArray(r[3])) throw new BadFrame('produce: headers must be a list')
      for (const h of r[3]) {
        if (!Array.isArray(h) || h.length !== 2 || typeof h[0] !== 'string' || !isBytesOrNull(h[1])) {
          throw new BadFrame('produce: a header is [name, binary or nil]')
        }
      }
    }
  }
  return { acks, timeoutMs: Math.min(Math.max(timeoutMs, 100), 300_000), batches: batches as WireBatch[], records }
}

/** A metadata frame's topic list (throws BadFrame). */
export function parseMetadataTopics(f: Record<string, unknown>): string[] {
  const topics = f.topics
  if (
    !Array.isArray(topics) ||
    topics.length > 1000 ||
    !topics.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 249)
  ) {
    throw new BadFrame('metadata: topics must be a list of at most 1000 topic names')
  }
  return topics as string[]
}

/** decodeURIComponent that answers null for malformed %-encoding instead of throwing. */
export function decodePathPart(s: string): string | null {
  try {
    return decodeURIComponent(s)
  } catch {
    return null
  }
}

// ---- REST Proxy records ----

export interface RestRecord {
  partition: number | undefined
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
  timestamp?: number
  keyType?: string
  valueType?: string
}

const utf8 = new TextEncoder()
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function restData(field: unknown, what: string): { bytes: Uint8Array | null; type?: string } {
  if (field === undefined || field === null) return { bytes: null }
  if (typeof field !== 'object') throw new Error(`${what} must be an object {"type", "data"}`)
  const { type, data } = field as { type?: unknown; data?: unknown }
  const t = typeof type === 'string' ? type.toUpperCase() : 'JSON'
  if (data === undefined || data === null) return { bytes: null, type: t }
  if (t === 'BINARY') {
    if (typeof data !== 'string' || !BASE64.test(data)) throw new Error(`${what}.data must be base64 for type BINARY`)
    return { bytes: fromBase64(data), type: t }
  }
  if (t === 'STRING') {
    if (typeof data !== 'string') throw new Error(`${what}.data must be a string for type STRING`)
    return { bytes: utf8.encode(data), type: t }
  }
  if (t === 'JSON') return { bytes: utf8.encode(JSON.stringify(data)), type: t }
  throw new Error(`${what}.type ${t.slice(0, 20)} is not supported (BINARY, STRING, JSON; no schema registry here)`)
}

function checkPartition(p: unknown, partitions: number): number | undefined {
  if (p === undefined || p === null) return undefined
  if (!Number.isSafeInteger(p) || (p as number) < 0 || (p as number) >= partitions)
    throw new Error(`partition ${String(p).slice(0, 20)} is not in [0, ${partitions})`)
  return p as number
}

const V3_FIELDS = new Set(['partition_id', 'headers', 'key', 'value', 'timestamp'])

export function parseV3Record(item: unknown, partitions: number): RestRecord {
  if (!item || typeof item !== 'object' || Array.isArray(item)) throw new Error('a record must be a JSON object')
  const r = item as Record<string, unknown>
  // an unknown field is a mistake (a v2 body sent to v3, a misspelt "value"), not a record of nulls to write
  for (const k of Object.keys(r)) {
    if (!V3_FIELDS.has(k))
      throw new Error(`unknown field ${JSON.stringify(k.slice(0, 40))} in a record (${[...V3_FIELDS].join(', ')})`)
  }
  const key = restData(r.key, 'key')
  const value = restData(r.value, 'value')
  const headers: Array<[string, Uint8Array | null]> = []
  if (r.headers !== undefined) {
    if (!Array.isArray(r.headers)) throw new Error('headers must be a list')
    for (const h of r.headers as Array<{ name?: unknown; value?: unknown }>) {
      if (!h || typeof h.name !== 'string') throw new Error('a header needs a string name')
      if (h.value !== null && h.value !== undefined && (typeof h.value !== 'string' || !BASE64.test(h.value))) {
        throw new Error('a header value must be base64 or null')
      }
      headers.push([h.name, h.value === null || h.value === undefined ? null : fromBase64(h.value as string)])
    }
  }
  let timestamp: number | undefined
  if (r.timestamp !== undefined && r.timestamp !== null) {
    timestamp = typeof r.timestamp === 'number' ? r.timestamp : Date.parse(String(r.timestamp))
    if (!Number.isSafeInteger(timestamp) || timestamp < 0)
      throw new Error('timestamp must be an ISO-8601 date-time or ms since the epoch')
  }
  return {
    partition: checkPartition(r.partition_id, partitions),
    key: key.bytes,
    value: value.bytes,
    headers,
    timestamp,
    keyType: key.type,
    valueType: value.type,
  }
}

export function parseV2Record(item: unknown, embedded: 'binary' | 'json', partitions: number): RestRecord {
  if (!item || typeof item !== 'object' || Array.isArray(item)) throw new Error('a record must be a JSON object')
  const r = item as Record<string, unknown>
  const field = (v: unknown, what: string): Uint8Array | null => {
    if (v === undefined || v === null) return null
    if (embedded === 'json') return utf8.encode(JSON.stringify(v))
    if (typeof v !== 'string' || !BASE64.test(v)) throw new Error(`${what} must be base64`)
    return fromBase64(v)
  }
  return {
    key: field(r.key, 'key'),
    value: field(r.value, 'value'),
    partition: checkPartition(r.partition, partitions),
    headers: [],
  }
}
