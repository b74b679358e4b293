/**
 * The gateway's settings: what createGateway() takes, the defaults (chosen to be safe on the public internet, each
 * explained in docs/deploying-gateway.md) and their validation.
 */
import { InvalidArgumentError } from '../../src/errors.js'
import type { ProducerOptions } from '../../src/producer/options.js'
import type { SocketTransport } from '../../src/transport.js'
import {
  DEFAULT_MAX_IN_FLIGHT_BATCHES,
  DEFAULT_MAX_RECORDS_PER_FRAME,
  type GatewayLimits,
} from '../gateway-wire/index.js'
import type { TcpOptions } from '../node-tcp/index.js'
import type { GatewayLogEntry, LogLevel } from './log.js'
import type { TokenSecret } from './token.js'

export interface GatewayOptions {
  /** Kafka bootstrap servers (`host:port`, comma-separated or a list). */
  bootstrap?: string | string[]
  /** TLS / SASL for the Kafka side (as tcp()). */
  kafka?: Omit<TcpOptions, 'bootstrap'>
  /** Or a ready transport for the Kafka side (wins over bootstrap/kafka). */
  transport?: SocketTransport
  /** HMAC secret(s) for tokens, at least 16 characters (bytes) each; several allow rotation (any of them verifies). */
  secret: TokenSecret | TokenSecret[]
  /** Browser origins allowed (exact `scheme://host[:port]`), or '*'. Requests without an Origin header pass. Default: none. */
  origins?: '*' | string[]
  limits?: Partial<GatewayLimits>
  /** Bytes of records waiting for Kafka above which the gateway stops reading from clients. Default 16 MiB. */
  maxPendingBytes?: number
  /** Finished batch ids remembered for deduplication (LRU); running ones are never evicted. Default 100000. */
  dedupEntries?: number
  /** Client batches running (waiting for Kafka) for all clients together. Default 20000. */
  maxRunningBatches?: number
  /** Authenticated WebSocket connections at most. Default 10000. */
  maxConnections?: number
  /** WebSocket connections not yet authenticated, all addresses together. Default 256. */
  maxUnauthenticated?: number
  /** WebSocket connections not yet authenticated from one remote address. Default 16. */
  maxUnauthenticatedPerAddress?: number
  /** A WebSocket that has not authenticated within this is closed (4401). Default 5000. */
  helloTimeoutMs?: number
  /**
   * Whole-request deadline for HTTP (headers and body), against slow-loris clients: the connection is closed with
   * 408 when a request is still arriving after this long. Headers must be complete within min(this, 10 s). Default 30000.
   */
  httpTimeoutMs?: number
  /** Ping period; a connection that did not answer the last ping with its pong is closed. Default 30000. */
  heartbeatMs?: number
  /** Answers queued for one connection above which the gateway stops reading it until the client reads. Default 1 MiB. */
  maxBufferedBytes?: number
  /** Let produce/metadata requests create topics (if the brokers allow it). Default false. */
  allowAutoTopicCreation?: boolean
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. Default: unset (open). */
  metricsToken?: string
  /** Settings for the gateway's Kafka producer (acks and idempotence are fixed: 'all', on). */
  producer?: Omit<
    ProducerOptions<Uint8Array | null, Uint8Array | null>,
    'transport' | 'acks' | 'enableIdempotence' | 'keySerializer' | 'valueSerializer'
  >
  /** Structured log entries at or above logLevel. Default: none (the CLI prints JSON lines). */
  logger?: (entry: GatewayLogEntry) => void
  /** Default 'info'. */
  logLevel?: LogLevel
  /** Plain log lines (older form of `logger`). */
  log?: (line: string) => void
}

/** Shortest token secret accepted (string characters or key bytes), here and in the CLI. */
export const MIN_SECRET_LENGTH = 16

export const DEFAULT_LIMITS: Required<GatewayLimits> = {
  maxFrameBytes: 2 << 20,
  maxInFlightBatches: DEFAULT_MAX_IN_FLIGHT_BATCHES,
  recordsPerSecond: 200_000,
  maxRecordsPerFrame: DEFAULT_MAX_RECORDS_PER_FRAME,
  metadataTopicsPerSecond: 100,
}

