import { backoffMs, PassScheduler } from '../clock.js'
import { DeliveryTimeoutError, IsoKafkaError } from '../errors.js'
import { batchEvent } from '../hooks.js'
import type { PartitionQueue, RecordAccumulator } from './accumulator.js'
import type { ProducerBatch } from './producer-batch.js'
import type { ResolvedOptions } from './options.js'
import type { Sender } from './backend.js'

/** Kafka errors after which a partition's leader (or a topic's partitions) may have changed: refresh metadata. */
export const METADATA_ERRORS = new Set([3, 5, 6, 56, 74, 75, 100, 103])

/**
 * The skeleton both senders share (Java's Sender loop, whatever the batches travel over): a pass scheduler, delivery
 * timeouts, retries with backoff, giving up, and the turn bookkeeping the producer reads. A pass is: expire what ran
 * out of time (`expireQueued`), ask the accumulator which heads may go (`sendable`), take them (`drainRequest`), and
 * send; each response hands its batches to `retryOrFail` or completes them. The Kafka sender adds leaders,
 * connections, sequences and transactions; the gateway backend adds batch ids and the outbox.
 */
export abstract class BatchSender implements Sender {
  protected readonly scheduler: PassScheduler
  /** The error behind each batch's latest retry (the cause if it then expires while waiting). */
  readonly #lastErrors = new WeakMap<ProducerBatch, Error>()
  /** > 0 while flush() or close() wants every batch sent now. */
  flushing = 0
  /** Sends waiting for memory make batches ready at once (Java: "exhausted"). */
  memoryWaiters = 0
  /** The last pass left batches waiting on an answer whose arrival runs another pass (a full window, a connection). */
  saturated = false
  /** Called after every pass (the producer hands out turns with it). */
  onPass: () => void = () => {}

  constructor(
    protected readonly accumulator: RecordAccumulator,
    protected readonly options: ResolvedOptions,
  ) {
    this.scheduler = new PassScheduler(options.clock, () => this.run())
  }

  abstract readonly fatalError: Error | null

  /** The pass itself (the subclass's routing and requests). */
  protected abstract pass(): void

  /** Fails a batch for good: its sends reject, its memory goes back (and whatever the subclass must undo). */
  protected abstract failBatch(batch: ProducerBatch, err: Error): void

  /**
   * Why no batch may be retried any more: the producer's fatal error (the batch fails with it), `true` after a forced
   * close, or null while retries go on.
   */
  protected abstract halted(): Error | boolean | null

  /** A batch ran out of delivery time (queued, or after its last attempt). The gateway backend's outbox keeps it. */
  protected expire(batch: ProducerBatch, err: DeliveryTimeoutError): void {
    this.failBatch(batch, err)
  }

  /** A batch given up by abortAll (forced close). */
  protected abandon(batch: ProducerBatch, err: Error): void {
    this.failBatch(batch, err)
  }

  /** A batch was taken into a request (drainRequest). */
  protected drained(_q: PartitionQueue, _batch: ProducerBatch): void {}

  /** Run a pass soon (coalesced into one microtask). */
  wake(): void {
    this.scheduler.wake()
  }

  protected wakeAt(at: number): void {
    this.scheduler.wakeAt(at)
  }

  stop(): void {
    this.scheduler.stop()
  }

  /** One pass, then the producer's turn check. */
  run(): void {
    this.saturated = false
    this.pass()
    this.onPass()
  }

  /** flush(), close() or sends waiting for memory want every batch to go now, lingering or not. */
  protected get urgent(): boolean {
    return this.flushing > 0 || this.memoryWaiters > 0
  }

  /** Fails the queued batches whose delivery timeout passed; `later` hears when the next one will. */
  protected expireQueued(now: number, later: (at: number) => void): void {
    const { deliveryTimeoutMs } = this.options
    for (const batch of this.accumulator.expired(now, deliveryTimeoutMs, later)) {
      // a batch waiting out a retry backoff expires here: keep the error that made it wait as the cause
      this.expire(
        batch,
        new DeliveryTimeoutError(
          `${batch.recordCount} record(s) for ${batch.topic}-${batch.partition} expired after ${deliveryTimeoutMs} ms`,
          { cause: this.#lastErrors.get(batch) },
        ),
      )
    }
  }

  /**
   * Takes ready head batches of `queues` into one request of about maxRequestSize: one batch per partition, each
   * counted as its bytes plus `overhead` and its topic name. `mayTake` is the subclass's own condition (in-flight
   * rules, transactions); `drained` sees each batch taken (sequence numbers).
   */
  protected drainRequest(
    queues: readonly PartitionQueue[],
    from: number,
    overhead: number,
    mayTake: (q: PartitionQueue, head: ProducerBatch) => boolean,
  ): { batches: ProducerBatch[]; next: number } {
    const batches: ProducerBatch[] = []
    let size = 64
    const now = this.options.clock.now()
    const urgent = this.urgent
    let i = from
    for (; i < queues.length; i++) {
      const q = queues[i]!
      const head = q.batches[0]
      if (!head || !this.accumulator.sendable(head, now, urgent, ignoreTime) || !mayTake(q, head)) continue
      const bytes = head.builder.sizeInBytes + q.topic.length + overhead
      if (batches.length > 0 && size + bytes > this.options.maxRequestSize) break
      const batch = this.accumulator.drainHead(q)
      this.drained(q, batch)
      batches.push(batch)
      size += bytes
    }
    return { batches, next: i }
  }

  /**
   * A batch's attempt failed: retry it (back in its queue, ahead of its partition's newer batches, after a backoff)
   * while the error is retriable, attempts and delivery time are left and nothing halted the sender; otherwise fail it
   * (with a DeliveryTimeoutError when time ran out). `forceRetriable`: retry whatever the error says (a batch that
   * must follow an earlier one); `noBackoff`: resend at once (a leader hint moved the partition).
   */
  protected retryOrFail(
    q: PartitionQueue,
    batch: ProducerBatch,
    err: Error,
    forceRetriable = false,
    noBackoff = false,
  ): void {
    const { clock, deliveryTimeoutMs, retries, retryBackoffMs, retryBackoffMaxMs, hooks } = this.options
    const now = clock.now()
    const retriable = forceRetriable || (err instanceof IsoKafkaError && err.retriable)
    const expired = now - batch.createdMs >= deliveryTimeoutMs
    const halted = this.halted()
    if (retriable && !expired && batch.attempts < retries && !halted) {
      this.#lastErrors.set(batch, err)
      batch.attempts++
      batch.retryAtMs = noBackoff
        ? now
        : now + backoffMs(batch.attempts, retryBackoffMs, retryBackoffMaxMs, clock.random)
      q.reenqueue(batch)
      if (hooks.active) hooks.emit('batchRetried', { ...batchEvent(batch, hooks.now()), error: err })
      return
    }
    // once the producer is fatal, a batch that would have been retried fails with the fatal error, like the queued ones
    if (retriable && halted instanceof Error) this.failBatch(batch, halted)
    else if (retriable && expired) {
      this.expire(
        batch,
        new DeliveryTimeoutError(
          `${batch.recordCount} record(s) for ${batch.topic}-${batch.partition} not acknowledged within ${deliveryTimeoutMs} ms`,
          { cause: err },
        ),
      )
    } else this.failBatch(batch, err)
  }

  /** Fail everything not yet acknowledged (forced close). */
  abortAll(err: Error): void {
    for (const b of this.accumulator.drainAll()) this.abandon(b, err)
    for (const b of [...this.accumulator.incomplete]) this.abandon(b, err)
  }
}

function ignoreTime(): void {}
