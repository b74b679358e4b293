import { backoffMs } from '../clock.js'
import { DeliveryTimeoutError, IsoKafkaError, MalformedResponseError } from '../errors.js'
import type {
  GatewayPartitionBatch,
  GatewayPartitionResult,
  Outbox,
  OutboxBatch,
  OutboxLaneFactory,
} from '../transport.js'
import type { RecordAccumulator } from './accumulator.js'
import { resultError } from './gateway-backend.js'
import type { ProducerBatch } from './producer-batch.js'
import type { ResolvedOptions } from './options.js'

/** A stored batch no live send waits for: left by an earlier page, or kept past its sends' delivery timeout. */
export interface Orphan {
  wire: GatewayPartitionBatch
  attempts: number
  retryAtMs: number
  inFlight: boolean
}

/** How often leftovers of other producers (tabs closed since) are looked for. */
const RECLAIM_EVERY_MS = 30_000
/** Orphans are retried while the page lives; their backoff grows up to this. */
const ORPHAN_BACKOFF_MAX_MS = 30_000
/** A put that takes longer (a blocked IndexedDB) no longer holds its batch back: it ships, durable or not. */
const PUT_WAIT_MS = 5_000

/**
 * The gateway backend's side of a durable outbox (ProducerOptions.outbox): stores each batch before it ships,
 * forgets it after the gateway's ack or a final failure, and keeps the orphans (stored batches no send waits for) in
 * a lane of their own, retried with their original batch ids until the gateway acknowledges them.
 *
 * When is a record durable? When its batch is put, which the backend does as soon as the batch is complete (full, or
 * its lingerMs over), whether or not it can ship yet: at most lingerMs after the record's send(), plus the store's
 * write. A batch ships once its put settled (at most PUT_WAIT_MS), except while the page is hidden (see store()).
 */
export class OutboxLane {
  /** open() settled: batches may ship. */
  ready = false
  readonly orphans: Orphan[] = []
  private readonly stored = new Set<string>()
  /** Puts under way, by batch id. */
  private readonly puts = new Map<string, Promise<void>>()
  private closed = false
  private reclaiming = false
  private timer: unknown = null
  private readonly onOnline = () => this.reclaim()

  constructor(
    private readonly outbox: Outbox,
    private readonly options: ResolvedOptions,
    private readonly wake: () => void,
  ) {
    const settle = (batches: OutboxBatch[] | void) => {
      this.ready = true
      this.adoptStored(batches)
      this.wake()
    }
    // an open() that does not settle (a blocked IndexedDB) holds batches back PUT_WAIT_MS at most; what it returns
    // later is still taken over
    const openTimer = options.clock.setTimeout(() => settle(), PUT_WAIT_MS)
    Promise.resolve()
      .then(() => outbox.open())
      .then(settle, () => settle())
      .finally(() => options.clock.clearTimeout(openTimer))
    const g = globalThis as { addEventListener?: (type: string, fn: () => void) => void }
    g.addEventListener?.('online', this.onOnline)
    this.schedule()
  }

