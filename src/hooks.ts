/**
 * Producer hooks: typed callbacks for what happens inside a producer (connections, requests, batches, records,
 * throttling, metadata, producer ids, transactions), runtime-free, registered at creation (`hooks` option) or later
 * (`producer.addHooks()`). A hook runs synchronously where the event happens and must be quick; one that throws is
 * ignored (the producer goes on, other hooks still run). With none registered, each place that could emit an event
 * pays one property read (`hooks.active`).
 */

/** A broker as the event saw it: its address, and its node id when the producer knows it (-1 when not). */
export interface BrokerRef {
  host: string
  port: number
  nodeId: number
}

export interface RequestEvent {
  broker: BrokerRef
  /** Kafka's API name, e.g. 'Produce', 'Metadata'. */
  api: string
  apiKey: number
  version: number
  /** Bytes of the request frame (written) or the response frame (read), size prefix included. */
  bytes: number
}

export interface BatchEvent {
  topic: string
  partition: number
  records: number
  /** Bytes of the batch as it goes on the wire (after compression). */
  bytes: number
  /** 1 for the first send, one more per retry (in batchRetried: the attempt to come). */
  attempt: number
  /** Milliseconds since the batch's first record was appended. */
  ageMs: number
}

export interface ProducerHooks {
  /** A connection to a broker is open (and authenticated). */
  brokerConnected?(e: { broker: BrokerRef }): void
  /** A connection closed or failed; `cause` says why. */
  brokerDisconnected?(e: { broker: BrokerRef; cause: Error }): void
  /** A request went to the socket. */
  requestWritten?(e: RequestEvent): void
  /** Its response came back, `latencyMs` after it was written. */
  responseRead?(e: RequestEvent & { latencyMs: number }): void
  /** A batch leaves for its leader (or the gateway). */
  batchSent?(e: BatchEvent): void
  /** A batch failed with a retriable error and waits for its next attempt. */
  batchRetried?(e: BatchEvent & { error: Error }): void
  /** A batch failed for good: its records' sends reject with `error`. */
  batchFailed?(e: BatchEvent & { error: Error }): void
  /** A batch was acknowledged (`ageMs`: from its first record to the acknowledgement). */
  batchAcked?(e: BatchEvent & { baseOffset: number }): void
  /** Each acknowledged record (one call per record: register only when you need records one by one). */
  recordAcked?(e: { topic: string; partition: number; offset: number }): void
  /** Each record that failed for good. */
  recordFailed?(e: { topic: string; partition: number; error: Error }): void
  /** A broker asked the producer to slow down (`throttle_time_ms` of a Produce response). */
  throttled?(e: { broker: BrokerRef; api: string; throttleTimeMs: number }): void
  /** Topic metadata arrived. */
  metadataRefreshed?(e: { topics: string[]; brokers: number }): void
  /** The producer took a (new) producer id or epoch (idempotence, transactions). */
  producerIdChanged?(e: { producerId: number; producerEpoch: number }): void
  /** A transactional producer moved from one state to another. */
  transactionStateChanged?(e: { from: string; to: string }): void
}

export type HookName = keyof ProducerHooks
type EventOf<N extends HookName> = Parameters<NonNullable<ProducerHooks[N]>>[0]

/** The hooks of one producer. `active` is false while none is registered, so call sites can skip building events. */
export class HookSet {
  #list: ProducerHooks[] = []
  active = false

  /** `now`: the producer's clock (batch ages). */
  constructor(readonly now: () => number) {}
  /** Some hook wants records one by one (recordAcked / recordFailed): a loop per batch only then. */
  perRecord = false

  add(hooks: ProducerHooks): () => void {
    if (hooks === null || typeof hooks !== 'object') throw new TypeError('hooks must be an object of callbacks')
    this.#list = [...this.#list, hooks]
    this.#update()
    return () => {
      this.#list = this.#list.filter((h) => h !== hooks)
      this.#update()
    }
  }

  #update(): void {
    this.active = this.#list.length > 0
    this.perRecord = this.#list.some((h) => h.recordAcked !== undefined || h.recordFailed !== undefined)
  }

  /** Calls every hook registered for `name`; what one throws is swallowed (a hook never disturbs the producer). */
  emit<N extends HookName>(name: N, event: EventOf<N>): void {
    for (const h of this.#list) {
      const fn = h[name] as ((e: EventOf<N>) => void) | undefined
      if (fn === undefined) continue
      try {
        fn.call(h, event)
      } catch {
        // ignored by design: observability must not change what the producer does
      }
    }
  }
}

/** What hooks need of a batch (the accumulator's ProducerBatch). */
interface BatchLike {
  readonly topic: string
  readonly partition: number
  readonly recordCount: number
  readonly createdMs: number
  readonly attempts: number
  readonly sealed: Uint8Array | null
  readonly builder: { readonly sizeInBytes: number }
}

/** A batch as hooks see it at `now`; `attempt` counts the send under way or just done. */
export function batchEvent(b: BatchLike, now: number): BatchEvent {
  return {
    topic: b.topic,
    partition: b.partition,
    records: b.recordCount,
    bytes: b.sealed?.length ?? b.builder.sizeInBytes,
    attempt: b.attempts + 1,
    ageMs: now - b.createdMs,
  }
}

/** batchAcked, then recordAcked per record when a hook wants them (ProducerBatch.complete). */
export function emitAcked(hooks: HookSet, b: BatchLike, baseOffset: number, offsets?: readonly number[]): void {
  const e = batchEvent(b, hooks.now())
  hooks.emit('batchAcked', { ...e, baseOffset })
  if (!hooks.perRecord) return
  for (let i = 0; i < e.records; i++) {
    const offset = offsets ? (offsets[i] ?? -1) : baseOffset < 0 ? -1 : baseOffset + i
    hooks.emit('recordAcked', { topic: e.topic, partition: e.partition, offset })
  }
}

/** batchFailed, then recordFailed per record when a hook wants them (ProducerBatch.fail). */
export function emitFailed(hooks: HookSet, b: BatchLike, error: Error): void {
  const e = batchEvent(b, hooks.now())
  hooks.emit('batchFailed', { ...e, error })
  if (!hooks.perRecord) return
  for (let i = 0; i < e.records; i++) hooks.emit('recordFailed', { topic: e.topic, partition: e.partition, error })
}
