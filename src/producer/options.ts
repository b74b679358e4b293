import type { Clock } from '../clock.js'
import { systemClock } from '../clock.js'
import type { CompressionOption } from '../compression.js'
import { InvalidArgumentError } from '../errors.js'
import { HookSet, type ProducerHooks } from '../hooks.js'
import type { Outbox, Transport } from '../transport.js'
import type { PartitionerOption } from './partitioners.js'
import type { Serializer } from './serializers.js'

export type Acks = 0 | 1 | -1 | 'all'

/** Producer settings. Names and defaults follow Java's ProducerConfig (camelCase). */
export interface ProducerOptions<
  K = Uint8Array | string | null | undefined,
  V = Uint8Array | string | null | undefined,
> {
  transport: Transport
  keySerializer?: Serializer<K>
  valueSerializer?: Serializer<V>
  partitioner?: PartitionerOption
  /** 0, 1 or 'all' (= -1). Default 'all'. */
  acks?: Acks
  /** Bytes per partition batch before it is sent without waiting for linger. Default 16384. */
  batchSize?: number
  /** How long a batch waits for more records. Default 5 ms (Java ≥ 4.0). */
  lingerMs?: number
  /** Bytes buffered for sending across all partitions. Default 32 MiB. */
  bufferMemory?: number
  /** How long send() waits for buffer room or topic metadata. Default 60000. */
  maxBlockMs?: number
  /** Largest Produce request (and so largest record). Default 1048576. */
  maxRequestSize?: number
  /** Default 2147483647 (bounded by deliveryTimeoutMs). */
  retries?: number
  retryBackoffMs?: number
  retryBackoffMaxMs?: number
  /** Upper bound on the time from send() to success or failure. Default 120000. */
  deliveryTimeoutMs?: number
  requestTimeoutMs?: number
  maxInFlightRequestsPerConnection?: number
  /** Default true. Needs acks 'all' and maxInFlight ≤ 5. */
  enableIdempotence?: boolean
  /**
   * Makes the producer transactional (Java's transactional.id): initTransactions(), then sends only inside
   * beginTransaction() … commitTransaction()/abortTransaction(). Implies idempotence (acks 'all', maxInFlight ≤ 5).
   * Kafka-protocol transports only.
   */
  transactionalId?: string
  /** How long the coordinator lets a transaction stay open before it aborts it. Default 60000. */
  transactionTimeoutMs?: number
  /**
   * Batch compression: 'none' (default), 'gzip', 'snappy', 'lz4', 'zstd' or a CompressionCodec. A named codec is
   * loaded on the first batch it compresses. In Cloudflare Workers pass zstd as `zstd({ wasm })` from 'isokafka/zstd'.
   */
  compression?: CompressionOption
  /**
   * zstd's level, 1–22 (negative: fast modes). Default 3, as Java's compression.zstd.level. The other codecs have one
   * level each here (snappy has none; lz4 is LZ4's fast mode; gzip is CompressionStream's), so it must be unset for them.
   */
  compressionLevel?: number
  /** Age after which topic metadata is refreshed even without errors. Default 300000. */
  metadataMaxAgeMs?: number
  /**
   * A topic not produced to (nor described) for this long is dropped from the metadata the producer keeps and
   * refreshes, as Java's metadata.max.idle.ms. Default 300000.
   */
  metadataMaxIdleMs?: number
  /** Ask brokers to auto-create unknown topics (they decide). Default true, as Java's allow.auto.create.topics. */
  allowAutoTopicCreation?: boolean
  clientId?: string
  connectTimeoutMs?: number
  /**
   * Gateway transports only (WebSocket, fetch): keep every batch in this store from before it is shipped until the
   * gateway acknowledged it, and resend what a closed or crashed page left (`indexedDbOutbox` from 'isokafka/outbox').
   */
  outbox?: Outbox
  /** Injected time, timers and randomness (tests). */
  /**
   * Hooks (src/hooks.ts): callbacks for connections, requests, batches, records, throttling, metadata, producer ids and
   * transactions. More can be added later with `producer.addHooks()`.
   */
  hooks?: ProducerHooks | readonly ProducerHooks[]
  clock?: Clock
}

export interface ResolvedOptions {
  acks: -1 | 0 | 1
  batchSize: number
  lingerMs: number
  bufferMemory: number
  maxBlockMs: number
  maxRequestSize: number
  retries: number
  retryBackoffMs: number
  retryBackoffMaxMs: number
  deliveryTimeoutMs: number
  requestTimeoutMs: number
  maxInFlight: number
  idempotent: boolean
  transactionalId: string | null
  transactionTimeoutMs: number
  metadataMaxAgeMs: number
  metadataMaxIdleMs: number
  allowAutoTopicCreation: boolean
  clientId: string
  connectTimeoutMs: number
  outbox: Outbox | null
  compression: CompressionOption | undefined
  compressionLevel: number | undefined
  clock: Clock
  hooks: HookSet
}

/**
 * The numeric options, each with Java's default and the least value it takes: read in one loop, so each is named once
 * (a call per option, its name written three times, cost a browser bundle ~0.1 KiB).
 */
const NUMERIC = {
  maxInFlightRequestsPerConnection: [5, 1],
  lingerMs: [5, 0],
  requestTimeoutMs: [30000, 1],
  deliveryTimeoutMs: [120000, 1],
  retryBackoffMs: [100, 0],
  retryBackoffMaxMs: [1000, 0],
  batchSize: [16384, 0],
  bufferMemory: [33554432, 1], // 32 MiB
  maxBlockMs: [60000, 0],
  maxRequestSize: [1048576, 1],
  retries: [2147483647, 0],
  transactionTimeoutMs: [60000, 1],
  metadataMaxAgeMs: [300000, 0],
  metadataMaxIdleMs: [300000, 5000],
  connectTimeoutMs: [10000, 1],
} as const satisfies { [K in keyof ProducerOptions]?: readonly [fallback: number, min: number] }

