// A producer's pending send (one record on its way into a batch) and the per-record checks that build it: topic
// names, header encoding, and how a send that never reached a batch is refused.
import { InvalidArgumentError, IsoKafkaError } from '../errors.js'
import type { EncodedHeader } from '../protocol/record-batch.js'
import {
  deliver,
  ignoreOutcome,
  SETTLES_PROMISE,
  type DeliveryCallback,
  type RecordToAppend,
} from './producer-batch.js'
import type { HeaderValue, RecordHeaders } from './producer.js'

export interface PendingSend extends RecordToAppend {
  headers: EncodedHeader[]
  deadline: number
  seq: number
  partitionPromise: Promise<number> | null
  callback: DeliveryCallback
}

/**
 * A pending send with every field in place, so all of them share one hidden class. `timestamp` starts out as null
 * on purpose: a field whose first value is a double is stored unboxed by V8, and then every read of it that goes on
 * as a value (the batch builder's) boxes a new 16-byte heap number: one per record for each read. Starting from null
 * makes it a plain reference to the heap number the clock returned, read without a copy.
 */
export function blankPendingSend(): PendingSend {
  return {
    topic: '',
    partition: -1,
    key: null,
    value: null,
    headers: [],
    timestamp: null as unknown as number,
    estimate: 0,
    now: 0,
    deadline: 0,
    seq: 0,
    partitionPromise: null,
    callback: ignoreOutcome,
    reject: null,
    promise: null,
    tag: undefined,
  }
}

/** A copy of a pending send that has to wait (the scratch object is reused by the next send), in the same shape. */
export function copyPendingSend(e: PendingSend): PendingSend {
  return {
    topic: e.topic,
    partition: e.partition,
    key: e.key,
    value: e.value,
    headers: e.headers,
    timestamp: e.timestamp,
    estimate: e.estimate,
    now: e.now,
    deadline: e.deadline,
    seq: e.seq,
    partitionPromise: e.partitionPromise,
    callback: e.callback,
    reject: e.reject,
    promise: null, // the caller holds it
    tag: e.tag,
  }
}

/** Fails a send that never reached a batch. Always later than the call, so produce()'s callback never runs inside it. */
export function refuse(e: PendingSend, err: Error): void {
  // a send() refused before it waited: its promise is simply a rejected one
  if (e.callback === SETTLES_PROMISE) e.promise = Promise.reject(err)
  else {
    const { callback, reject, tag } = e
    queueMicrotask(() => (reject !== null ? reject(err) : deliver(callback, err, null, tag)))
  }
}

const utf8 = new TextEncoder()
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/

const validTopics = new Set<string>()
let lastValidTopic: string | null = null
export function validateTopic(topic: unknown): string | null {
  if (topic === lastValidTopic) return null
  if (typeof topic === 'string' && validTopics.has(topic)) {
    lastValidTopic = topic
    return null
  }
  if (typeof topic !== 'string') return 'topic must be a string'
  if (topic === '.' || topic === '..') return `topic name "${topic}" is not allowed`
  if (!LEGAL_TOPIC.test(topic)) return `topic name "${topic}" must be 1-249 characters of [a-zA-Z0-9._-]`
  if (validTopics.size < 10000) validTopics.add(topic)
  return null
}

export function partitionerFailed(err: unknown): Error {
  return err instanceof IsoKafkaError
    ? err
    : new InvalidArgumentError('PARTITIONER_FAILED', `the partitioner failed: ${String(err)}`, { cause: err })
}

const NO_HEADERS: EncodedHeader[] = []
export function encodeHeaders(headers: RecordHeaders | undefined): EncodedHeader[] {
  if (!headers) return NO_HEADERS
  const entries = Array.isArray(headers)
    ? (headers as ReadonlyArray<readonly [string, HeaderValue]>)
    : Object.entries(headers)
  if (entries.length === 0) return NO_HEADERS // `[]` or `{}` (a gateway's header-less records): no array per record
  const out: EncodedHeader[] = []
  for (const [name, value] of entries) {
    if (typeof name !== 'string') throw new InvalidArgumentError('INVALID_HEADER', 'header names must be strings')
    let bytes: Uint8Array | null
    if (value === null || value === undefined) bytes = null
    else if (typeof value === 'string') bytes = utf8.encode(value)
    else if (value instanceof Uint8Array) bytes = value
    else throw new InvalidArgumentError('INVALID_HEADER', `header "${name}" must be a string, Uint8Array or null`)
    out.push({ key: utf8.encode(name), value: bytes })
  }
  return out
}
