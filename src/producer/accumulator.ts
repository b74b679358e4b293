import { RecordBatchBuilder, type EncodedHeader } from '../protocol/record-batch.js'

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
  readonly builder: RecordBatchBuilder
  private readonly callbacks: DeliveryCallback[] = []
  private readonly timestamps: number[] = []
  reservedBytes = 0
  /** No more records go in (full, or drained). */
  closed = false
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
  private waiters: Array<() => void> | null = null

  constructor(readonly topic: string, readonly partition: number, readonly createdMs: number, capacity: number, buffer?: Uint8Array) {
    this.builder = new RecordBatchBuilder(capacity, buffer)
  }

  get recordCount(): number {
    return this.builder.count
  }

  add(timestamp: number, key: Uint8Array | null, value: Uint8Array | null, headers: readonly EncodedHeader[], reserved: number, callback: DeliveryCallback): void {
    this.builder.append(timestamp, key, value, headers)
    this.timestamps.push(timestamp)
    this.callbacks.push(callback)
    this.reservedBytes += reserved
  }

  /** `offsets`: every record's offset, when they are not consecutive (a gateway or REST proxy may report them). */
  complete(baseOffset: number, logAppendTime: number, offsets?: readonly number[]): void {
    if (this.done) return
    this.done = true
    const { topic, partition } = this
    const callbacks = this.callbacks
    for (let i = 0; i < callbacks.length; i++) {
      deliver(callbacks[i]!, null, {
        topic,
        partition,
        offset: offsets ? (offsets[i] ?? -1) : baseOffset < 0 ? -1 : baseOffset + i,
        timestamp: logAppendTime >= 0 ? logAppendTime : this.timestamps[i]!,
      })
    }
    this.finish()
  }

  fail(err: Error): void {
    if (this.done) return
    this.done = true
    for (const callback of this.callbacks) deliver(callback, err, null)
    this.finish()
  }

  private finish(): void {
    this.callbacks.length = 0
    this.timestamps.length = 0
    this.sealed = null
    const waiters = this.waiters
    this.waiters = null
    if (waiters) for (const w of waiters) w()
  }

  whenDone(): Promise<void> {
    if (this.done) return Promise.resolve()
    return new Promise((resolve) => (this.waiters ??= []).push(resolve))
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
  constructor(readonly topic: string, readonly partition: number) {}

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

/**
 * Per-partition batching with a global memory budget (Java's RecordAccumulator + BufferPool).
 * Memory is the estimated encoded size of each buffered record, released when its batch completes.
 */
export class RecordAccumulator {
  private readonly byTopic = new Map<string, PartitionQueue[]>()
  readonly queues: PartitionQueue[] = []
  readonly incomplete = new Set<ProducerBatch>()
  usedBytes = 0
  /**
   * Spare batch buffers of exactly batchSize bytes (Java's BufferPool idea): a done batch's buffer is reused by the
   * next batch, so steady-state sending allocates no new batch buffers. A buffer goes back only once its batch is
   * complete, when no request can still reference it.
   */
  private readonly pool: Uint8Array[] = []
  /** Called when memory is released (the producer's blocked sends wait on it). */
  onMemoryFreed: () => void = () => {}

  constructor(private readonly batchSize: number, readonly bufferMemory: number) {}

  queue(topic: string, partition: number): PartitionQueue {
    let list = this.byTopic.get(topic)
    if (!list) {
      list = []
      this.byTopic.set(topic, list)
    }
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
   * Appends a record to the partition's open batch, or opens a new one. Returns the batch and whether it is now
   * full (so the sender can go without waiting for linger).
   */
  append(
    topic: string, partition: number, timestamp: number, key: Uint8Array | null, value: Uint8Array | null,
    headers: readonly EncodedHeader[], estimate: number, now: number, callback: DeliveryCallback,
  ): { batch: ProducerBatch; full: boolean; created: boolean } {
    const q = this.queue(topic, partition)
    let batch = q.batches[q.batches.length - 1]
    let created = false
    if (!batch || batch.closed || (batch.recordCount > 0 && batch.builder.sizeInBytes + estimate > this.batchSize)) {
      if (batch && !batch.closed) batch.closed = true
      const pooled = estimate + 128 <= this.batchSize ? this.pool.pop() : undefined
      batch = new ProducerBatch(topic, partition, now, Math.max(this.batchSize, estimate + 128), pooled)
      q.batches.push(batch)
      this.incomplete.add(batch)
      created = true
    }
    batch.add(timestamp, key, value, headers, estimate, callback)
    this.usedBytes += estimate
    const full = batch.builder.sizeInBytes >= this.batchSize
    if (full) batch.closed = true
    return { batch, full, created }
  }

  /** A batch finished (acked or failed): give its memory back. */
  release(batch: ProducerBatch): void {
    if (!this.incomplete.delete(batch)) return
    this.usedBytes -= batch.reservedBytes
    batch.reservedBytes = 0
    const buffer = batch.builder.buffer
    if (buffer.length === this.batchSize && this.batchSize >= 1024 && (this.pool.length + 1) * this.batchSize <= this.bufferMemory / 4 && this.pool.length < 64) {
      this.pool.push(buffer)
    }
    this.onMemoryFreed()
  }

  /** Drop a finished batch from its queue (it is normally at the head). */
  remove(batch: ProducerBatch): void {
    const q = this.queue(batch.topic, batch.partition)
    const i = q.batches.indexOf(batch)
    if (i >= 0) q.batches.splice(i, 1)
  }
}