export interface ResolvedGatewayOptions {
  secrets: TokenSecret[]
  origins: '*' | Set<string>
  limits: Required<GatewayLimits>
  maxPendingBytes: number
  dedupEntries: number
  maxRunningBatches: number
  maxConnections: number
  maxUnauthenticated: number
  maxUnauthenticatedPerAddress: number
  helloTimeoutMs: number
  httpTimeoutMs: number
  heartbeatMs: number
  maxBufferedBytes: number
  allowAutoTopicCreation: boolean
  metricsToken: string | null
}

function int(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(
      'INVALID_CONFIG',
      `createGateway: ${name} must be an integer >= ${min}, got ${String(value)}`,
    )
  }
  return value
}

export function resolveGatewayOptions(options: GatewayOptions): ResolvedGatewayOptions {
  if (!options || (!options.secret && options.secret !== ''))
    throw new InvalidArgumentError('INVALID_CONFIG', 'createGateway: a token secret is required')
  const secrets = (Array.isArray(options.secret) ? options.secret : [options.secret]) as TokenSecret[]
  if (secrets.length === 0 || secrets.some((s) => s.length === 0))
    throw new InvalidArgumentError('INVALID_CONFIG', 'createGateway: the token secret is empty')
  // an HMAC key anyone could guess signs tokens anyone could forge
  if (secrets.some((s) => s.length < MIN_SECRET_LENGTH)) {
    throw new InvalidArgumentError(
      'INVALID_CONFIG',
      `createGateway: each token secret must be at least ${MIN_SECRET_LENGTH} characters (bytes)`,
    )
  }
  const l = options.limits ?? {}
  const limits: Required<GatewayLimits> = {
    maxFrameBytes: int('limits.maxFrameBytes', l.maxFrameBytes, DEFAULT_LIMITS.maxFrameBytes, 1024),
    maxInFlightBatches: int('limits.maxInFlightBatches', l.maxInFlightBatches, DEFAULT_LIMITS.maxInFlightBatches, 1),
    recordsPerSecond: int('limits.recordsPerSecond', l.recordsPerSecond, DEFAULT_LIMITS.recordsPerSecond, 0),
    maxRecordsPerFrame: int('limits.maxRecordsPerFrame', l.maxRecordsPerFrame, DEFAULT_LIMITS.maxRecordsPerFrame, 1),
    metadataTopicsPerSecond: int(
      'limits.metadataTopicsPerSecond',
      l.metadataTopicsPerSecond,
      DEFAULT_LIMITS.metadataTopicsPerSecond,
      0,
    ),
  }
  // a frame the records/s bucket could never cover would wait for ever: the per-frame cap is the smaller of the two
  if (limits.recordsPerSecond > 0)
    limits.maxRecordsPerFrame = Math.min(limits.maxRecordsPerFrame, limits.recordsPerSecond)
  const origins = options.origins === '*' ? '*' : new Set(options.origins ?? [])
  return {
    secrets,
    origins,
    limits,
    maxPendingBytes: int('maxPendingBytes', options.maxPendingBytes, 16 << 20, 1024),
    dedupEntries: int('dedupEntries', options.dedupEntries, 100_000, 0),
    maxRunningBatches: int('maxRunningBatches', options.maxRunningBatches, 20_000, 1),
    maxConnections: int('maxConnections', options.maxConnections, 10_000, 1),
    maxUnauthenticated: int('maxUnauthenticated', options.maxUnauthenticated, 256, 1),
    maxUnauthenticatedPerAddress: int('maxUnauthenticatedPerAddress', options.maxUnauthenticatedPerAddress, 16, 1),
    helloTimeoutMs: int('helloTimeoutMs', options.helloTimeoutMs, 5_000, 100),
    httpTimeoutMs: int('httpTimeoutMs', options.httpTimeoutMs, 30_000, 100),
    heartbeatMs: int('heartbeatMs', options.heartbeatMs, 30_000, 100),
    maxBufferedBytes: int('maxBufferedBytes', options.maxBufferedBytes, 1 << 20, 1024),
    allowAutoTopicCreation: options.allowAutoTopicCreation ?? false,
    metricsToken: options.metricsToken ? String(options.metricsToken) : null,
  }
}
