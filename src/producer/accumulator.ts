import { emitAcked, emitFailed, type HookSet } from '../hooks.js'
import type { EncodedHeader, RecordInput } from '../protocol/record-batch.js'

/**
 * Where a batch's records are written as they arrive, in the wire form its backend ships: a Kafka RecordBatch for
 * the Kafka path (protocol/record-batch.ts), MessagePack gateway records for the gateway path
 * (producer/gateway-records.ts). Each backend brings its own, so a bundle carries only the one its transport uses.
 */
export interface BatchBuilder {
  readonly count: number
  /** Timestamp of the first record. */
  readonly firstTimestamp: number
  /** Bytes of the batch so far, in its wire form: what batchSize is compared with. */
  readonly sizeInBytes: number
  /** The buffer written into (given back to the accumulator's pool when the batch is done). */
  readonly buffer: Uint8Array
  append(record: RecordInput): void
}

export interface RecordFormat {
  /** `buffer`: a pooled buffer of batchSize bytes to write into (replaced by a larger copy if the batch outgrows it). */
  builder(capacity: number, buffer?: Uint8Array): BatchBuilder
  /** An upper bound of a record's size in this form (its share of bufferMemory, and the size checks). */
  estimate(key: Uint8Array | null, value: Uint8Array | null, headers: readonly EncodedHeader[]): number
}

/** What a successful send resolves to. */
export interface RecordMetadata {
  topic: string
  partition: number
  /** Offset in the partition; -1 when unknown (acks=0). */
  offset: number
  /** CreateTime of the record, or the broker's LogAppendTime when the topic uses it. */
  timestamp: number
}

/**
 * How a record's outcome is reported: one Node-style function per record, called once with an error or with the
 * record's metadata. `produce()` stores the user's callback as is; `send()` stores one that settles its promise.
 */
export type DeliveryCallback = (err: Error | null, meta: RecordMetadata | null) => void

/** Runs a user's delivery callback. One that throws must not stop the sender: its error is rethrown on its own. */
export function deliver(callback: DeliveryCallback, err: Error | null, meta: RecordMetadata | null): void {
  try {
    callback(err, meta)
  } catch (thrown) {
    queueMicrotask(() => {
      throw thrown
    })
  }
}

/**
 * One batch of records for one partition: the records in wire form plus the callbacks of the sends in it.
 * Keeps its sequence and sealed bytes across retries so a resend is byte-identical (idempotence relies on it).
 */