  /**
   * Put the batches not stored yet. Resolves once every put of these batches settled, including puts issued earlier
   * and still under way (put never rejects; a broken store is not fatal), or after PUT_WAIT_MS; null when there is
   * nothing to wait for.
   */
  store(batches: readonly GatewayPartitionBatch[]): Promise<void> | null {
    let waits: Array<Promise<void>> | null = null
    for (const b of batches) {
      let put = this.puts.get(b.batchId)
      if (!put && !this.stored.has(b.batchId)) {
        this.stored.add(b.batchId)
        // a copy: the batch's buffer goes back to the pool after the ack, and the store may clone it later than now
        const stored: OutboxBatch = {
          batchId: b.batchId,
          topic: b.topic,
          partition: b.partition,
          count: b.count,
          records: b.records.slice(),
        }
        const id = b.batchId
        put = Promise.resolve()
          .then(() => this.outbox.put(stored))
          .catch(() => {})
          .then(() => void this.puts.delete(id))
        this.puts.set(id, put)
      }
      if (put) (waits ??= []).push(put)
    }
    if (!waits) return null
    // A hidden page may be frozen or gone any moment (pagehide): its puts are issued, but the batch does not wait for
    // them; the flush's keepalive requests get out now instead of after the write (one of the two makes it).
    if ((globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === 'hidden') return null
    const { clock } = this.options
    let timer: unknown = null
    return Promise.race([
      Promise.all(waits),
      new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, PUT_WAIT_MS))),
    ]).then(() => clock.clearTimeout(timer))
  }

  /** Acknowledged, or failed for good: no longer kept. */
  forget(batchIds: readonly string[]): void {
    const ids = batchIds.filter((id) => this.stored.delete(id))
    if (ids.length > 0)
      void Promise.resolve()
        .then(() => this.outbox.remove(ids))
        .catch(() => {})
  }

  /**
   * Every complete batch of a partition's queue (full, or its linger over) is stored at once, also those queued
   * behind a batch in flight: a record is durable within lingerMs of its send(), not only once its batch can ship. A
   * stored batch is closed (no record may join it after its bytes were put). `wires` holds the wire form of the
   * batches that have one; `toWire` gives a batch its own (and its batch id).
   */
  storeComplete(
    batches: readonly ProducerBatch[],
    now: number,
    urgent: boolean,
    later: (at: number) => void,
    accumulator: RecordAccumulator,
    wires: WeakMap<ProducerBatch, GatewayPartitionBatch>,
    toWire: (b: ProducerBatch) => GatewayPartitionBatch,
  ): void {
    for (const b of batches) {
      const wire = wires.get(b)
      if (wire && this.stored.has(wire.batchId)) continue
      if (accumulator.lingering(b, now, urgent)) {
        later(b.createdMs + this.options.lingerMs)
        break // only the last batch of a queue is still open
      }
      b.closed = true
      void this.store([toWire(b)])
    }
  }

  /**
   * Orphans that may go now, in requests of their own of about maxRequestSize each, while `room()` says a request may
   * start (`send` ships one); the earliest retry time of the others goes to `later`.
   */
  sendDue(now: number, later: (at: number) => void, room: () => boolean, send: (orphans: Orphan[]) => void): void {
    if (this.orphans.length === 0 || !room()) return
    const due = this.due(now, later)
    let i = 0
    while (i < due.length && room()) {
      const group: Orphan[] = []
      let size = 64
      for (; i < due.length; i++) {
        const bytes = due[i]!.wire.records.length + due[i]!.wire.topic.length + 32
        if (group.length > 0 && size + bytes > this.options.maxRequestSize) break
        due[i]!.inFlight = true
        group.push(due[i]!)
        size += bytes
      }
      send(group)
    }
  }

  /**
   * The gateway answered a request that carried orphans: each is acked, retried after a backoff, or failed for good.
   * After a forced close (`aborted`) they stay stored, for the next page.
   */
  answered(orphans: readonly Orphan[], byId: ReadonlyMap<string, GatewayPartitionResult>, aborted: boolean): void {
    for (const o of orphans) {
      if (aborted) {
        o.inFlight = false
        continue
      }
      const r = byId.get(o.wire.batchId)
      if (r && r.errorCode === 0) this.acked(o)
      else {
        const err = r
          ? resultError(o.wire, r)
          : new MalformedResponseError(`the gateway's answer has no entry for batch ${o.wire.batchId}`)
        this.failed(o, err, err.retriable)
      }
    }
  }

  /** A request that carried orphans failed as a whole (no answer, a transport error). */
  requestFailed(orphans: readonly Orphan[], error: Error, aborted: boolean): void {
    const retriable = error instanceof IsoKafkaError && error.retriable
    for (const o of orphans) {
      if (aborted) o.inFlight = false
      else this.failed(o, error, retriable)
    }
  }

  /**
   * A batch whose sends ran out of time (delivery timeout): if it was stored, it stays stored and goes on as an
   * orphan until the gateway acknowledges it. Its sends reject all the same, as Java's would, with the error returned
   * here, which says the records are kept; null when the batch was never stored.
   */
  expired(wire: GatewayPartitionBatch | undefined, err: DeliveryTimeoutError): DeliveryTimeoutError | null {
    if (!wire || !this.stored.has(wire.batchId)) return null
    this.orphans.push({ wire: { ...wire, records: wire.records.slice() }, attempts: 0, retryAtMs: 0, inFlight: false })
    return new DeliveryTimeoutError(
      `${err.message}; the outbox keeps them and sends them when the gateway is reachable`,
      { cause: err.cause },
    )
  }

  /** Orphans that may go now (not in flight, backoff over); the earliest retry time of the others via `later`. */
  due(now: number, later: (at: number) => void): Orphan[] {
    const out: Orphan[] = []
    for (const o of this.orphans) {
      if (o.inFlight) continue
      if (o.retryAtMs > now) later(o.retryAtMs)
      else out.push(o)
    }
    return out
  }

  acked(o: Orphan): void {
    this.drop(o)
    this.forget([o.wire.batchId])
  }

  failed(o: Orphan, error: Error, retriable: boolean): void {
    o.inFlight = false
    if (this.closed) return // the producer is closing: it stays stored for the next page
    if (retriable) {
      o.attempts++
      const { retryBackoffMs, clock } = this.options
      o.retryAtMs =
        clock.now() + backoffMs(o.attempts, Math.max(1, retryBackoffMs), ORPHAN_BACKOFF_MAX_MS, clock.random)
      return
    }
    this.drop(o)
    this.forget([o.wire.batchId])
    const { batchId, topic, partition, count, records } = o.wire
    try {
      this.outbox.failed?.({ batchId, topic, partition, count, records }, error)
    } catch {
      /* the application's report must not stop the sender */
    }
  }

  close(): void {
    this.closed = true
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer)
    const g = globalThis as { removeEventListener?: (type: string, fn: () => void) => void }
    g.removeEventListener?.('online', this.onOnline)
    void Promise.resolve()
      .then(() => this.outbox.close())
      .catch(() => {})
  }

  private drop(o: Orphan): void {
    const i = this.orphans.indexOf(o)
    if (i >= 0) this.orphans.splice(i, 1)
  }

  private adoptStored(batches: OutboxBatch[] | void): void {
    if (!Array.isArray(batches)) return
    for (const b of batches) {
      if (!b || typeof b.batchId !== 'string' || this.stored.has(b.batchId) || !(b.records instanceof Uint8Array))
        continue
      this.stored.add(b.batchId)
      this.orphans.push({
        wire: { topic: b.topic, partition: b.partition, batchId: b.batchId, count: b.count, records: b.records },
        attempts: 0,
        retryAtMs: 0,
        inFlight: false,
      })
    }
  }

  private reclaim(): void {
    if (this.closed || this.reclaiming || !this.ready) return
    this.reclaiming = true
    Promise.resolve()
      .then(() => this.outbox.reclaim())
      .then(
        (batches) => this.adoptStored(batches),
        () => {},
      )
      .finally(() => {
        this.reclaiming = false
        // the network is back or a tab went away: retry orphans now rather than at the end of their backoff
        for (const o of this.orphans) o.retryAtMs = 0
        this.wake()
      })
  }

  private schedule(): void {
    if (this.closed) return
    this.timer = this.options.clock.setTimeout(() => {
      this.reclaim()
      this.schedule()
    }, RECLAIM_EVERY_MS)
  }
}

/** The producer's side of an outbox, for `Outbox.lane`. */
export const outboxLane: OutboxLaneFactory = (outbox, options, wake) => new OutboxLane(outbox, options, wake)
