import { KafkaCluster } from '../client/cluster.js'
import type { BrokerConnection } from '../client/connection.js'
import { resolveCodec, type CompressionCodec } from '../compression.js'
import { batchEvent } from '../hooks.js'
import { metricsOf } from './metrics.js'
import { MalformedResponseError, ProducerFatalError } from '../errors.js'
import { Produce, type ProducePartitionResponse } from '../protocol/messages/produce.js'
import { kafkaRecordFormat } from '../protocol/record-batch.js'
import type { PartitionQueue, RecordAccumulator } from './accumulator.js'
import type { ProducerBatch } from './producer-batch.js'
import type { ResolvedOptions } from './options.js'
import type { BackendFactory } from './backend.js'
import { BatchSender, METADATA_ERRORS } from './batch-sender.js'
import { TransactionManager, TXN_PRODUCE_FATAL } from './transactions.js'
import { buildProduceRequest, fetchProducerId, responsesByBatch } from './produce-request.js'
import type { SocketTransport } from '../transport.js'
import { brokerError } from '../protocol/error-messages.js'

const SEQUENCE_MODULO = 2 ** 31
/** Idempotence errors that end the producer (as Java's fatal errors for a non-transactional producer). */
const FATAL_ERRORS = new Set([31, 47, 49, 53, 90])
const DUPLICATE_SEQUENCE_NUMBER = 46
const OUT_OF_ORDER_SEQUENCE_NUMBER = 45
const UNKNOWN_PRODUCER_ID = 59

/**
 * Drains ready batches from the accumulator to partition leaders over the Kafka protocol: one Produce request per
 * broker carrying at most one batch per partition, up to maxInFlight requests per connection, retries with
 * backoff, delivery timeouts and idempotent sequencing (Java's Sender + TransactionManager for idempotence).
 */
export class KafkaSender extends BatchSender {
  private producerId = -1
  private producerEpoch = -1
  private initializing: Promise<void> | null = null
  private needsReset = false
  private fatal: Error | null = null
  private readonly inFlightByNode = new Map<number, number>()
  private readonly nodeChains = new Map<number, Promise<void>>()
  private rotate = 0
  /** Produce response entries whose leader hint moved their partition (KIP-951): retried at once, see onResponse. */
  private readonly leaderMoved = new WeakSet<ProducePartitionResponse>()
  /** Set for a transactional producer: it owns the producer id/epoch and says when a partition's batch may go. */
  txn: TransactionManager | null = null

  constructor(
    private readonly cluster: KafkaCluster,
    accumulator: RecordAccumulator,
    options: ResolvedOptions,
    private readonly codec: CompressionCodec | null,
    private readonly onFatal: (err: Error) => void,
  ) {
    super(accumulator, options)
    cluster.onChange = () => this.wake()
  }

  get fatalError(): Error | null {
    return this.fatal
  }

  protected halted(): Error | null {
    return this.fatal
  }

  /** One pass: expire, ensure a producer id, then send what is ready to each partition's leader. */
  protected pass(): void {
    if (this.fatal) return
    const now = this.options.clock.now()
    let nextWake = Infinity
    const later = (at: number) => {
      if (at < nextWake) nextWake = at
    }
    this.cluster.expireOverdue(now)
    this.expireQueued(now, later)
    if (this.cluster.isStale(now) && this.accumulator.queues.length > 0) this.cluster.requestRefresh()

    if (this.options.idempotent) {
      if (this.needsReset && this.accumulator.queues.every((q) => q.inFlight === 0)) this.resetProducerId()
      if (this.producerId < 0) {
        if (this.accumulator.incomplete.size > 0 && !this.txn) this.initProducerId() // a transactional id's comes from initTransactions()
        this.saturated = this.initializing !== null // its end runs a pass
        this.wakeAt(nextWake)
        return
      }
      if (this.needsReset) {
        this.wakeAt(nextWake)
        return
      }
    }

    // which leaders have a batch that may go (Java's RecordAccumulator.ready), partitions in rotating order
    const urgent = this.urgent
    const byNode = new Map<number, PartitionQueue[]>()
    const queues = this.accumulator.queues
    const n = queues.length
    this.rotate = (this.rotate + 1) % Math.max(1, n)
    for (let k = 0; k < n; k++) {
      const q = queues[(k + this.rotate) % n]!
      const head = q.batches[0]
      if (!head) continue
      // asked before linger ends, so that AddPartitionsToTxn (v1) runs while the batch fills
      if (this.txn && !this.txn.mayDrain(q.topic, q.partition, q.inFlight)) {
        this.saturated = true // AddPartitionsToTxn's end runs a pass
        continue
      }
      if (!this.accumulator.sendable(head, now, urgent, later) || !this.inOrder(q, head)) continue
      const leader = this.cluster.leaderFor(q.topic, q.partition)
      if (leader < 0) {
        this.cluster.requestRefresh()
        continue
      }
      let list = byNode.get(leader)
      if (!list) byNode.set(leader, (list = []))
      list.push(q)
    }

    for (const [node, list] of byNode) {
      const conn = this.cluster.readyConnection(node)
      if (!conn) {
        const delay = this.cluster.reconnectDelay(node)
        if (delay > 0) later(now + delay)
        else {
          this.saturated = true // the connection's outcome runs a pass
          this.cluster.connectionTo(node).then(
            () => this.wake(),
            () => {
              this.cluster.requestRefresh()
              this.wake()
            },
          )
        }
        continue
      }
      for (;;) {
        if ((this.inFlightByNode.get(node) ?? 0) >= this.options.maxInFlight) {
          this.saturated = true
          break
        }
        const { batches } = this.drainRequest(list, 0, 16, this.mayTake)
        if (batches.length === 0) break
        this.send(node, conn, batches)
      }
    }
    this.wakeAt(nextWake)
  }