export class ProducerBatch {
  readonly builder: BatchBuilder
  // Per-record state, kept compact: a hot produce() loop passes one callback for every record, and records arrive
  // in time order, so the batch keeps one callback until a record brings another one, and the timestamps as runs:
  // [first index, timestamp] pairs for each change after the first record (a few per batch, not one per record).
  #callback: DeliveryCallback | null = null
  #callbacks: DeliveryCallback[] | null = null
  // A send()'s record keeps its promise's resolving functions instead of a closure over them (one object fewer per
  // pending send, which matters with tens of thousands outstanding): slot i of #rejects is set for those records, and
  // their "callback" is the promise's resolve, called with the metadata alone.
  #rejects: Array<(err: Error) => void> | null = null
  #timestampRuns: number[] | null = null
  #lastTimestamp = 0
  reservedBytes = 0
  /** No more records go in (full, or drained). */
  closed = false
  /** Closed because it was full and not yet taken by the sender: counted in RecordAccumulator.fullBatchesWaiting. */
  waitingFull = false
  attempts = 0
  /** Not to be resent before this time (retry backoff). */
  retryAtMs = 0
  /** -1 until the batch is first sent with idempotence on. */
  baseSequence = -1
  producerId = -1
  producerEpoch = -1
  /** Encoded RecordBatch, cached for retries. */
  sealed: Uint8Array | null = null
  inFlight = false
  done = false
  /** The producer's hooks (batchAcked / batchFailed and their per-record events come from complete() and fail()). */
  hooks: HookSet | null = null
  #waiters: Array<() => void> | null = null

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly createdMs: number,
    builder: BatchBuilder,
  ) {
    this.builder = builder
  }

  get recordCount(): number {
    return this.builder.count
  }

  add(record: RecordToAppend): void {
    const n = this.builder.count // records before this one
    this.builder.append(record)
    const { timestamp, callback, estimate: reserved } = record
    if (record.reject !== null) (this.#rejects ??= [])[n] = record.reject
    if (n === 0) {
      this.#callback = callback
      this.#lastTimestamp = timestamp
    } else {
      if (this.#callbacks !== null) this.#callbacks[n] = callback
      else if (callback !== this.#callback) this.#callbacks = this.#spreadCallback(n, callback, reserved)
      if (timestamp !== this.#lastTimestamp) {
        ;(this.#timestampRuns ??= []).push(n, timestamp)
        this.#lastTimestamp = timestamp
      }
    }
    this.reservedBytes += reserved
  }

  /** The first record with a callback of its own: one slot per record, sized for the records that may still fit. */
  #spreadCallback(n: number, callback: DeliveryCallback, reserved: number): DeliveryCallback[] {
    const room = Math.ceil((this.builder.buffer.length - this.builder.sizeInBytes) / Math.max(16, reserved))
    const slots = new Array<DeliveryCallback>(Math.min(n + 1 + room, 1 << 16))
    for (let i = 0; i < n; i++) slots[i] = this.#callback!
    slots[n] = callback
    return slots
  }

  /** Record i's callback: the batch's one callback until a record brought another (see spreadCallback). */
  #callbackAt(i: number): DeliveryCallback {
    return this.#callbacks !== null ? this.#callbacks[i]! : this.#callback!
  }

  /** `offsets`: every record's offset, when they are not consecutive (a gateway or REST proxy may report them). */
  complete(baseOffset: number, logAppendTime: number, offsets?: readonly number[]): void {
    if (this.done) return
    this.done = true
    if (this.hooks !== null && this.hooks.active) emitAcked(this.hooks, this, baseOffset, offsets)
    const { topic, partition } = this
    const timestampRuns = this.#timestampRuns
    const count = this.builder.count
    let timestamp = logAppendTime >= 0 ? logAppendTime : this.builder.firstTimestamp
    const rejects = this.#rejects
    let run = 0 // next entry of timestampRuns
    for (let i = 0; i < count; i++) {
      if (timestampRuns !== null && logAppendTime < 0 && run < timestampRuns.length && timestampRuns[run] === i) {
        timestamp = timestampRuns[run + 1]!
        run += 2
      }
      const meta = {
        topic,
        partition,
        offset: offsets ? (offsets[i] ?? -1) : baseOffset < 0 ? -1 : baseOffset + i,
        timestamp,
      }
      if (rejects !== null && rejects[i] !== undefined)
        (this.#callbackAt(i) as unknown as (m: RecordMetadata) => void)(meta)
      else deliver(this.#callbackAt(i), null, meta)
    }
    this.#finish()
  }

  fail(err: Error): void {
    if (this.done) return
    this.done = true
    if (this.hooks !== null && this.hooks.active) emitFailed(this.hooks, this, err)
    const rejects = this.#rejects
    for (let i = 0; i < this.builder.count; i++) {
      if (rejects !== null && rejects[i] !== undefined) rejects[i]!(err)
      else deliver(this.#callbackAt(i), err, null)
    }
    this.#finish()
  }

  #finish(): void {
    this.#callback = null
    this.#callbacks = null
    this.#rejects = null
    this.#timestampRuns = null
    this.sealed = null
    const waiters = this.#waiters
    this.#waiters = null
    if (waiters) for (const w of waiters) w()
  }

  whenDone(): Promise<void> {
    if (this.done) return Promise.resolve()
    return new Promise((resolve) => (this.#waiters ??= []).push(resolve))
  }
}

/** The batches of one partition, oldest first, and its idempotence state. */
export class PartitionQueue {
  readonly batches: ProducerBatch[] = []
  inFlight = 0
  /** Sequence for the next new batch (idempotence). */
  nextSequence = 0
  /** Highest sequence acknowledged by the broker (last record of the last acked batch), -1 for none. */
  lastAckedSequence = -1
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Put a batch back in sequence order, ahead of newer batches (a retry). */
  reenqueue(batch: ProducerBatch): void {
    let i = 0
    while (i < this.batches.length) {
      const b = this.batches[i]!
      if (b.baseSequence < 0 || (batch.baseSequence >= 0 && b.baseSequence > batch.baseSequence)) break
      i++
    }
    if (batch.baseSequence < 0) i = 0
    this.batches.splice(i, 0, batch)
  }
}

const NONE: ProducerBatch[] = []

/** Batch buffers per slab allocation (see RecordAccumulator.carve). */
const SLAB_BUFFERS = 16

/**
 * A record on its way into a batch: the producer's pending send. Passed down as one object (see RecordInput);
 * `now` is the clock's time of this attempt, the creation time of a batch it opens.
 */
export interface RecordToAppend extends RecordInput {
  topic: string
  partition: number
  /** The estimated encoded size: the bufferMemory it holds until its batch completes. */
  estimate: number
  now: number
  callback: DeliveryCallback
  /** For a send() (a promise): its reject, and `callback` is its resolve (see ProducerBatch.#rejects); else null. */
  reject: ((err: Error) => void) | null
}

/** What RecordAccumulator.append did. */
export const APPENDED = 0
export const BATCH_CREATED = 1
export const BATCH_FULL = 2

/**
 * Per-partition batching with a global memory budget (Java's RecordAccumulator + BufferPool).
 * Memory is the estimated encoded size of each buffered record, released when its batch completes.
 */
export class RecordAccumulator {
  readonly #byTopic = new Map<string, PartitionQueue[]>()
  // the last topic's queues: a run of sends to one topic skips the map lookup
  #lastTopic: string | null = null
  #lastList: PartitionQueue[] | undefined = undefined
  readonly queues: PartitionQueue[] = []
  readonly incomplete = new Set<ProducerBatch>()
  usedBytes = 0
  /**
   * Full batches that wait for the sender (closed for size, not yet in a request): the work that piles up while a
   * synchronous loop of sends keeps the sender, which runs between tasks, from running (see the producer's turns).
   */
  fullBatchesWaiting = 0
  /**
   * Spare batch buffers of exactly batchSize bytes (Java's BufferPool idea): a done batch's buffer is reused by the
   * next batch, so steady-state sending allocates no new batch buffers. A buffer goes back only once its batch is
   * complete, when no request can still reference it. The pool holds up to bufferMemory, as Java's does: buffers are
   * only made when the pool is empty, so it never holds more than the most that was in use at once, and a producer
   * that ran with a full buffer keeps that memory (dropping the excess cost ~5 % more CPU per record, measured).
   */
  readonly #pool: Uint8Array[] = []
  #slab: Uint8Array | null = null
  #slabUsed = 0
  /** Called when memory is released (the producer's blocked sends wait on it). */
  onMemoryFreed: () => void = () => {}
  /** The wire form of batches: set by the backend factory (createProducer calls it before any send). */
  format!: RecordFormat
  /** The producer's hooks, handed to every batch it opens. */
  hooks: HookSet | null = null

  constructor(
    private readonly batchSize: number,
    readonly bufferMemory: number,
    private readonly lingerMs = 0,
  ) {}

  queue(topic: string, partition: number): PartitionQueue {
    let list = topic === this.#lastTopic ? this.#lastList : this.#byTopic.get(topic)
    if (!list) {
      list = []
      this.#byTopic.set(topic, list)
    }
    this.#lastTopic = topic
    this.#lastList = list
    let q = list[partition]
    if (!q) {
      q = new PartitionQueue(topic, partition)
      list[partition] = q
      this.queues.push(q)
    }
    return q
  }

  hasRoom(bytes: number): boolean {
    return this.usedBytes + bytes <= this.bufferMemory
  }

  /**
   * Appends a record to the partition's open batch, or opens a new one. Returns APPENDED, or flags: BATCH_CREATED
   * and/or BATCH_FULL (the sender can go without waiting for linger). Flags, not an object: this runs per record.
   */
  append(record: RecordToAppend): number {
    const { topic, partition, estimate } = record
    const q = this.queue(topic, partition)
    let batch = q.batches[q.batches.length - 1]
    let created = false
    if (!batch || batch.closed || (batch.recordCount > 0 && batch.builder.sizeInBytes + estimate > this.batchSize)) {
      if (batch && !batch.closed) this.#closeFull(batch)
      const pooled = estimate + 128 <= this.batchSize ? (this.#pool.pop() ?? this.#carve()) : undefined
      batch = new ProducerBatch(
        topic,
        partition,
        record.now,
        this.format.builder(Math.max(this.batchSize, estimate + 128), pooled),
      )
      batch.hooks = this.hooks
      q.batches.push(batch)
      this.incomplete.add(batch)
      created = true
    }
    batch.add(record)
    this.usedBytes += estimate
    const full = batch.builder.sizeInBytes >= this.batchSize
    if (full) this.#closeFull(batch)
    return (created ? BATCH_CREATED : APPENDED) | (full ? BATCH_FULL : APPENDED)
  }

  #closeFull(batch: ProducerBatch): void {
    batch.closed = true
    batch.waitingFull = true
    this.fullBatchesWaiting++
  }

  /** The sender took the batch off its queue (into a request) or it finished unsent: it no longer waits. */
  taken(batch: ProducerBatch): void {
    if (!batch.waitingFull) return
    batch.waitingFull = false
    this.fullBatchesWaiting--
  }

  /**
   * A new batch buffer, cut from a slab of SLAB_BUFFERS buffers: until the pool fills up (while the first bufferMemory
   * of records goes in) one allocation serves 16 batches, and each allocation of an ArrayBuffer costs the engine ~10 µs
   * (memory outside the JS heap, accounted to the GC). Only for batch sizes up to 64 KiB; larger ones stand alone.
   */
  #carve(): Uint8Array | undefined {
    const size = this.batchSize
    if (size > 65536 || size < 1024) return undefined
    if (this.#slab === null || this.#slabUsed + size > this.#slab.length) {
      this.#slab = new Uint8Array(size * Math.max(1, Math.min(SLAB_BUFFERS, Math.floor(this.bufferMemory / size))))
      this.#slabUsed = 0
    }
    const buffer = this.#slab.subarray(this.#slabUsed, this.#slabUsed + size)
    this.#slabUsed += size
    return buffer
  }

  /**
   * A batch finished (acked or failed): give its memory back. `bufferIsFree`: no write can still read the batch's
   * buffer (a broker answered the request that carried it), so it may be reused. Requests reference batch bytes
   * rather than copy them (Writer.shareFrom), so a batch failed by a timeout or sent with acks=0 may still be queued
   * in a socket: its buffer is left to the garbage collector instead.
   */
  release(batch: ProducerBatch, bufferIsFree = false): void {
    if (!this.incomplete.delete(batch)) return
    this.taken(batch)
    this.usedBytes -= batch.reservedBytes
    batch.reservedBytes = 0
    const buffer = batch.builder.buffer
    if (
      bufferIsFree &&
      buffer.length === this.batchSize &&
      this.batchSize >= 1024 &&
      (this.#pool.length + 1) * this.batchSize <= this.bufferMemory
    ) {
      this.#pool.push(buffer)
    }
    this.onMemoryFreed()
  }

  // ---- the sender's questions (Java's RecordAccumulator: expiredBatches, ready, drain) ----

  /**
   * Takes the batches whose delivery timeout passed off the heads of their queues (a batch in flight is in no queue:
   * its request's answer or timeout decides). `later` hears when the next queued batch will expire.
   */
  expired(now: number, deliveryTimeoutMs: number, later: (at: number) => void): ProducerBatch[] {
    let out: ProducerBatch[] | null = null
    for (const q of this.queues) {
      const batches = q.batches
      while (batches.length > 0 && now - batches[0]!.createdMs >= deliveryTimeoutMs) (out ??= []).push(batches.shift()!)
      if (batches.length > 0) later(batches[0]!.createdMs + deliveryTimeoutMs)
    }
    return out ?? NONE
  }

  /**
   * May this batch (a partition's head) go now? Not while it waits out a retry backoff; and a first attempt only once
   * it is closed (full), its linger has passed, or `urgent` (flush, or sends waiting for memory). `later` hears when a
   * batch that may not go yet will.
   */
  sendable(batch: ProducerBatch, now: number, urgent: boolean, later: (at: number) => void): boolean {
    if (batch.attempts > 0) {
      if (batch.retryAtMs <= now) return true
      later(batch.retryAtMs)
      return false
    }
    if (batch.closed || urgent || now >= batch.createdMs + this.lingerMs) return true
    later(batch.createdMs + this.lingerMs)
    return false
  }

  /** The sender takes a partition's head batch into a request: no record joins it now, and it is in flight. */
  drainHead(q: PartitionQueue): ProducerBatch {
    const batch = q.batches.shift()!
    batch.closed = true
    this.taken(batch)
    batch.inFlight = true
    q.inFlight++
    return batch
  }

  /** The request that carried the batch was answered or failed; its partition's queue. */
  returned(batch: ProducerBatch): PartitionQueue {
    const q = this.queue(batch.topic, batch.partition)
    q.inFlight--
    batch.inFlight = false
    return q
  }

  /** Takes every queued batch (not those in flight) off its queue: for failing them all. */
  drainAll(): ProducerBatch[] {
    const out: ProducerBatch[] = []
    for (const q of this.queues) for (const b of q.batches.splice(0)) out.push(b)
    return out
  }

  /** Drop a finished batch from its queue (it is normally at the head). */
  remove(batch: ProducerBatch): void {
    const q = this.queue(batch.topic, batch.partition)
    const i = q.batches.indexOf(batch)
    if (i >= 0) q.batches.splice(i, 1)
  }
}
