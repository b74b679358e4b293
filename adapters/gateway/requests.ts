/**
 * Produce and metadata requests of an authenticated session, the same for WebSocket frames and HTTP bodies: limits
 * (records/s, topic lookups/s, batches in flight per session and overall), the token's allow-list, the batch ledger
 * (a resent batch id is answered from memory), and the records handed to the Kafka side.
 */
import type { RecordMetadata } from '../../src/producer/producer-batch.js'
import type { ProducerRecord } from '../../src/producer/producer.js'
import {
  isRetriableCode,
  type AckFrame,
  type ErrorFrame,
  type GatewayErrorCode,
  type GatewayLimits,
  type MetadataResponseFrame,
  type ServerFrame,
  type WireBatch,
  type WireRecord,
  type WireResult,
} from '../gateway-wire/index.js'
import { BatchLedger, batchDigest, ledgerKey, type LedgerEntry } from './batch-ledger.js'
import type { PieceCallback } from './direct-append.js'
import { forEachFastRecord, type FastBatch, type FastProduce, type RecordSink } from './fast-produce.js'
import { Backpressure, TokenBucket, recordCost } from './limits.js'
import type { GatewayLog } from './log.js'
import type { MetricsRegistry } from './metrics.js'
import { kafkaErrorBasics } from '../../src/protocol/error-codes.js'
import { errorCodeOf, safeMessage, type KafkaSide, type TopicMeta } from './producing.js'
import { topicAllowed, type GatewayTokenClaims } from './token.js'
import { BadFrame, LimitExceeded, parseMetadataTopics, parseProduce } from './validate.js'

/** A client batch of a decoded frame (the general path): its records as decoded, with digest and cost computed. */
type DecodedBatch = Omit<FastBatch, 'src' | 'at'> & { records: WireRecord[] }
/** A client batch: read in place (fast-produce.ts) or decoded. */
type InBatch = FastBatch | DecodedBatch
const isDecoded = (b: InBatch): b is DecodedBatch => (b as DecodedBatch).records !== undefined

/** A produce frame as the server's decoder hands it over when the fast path read it: `{ t, id, fast }`. */
export const FAST_FRAME = 'fast'

/** Verifies a token: its claims, or the error frame to answer (UNAUTHENTICATED, TOKEN_EXPIRED). */
export type Authenticate = (token: string | null | undefined) => Promise<{ claims: GatewayTokenClaims } | ErrorFrame>

/** Who is asking, with the limits that belong to them (a WebSocket connection, or a token subject over HTTP). */
export interface Session {
  claims: GatewayTokenClaims
  /** Scopes batch ids and HTTP limits: the token's subject, or its signature when it has none. */
  namespace: string
  records: TokenBucket
  lookups: TokenBucket
  inFlightBatches: number
}

export function sessionNamespace(claims: GatewayTokenClaims, token: string): string {
  return claims.sub !== null ? `sub:${claims.sub}` : `sig:${token.slice(token.lastIndexOf('.') + 1)}`
}

export class Requests {
  /** All sessions together may look up this many uncached topics a second (each miss is a metadata request). */
  private readonly globalLookups: TokenBucket
  private readonly warnedPatterns = new Set<string>()
  /** Requests being handled (the drain waits for them). */
  active = 0

  constructor(
    private readonly kafka: KafkaSide,
    readonly ledger: BatchLedger,
    private readonly backpressure: Backpressure,
    private readonly metrics: MetricsRegistry,
    private readonly limits: Required<GatewayLimits>,
    private readonly allowAutoTopicCreation: boolean,
    private readonly log: GatewayLog,
  ) {
    const perSession = limits.metadataTopicsPerSecond
    this.globalLookups = new TokenBucket(perSession > 0 ? Math.max(200, perSession * 2) : 0)
  }

  newSession(claims: GatewayTokenClaims, token: string): Session {
    const namespace = sessionNamespace(claims, token)
    if (
      this.allowAutoTopicCreation &&
      claims.topics.some((t) => t.endsWith('*')) &&
      !this.warnedPatterns.has(namespace)
    ) {
      if (this.warnedPatterns.size < 10_000) this.warnedPatterns.add(namespace)
      this.log.warn(
        'a token with a topic pattern while auto-creation is on: its holder can create topics (bounded by metadataTopicsPerSecond)',
        { subject: claims.sub },
      )
    }
    return {
      claims,
      namespace,
      inFlightBatches: 0,
      records: new TokenBucket(this.limits.recordsPerSecond),
      lookups: new TokenBucket(this.limits.metadataTopicsPerSecond),
    }
  }

