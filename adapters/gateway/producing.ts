/**
 * The Kafka side of the gateway: its one producer (acks=all, idempotent; replaced when it fails fatally), topic
 * metadata taken from that producer (cached here, lookups of a topic coalesced), readiness, and how a Kafka failure
 * is told to clients: a Kafka error code and a safe message, never a broker address or a stack.
 */
import {
  ConnectionError,
  DeliveryTimeoutError,
  InvalidArgumentError,
  KafkaProtocolError,
  MaxBlockTimeoutError,
  ProducerFatalError,
  RecordTooLargeError,
  RequestTimeoutError,
} from '../../src/errors.js'
import type { RecordMetadata } from '../../src/producer/producer-batch.js'
import { createProducer, type Producer } from '../../src/producer/producer.js'
import { kafkaErrorBasics } from '../../src/protocol/error-codes.js'
import type { SocketTransport } from '../../src/transport.js'
import { captureInternals, DirectAppender, type ProducerInternals } from './direct-append.js'
import type { GatewayLog } from './log.js'
import { errorFields } from './log.js'
import type { GatewayOptions } from './options.js'

export type GatewayProducer = Producer<Uint8Array | null, Uint8Array | null>

export interface TopicMeta {
  errorCode: number
  partitions: number
  leaders: readonly number[]
  at: number
}

export interface OutRecord {
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
  timestamp?: number
}

/** Topic lookups wait for Kafka at most this long; the answer is then "not reachable" (13, retriable). */
const LOOKUP_TIMEOUT_MS = 5_000
const CACHE_OK_MS = 10_000
const CACHE_ERROR_MS = 1_000
const CACHE_MAX = 10_000

/** Does a cache entry answer lookups: a topic Kafka knew, at any age (refreshed apart), or an error for CACHE_ERROR_MS. */
function answers(c: TopicMeta): boolean {
  return c.errorCode === 0 || Date.now() - c.at < CACHE_ERROR_MS
}

export class KafkaSide {
  producer: GatewayProducer
  /** The fast way into `producer` (direct-append.ts), made with it. */
  direct!: DirectAppender
  private readonly cache = new Map<string, TopicMeta>()
  private readonly lookups = new Map<string, Promise<TopicMeta>>()
  private ready: { at: number; ok: Promise<boolean> } | null = null
  private closing = false

  constructor(
    private readonly transport: SocketTransport,
    private readonly options: GatewayOptions,
    private readonly allowAutoTopicCreation: boolean,
    private readonly log: GatewayLog,
  ) {
    this.producer = this.newProducer()
  }

  private newProducer(): GatewayProducer {
    let internals: ProducerInternals | null = null
    const producer = createProducer<Uint8Array | null, Uint8Array | null>({
      lingerMs: 0,
      batchSize: 512 * 1024,
      bufferMemory: Math.max(32 << 20, 4 * (this.options.maxPendingBytes ?? 16 << 20)),
      maxBlockMs: 30_000,
      ...(this.options.producer ?? {}),
      transport: captureInternals(this.transport, (taken) => (internals = taken)),
      acks: 'all',
      enableIdempotence: true,
      allowAutoTopicCreation: this.allowAutoTopicCreation,
    })
    this.direct = new DirectAppender(internals!)
    return producer
  }

  /** After a send failed: a fatal producer error (fenced, ...) ends that producer; start a new one. */
  checkFatal(err: unknown, producer: GatewayProducer): void {
    if (err instanceof ProducerFatalError && this.producer === producer && !this.closing) {
      this.log.error('the Kafka producer failed; starting a new one', errorFields(err))
      this.direct.closed = true
      this.producer = this.newProducer()
      void producer.close({ timeoutMs: 0 }).catch(() => {})
    }
  }

  /**
   * What a lookup of the topic would cost now:
   * - 'cached': nothing (fresh in the cache, or a lookup of it already running, which a caller joins);
   * - 'stale': nothing for the caller, who is answered from the cache, but the entry (a topic Kafka knows) is older
   *   than CACHE_OK_MS and wants a refresh() in the background;
   * - 'miss': a metadata request to Kafka the caller waits for (never looked up, evicted, or an error entry that
   *   expired).
   * A known topic is never a miss again: with a thousand connections producing to it, a miss when its entry aged
   * out made every frame of every connection a charged lookup until Kafka answered, and the lookup buckets refused
   * them (RATE_LIMITED) although one request served them all.
   */
  cacheState(topic: string): 'cached' | 'stale' | 'miss' {
    if (this.lookups.has(topic)) return 'cached'
    const c = this.cache.get(topic)
    if (c === undefined || !answers(c)) return 'miss'
    return c.errorCode !== 0 || Date.now() - c.at < CACHE_OK_MS ? 'cached' : 'stale'
  }

  /**
   * Partition count and leaders of a topic, from the producer's metadata (cached 10 s, errors 1 s). A known topic
   * is answered from the cache even when its entry is stale (see refresh()); a lookup of a topic is made once for
   * all who ask while it runs.
   */
  lookupTopic(topic: string): Promise<TopicMeta> {
    const cached = this.cachedTopic(topic)
    if (cached !== undefined) return Promise.resolve(cached)
    return this.lookups.get(topic) ?? this.startLookup(topic)
  }

