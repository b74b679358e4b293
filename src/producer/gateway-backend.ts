import { batchEvent } from '../hooks.js'
import type { DeliveryTimeoutError } from '../errors.js'
import { KafkaProtocolError, MalformedResponseError, RequestTimeoutError } from '../errors.js'
import { BatchSender, METADATA_ERRORS } from './batch-sender.js'
import type { GatewayPartitionBatch, GatewayPartitionResult, GatewayTransport } from '../transport.js'
import type { PartitionQueue, RecordAccumulator } from './accumulator.js'
import type { ProducerBatch } from './producer-batch.js'
import { GatewayMetadata, type Deadline } from './gateway-metadata.js'
import { gatewayRecordFormat, type GatewayRecordsBuilder } from './gateway-records.js'
import type { Orphan, OutboxLane } from './outbox-lane.js'
import type { ResolvedOptions } from './options.js'
import type { BackendFactory, Sender } from './backend.js'

/** The error of a batch (ours: topic and partition as we sent it) the gateway answered with a Kafka error code. */
export function resultError(b: { topic: string; partition: number }, r: GatewayPartitionResult): KafkaProtocolError {
  return new KafkaProtocolError(r.errorCode, `${b.topic}-${b.partition}${r.message ? `: ${r.message}` : ''}`, {
    name: r.error,
  })
}

/** 128 random bits, base64url (22 characters): names this producer instance in its batch ids. */
function instanceId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16)) // every runtime of the core has Web Crypto's random values
  return btoa(String.fromCharCode(...bytes))
    .slice(0, 22)
    .replace(/[+/]/g, (c) => (c === '+' ? '-' : '_'))
}

/**
 * The producer's cluster side over a `GatewayTransport`: topic metadata from `transport.metadata()` and a sender
 * that ships ready batches from the same accumulator the Kafka path uses (same partitioner, linger and batching).
 *
 * - Each batch gets a client batch id (`<instance>-<n>`) the first time it is sent, and keeps it on every resend, so
 *   a gateway that deduplicates per batch id does not write it twice.
 * - One batch per partition is in flight at a time; a failed batch goes back to the head of its partition's queue,
 *   so per-partition order holds across retries. Meanwhile the partition's open batch may grow up to a quarter of
 *   the transport's frameLimits() (RecordAccumulator.growBytes), so a partition sends its backlog in one round
 *   trip, not one batchSize per round trip. Not with an outbox: it stores batches as they fill, within one linger.
 * - At most `maxInFlightRequestsPerConnection` produce() calls run at once, each carrying at most one batch per
 *   partition and about `maxRequestSize` bytes.
 * - Retriable errors retry with exponential backoff until `deliveryTimeoutMs`; others fail the batch's sends.
 */
export class GatewayBackend extends BatchSender implements Sender {
  /** Topic metadata: the producer's ProducerBackend (gatewayBackend). */
  readonly metadata: GatewayMetadata
  readonly #wire = new WeakMap<ProducerBatch, GatewayPartitionBatch>()
  readonly #instance: string
  /** The durable outbox's side (ProducerOptions.outbox), when there is one. */
  readonly #lane: OutboxLane | null
  #batchCounter = 0
  #inFlightRequests = 0
  /** Every request in flight, metadata and produce (see GatewayMetadata.deadlines). */
  readonly #deadlines = new Set<Deadline>()
  #closed = false
  /** Set by abortAll(): nothing is retried any more. */
  #aborted = false

  readonly #transport: GatewayTransport

