// One batch of records for one partition, as the accumulator builds it and a sender ships it: the records in their
// backend's wire form (BatchBuilder / RecordFormat), the delivery callbacks of the sends in it, and the state a sender
// keeps across retries (sequence, sealed bytes, attempts).
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
 * record's metadata, and the `tag` given to `produce()` (so one function can serve many records without a closure
 * for each). `produce()` stores the user's callback as is; `send()` stores one that settles its promise.
 */
export type DeliveryCallback = (err: Error | null, meta: RecordMetadata | null, tag?: any) => void

/** Runs a user's delivery callback. One that throws must not stop the sender: its error is rethrown on its own. */
export function deliver(
  callback: DeliveryCallback,
  err: Error | null,
  meta: RecordMetadata | null,
  tag?: unknown,
): void {
  try {
    callback(err, meta, tag)
  } catch (thrown) {
    queueMicrotask(() => {
      throw thrown
    })
  }
}

/**
 * The callback a send()'s record carries: its promise is not settled by a call but through its batch's outcome
 * (ProducerBatch.promise), so a pending send() costs a promise and a reaction, not a promise and two resolving
 * functions with their context (measured: ~120 bytes less per outstanding send).
 */
export const SETTLES_PROMISE: DeliveryCallback = () => {}

/**
 * The callback of a record nobody waits for (produce() without one; the gateway's records after the first of a
 * piece, adapters/gateway/direct-append.ts): complete() and fail() pass over it, so such a record costs no metadata
 * object and no call.
 */
export const ignoreOutcome: DeliveryCallback = () => {}

