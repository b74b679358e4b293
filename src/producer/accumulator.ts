import type { HookSet } from '../hooks.js'
import { ProducerBatch, type RecordFormat, type RecordToAppend } from './producer-batch.js'

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
  /**
   * How far a partition's open batch may grow past batchSize while another batch of that partition is in flight or
   * waiting for the sender, and the most records a batch takes. The gateway backend sets them from its transport's
   * frameLimits(): it keeps one batch per partition in flight, so what arrives meanwhile leaves as one batch when that
   * one is answered (Nagle's idea) instead of one batchSize per round trip. Nothing waits longer for it: the open
   * batch could not leave before the one ahead of it was answered anyway. The Kafka path keeps several batches of a
   * partition in flight instead (0: batches stay at batchSize).
   */
  growBytes = 0
  maxRecords = Infinity

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
    const limit = this.#limit(q) // before a new batch joins the queue: it does not count as one waiting ahead
    let batch = this.joinable(q, estimate)
    let created = false
    if (!batch) {
      batch = q.batches[q.batches.length - 1]
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
    const full = batch.builder.sizeInBytes >= limit || batch.recordCount >= this.maxRecords
    if (full) this.#closeFull(batch)
    return (created ? BATCH_CREATED : APPENDED) | (full ? BATCH_FULL : APPENDED)
  }

  /** The batch of `q` a record of `estimate` bytes joins now; undefined when it opens a new one. */
  joinable(q: PartitionQueue, estimate: number): ProducerBatch | undefined {
    const batch = q.batches[q.batches.length - 1]
    if (batch && !batch.closed && (batch.recordCount < 1 || batch.builder.sizeInBytes + estimate <= this.#limit(q)))
      return batch
  }

  /** A batch of `q` is full at batchSize, or at growBytes behind a batch in flight or waiting for the sender. */
  #limit(q: PartitionQueue): number {
    return (q.inFlight > 0 || q.batches.length > 1) && this.growBytes > this.batchSize ? this.growBytes : this.batchSize
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
    if (!this.lingering(batch, now, urgent)) return true
    later(batch.createdMs + this.lingerMs)
    return false
  }

  /** May the batch still take records: open, never sent, within its linger, and nobody waits for it (flush, memory)? */
  lingering(batch: ProducerBatch, now: number, urgent: boolean): boolean {
    return !batch.closed && !urgent && batch.attempts === 0 && now < batch.createdMs + this.lingerMs
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