  errorFrame(code: GatewayErrorCode, message: string, extra: Partial<ErrorFrame> = {}): ErrorFrame {
    this.metrics.refuse(code)
    return {
      t: 'error',
      ...(extra.id !== undefined ? { id: extra.id } : {}),
      code,
      message,
      retriable: isRetriableCode(code),
      ...extra,
    }
  }

  /**
   * Charges the lookups of topics not in the cache to the session's and the gateway's buckets (WebSocket frames,
   * /v1 and REST requests alike); null when allowed, else ms to wait (Infinity: more than the bucket ever holds).
   * A known topic whose entry is stale costs the caller nothing: it is answered from the cache, and refreshed in the
   * background when the gateway's bucket has a token for it (else a later request refreshes it).
   */
  chargeLookups(session: Session, topics: Iterable<string>): number | null {
    let misses = 0
    let stale: string[] | null = null
    for (const t of topics) {
      const state = this.kafka.cacheState(t)
      if (state === 'miss') misses++
      else if (state === 'stale') (stale ??= []).push(t)
    }
    if (misses > 0) {
      // both buckets must have room before either is charged
      const own = session.lookups.check(misses)
      const all = this.globalLookups.check(misses)
      if (own !== null || all !== null) return Math.max(own ?? 0, all ?? 0)
      session.lookups.take(misses)
      this.globalLookups.take(misses)
    }
    if (stale !== null) for (const t of stale) if (this.globalLookups.take(1) === null) this.kafka.refresh(t)
    return null
  }

  /** A produce frame → ack (or error) frame. */
  produce(session: Session, raw: Record<string, unknown>): Promise<ServerFrame> {
    return this.tracked(() => this.produceRequest(session, raw))
  }

  /** A metadata frame → metadata (or error) frame. */
  metadata(session: Session, raw: Record<string, unknown>): Promise<ServerFrame> {
    return this.tracked(() => this.metadataRequest(session, raw))
  }

  /** Counts a request as active while it runs (the drain waits for active requests). */
  private async tracked(run: () => Promise<ServerFrame>): Promise<ServerFrame> {
    this.active++
    try {
      return await run()
    } finally {
      this.active--
    }
  }

  private async produceRequest(session: Session, raw: Record<string, unknown>): Promise<ServerFrame> {
    const id = raw.id as number
    let frame: { acks: number; timeoutMs: number; batches: InBatch[]; records: number }
    const fast = raw[FAST_FRAME] as FastProduce | undefined
    if (fast !== undefined) frame = fast
    else {
      try {
        const parsed = parseProduce(raw, this.limits)
        frame = { ...parsed, batches: parsed.batches.map(decodedBatch) }
      } catch (err) {
        if (err instanceof LimitExceeded) return this.errorFrame('LIMIT_EXCEEDED', err.message, { id })
        return this.errorFrame('MALFORMED', (err as Error).message, { id })
      }
    }
    if (Date.now() / 1000 >= session.claims.exp)
      return this.errorFrame('TOKEN_EXPIRED', 'the token has expired; send a new hello', { id })
    const n = frame.batches.length
    if (session.inFlightBatches + n > this.limits.maxInFlightBatches) {
      return this.errorFrame(
        'TOO_MANY_IN_FLIGHT',
        `at most ${this.limits.maxInFlightBatches} batches may wait for Kafka per connection`,
        { id, retryAfterMs: 50 },
      )
    }
    if (!this.ledger.hasRoomFor(n)) {
      return this.errorFrame(
        'TOO_MANY_IN_FLIGHT',
        'the gateway has as many batches waiting for Kafka as it takes; try again shortly',
        { id, retryAfterMs: 100 },
      )
    }
    const allowed = new Set<string>()
    for (const b of frame.batches) if (topicAllowed(session.claims.topics, b.topic)) allowed.add(b.topic)
    const lookupWait = this.chargeLookups(session, allowed)
    if (lookupWait !== null) {
      return this.errorFrame('RATE_LIMITED', `more than ${this.limits.metadataTopicsPerSecond} topic lookups/s`, {
        id,
        retryAfterMs: Number.isFinite(lookupWait) ? lookupWait : 1000,
      })
    }
    const wait = session.records.take(frame.records)
    if (wait !== null) {
      return this.errorFrame('RATE_LIMITED', `more than ${this.limits.recordsPerSecond} records/s on this connection`, {
        id,
        retryAfterMs: wait,
      })
    }
    this.metrics.batchesIn += n
    session.inFlightBatches += n
    try {
      const results = await Promise.all(
        frame.batches.map((b) => this.produceBatch(session, b, frame.acks, frame.timeoutMs)),
      )
      for (const r of results) if (r.errorCode !== 0) r.error = kafkaErrorBasics(r.errorCode).name
      return { t: 'ack', id, results } satisfies AckFrame
    } finally {
      session.inFlightBatches -= n
    }
  }