  /** A retried idempotent batch goes alone, once everything before it has resolved, to keep sequence order. */
  private inOrder(q: PartitionQueue, head: ProducerBatch): boolean {
    return !(this.options.idempotent && head.baseSequence >= 0 && q.inFlight > 0)
  }

  /** drainRequest's condition. */
  private readonly mayTake = (q: PartitionQueue, head: ProducerBatch): boolean =>
    this.inOrder(q, head) && (this.txn === null || this.txn.mayDrain(q.topic, q.partition, q.inFlight))

  /** A batch gets its sequence the first time it goes, and keeps it on every retry (idempotence). */
  protected override drained(q: PartitionQueue, batch: ProducerBatch): void {
    if (this.options.idempotent && batch.baseSequence < 0) {
      batch.baseSequence = q.nextSequence
      batch.producerId = this.producerId
      batch.producerEpoch = this.producerEpoch
      q.nextSequence = (q.nextSequence + batch.recordCount) % SEQUENCE_MODULO
    }
  }

  private send(node: number, conn: BrokerConnection, batches: ProducerBatch[]): void {
    this.inFlightByNode.set(node, (this.inFlightByNode.get(node) ?? 0) + 1)
    // Requests to one broker are written in drain order even when compression makes sealing async.
    const prev = this.nodeChains.get(node) ?? Promise.resolve()
    const written = prev.then(() => this.produce(node, conn, batches))
    const chain = written.then(
      ({ response }) => {
        response.then(
          (res) => {
            this.inFlightByNode.set(node, this.inFlightByNode.get(node)! - 1)
            this.onResponse(batches, res)
          },
          (err) => {
            this.inFlightByNode.set(node, this.inFlightByNode.get(node)! - 1)
            this.onRequestError(batches, err)
          },
        )
      },
      (err) => {
        this.inFlightByNode.set(node, this.inFlightByNode.get(node)! - 1)
        this.onRequestError(batches, err)
      },
    )
    this.nodeChains.set(node, chain)
  }

  /** Seals the batches and writes the request; returns (after the write) a promise of the response, boxed so it is not flattened. */
  private async produce(
    node: number,
    conn: BrokerConnection,
    batches: ProducerBatch[],
  ): Promise<{ response: Promise<Map<ProducerBatch, ProducePartitionResponse> | null> }> {
    const { request, size } = await buildProduceRequest(
      batches,
      this.options,
      this.codec,
      this.txn?.transactionalId ?? null,
    )
    const hooks = this.options.hooks
    if (hooks.active) for (const b of batches) hooks.emit('batchSent', batchEvent(b, hooks.now()))
    if (this.options.acks === 0) {
      await conn.requestNoResponse(Produce, request, size)
      return { response: Promise.resolve(null) }
    }
    const pending = conn.request(this.txn?.produceApi ?? Produce, request, { sizeHint: size })
    pending.catch(() => {})
    return {
      response: pending.then((res) => {
        if (res.throttleTimeMs > 0 && hooks.active) {
          const broker = { host: conn.host, port: conn.port, nodeId: node }
          hooks.emit('throttled', { broker, api: 'Produce', throttleTimeMs: res.throttleTimeMs })
        }
        // KIP-951: a refusal that names the new leader moves the partition now (endpoints come only with hints)
        if (res.nodeEndpoints !== undefined) for (const p of this.cluster.applyLeaderHints(res)) this.leaderMoved.add(p)
        return responsesByBatch(batches, res)
      }),
    }
  }

