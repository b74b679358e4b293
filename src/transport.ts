/**
 * The transport seam. The producer core never touches a runtime API for I/O; it talks to one of two shapes:
 *
 * - `SocketTransport`: a byte stream to a broker. The core speaks the Kafka wire protocol over it
 *   (Node `node:net`/`node:tls`, Workers `cloudflare:sockets`). Brokers are addressed by host/port from metadata.
 * - `GatewayTransport`: request/response to an isokafka gateway or a REST proxy. The core still partitions and
 *   batches; the transport ships whole per-partition batches and returns per-partition acks. It does not fake a socket.
 */

import type { BackendFactory } from './producer/backend.js'
import type { ResolvedOptions } from './producer/options.js'
import type { OutboxLane } from './producer/outbox-lane.js'

/** A connected, ordered, reliable byte stream (one TCP/TLS connection). */
export interface ByteStream {
  /** Queue bytes for sending. Resolves when the runtime accepted them (used for write backpressure). */
  write(data: Uint8Array): Promise<void> | void
  /**
   * Optional: queue several chunks as one write, in order (one frame whose record batches were not copied). The
   * chunks are the producer's buffers: the stream reads them until the write completes and must not keep them after.
   */
  writev?(chunks: readonly Uint8Array[]): Promise<void> | void
  /** Close the stream; pending writes may be dropped. Idempotent. */
  close(): void
}

export interface ByteStreamHandlers {
  /** Bytes arrived. The chunk may be reused by the runtime after the call returns only if documented; the core copies what it keeps. */
  onData(chunk: Uint8Array): void
  /** The stream ended (peer close, error or local close). `error` is set when it was not a clean local close. */
  onClose(error?: Error): void
}

export interface SocketConnectOptions {
  host: string
  port: number
  /** Abort the attempt after this long (the transport raises a retriable connection error). */
  connectTimeoutMs: number
}

export interface SocketTransport {
  readonly kind: 'socket'
  /**
   * The producer machinery for this kind of transport: `kafkaBackend` (exported by the core) for every Kafka-protocol
   * byte stream. Carried by the transport so a bundle only contains the path its transport uses.
   */
  readonly backend: BackendFactory
  /** `host:port` seeds used for the first metadata request. */
  readonly bootstrap: readonly string[]
  /** Client id sent in every request header. */
  readonly clientId?: string
  /** SASL settings, if the listener needs authentication (handled by the core after connect). */
  readonly sasl?: SaslOptions
  /** The transport's own connect timeout, when it has one: it wins over the producer's `connectTimeoutMs`. */
  readonly connectTimeoutMs?: number
  connect(options: SocketConnectOptions, handlers: ByteStreamHandlers): Promise<ByteStream>
}

export type SaslOptions =
  | { mechanism: 'plain'; username: string; password: string }
  | { mechanism: 'scram-sha-256' | 'scram-sha-512'; username: string; password: string }
  | { mechanism: 'oauthbearer'; token: () => Promise<string> | string }

/** Partition counts for topics, as a gateway sees them. */
export interface GatewayTopicMetadata {
  topic: string
  partitions: number
  /** A Kafka error code when the topic could not be described (0 when fine). */
  errorCode: number
  /** Kafka's name for the error code (an isokafka gateway sends it, so clients need not carry Kafka's table). */
  error?: string
}

export interface GatewayRecord {
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
  timestamp: number
}

export interface GatewayPartitionBatch {
  topic: string
  partition: number
  /** Client-chosen id, unique per producer instance, reused on resend so the gateway can deduplicate. */
  batchId: string
  /** Records in `records`. */
  count: number
  /**
   * The records as MessagePack, exactly as a produce frame carries them: an array of `[timestamp, key, value,
   * headers]` (docs/gateway-protocol.md). A view into the producer's batch buffer: valid only during the call to
   * produce() (a transport copies it into its frame there); decode it with a MessagePack decoder to see the records.
   */
  records: Uint8Array
}

