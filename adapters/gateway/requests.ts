/**
 * Produce and metadata requests of an authenticated session, the same for WebSocket frames and HTTP bodies: limits
 * (records/s, topic lookups/s, batches in flight per session and overall), the token's allow-list, the batch ledger
 * (a resent batch id is answered from memory), and the records handed to the Kafka side.
 */
import type { RecordMetadata } from '../../src/producer/accumulator.js'
import {
  isRetriableCode, type AckFrame, type ErrorFrame, type GatewayErrorCode, type GatewayLimits, type MetadataResponseFrame,
  type ServerFrame, type WireBatch, type WireRecord, type WireResult,
} from '../gateway-wire/index.js'
import { BatchLedger, batchDigest, ledgerKey, type LedgerEntry } from './batch-ledger.js'
import { Backpressure, TokenBucket, recordCost } from './limits.js'
import type { GatewayLog } from './log.js'
import type { MetricsRegistry } from './metrics.js'
import { errorCodeOf, safeMessage, type KafkaSide, type OutRecord } from './producing.js'
import { topicAllowed, type GatewayTokenClaims } from './token.js'
import { BadFrame, LimitExceeded, parseMetadataTopics, parseProduce, type ProduceRequest } from './validate.js'

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
    if (this.allowAutoTopicCreation && claims.topics.some((t) => t.endsWith('*')) && !this.warnedPatterns.has(namespace)) {
      if (this.warnedPatterns.size < 10_000) this.warnedPatterns.add(namespace)
      this.log.warn('a token with a topic pattern while auto-creation is on: its holder can create topics (bounded by metadataTopicsPerSecond)', { subject: claims.sub })
    }
    return {
      claims, namespace, inFlightBatches: 0,
      records: new TokenBucket(this.limits.recordsPerSecond),
      lookups: new TokenBucket(this.limits.metadataTopicsPerSecond),
    }
  }

  errorFrame(code: GatewayErrorCode, message: string, extra: Partial<ErrorFrame> = {}): ErrorFrame {
    this.metrics.refuse(code)
    return { t: 'error', ...(extra.id !== undefined ? { id: extra.id } : {}), code, message, retriable: isRetriableCode(code), ...extra }
  }

  /**
   * Charges the lookups of topics not in the cache to the session's and the gateway's buckets (WebSocket frames,
   * /v1 and REST requests alike); null when allowed, else ms to wait (Infinity: more than the bucket ever holds).
   */
  chargeLookups(session: Session, topics: Iterable<string>): number | null {
    let misses = 0
    for (const t of topics) if (!this.kafka.isCached(t)) misses++
    if (misses === 0) return null
    // both buckets must have room before either is charged
    const own = session.lookups.check(misses)
    const all = this.globalLookups.check(misses)
    if (own !== null || all !== null) return Math.max(own ?? 0, all ?? 0)
    session.lookups.take(misses)
    this.globalLookups.take(misses)
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
    let frame: ProduceRequest
    try {
      frame = parseProduce(raw, this.limits)
    } catch (err) {
      if (err instanceof LimitExceeded) return this.errorFrame('LIMIT_EXCEEDED', err.message, { id })
      return this.errorFrame('MALFORMED', (err as Error).message, { id })
    }
    if (Date.now() / 1000 >= session.claims.exp) return this.errorFrame('TOKEN_EXPIRED', 'the token has expired; send a new hello', { id })
    const n = frame.batches.length
    if (session.inFlightBatches + n > this.limits.maxInFlightBatches) {
      return this.errorFrame('TOO_MANY_IN_FLIGHT', `at most ${this.limits.maxInFlightBatches} batches may wait for Kafka per connection`, { id, retryAfterMs: 50 })
    }
    if (!this.ledger.hasRoomFor(n)) {
      return this.errorFrame('TOO_MANY_IN_FLIGHT', 'the gateway has as many batches waiting for Kafka as it takes; try again shortly', { id, retryAfterMs: 100 })
    }
    const allowed = new Set<string>()
    for (const b of frame.batches) if (topicAllowed(session.claims.topics, b.topic)) allowed.add(b.topic)
    const lookupWait = this.chargeLookups(session, allowed)
    if (lookupWait !== null) {
      return this.errorFrame('RATE_LIMITED', `more than ${this.limits.metadataTopicsPerSecond} topic lookups/s`, { id, retryAfterMs: Number.isFinite(lookupWait) ? lookupWait : 1000 })
    }
    const wait = session.records.take(frame.records)
    if (wait !== null) {
      return this.errorFrame('RATE_LIMITED', `more than ${this.limits.recordsPerSecond} records/s on this connection`, { id, retryAfterMs: wait })
    }
    this.metrics.batchesIn += n
    session.inFlightBatches += n
    try {
      const results = await Promise.all(frame.batches.map((b) => this.produceBatch(session, b, frame.acks, frame.timeoutMs)))
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
    if (Date.now() / 1000 >= session.claims.exp) return this.errorFrame('TOKEN_EXPIRED', 'the token has expired; send a new hello', { id })
    const wanted = new Set(topics.filter((t) => topicAllowed(session.claims.topics, t)))
    const wait = this.chargeLookups(session, wanted)
    if (wait !== null) {
      return this.errorFrame('RATE_LIMITED', `more than ${this.limits.metadataTopicsPerSecond} topic lookups/s`, { id, retryAfterMs: Number.isFinite(wait) ? wait : 1000 })
    }
    const out = await Promise.all(topics.map(async (topic) => {
      if (!wanted.has(topic)) {
        this.metrics.refuse('TOPIC_AUTHORIZATION_FAILED')
        return { topic, partitions: 0, errorCode: 29, message: 'this token may not produce to this topic' }
      }
      const meta = await this.kafka.lookupTopic(topic)
      return { topic, partitions: meta.partitions, errorCode: meta.errorCode }
    }))
    return { t: 'metadata', id, topics: out } satisfies MetadataResponseFrame
  }

  /** One client batch → its result (waits for Kafka, at most `timeoutMs`). */
  private async produceBatch(session: Session, b: WireBatch, acks: number, timeoutMs: number): Promise<WireResult> {
    const base = { topic: b.topic, partition: b.partition, batchId: b.batchId, baseOffset: -1, logAppendTime: -1 }
    if (!topicAllowed(session.claims.topics, b.topic)) {
      this.metrics.refuse('TOPIC_AUTHORIZATION_FAILED')
      return { ...base, errorCode: 29, message: `this token may not produce to topic ${b.topic}` }
    }
    const meta = await this.kafka.lookupTopic(b.topic)
    if (meta.errorCode !== 0) {
      this.metrics.refuse(`KAFKA_${meta.errorCode}`)
      return { ...base, errorCode: meta.errorCode, message: `topic ${b.topic}` }
    }
    if (b.partition >= meta.partitions) {
      this.metrics.refuse('KAFKA_3')
      return { ...base, errorCode: 3, message: `partition ${b.partition} is not in [0, ${meta.partitions}) for topic ${b.topic}` }
    }
    const key = ledgerKey(session.namespace, b.batchId)
    const digest = batchDigest(b.records)
    let entry = this.ledger.get(key)
    if (entry && (entry.topic !== b.topic || entry.partition !== b.partition || entry.count !== b.records.length || entry.digest !== digest)) {
      this.metrics.refuse('BATCH_ID_REUSED')
      return { ...base, errorCode: 42, message: `batch id ${b.batchId} was already used for other records` }
    }
    if (entry && (entry.pending || entry.result?.errorCode === 0)) {
      this.metrics.dedupHits++
    } else {
      entry ??= { topic: b.topic, partition: b.partition, count: b.records.length, digest, offsets: new Array(b.records.length), logAppendTime: -1, pending: null, result: null }
      this.runBatch(key, entry, b.records)
    }
    if (acks === 0) return { ...base, errorCode: 0 }
    if (entry.pending) {
      let timer: NodeJS.Timeout | undefined
      const timedOut = await Promise.race([
        entry.pending.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
      ])
      clearTimeout(timer)
      if (timedOut) {
        this.metrics.refuse('KAFKA_7')
        return { ...base, errorCode: 7, message: `Kafka did not acknowledge within ${timeoutMs} ms; resend the same batch id` }
      }
    }
    return { ...entry.result!, batchId: b.batchId }
  }

  /** Produces a client batch (or the part of it not yet acknowledged) and fills its ledger entry. */
  private runBatch(key: string, entry: LedgerEntry, records: WireRecord[]): void {
    const todo: number[] = []
    const out: OutRecord[] = []
    let bytes = 0
    for (let i = 0; i < entry.count; i++) {
      if (entry.offsets[i] !== undefined) continue
      const r = records[i]!
      todo.push(i)
      out.push({ key: r[1], value: r[2], headers: r[3], timestamp: r[0] })
      bytes += recordCost(r[1], r[2], r[3])
    }
    const producer = this.kafka.producer
    const started = Date.now()
    this.ledger.start(key, entry)
    this.backpressure.add(bytes)
    this.metrics.recordsIn += todo.length
    entry.result = null
    const sends: Array<Promise<RecordMetadata>> = this.kafka.send(entry.topic, entry.partition, out)
    entry.pending = Promise.allSettled(sends).then((settled) => {
      this.backpressure.sub(bytes)
      this.metrics.kafkaLatency(Date.now() - started)
      let firstError: unknown = null
      settled.forEach((s, k) => {
        if (s.status === 'fulfilled') {
          entry.offsets[todo[k]!] = s.value.offset
          if (s.value.timestamp !== records[todo[k]!]![0]) entry.logAppendTime = s.value.timestamp
          this.metrics.recordsOut++
        } else {
          this.metrics.recordsFailed++
          firstError ??= s.reason
        }
      })
      entry.pending = null
      this.ledger.finish(key, entry)
      if (firstError) {
        this.kafka.checkFatal(firstError, producer)
        const code = errorCodeOf(firstError)
        this.metrics.refuse(`KAFKA_${code}`)
        entry.result = {
          topic: entry.topic, partition: entry.partition, batchId: '', errorCode: code === 0 ? -1 : code, baseOffset: -1, logAppendTime: -1,
          message: safeMessage(firstError),
        }
        return
      }
      const offsets = entry.offsets as number[]
      let contiguous = true
      for (let i = 1; i < offsets.length; i++) if (offsets[i] !== offsets[0]! + i) contiguous = false
      entry.offsets = [] // the result says it all; keep remembered batches small
      this.metrics.batchesAcked++
      entry.result = {
        topic: entry.topic, partition: entry.partition, batchId: '', errorCode: 0, baseOffset: offsets[0]!,
        logAppendTime: entry.logAppendTime, ...(contiguous ? {} : { offsets: [...offsets] }),
      }
    })
  }
}