/** The reaction of every send() promise of a batch: the batch hands out its records' outcomes in record order. */
const takeOutcome = (batch: ProducerBatch): RecordMetadata => batch.nextOutcome()

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
  // A send() that waited before it reached a batch has a promise of its own: it keeps its resolving functions, not a
  // closure over them (slot i of #rejects is set for those records, and their "callback" is the promise's resolve,
  // called with the metadata alone).
  #rejects: Array<(err: Error) => void> | null = null
  // produce()'s tags, slot i for record i, for the records that came with one
  #tags: unknown[] | null = null
  #timestampRuns: number[] | null = null
  #lastTimestamp = 0
  // send()'s records (callback SETTLES_PROMISE): one promise for the batch, settled with the batch itself when it
  // completes; each send's promise is `outcome.then(takeOutcome)`. A promise's reactions run in the order they were
  // added, which is record order, so the nth reaction takes the nth such record's outcome (#cursor).
  #outcome: Promise<ProducerBatch> | null = null
  #settleOutcome: ((batch: ProducerBatch) => void) | null = null
  #promised = 0
  #cursor = 0
  #run = 0
  #timestamp = 0
  #baseOffset = -1
  #logAppendTime = -1
  #offsets: readonly number[] | undefined = undefined
  #error: Error | null = null
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
    if (record.tag !== undefined) (this.#tags ??= this.#slots(n, reserved))[n] = record.tag
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
    if (callback === SETTLES_PROMISE) record.promise = this.#promise()
  }

  /** A promise for the record just added, settled when the batch completes or fails. */
  #promise(): Promise<RecordMetadata> {
    if (this.#outcome === null) {
      this.#outcome = new Promise<ProducerBatch>((resolve) => {
        this.#settleOutcome = resolve
      })
      this.#timestamp = this.builder.firstTimestamp
    }
    this.#promised++
    return this.#outcome.then(takeOutcome)
  }

  /**
   * Per-record slots (callbacks, tags), made when the first record needs one: sized for the records that may still
   * fit, so a batch of records with tags (sendBatch) fills them without growing the array record by record.
   */
  #slots<T>(n: number, reserved: number): T[] {
    const room = Math.ceil((this.builder.buffer.length - this.builder.sizeInBytes) / Math.max(16, reserved))
    return new Array<T>(Math.min(n + 1 + room, 1 << 16))
  }

  /** The first record with a callback of its own: one slot per record (see #slots). */
  #spreadCallback(n: number, callback: DeliveryCallback, reserved: number): DeliveryCallback[] {
    const slots = this.#slots<DeliveryCallback>(n, reserved)
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
    this.#baseOffset = baseOffset
    this.#logAppendTime = logAppendTime
    this.#offsets = offsets
    const count = this.builder.count
    if (this.#promised < count) {
      // the records with callbacks (produce(), sendBatch(), sends that waited), called now in record order
      const timestampRuns = this.#timestampRuns
      let timestamp = logAppendTime >= 0 ? logAppendTime : this.builder.firstTimestamp
      const rejects = this.#rejects
      let run = 0 // next entry of timestampRuns
      for (let i = 0; i < count; i++) {
        if (timestampRuns !== null && logAppendTime < 0 && run < timestampRuns.length && timestampRuns[run] === i) {
          timestamp = timestampRuns[run + 1]!
          run += 2
        }
        const callback = this.#callbackAt(i)
        if (callback === SETTLES_PROMISE || callback === ignoreOutcome) continue
        const meta = this.#meta(i, timestamp)
        if (rejects !== null && rejects[i] !== undefined) (callback as unknown as (m: RecordMetadata) => void)(meta)
        else deliver(callback, null, meta, this.#tags?.[i])
      }
    }
    this.#finish()
  }

  fail(err: Error): void {
    if (this.done) return
    this.done = true
    if (this.hooks !== null && this.hooks.active) emitFailed(this.hooks, this, err)
    this.#error = err
    const count = this.builder.count
    if (this.#promised < count) {
      const rejects = this.#rejects
      for (let i = 0; i < count; i++) {
        const callback = this.#callbackAt(i)
        if (rejects !== null && rejects[i] !== undefined) rejects[i]!(err)
        else if (callback !== SETTLES_PROMISE && callback !== ignoreOutcome)
          deliver(callback, err, null, this.#tags?.[i])
      }
    }
    this.#finish()
  }

  /**
   * The outcome of the next send() record, for its promise's reaction (they run in record order, after complete()
   * or fail()): its metadata, or the batch's error thrown.
   */
  nextOutcome(): RecordMetadata {
    let i = this.#cursor
    const count = this.builder.count
    while (i < count && this.#callbackAt(i) !== SETTLES_PROMISE) i++ // (bounded: one reaction per such record)
    this.#cursor = i + 1
    const err = this.#error
    let meta: RecordMetadata | null = null
    if (err === null) {
      const logAppendTime = this.#logAppendTime
      if (logAppendTime < 0) {
        const runs = this.#timestampRuns
        while (runs !== null && this.#run < runs.length && runs[this.#run]! <= i) {
          this.#timestamp = runs[this.#run + 1]!
          this.#run += 2
        }
      }
      meta = this.#meta(i, logAppendTime >= 0 ? logAppendTime : this.#timestamp)
    }
    if (--this.#promised === 0) this.#forget()
    if (err !== null) throw err
    return meta!
  }

  /** Record i's metadata once complete() has set the offsets; `timestamp` is its CreateTime or the LogAppendTime. */
  #meta(i: number, timestamp: number): RecordMetadata {
    const offsets = this.#offsets
    const base = this.#baseOffset
    return {
      topic: this.topic,
      partition: this.partition,
      offset: offsets ? (offsets[i] ?? -1) : base < 0 ? -1 : base + i,
      timestamp,
    }
  }

  #finish(): void {
    this.sealed = null
    const settle = this.#settleOutcome
    const outcome = this.#outcome
    const waiters = this.#waiters
    this.#waiters = null
    if (settle === null) {
      this.#forget()
      if (waiters) for (const w of waiters) w()
      return
    }
    this.#settleOutcome = null
    settle(this) // the send() reactions run later, in order, and the last one forgets the per-record state
    // whenDone() (flush, close) after them: a send's own reactions run before whatever waited for its batch
    if (waiters)
      void outcome!.then(() => {
        for (const w of waiters) w()
      })
  }

  #forget(): void {
    this.#rejects = null
    this.#callback = null
    this.#callbacks = null
    this.#tags = null
    this.#timestampRuns = null
    this.#outcome = null
    this.#offsets = undefined
  }

  whenDone(): Promise<void> {
    if (this.done) return Promise.resolve()
    return new Promise((resolve) => (this.#waiters ??= []).push(resolve))
  }
}

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
  /** SETTLES_PROMISE for a send() not yet settled any other way: the batch sets `promise` when the record joins it. */
  callback: DeliveryCallback
  /** For a send() that waited (a promise of its own): its reject, and `callback` is its resolve; else null. */
  reject: ((err: Error) => void) | null
  promise: Promise<RecordMetadata> | null
  /** produce()'s tag, handed back to the callback; undefined when none was given. */
  tag: unknown
}