  private async metadataRequest(session: Session, raw: Record<string, unknown>): Promise<ServerFrame> {
    const id = raw.id as number
    let topics: string[]
    try {
      topics = parseMetadataTopics(raw)
    } catch (err) {
      return this.errorFrame('MALFORMED', (err as BadFrame).message, { id })
    }
    if (Date.now() / 1000 >= session.claims.exp)
      return this.errorFrame('TOKEN_EXPIRED', 'the token has expired; send a new hello', { id })
    const wanted = new Set(topics.filter((t) => topicAllowed(session.claims.topics, t)))
    const wait = this.chargeLookups(session, wanted)
    if (wait !== null) {
      return this.errorFrame('RATE_LIMITED', `more than ${this.limits.metadataTopicsPerSecond} topic lookups/s`, {
        id,
        retryAfterMs: Number.isFinite(wait) ? wait : 1000,
      })
    }
    const out = await Promise.all(
      topics.map(async (topic) => {
        if (!wanted.has(topic)) {
          this.metrics.refuse('TOPIC_AUTHORIZATION_FAILED')
          return {
            topic,
            partitions: 0,
            errorCode: 29,
            error: 'TOPIC_AUTHORIZATION_FAILED',
            message: 'this token may not produce to this topic',
          }
        }
        const meta = await this.kafka.lookupTopic(topic)
        return {
          topic,
          partitions: meta.partitions,
          errorCode: meta.errorCode,
          ...(meta.errorCode !== 0 ? { error: kafkaErrorBasics(meta.errorCode).name } : {}),
        }
      }),
    )
    return { t: 'metadata', id, topics: out } satisfies MetadataResponseFrame
  }

  /**
   * One client batch → its result (waits for Kafka, at most `timeoutMs`). Not an async function: a frame's batches
   * whose topic is cached run without a turn of the event loop, and the wait is one promise and one timer (an async
   * function with Promise.race made ~2.5 KB of promises and closures a batch).
   */
  private produceBatch(session: Session, b: InBatch, acks: number, timeoutMs: number): Promise<WireResult> {
    if (!topicAllowed(session.claims.topics, b.topic)) {
      this.metrics.refuse('TOPIC_AUTHORIZATION_FAILED')
      return Promise.resolve({
        ...this.noResult(b),
        errorCode: 29,
        message: `this token may not produce to topic ${b.topic}`,
      })
    }
    const cached = this.kafka.cachedTopic(b.topic)
    if (cached !== undefined) return this.produceKnown(session, b, acks, timeoutMs, cached)
    return this.kafka.lookupTopic(b.topic).then((meta) => this.produceKnown(session, b, acks, timeoutMs, meta))
  }

  private noResult(b: InBatch): Omit<WireResult, 'errorCode'> {
    return { topic: b.topic, partition: b.partition, batchId: b.batchId, baseOffset: -1, logAppendTime: -1 }
  }