  /** What lookupTopic() would answer at once from the cache, without a promise; undefined when it would wait. */
  cachedTopic(topic: string): TopicMeta | undefined {
    const cached = this.cache.get(topic)
    return cached !== undefined && answers(cached) ? cached : undefined
  }

  /** A stale entry's refresh in the background (its callers go on with the cached entry meanwhile). */
  refresh(topic: string): void {
    if (!this.lookups.has(topic)) void this.startLookup(topic)
  }

  private startLookup(topic: string): Promise<TopicMeta> {
    const cached = this.cache.get(topic)
    const p = this.producer
      .describeTopic(topic, { timeoutMs: LOOKUP_TIMEOUT_MS })
      .then(
        (d): TopicMeta => ({ errorCode: d.errorCode, partitions: d.partitions, leaders: d.leaders, at: Date.now() }),
        (err): TopicMeta => {
          // Kafka unreachable: keep serving what we knew (retried CACHE_ERROR_MS later), else a retriable error
          this.log.warn('topic metadata failed', { topic, ...errorFields(err) })
          if (cached?.errorCode === 0) return { ...cached, at: Date.now() - CACHE_OK_MS + CACHE_ERROR_MS }
          return {
            errorCode: err instanceof KafkaProtocolError ? err.errorCode : 13,
            partitions: 0,
            leaders: [],
            at: Date.now(),
          }
        },
      )
      .then((meta) => {
        this.lookups.delete(topic)
        this.cache.delete(topic)
        this.cache.set(topic, meta)
        if (this.cache.size > CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string)
        return meta
      })
    this.lookups.set(topic, p)
    return p
  }

  /** The cluster id (for REST v3): fetched once (it does not change), null while Kafka was never reached. */
  async clusterId(): Promise<string | null> {
    if (this.knownClusterId) return this.knownClusterId
    try {
      this.knownClusterId = (await this.producer.describeCluster({ timeoutMs: LOOKUP_TIMEOUT_MS })).clusterId
    } catch {
      // reported as unavailable by the caller
    }
    return this.knownClusterId
  }
  private knownClusterId: string | null = null

  /** Readiness: Kafka answered a metadata request within 3 s (probed at most once a second). */
  kafkaReachable(): Promise<boolean> {
    if (!this.ready || Date.now() - this.ready.at > 1000) {
      this.ready = {
        at: Date.now(),
        ok: this.producer.describeCluster({ timeoutMs: 3000 }).then(
          (c) => c.clusterId !== null,
          () => false,
        ),
      }
    }
    return this.ready.ok
  }

  /** Sends records in order, synchronously, so one client batch's records stay together. */
  send(topic: string, partition: number | undefined, records: readonly OutRecord[]): Array<Promise<RecordMetadata>> {
    const producer = this.producer
    const out: Array<Promise<RecordMetadata>> = new Array(records.length)
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      out[i] = producer.send({
        topic,
        partition,
        key: r.key ?? undefined,
        value: r.value,
        headers: r.headers,
        timestamp: r.timestamp,
      })
    }
    return out
  }

  flush(): Promise<void> {
    return this.producer.flush()
  }

  async close(timeoutMs: number): Promise<void> {
    this.closing = true
    this.direct.closed = true
    await this.producer.close({ timeoutMs }).catch(() => {})
  }
}

/** The Kafka error code a failed send stands for. */
export function errorCodeOf(err: unknown): number {
  if (err instanceof KafkaProtocolError) return err.errorCode
  if (err instanceof DeliveryTimeoutError || err instanceof RequestTimeoutError || err instanceof MaxBlockTimeoutError)
    return 7
  if (err instanceof RecordTooLargeError) return 10
  if (err instanceof ConnectionError) return 13
  if (err instanceof InvalidArgumentError) {
    if (err.code === 'INVALID_TOPIC') return 17
    if (err.code === 'INVALID_PARTITION') return 3
    if (err.code === 'INVALID_TIMESTAMP') return 32
    return 87 // INVALID_RECORD
  }
  return -1
}

/**
 * What a client is told about a failed send: the Kafka error's name, or a fixed sentence. Error messages inside the
 * gateway can name brokers (host:port), files or internals; none of that leaves it.
 */
export function safeMessage(err: unknown): string {
  if (err instanceof KafkaProtocolError) return `Kafka error ${err.errorCode} (${kafkaErrorBasics(err.errorCode).name})`
  if (err instanceof DeliveryTimeoutError || err instanceof RequestTimeoutError || err instanceof MaxBlockTimeoutError)
    return 'Kafka did not acknowledge in time'
  if (err instanceof RecordTooLargeError) return 'the record is larger than Kafka accepts'
  if (err instanceof ConnectionError) return 'Kafka is not reachable'
  if (err instanceof InvalidArgumentError) return `invalid record (${err.code})`
  if (err instanceof ProducerFatalError) return "the gateway's Kafka producer failed; resend the batch"
  return 'the gateway could not produce the batch'
}