export interface GatewayPartitionResult {
  topic: string
  partition: number
  batchId: string
  /** Kafka error code; 0 on success. */
  errorCode: number
  /** Kafka's name for the error code, when the gateway sent it. */
  error?: string
  baseOffset: number
  /** Log-append time if the topic uses it, else -1. */
  logAppendTime: number
  /**
   * Every record's offset, when they are not consecutive (a REST proxy answers per record). When present it wins
   * over `baseOffset + i`.
   */
  offsets?: number[]
  message?: string
}

export interface GatewayTransport {
  readonly kind: 'gateway'
  /** `gatewayBackend` (exported by the core). */
  readonly backend: BackendFactory
  metadata(topics: string[], signal?: AbortSignal): Promise<GatewayTopicMetadata[]>
  produce(
    batches: GatewayPartitionBatch[],
    options: { acks: -1 | 0 | 1; timeoutMs: number },
  ): Promise<GatewayPartitionResult[]>
  close(): Promise<void>
  /**
   * The gateway's frame limits as the transport knows them now (docs/gateway-protocol.md §5), when it ships gateway
   * frames. The gateway backend then lets a partition's open batch grow to a quarter of them while another batch of
   * the partition is in flight (see RecordAccumulator.growBytes); without them, batches stay at batchSize.
   * `maxBatchBytes`: a smaller bound of the transport's own on a grown batch (fetch in a page: a keepalive request).
   */
  frameLimits?(): { maxFrameBytes: number; maxRecordsPerFrame?: number; maxBatchBytes?: number } | undefined
}

export type Transport = SocketTransport | GatewayTransport

/**
 * A batch as a durable outbox keeps it (see `ProducerOptions.outbox`): enough to resend it after a reload, under its
 * original batch id, so the gateway's deduplication keeps it exactly-once within its window.
 */
export interface OutboxBatch {
  /** The id the gateway deduplicates on; the same on every resend, also from a later page. */
  batchId: string
  topic: string
  partition: number
  /** Records in the batch. */
  count: number
  /**
   * The records exactly as a produce frame carries them: a MessagePack array of `[timestamp, key, value, headers]`
   * (docs/gateway-protocol.md). Opaque to the outbox: store the bytes as they are.
   */
  records: Uint8Array
}

/**
 * Where a gateway producer keeps its batches until the gateway acknowledged them (`isokafka/outbox` has the
 * IndexedDB one). The producer puts a batch before it ships it and removes it after the ack, or after it failed for
 * good; batches left by pages that are gone are resent with their original ids.
 */
export interface Outbox {
  /**
   * Opens the store; called once, by createProducer (no batch ships before it settles). Resolves with the batches
   * that producers gone before this one left behind, now owned by this producer: each stored batch is handed to one
   * live producer only, whatever the number of tabs.
   */
  open(): Promise<OutboxBatch[]>
  /** Keeps the batch until removed. The producer ships it once this settles. Never rejects: storage failures fall back to memory (reported by the outbox). */
  put(batch: OutboxBatch): Promise<void>
  /** Forget these batches: acknowledged by the gateway, or failed for good. */
  remove(batchIds: readonly string[]): Promise<void>
  /** Batches of producers gone since open() (another tab closed or crashed), claimed now. Called from time to time and when the network returns. */
  reclaim(): Promise<OutboxBatch[]>
  /** A batch no live send waits for (left by an earlier page, or past its sends' delivery timeout) failed for good and was removed. */
  failed?(batch: OutboxBatch, error: Error): void
  close(): Promise<void>
  /**
   * The producer's side of an outbox: `outboxLane` from 'isokafka/outbox' (indexedDbOutbox sets it; a custom outbox
   * sets `lane: outboxLane`). Carried by the outbox, as a transport carries its backend, so that a bundle without
   * an outbox does not contain it.
   */
  readonly lane: OutboxLaneFactory
}

/** Builds the producer's side of an outbox (see Outbox.lane). */
export type OutboxLaneFactory = (outbox: Outbox, options: ResolvedOptions, wake: () => void) => OutboxLane