  private produceKnown(
    session: Session,
    b: InBatch,
    acks: number,
    timeoutMs: number,
    meta: TopicMeta,
  ): Promise<WireResult> {
    try {
      if (meta.errorCode !== 0) {
        this.metrics.refuse(`KAFKA_${meta.errorCode}`)
        return Promise.resolve({ ...this.noResult(b), errorCode: meta.errorCode, message: `topic ${b.topic}` })
      }
      if (b.partition >= meta.partitions) {
        this.metrics.refuse('KAFKA_3')
        return Promise.resolve({
          ...this.noResult(b),
          errorCode: 3,
          message: `partition ${b.partition} is not in [0, ${meta.partitions}) for topic ${b.topic}`,
        })
      }
      const key = ledgerKey(session.namespace, b.batchId)
      const digest = b.digest
      let entry = this.ledger.get(key)
      if (
        entry &&
        (entry.topic !== b.topic ||
          entry.partition !== b.partition ||
          entry.count !== b.count ||
          entry.digest !== digest)
      ) {
        this.metrics.refuse('BATCH_ID_REUSED')
        return Promise.resolve({
          ...this.noResult(b),
          errorCode: 42,
          message: `batch id ${b.batchId} was already used for other records`,
        })
      }
      if (entry && (entry.pending || entry.result?.errorCode === 0)) {
        this.metrics.dedupHits++
      } else {
        entry ??= {
          topic: b.topic,
          partition: b.partition,
          count: b.count,
          digest,
          offsets: null,
          runBase: -1,
          runCount: 0,
          logAppendTime: -1,
          pending: null,
          result: null,
        }
        this.runBatch(key, entry, b)
      }
      // The producer copied the records: let go of the frame's bytes now rather than when Kafka answers (a frame's
      // buffer would otherwise stay alive, through this batch, for as long as its slowest batch waits).
      releaseRecords(b)
      const batchId = b.batchId
      if (acks === 0) return Promise.resolve({ ...this.noResult(b), errorCode: 0 })
      const done = entry
      const pending = done.pending
      if (pending === null) return Promise.resolve({ ...done.result!, batchId })
      return new Promise<WireResult>((resolve) => {
        const timer = setTimeout(() => {
          this.metrics.refuse('KAFKA_7')
          resolve({
            ...this.noResult(b),
            errorCode: 7,
            message: `Kafka did not acknowledge within ${timeoutMs} ms; resend the same batch id`,
          })
        }, timeoutMs)
        pending.then(() => {
          clearTimeout(timer)
          resolve({ ...done.result!, batchId })
        })
      })
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** The record handed to produce(), reused (produce() copies what it keeps). */
  private readonly record: ProducerRecord<Uint8Array | null, Uint8Array | null> = {
    topic: '',
    partition: 0,
    key: undefined,
    value: null,
    headers: undefined,
    timestamp: 0,
  }

  /**
   * Produces a client batch (or the part of it not yet acknowledged) and fills its ledger entry. Records go straight
   * into the producer's accumulator with a callback per piece that shares a Kafka batch (direct-append.ts), or, when
   * that way is closed (a resend of part of a batch, a frame the fast parser left to the full decoder, sends queued
   * for memory), to produce() with one small callback each (no promise per record). The entry settles when the last
   * record is accounted for.
   */
  private runBatch(key: string, entry: LedgerEntry, b: InBatch): void {
    let todo = entry.count - entry.runCount
    if (entry.offsets !== null) {
      const offsets = entry.offsets
      todo = 0
      for (let i = 0; i < entry.count; i++) if (offsets[i] === undefined) todo++
    }
    // a partial resend holds its share of the batch's cost
    const bytes = todo === entry.count ? b.cost : Math.ceil((b.cost * todo) / entry.count)
    const producer = this.kafka.producer
    const started = Date.now()
    this.ledger.start(key, entry)
    this.backpressure.add(bytes)
    this.metrics.recordsIn += todo
    entry.result = null
    let resolve!: () => void
    entry.pending = new Promise<void>((r) => (resolve = r))
    let left = todo
    let firstError: unknown = null
    const finish = () => {
      this.backpressure.sub(bytes)
      this.metrics.kafkaLatency(Date.now() - started)
      entry.pending = null
      this.ledger.finish(key, entry)
      if (firstError) {
        this.kafka.checkFatal(firstError, producer)
        const code = errorCodeOf(firstError)
        this.metrics.refuse(`KAFKA_${code}`)
        entry.result = {
          topic: entry.topic,
          partition: entry.partition,
          batchId: '',
          errorCode: code === 0 ? -1 : code,
          baseOffset: -1,
          logAppendTime: -1,
          message: safeMessage(firstError),
        }
        // the records written stay as they are (run or array): a retry resends only the others (runBatch)
        return resolve()
      }
      const done = entry.offsets as number[] | null
      let contiguous = true
      if (done !== null) for (let i = 1; i < done.length; i++) if (done[i] !== done[0]! + i) contiguous = false
      // the result says it all; keep remembered batches small
      entry.offsets = null
      entry.runCount = 0
      this.metrics.batchesAcked++
      entry.result = {
        topic: entry.topic,
        partition: entry.partition,
        batchId: '',
        errorCode: 0,
        baseOffset: done === null ? entry.runBase : done[0]!,
        logAppendTime: entry.logAppendTime,
        ...(contiguous ? {} : { offsets: [...done!] }),
      }
      resolve()
    }
    if (todo === 0) return finish()
    // records that went to produce(): one callback for them all, told which record by produce()'s tag (the
    // record's index), and their timestamps in one array (a closure per record was ~110 bytes for every record
    // waiting for Kafka, promoted to the old space and collected there by the hundred thousand)
    const direct = this.kafka.direct
    let timestamps: Float64Array | null = null
    const settle = (err: unknown, meta: RecordMetadata | null, i: number) => {
      direct.viaProduce--
      if (err || meta === null) {
        this.metrics.recordsFailed++
        firstError ??= err ?? new Error('no metadata')
      } else {
        offsetsOf(entry)[i] = meta.offset
        if (meta.timestamp !== timestamps![i]) entry.logAppendTime = meta.timestamp
        this.metrics.recordsOut++
      }
      if (--left === 0) finish()
    }
    const onPiece: PieceCallback = (err, first, count, offset, logAppendTime) => {
      if (err !== null) {
        this.metrics.recordsFailed += count
        firstError ??= err
      } else {
        if (entry.offsets === null && first === entry.runCount && (first === 0 || offset === entry.runBase + first)) {
          // the usual way: this piece continues the records written so far, at the next offsets
          if (first === 0) entry.runBase = offset
          entry.runCount += count
        } else {
          const offsets = offsetsOf(entry)
          for (let k = 0; k < count; k++) offsets[first + k] = offset + k
        }
        if (logAppendTime >= 0) entry.logAppendTime = logAppendTime
        this.metrics.recordsOut += count
      }
      if ((left -= count) === 0) finish()
    }
    const record = this.record
    record.topic = entry.topic
    record.partition = entry.partition
    const viaProduce: RecordSink = (i, timestamp, key, value, headers) => {
      record.key = key ?? undefined
      record.value = value
      record.headers = headers
      record.timestamp = timestamp
      ;(timestamps ??= new Float64Array(entry.count))[i] = timestamp
      direct.viaProduce++
      try {
        producer.produce(record, settle, i)
      } catch (err) {
        settle(err, null, i)
      }
    }
    const skip = todo === entry.count ? null : skipWritten(offsetsOf(entry))
    if (isDecoded(b)) {
      for (let i = 0; i < entry.count; i++) {
        if (skip !== null && skip(i)) continue
        const r = b.records[i]!
        viaProduce(i, r[0], r[1], r[2], r[3])
      }
    } else if (skip === null && direct.begin(entry.topic, entry.partition, started, onPiece)) {
      // the usual way: straight into the producer's accumulator, one callback per piece (direct-append.ts); from
      // the first record that cannot go that way (bufferMemory full), the rest through produce(), in order
      let rest = false
      forEachFastRecord(
        b,
        (i, timestamp, key, value, headers) => {
          if (!rest && direct.append(i, timestamp, key, value, headers)) return
          rest = true
          viaProduce(i, timestamp, key, value, headers)
        },
        null,
      )
      direct.end()
    } else forEachFastRecord(b, viaProduce, skip)
    record.key = undefined
    record.value = null
    record.headers = undefined
  }
}

/** A ledger entry's offsets array, made from its run of written records if it has none yet. */
function offsetsOf(entry: LedgerEntry): Array<number | undefined> {
  let offsets = entry.offsets
  if (offsets === null) {
    offsets = entry.offsets = new Array(entry.count)
    for (let k = 0; k < entry.runCount; k++) offsets[k] = entry.runBase + k
    entry.runCount = 0
  }
  return offsets
}

const skipWritten = (offsets: Array<number | undefined>) => (i: number) => offsets[i] !== undefined

const NO_BYTES = new Uint8Array(0)
const NO_RECORDS: WireRecord[] = []

/** Drops a batch's reference to its frame's records once they were handed to the producer (or not needed). */
function releaseRecords(b: InBatch): void {
  if (isDecoded(b)) b.records = NO_RECORDS
  else b.src = NO_BYTES
}

/** A decoded client batch with its digest and cost. */
function decodedBatch(b: WireBatch): DecodedBatch {
  let cost = 0
  for (const r of b.records) cost += recordCost(r[1], r[2], r[3])
  return {
    topic: b.topic,
    partition: b.partition,
    batchId: b.batchId,
    count: b.records.length,
    digest: batchDigest(b.records),
    cost,
    records: b.records,
  }
}