type NumericOptions = { -readonly [K in keyof typeof NUMERIC]: number }

const invalid = (message: string) => new InvalidArgumentError('INVALID_CONFIG', message)

export function resolveOptions(o: ProducerOptions<any, any>): ResolvedOptions {
  if (!o || !o.transport) throw invalid('a transport is required (e.g. tcp({ bootstrap }))')
  const acksIn = o.acks ?? 'all'
  const acks = acksIn === 'all' ? -1 : acksIn
  if (acks !== -1 && acks !== 0 && acks !== 1) throw invalid(`acks must be 0, 1 or 'all', got ${String(acksIn)}`)
  const n = {} as NumericOptions
  for (const [name, [fallback, min]] of Object.entries(NUMERIC) as [keyof NumericOptions, readonly number[]][]) {
    const value = o[name]
    if (value !== undefined && (typeof value !== 'number' || Number.isNaN(value) || value < min!))
      throw invalid(`${name} must be a number ≥ ${min}, got ${String(value)}`)
    n[name] = value ?? fallback!
  }
  const maxInFlight = n.maxInFlightRequestsPerConnection
  const explicitIdempotence = o.enableIdempotence
  // As in Java: idempotence is on by default, but only when the rest of the config allows it; asking for it
  // explicitly with an incompatible config is an error.
  const compatible = acks === -1 && maxInFlight <= 5
  if (explicitIdempotence === true && !compatible)
    throw invalid("enableIdempotence needs acks 'all' and maxInFlightRequestsPerConnection ≤ 5")
  const transactionalId = o.transactionalId ?? null
  if (transactionalId !== null) {
    // Java: a transactional id implies idempotence, and refuses a config that rules it out
    if (typeof transactionalId !== 'string' || transactionalId === '')
      throw invalid('transactionalId must be a non-empty string')
    if (explicitIdempotence === false)
      throw invalid('transactionalId needs idempotence: enableIdempotence must not be false')
    if (!compatible) throw invalid("transactionalId needs acks 'all' and maxInFlightRequestsPerConnection ≤ 5")
    if (o.transport.kind !== 'socket') throw invalid('transactionalId needs a Kafka-protocol (socket) transport')
  }
  const idempotent = transactionalId !== null || (explicitIdempotence ?? compatible)
  const { lingerMs, requestTimeoutMs } = n
  if (o.deliveryTimeoutMs === undefined)
    n.deliveryTimeoutMs = Math.max(n.deliveryTimeoutMs, lingerMs + requestTimeoutMs)
  else if (n.deliveryTimeoutMs < lingerMs + requestTimeoutMs)
    throw invalid('deliveryTimeoutMs must be ≥ lingerMs + requestTimeoutMs')
  n.retryBackoffMaxMs = Math.max(n.retryBackoffMs, n.retryBackoffMaxMs)
  const c = o.compression
  if (
    c !== undefined &&
    !(typeof c === 'string' ? /^(none|gzip|snappy|lz4|zstd)$/.test(c) : typeof c?.compress === 'function')
  )
    throw invalid(`compression ${JSON.stringify(c)}: none, gzip, snappy, lz4, zstd or a CompressionCodec`)
  const level = o.compressionLevel
  if (level !== undefined && (c !== 'zstd' || !Number.isInteger(level) || level < -131072 || level > 22))
    throw invalid(`compressionLevel ${level}: zstd's only, an integer ≤ 22`)
  const outbox = o.outbox ?? null
  if (outbox !== null) {
    if (o.transport.kind !== 'gateway') throw invalid('outbox needs a gateway transport (websocket or fetch)')
    for (const m of ['open', 'put', 'remove', 'reclaim', 'close', 'lane'] as const) {
      if (typeof outbox[m] !== 'function')
        throw invalid(`outbox.${m} is not a function (a custom outbox sets lane: outboxLane from 'isokafka/outbox')`)
    }
  }
  const clock = o.clock && o.clock !== systemClock ? boundClock(o.clock) : systemClock
  return {
    ...n,
    acks,
    maxInFlight,
    idempotent,
    transactionalId,
    allowAutoTopicCreation: o.allowAutoTopicCreation ?? true,
    clientId: o.clientId ?? (o.transport.kind === 'socket' ? o.transport.clientId : undefined) ?? 'isokafka',
    outbox,
    compression: c,
    compressionLevel: level,
    clock,
    hooks: hookSetOf(o.hooks, clock),
  }
}

function hookSetOf(hooks: ProducerHooks | readonly ProducerHooks[] | undefined, clock: Clock): HookSet {
  const set = new HookSet(() => clock.now())
  if (hooks !== undefined) for (const h of Array.isArray(hooks) ? hooks : [hooks]) set.add(h)
  return set
}

/**
 * The core passes `clock.random` (and the other methods) around as plain functions, so a clock written as a class
 * (methods using `this`, like a test's fake clock) would lose its `this`: call through the object instead.
 */
function boundClock(c: Clock): Clock {
  return {
    now: () => c.now(),
    setTimeout: (fn, ms) => c.setTimeout(fn, ms),
    clearTimeout: (handle) => c.clearTimeout(handle),
    random: () => c.random(),
  }
}