  private onResponse(batches: ProducerBatch[], res: Map<ProducerBatch, ProducePartitionResponse> | null): void {
    let allWritten = res !== null
    for (const batch of batches) {
      this.accumulator.returned(batch)
      const code = res?.get(batch)?.errorCode
      if (code !== 0 && code !== DUPLICATE_SEQUENCE_NUMBER) allWritten = false
    }
    // The next request goes out before this one's batches complete: completing runs the delivery callbacks and lets
    // sends blocked on memory append again, and in one thread the broker would wait for all of that (Java's sender
    // is a thread of its own). Only when every batch was written: a batch to retry must be queued again first, ahead
    // of the partition's later batches.
    if (allWritten) this.run()
    for (const batch of batches) {
      const q = this.accumulator.queue(batch.topic, batch.partition)
      if (res === null) {
        this.completeBatch(q, batch, -1, -1)
        continue
      }
      const p = res.get(batch)
      if (!p) {
        this.retryOrFail(
          q,
          batch,
          new MalformedResponseError(`Produce response has no entry for ${batch.topic}-${batch.partition}`),
        )
        continue
      }
      if (p.errorCode === 0 || p.errorCode === DUPLICATE_SEQUENCE_NUMBER) {
        this.completeBatch(q, batch, p.baseOffset, p.logAppendTimeMs)
        continue
      }
      const detail = [p.errorMessage, ...p.recordErrors.map((e) => e.message)].filter(Boolean).join('; ')
      const err = brokerError(p.errorCode, `${batch.topic}-${batch.partition}${detail ? `: ${detail}` : ''}`)
      // the broker named a newer leader for the partition and the cluster moved it (applyLeaderHints): resend there at
      // once, without a metadata round trip or a backoff, as Java does since KIP-951 (only when the epoch advanced,
      // so a hint that leads nowhere backs off like any other retry)
      const moved = this.leaderMoved.has(p)
      if (METADATA_ERRORS.has(p.errorCode) && !moved) this.cluster.requestRefresh()
      if (this.txn ? TXN_PRODUCE_FATAL.has(p.errorCode) : FATAL_ERRORS.has(p.errorCode)) {
        this.setFatal(new ProducerFatalError(`the producer cannot continue: ${err.message}`, { cause: err }))
        batch.fail(this.fatal!)
        this.accumulator.release(batch)
        continue
      }
      if (this.txn && (p.errorCode === OUT_OF_ORDER_SEQUENCE_NUMBER || p.errorCode === UNKNOWN_PRODUCER_ID)) {
        this.failBatch(batch, err) // the transaction is to be aborted (and, in v1, the epoch bumped)
        continue
      }
      if (p.errorCode === OUT_OF_ORDER_SEQUENCE_NUMBER && this.options.idempotent) {
        if (batch.baseSequence !== (q.lastAckedSequence + 1) % SEQUENCE_MODULO) {
          // an earlier batch of this partition failed and will be resent first: this one follows it
          this.retryOrFail(q, batch, Object.assign(err, {}), true)
        } else {
          this.setFatal(
            new ProducerFatalError(
              `the broker lost track of this producer's sequence for ${batch.topic}-${batch.partition}`,
              { cause: err },
            ),
          )
          batch.fail(this.fatal!)
          this.accumulator.release(batch)
        }
        continue
      }
      if (p.errorCode === UNKNOWN_PRODUCER_ID && this.options.idempotent) {
        // the broker dropped our producer state (retention removed our last batches): start again with a new id
        this.needsReset = true
        this.retryOrFail(q, batch, err, true)
        continue
      }
      this.retryOrFail(q, batch, err, false, moved)
    }
    this.wake()
  }

  private onRequestError(batches: ProducerBatch[], err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    // connection lost or request timed out: "unsure if written". Idempotent retries make the resend safe.
    this.cluster.requestRefresh()
    for (const batch of batches) this.retryOrFail(this.accumulator.returned(batch), batch, error)
    this.wake()
  }