  constructor(transport: GatewayTransport, accumulator: RecordAccumulator, options: ResolvedOptions) {
    super(accumulator, options)
    this.#transport = transport
    this.#instance = instanceId()
    this.metadata = new GatewayMetadata(transport, accumulator, options, this.#deadlines, () => this.#close())
    this.#lane = options.outbox ? options.outbox.lane(options.outbox, options, () => this.wake()) : null
  }

  get fatalError(): Error | null {
    return null
  }

  protected halted(): boolean {
    return this.#aborted
  }

  /**
   * The producer's backend is the topic metadata itself (`metadata`, handed to the producer by gatewayBackend); its
   * close() closes this side too.
   */
  #close(): void {
    this.#closed = true
    this.stop()
    this.#lane?.close()
    void Promise.resolve()
      .then(() => this.#transport.close())
      .catch(() => {})
  }

  // ---- Sender ----

  override stop(): void {
    this.scheduler.stop(this.#closed)
  }

  /** One pass: expire old batches, then ship what is ready, one batch per partition in flight. */
  protected pass(): void {
    const { clock, maxInFlight } = this.options
    const now = clock.now()
    let nextWake = Infinity
    const later = (at: number) => {
      if (at < nextWake) nextWake = at
    }
    this.metadata.expireOverdue(now)
    this.expireQueued(now, later)
    const limits = this.#lane ? undefined : this.#transport.frameLimits?.()
    if (limits) {
      // a quarter of a frame: a request's batches of several partitions still fit in one frame or a few
      this.accumulator.growBytes = Math.min(
        limits.maxFrameBytes >> 2,
        limits.maxBatchBytes ?? Infinity,
        this.options.maxRequestSize,
      )
      this.accumulator.maxRecords = (limits.maxRecordsPerFrame ?? 10_000) >> 2
    }
    if (
      this.accumulator.queues.length > 0 &&
      now - this.metadata.lastRefreshAt >= this.options.metadataMaxAgeMs &&
      this.metadata.topics.size > 0
    ) {
      this.metadata.requestRefresh()
    }
    const lane = this.#lane
    const urgent = this.urgent
    let toWire: ((b: ProducerBatch) => GatewayPartitionBatch) | null = null
    if (lane) {
      if (!lane.ready) return // the outbox is opening: nothing ships before it can be stored
      lane.sendDue(
        now,
        later,
        () => this.#inFlightRequests < maxInFlight,
        (orphans) => this.#send([], orphans),
      )
      toWire = (b) => this.#toWire(b)
    }
    const ready: PartitionQueue[] = []
    for (const q of this.accumulator.queues) {
      if (lane) lane.storeComplete(q.batches, now, urgent, later, this.accumulator, this.#wire, toWire!)
      const head = q.batches[0]
      if (head && q.inFlight === 0 && this.accumulator.sendable(head, now, urgent, later)) ready.push(q)
    }
    let i = 0
    while (i < ready.length && this.#inFlightRequests < maxInFlight) {
      const request = this.drainRequest(ready, i, 32, always)
      i = request.next
      if (request.batches.length > 0) this.#send(request.batches, [])
    }
    this.saturated = i < ready.length
    this.wakeAt(nextWake)
  }

  /** The batch as the transport ships it: records sealed once, the batch id kept on every resend. */
  #toWire(batch: ProducerBatch): GatewayPartitionBatch {
    let w = this.#wire.get(batch)
    if (!w) {
      w = {
        topic: batch.topic,
        partition: batch.partition,
        batchId: `${this.#instance}-${(++this.#batchCounter).toString(36)}`,
        count: batch.recordCount,
        records: (batch.builder as GatewayRecordsBuilder).seal(),
      }
      this.#wire.set(batch, w)
    }
    return w
  }

  #send(batches: ProducerBatch[], orphans: Orphan[]): void {
    const { clock, acks, requestTimeoutMs } = this.options
    this.#inFlightRequests++
    let settled = false
    let guard: unknown = null
    const deadline = { at: Infinity, expire: () => {} }
    const settle = (fn: () => void) => {
      if (settled) return
      settled = true
      if (guard !== null) clock.clearTimeout(guard)
      this.#deadlines.delete(deadline)
      this.#inFlightRequests--
      fn()
      this.wake()
    }
    const wire = batches.map((b) => this.#toWire(b))
    if (this.options.hooks.active)
      for (const b of batches) this.options.hooks.emit('batchSent', batchEvent(b, this.options.hooks.now()))
    for (const o of orphans) wire.push(o.wire)
    const produce = (): void => {
      if (settled) return
      let pending: Promise<GatewayPartitionResult[]>
      try {
        pending = Promise.resolve(this.#transport.produce(wire, { acks, timeoutMs: requestTimeoutMs }))
      } catch (err) {
        pending = Promise.reject(err)
      }
      // The transport should answer within requestTimeoutMs; if it does not, the batches are retried (same batch ids).
      deadline.at = clock.now() + requestTimeoutMs + 1000
      deadline.expire = () =>
        settle(() =>
          this.#onRequestError(
            batches,
            orphans,
            new RequestTimeoutError(`the gateway did not answer within ${requestTimeoutMs} ms`),
          ),
        )
      this.#deadlines.add(deadline)
      guard = clock.setTimeout(() => {
        guard = null
        deadline.expire()
      }, requestTimeoutMs + 1000)
      pending.then(
        (results) => settle(() => this.#onResponse(batches, orphans, results)),
        (err) => settle(() => this.#onRequestError(batches, orphans, err)),
      )
    }
    // with an outbox, a batch is stored before it first leaves (put() settles; it never rejects)
    const storing = this.#lane?.store(wire)
    if (storing) void storing.then(produce)
    else produce()
  }

  #onResponse(batches: ProducerBatch[], orphans: Orphan[], results: readonly GatewayPartitionResult[]): void {
    const byId = new Map<string, GatewayPartitionResult>()
    if (Array.isArray(results)) for (const r of results) if (r && typeof r.batchId === 'string') byId.set(r.batchId, r)
    const acked: string[] = []
    for (const batch of batches) {
      const q = this.accumulator.returned(batch)
      if (batch.done) continue
      const wire = this.#wire.get(batch)!
      const r = byId.get(wire.batchId)
      if (!r) {
        this.retryOrFail(
          q,
          batch,
          new MalformedResponseError(
            `the gateway's answer has no entry for batch ${wire.batchId} (${batch.topic}-${batch.partition})`,
          ),
        )
        continue
      }
      if (r.errorCode === 0) {
        const offsets = Array.isArray(r.offsets) && r.offsets.length === batch.recordCount ? r.offsets : undefined
        acked.push(wire.batchId)
        batch.complete(
          typeof r.baseOffset === 'number' ? r.baseOffset : -1,
          typeof r.logAppendTime === 'number' ? r.logAppendTime : -1,
          offsets,
        )
        this.accumulator.release(batch, true) // gateway transports copy records into their frames
        continue
      }
      const err = resultError(batch, r)
      if (METADATA_ERRORS.has(r.errorCode)) this.metadata.requestRefresh()
      this.retryOrFail(q, batch, err)
    }
    if (acked.length > 0) this.#lane?.forget(acked)
    if (orphans.length > 0) this.#lane!.answered(orphans, byId, this.#aborted)
  }

  #onRequestError(batches: ProducerBatch[], orphans: Orphan[], err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    for (const batch of batches) {
      const q = this.accumulator.returned(batch)
      if (!batch.done) this.retryOrFail(q, batch, error)
    }
    if (orphans.length > 0) this.#lane!.requestFailed(orphans, error, this.#aborted)
  }

  /**
   * The batch's sends ran out of time. Without an outbox that is the end of it. With one, a stored batch stays
   * stored and goes on as an orphan until the gateway acknowledges it: its sends reject all the same (as Java's
   * would), and the error says the records are kept.
   */
  protected override expire(batch: ProducerBatch, err: DeliveryTimeoutError): void {
    const kept = this.#lane && !this.#aborted ? this.#lane.expired(this.#wire.get(batch), err) : null
    if (kept) {
      batch.fail(kept)
      this.accumulator.release(batch)
    } else this.failBatch(batch, err)
  }

  /** Failed for good: its sends reject, and an outbox forgets it. */
  protected failBatch(batch: ProducerBatch, err: Error): void {
    batch.fail(err)
    this.accumulator.release(batch)
    const wire = this.#wire.get(batch)
    if (wire) this.#lane?.forget([wire.batchId])
  }

  /** Fail everything not yet acknowledged (forced close). What an outbox stored stays stored, for the next page. */
  override abortAll(err: Error): void {
    this.#aborted = true
    super.abortAll(err)
  }

  protected override abandon(batch: ProducerBatch, err: Error): void {
    if (this.#lane) {
      batch.fail(err)
      this.accumulator.release(batch)
    } else this.failBatch(batch, err)
  }
}

const always = () => true

/** The backend of gateway transports (WebSocket, fetch): batches go to the gateway as whole partition batches. */
export const gatewayBackend: BackendFactory = ({ transport, accumulator, options }) => {
  if (transport.kind !== 'gateway') throw new TypeError('gatewayBackend needs a gateway transport')
  accumulator.format = gatewayRecordFormat
  const gateway = new GatewayBackend(transport, accumulator, options)
  return { backend: gateway.metadata, sender: gateway }
}