  private completeBatch(q: PartitionQueue, batch: ProducerBatch, baseOffset: number, logAppendTime: number): void {
    if (this.options.idempotent && batch.baseSequence >= 0) {
      q.lastAckedSequence = (batch.baseSequence + batch.recordCount - 1) % SEQUENCE_MODULO
    }
    batch.complete(baseOffset, logAppendTime)
    this.accumulator.release(batch, baseOffset >= 0) // -1: acks=0, the request may still be in the socket
    this.txn?.batchAcked(batch.topic, batch.partition)
  }

  protected failBatch(batch: ProducerBatch, err: Error): void {
    // a batch that went out with a sequence and is given up leaves a gap: the next batches need a new producer id
    if (this.options.idempotent && batch.baseSequence >= 0) {
      if (this.txn)
        this.txn.epochBumpRequired = true // bumped after the abort, not mid-transaction
      else this.needsReset = true
    }
    batch.fail(err)
    this.accumulator.release(batch)
    this.txn?.batchFailed(err)
  }

  // ---- the transaction manager's hooks ----

  /** A producer id/epoch from the transaction coordinator: sequences start again (called with nothing in flight). */
  setProducerIdAndEpoch(producerId: number, epoch: number): void {
    this.resetProducerId()
    this.producerId = producerId
    this.producerEpoch = epoch
    if (this.options.hooks.active) this.options.hooks.emit('producerIdChanged', { producerId, producerEpoch: epoch })
    this.wake()
  }

  /** Fails the batches never sent; sent ones (in flight or waiting to be retried) still resolve. */
  failUnsent(err: Error): void {
    for (const q of this.accumulator.queues) {
      const keep = q.batches.filter((b) => b.baseSequence >= 0)
      for (const b of q.batches) {
        if (b.baseSequence >= 0) continue
        b.fail(err)
        this.accumulator.release(b)
      }
      q.batches.splice(0, q.batches.length, ...keep)
    }
  }

  fail(err: Error): void {
    this.setFatal(err)
  }

  private initProducerId(): void {
    if (this.initializing) return
    this.initializing = fetchProducerId(
      this.cluster,
      this.options,
      () => !this.fatal && this.accumulator.incomplete.size > 0,
    )
      .then(
        (id) => {
          if (!id) return
          ;[this.producerId, this.producerEpoch] = [id.producerId, id.producerEpoch]
          if (this.options.hooks.active) this.options.hooks.emit('producerIdChanged', id)
        },
        (err: Error) =>
          this.setFatal(new ProducerFatalError(`could not get a producer id: ${err.message}`, { cause: err })),
      )
      .finally(() => {
        this.initializing = null
        this.wake()
      })
  }

  /** New producer id after a sequence gap; unsent batches get new sequences under it (KIP-360 in spirit). */
  private resetProducerId(): void {
    this.needsReset = false
    this.producerId = -1
    this.producerEpoch = -1
    for (const q of this.accumulator.queues) {
      q.nextSequence = 0
      q.lastAckedSequence = -1
      for (const b of q.batches) {
        b.baseSequence = -1
        b.sealed = null
      }
    }
  }

  private setFatal(err: Error): void {
    if (this.fatal) return
    this.fatal = err
    this.stop()
    for (const b of this.accumulator.drainAll()) this.abandon(b, err)
    this.onFatal(err)
  }

  /** Given up by a forced close or a fatal error: no sequence bookkeeping, the producer is done. */
  protected override abandon(batch: ProducerBatch, err: Error): void {
    batch.fail(err)
    this.accumulator.release(batch)
  }
}

/** The backend of Kafka-protocol transports: a cluster client (connections + metadata) and this sender. */
export const kafkaBackend: BackendFactory = ({ transport, accumulator, options, onFatal }) => {
  if (transport.kind !== 'socket') throw new TypeError('kafkaBackend needs a byte-stream (socket) transport')
  const cluster = new KafkaCluster(transport as SocketTransport, options)
  accumulator.format = kafkaRecordFormat
  const sender = new KafkaSender(
    cluster,
    accumulator,
    options,
    resolveCodec(options.compression, options.compressionLevel),
    onFatal,
  )
  const metrics = metricsOf(options.hooks, { total: options.bufferMemory, used: () => accumulator.usedBytes })
  if (options.transactionalId === null) return { backend: cluster, sender, metrics }
  const transactions = new TransactionManager(options.transactionalId, cluster, options)
  transactions.attach(sender)
  sender.txn = transactions
  return { backend: cluster, sender, transactions, metrics }
}
