import { backoffMs } from '../clock.js'
import type { KafkaCluster } from '../client/cluster.js'
import type { BrokerConnection } from '../client/connection.js'
import {
  IsoKafkaError,
  KafkaProtocolError,
  MaxBlockTimeoutError,
  ProducerFatalError,
  TransactionAbortableError,
  TransactionAbortedError,
  TransactionStateError,
} from '../errors.js'
import type { KafkaApi } from '../protocol/api.js'
import { brokerError } from '../protocol/error-messages.js'
import { AddOffsetsToTxn } from '../protocol/messages/add-offsets-to-txn.js'
import { AddPartitionsToTxn } from '../protocol/messages/add-partitions-to-txn.js'
import { EndTxn } from '../protocol/messages/end-txn.js'
import { CoordinatorType, FindCoordinator } from '../protocol/messages/find-coordinator.js'
import { InitProducerId } from '../protocol/messages/init-producer-id.js'
import { Produce, type ProduceRequest, type ProduceResponse } from '../protocol/messages/produce.js'
import { TxnOffsetCommit } from '../protocol/messages/txn-offset-commit.js'
import type { ResolvedOptions } from './options.js'
import {
  classifyTxnError,
  END_TXN_V1,
  firstError,
  PRODUCE_V1,
  TXN_OFFSET_COMMIT_V1,
  type GroupMetadata,
  type TransactionOffset,
  type TransactionSender,
  type TransactionState,
  type TxnErrorClass,
} from './transaction-protocol.js'

export { classifyTxnError, TXN_FATAL_ERRORS, TXN_PRODUCE_FATAL } from './transaction-protocol.js'
export type {
  GroupMetadata,
  TransactionOffset,
  TransactionSender,
  TransactionState,
  TxnErrorClass,
} from './transaction-protocol.js'

/**
 * Kafka transactions for one transactional id: the state machine of Java's TransactionManager and its requests to
 * the transaction coordinator (FindCoordinator, InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn) and to
 * the group coordinator (TxnOffsetCommit). The sender asks `mayDrain` before a partition's batch goes out.
 *
 * Transactions v2 (KIP-890) when the coordinator's broker has `transaction.version` ≥ 2 finalized and speaks EndTxn
 * v5: partitions join through Produce v12 itself, offsets through TxnOffsetCommit v5, and every EndTxn bumps the epoch
 * (its answer names the id/epoch of the next transaction). v1 otherwise: AddPartitionsToTxn before a partition's first
 * batch, AddOffsetsToTxn before TxnOffsetCommit, one epoch for the producer's life (bumped with InitProducerId after
 * an abortable error that left a sequence gap).
 */
export class TransactionManager {
  private current: TransactionState = 'uninitialized'
  get state(): TransactionState {
    return this.current
  }
  set state(to: TransactionState) {
    const from = this.current
    this.current = to
    if (from !== to && this.options.hooks.active) this.options.hooks.emit('transactionStateChanged', { from, to })
  }
  v2 = false
  producerId = -1
  producerEpoch = -1
  /** Set by the sender: a batch failed after it was sent, so its partition's sequence has a gap (v1 bumps the epoch). */
  epochBumpRequired = false
  private lastError: Error | null = null
  private started = false
  /** Partitions in the transaction: true once added (v1) or once their first batch was acknowledged (v2). */
  private readonly added = new Map<string, Map<number, boolean>>()
  private pendingAdds: Array<{ topic: string; partition: number }> = []
  /** The AddPartitionsToTxn requests under way (v1): EndTxn waits for them. */
  private adding: Promise<void> | null = null
  private coordinators = new Map<string, { host: string; port: number }>()
  private txnConnection: BrokerConnection | null = null
  private sender: TransactionSender | null = null
  /** A call under way: the same call again joins it (two EndTxn for one transaction would be refused). */
  private pending: Promise<void> | null = null

  constructor(
    readonly transactionalId: string,
    private readonly cluster: KafkaCluster,
    private readonly options: ResolvedOptions,
  ) {}

  attach(sender: TransactionSender): void {
    this.sender = sender
  }

  get produceApi(): KafkaApi<ProduceRequest, ProduceResponse> {
    return this.v2 ? Produce : PRODUCE_V1
  }

  // ---- the producer's calls ----

  initTransactions(): Promise<void> {
    this.throwIfFatal()
    if (this.pending) return this.pending
    if (this.state !== 'uninitialized')
      throw new TransactionStateError(`initTransactions() was already called (state: ${this.state})`)
    return this.once(this.initProducerId(-1, -1).then(() => void (this.state = 'ready')))
  }

  private once(p: Promise<void>): Promise<void> {
    const run = p.finally(() => {
      if (this.pending === run) this.pending = null
    })
    return (this.pending = run)
  }

  beginTransaction(): void {
    this.throwIfFatal()
    if (this.state === 'abortable-error') throw this.abortableError()
    if (this.state !== 'ready')
      throw new TransactionStateError(
        this.state === 'uninitialized'
          ? 'call initTransactions() first'
          : `a transaction is already under way (state: ${this.state})`,
      )
    this.v2 = this.detectV2()
    this.started = false
    this.added.clear()
    this.state = 'in-transaction'
  }

  /** Throws unless a send may join the current transaction now. */
  checkSend(): void {
    this.throwIfFatal()
    if (this.state === 'in-transaction') return
    if (this.state === 'abortable-error') throw this.abortableError()
    throw new TransactionStateError(
      this.state === 'uninitialized'
        ? 'a transactional producer sends inside a transaction: call initTransactions() and beginTransaction() first'
        : `cannot send outside a transaction: call beginTransaction() first (state: ${this.state})`,
    )
  }

  /** Commits: `flush` sends every record first; a record that failed makes the transaction abortable instead. */
  async commitTransaction(flush: () => Promise<void>): Promise<void> {
    this.throwIfFatal()
    if (this.state === 'committing' && this.pending) return this.pending
    if (this.state === 'abortable-error') throw this.abortableError()
    if (this.state !== 'in-transaction' && this.state !== 'committing')
      throw new TransactionStateError(`no transaction to commit (state: ${this.state})`)
    this.state = 'committing'
    return this.once(this.commit(flush))
  }

  private async commit(flush: () => Promise<void>): Promise<void> {
    await flush()
    this.throwIfFatal()
    if ((this.state as TransactionState) === 'abortable-error') throw this.abortableError() // a record failed while flushing
    await this.endTxn(true)
  }

  /** Aborts: unsent records fail with TRANSACTION_ABORTED, records already sent are waited for, then EndTxn. */
  async abortTransaction(flush: () => Promise<void>, dropWaiting: (err: Error) => void): Promise<void> {
    this.throwIfFatal()
    if (this.state === 'aborting' && this.pending) return this.pending
    if (this.state !== 'in-transaction' && this.state !== 'abortable-error' && this.state !== 'aborting') {
      throw new TransactionStateError(
        this.state === 'committing'
          ? 'a commit is under way: call commitTransaction() again'
          : `no transaction to abort (state: ${this.state})`,
      )
    }
    this.state = 'aborting'
    return this.once(this.abort(flush, dropWaiting))
  }

  private async abort(flush: () => Promise<void>, dropWaiting: (err: Error) => void): Promise<void> {
    const aborted = new TransactionAbortedError()
    dropWaiting(aborted)
    this.sender!.failUnsent(aborted)
    this.pendingAdds = []
    await flush()
    this.throwIfFatal()
    await this.endTxn(false)
    if (!this.v2 && this.epochBumpRequired) {
      await this.initProducerId(this.producerId, this.producerEpoch)
      this.epochBumpRequired = false
    }
  }

  async sendOffsetsToTransaction(offsets: readonly TransactionOffset[], group: GroupMetadata): Promise<void> {
    this.throwIfFatal()
    if (this.state === 'abortable-error') throw this.abortableError()
    if (this.state !== 'in-transaction')
      throw new TransactionStateError(`sendOffsetsToTransaction() needs a transaction under way (state: ${this.state})`)
    const g = typeof group === 'string' ? { groupId: group } : group
    if (!g || typeof g.groupId !== 'string' || g.groupId === '')
      throw new TransactionStateError('sendOffsetsToTransaction() needs a group id')
    const deadline = this.options.clock.now() + this.options.maxBlockMs
    try {
      if (!this.v2) {
        await this.call(
          CoordinatorType.Transaction,
          this.transactionalId,
          AddOffsetsToTxn,
          () => ({
            transactionalId: this.transactionalId,
            producerId: this.producerId,
            producerEpoch: this.producerEpoch,
            groupId: g.groupId,
          }),
          (r) => r.errorCode,
          deadline,
        )
      }
      this.started = true
      const byTopic = new Map<string, TransactionOffset[]>()
      for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o])
      await this.call(
        CoordinatorType.Group,
        g.groupId,
        this.v2 ? TxnOffsetCommit : TXN_OFFSET_COMMIT_V1,
        () => ({
          transactionalId: this.transactionalId,
          groupId: g.groupId,
          producerId: this.producerId,
          producerEpoch: this.producerEpoch,
          generationId: g.generationId ?? -1,
          memberId: g.memberId ?? '',
          groupInstanceId: g.groupInstanceId ?? null,
          topics: [...byTopic].map(([topic, list]) => ({
            topic,
            partitions: list.map((o) => ({
              partition: o.partition,
              offset: o.offset,
              leaderEpoch: o.leaderEpoch ?? -1,
              metadata: o.metadata ?? '',
            })),
          })),
        }),
        (r) => firstError(r.results),
        deadline,
      )
    } catch (err) {
      throw this.failTransaction(err)
    }
  }

  // ---- the sender's hooks ----

  /**
   * May a batch of this partition be sent now (`inFlight`: its batches in flight)? v1: once AddPartitionsToTxn added
   * it; the first ask queues the add, whose end wakes the sender. v2: Produce adds it, but the partition's first batch
   * of the transaction goes alone: the broker adds the partition while it handles that request, and a second request
   * arriving meanwhile fails OUT_OF_ORDER_SEQUENCE_NUMBER (seen against Kafka 4.4 with 5 requests in flight).
   */
  mayDrain(topic: string, partition: number, inFlight: number): boolean {
    const known = this.added.get(topic)?.get(partition)
    if (known) return true
    if (known === false) return inFlight === 0 // the first batch is back unacknowledged (to be retried)
    if (this.state !== 'in-transaction' && this.state !== 'committing') return false
    if (this.v2) {
      this.markAdded(topic, partition, false)
      return true
    }
    if (!this.pendingAdds.some((p) => p.topic === topic && p.partition === partition)) {
      // one request for the partitions a sender pass asks for (the add starts after the pass)
      if (this.pendingAdds.length === 0) queueMicrotask(() => this.addPartitions())
      this.pendingAdds.push({ topic, partition })
    }
    return false
  }

  /** A batch was acknowledged: in v2 its partition is now in the transaction. */
  batchAcked(topic: string, partition: number): void {
    const parts = this.added.get(topic)
    if (parts?.get(partition) === false) parts.set(partition, true)
  }

  /** A batch failed for good: the transaction cannot commit (Java's transition to an abortable error). */
  batchFailed(err: Error): void {
    if (err instanceof TransactionAbortedError) return
    if (this.state === 'in-transaction' || this.state === 'committing') this.toAbortable(err)
  }

  // ---- internals ----

  private markAdded(topic: string, partition: number, acknowledged = true): void {
    let parts = this.added.get(topic)
    if (!parts) this.added.set(topic, (parts = new Map()))
    parts.set(partition, acknowledged)
    this.started = true
  }

  private addPartitions(): void {
    if (this.adding) return
    this.adding = (async () => {
      while (this.pendingAdds.length > 0 && (this.state === 'in-transaction' || this.state === 'committing')) {
        const batch = this.pendingAdds
        this.pendingAdds = []
        const byTopic = new Map<string, number[]>()
        for (const p of batch) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition])
        await this.call(
          CoordinatorType.Transaction,
          this.transactionalId,
          AddPartitionsToTxn,
          () => ({
            transactionalId: this.transactionalId,
            producerId: this.producerId,
            producerEpoch: this.producerEpoch,
            topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
          }),
          (r) => firstError(r.results),
          this.options.clock.now() + this.options.deliveryTimeoutMs,
        )
        for (const p of batch) this.markAdded(p.topic, p.partition)
      }
    })()
      .catch((err) => {
        if (this.state === 'in-transaction' || this.state === 'committing') this.failTransaction(err)
      })
      .finally(() => {
        this.adding = null
        this.sender?.wake()
      })
  }

  private async endTxn(committed: boolean): Promise<void> {
    if (this.adding) await this.adding // an add under way decides whether the coordinator has a transaction to end
    if (!this.started) {
      this.finish() // nothing reached the coordinator: nothing to end (Java sends no EndTxn either)
      return
    }
    const deadline = this.options.clock.now() + this.options.maxBlockMs
    let res
    try {
      res = await this.call(
        CoordinatorType.Transaction,
        this.transactionalId,
        this.v2 ? EndTxn : END_TXN_V1,
        () => ({
          transactionalId: this.transactionalId,
          producerId: this.producerId,
          producerEpoch: this.producerEpoch,
          committed,
        }),
        (r) => r.errorCode,
        deadline,
      )
    } catch (err) {
      if (err instanceof MaxBlockTimeoutError) throw err // still committing/aborting: the same call may be made again
      throw this.failTransaction(err)
    }
    if (res.producerId >= 0 && res.producerEpoch >= 0) this.setIdAndEpoch(res.producerId, res.producerEpoch)
    this.finish()
  }

  private finish(): void {
    this.state = 'ready'
    this.started = false
    this.lastError = null
    this.added.clear()
    this.pendingAdds = []
  }

  private async initProducerId(producerId: number, producerEpoch: number): Promise<void> {
    const deadline = this.options.clock.now() + this.options.maxBlockMs
    const res = await this.call(
      CoordinatorType.Transaction,
      this.transactionalId,
      InitProducerId,
      () => ({
        transactionalId: this.transactionalId,
        transactionTimeoutMs: this.options.transactionTimeoutMs,
        producerId,
        producerEpoch,
      }),
      (r) => r.errorCode,
      deadline,
    ).catch((err) => {
      // an answer that is neither retriable nor fencing still leaves this producer without an id: fatal, as in Java
      if (err instanceof KafkaProtocolError) throw this.fatal(err)
      throw err
    })
    this.setIdAndEpoch(res.producerId, res.producerEpoch)
    this.v2 = this.detectV2()
  }

  private setIdAndEpoch(id: number, epoch: number): void {
    this.producerId = id
    this.producerEpoch = epoch
    this.sender!.setProducerIdAndEpoch(id, epoch)
  }

  private detectV2(): boolean {
    const conn = this.txnConnection
    if (!conn || conn.isClosed) return this.v2
    try {
      return (conn.finalizedFeatures.get('transaction.version') ?? 0) >= 2 && conn.versionFor(EndTxn) >= 5
    } catch {
      return false
    }
  }

  /**
   * One request to a coordinator, retried until `deadline`: a coordinator error (moved, loading, unreachable) finds
   * the coordinator again, CONCURRENT_TRANSACTIONS and other retriable codes back off; fencing codes make the producer
   * fatal; anything else is thrown as the broker's error (the caller makes the transaction abortable).
   */
  private async call<Req, Res>(
    type: number,
    key: string,
    api: KafkaApi<Req, Res>,
    request: () => Req,
    errorOf: (res: Res) => number,
    deadline: number,
  ): Promise<Res> {
    const { clock, retryBackoffMs, retryBackoffMaxMs } = this.options
    for (let attempt = 1; ; attempt++) {
      this.throwIfFatal()
      let cause: Error
      let kind: TxnErrorClass
      try {
        const conn = await this.coordinator(type, key)
        const res = await conn.request(api, request())
        const code = errorOf(res)
        if (code === 0) return res
        cause = brokerError(code, `${api.name} for ${key}`)
        kind = classifyTxnError(code)
      } catch (err) {
        if (err instanceof KafkaProtocolError) kind = classifyTxnError(err.errorCode)
        else if (err instanceof IsoKafkaError && err.retriable)
          kind = 'coordinator' // connection lost, request timed out
        else throw err
        cause = err
      }
      if (kind === 'fatal') throw this.fatal(cause)
      if (kind === 'abortable') throw cause
      if (kind === 'coordinator') this.coordinators.delete(`${type}:${key}`)
      const wait = backoffMs(attempt, retryBackoffMs, retryBackoffMaxMs, clock.random)
      if (clock.now() + wait >= deadline)
        throw new MaxBlockTimeoutError(`${api.name} did not succeed in time`, { cause })
      await new Promise<void>((resolve) => clock.setTimeout(resolve, wait))
    }
  }

  /** The coordinator's connection (FindCoordinator on any broker the first time, or after it moved). */
  private async coordinator(type: number, key: string): Promise<BrokerConnection> {
    const id = `${type}:${key}`
    let at = this.coordinators.get(id)
    if (!at) {
      const any = await this.cluster.anyConnection()
      const res = await any.request(FindCoordinator, { keyType: type, keys: [key] })
      const c = res.coordinators[0]
      if (!c) throw brokerError(15, `FindCoordinator for ${key} answered no coordinator`)
      if (c.errorCode !== 0)
        throw brokerError(c.errorCode, `FindCoordinator for ${key}${c.errorMessage ? `: ${c.errorMessage}` : ''}`)
      at = { host: c.host, port: c.port }
      this.coordinators.set(id, at)
    }
    const conn = await this.cluster.connectionAt(at.host, at.port)
    if (type === CoordinatorType.Transaction) this.txnConnection = conn
    return conn
  }

  private throwIfFatal(): void {
    const f = this.sender?.fatalError
    if (f) {
      this.state = 'fatal-error'
      throw f
    }
  }

  private fatal(cause: Error): Error {
    this.state = 'fatal-error'
    const err = new ProducerFatalError(
      `the transactional producer cannot continue (${this.transactionalId}): ${cause.message}`,
      { cause },
    )
    this.sender!.fail(err)
    return this.sender!.fatalError ?? err
  }

  /** A failed coordinator request: fatal errors stay fatal, timeouts are thrown as they are, the rest make the transaction abortable. */
  private failTransaction(err: unknown): Error {
    const error = err instanceof Error ? err : new Error(String(err))
    if (this.state === 'fatal-error' || error instanceof ProducerFatalError) return error
    if (error instanceof MaxBlockTimeoutError && this.state !== 'in-transaction') return error
    return this.toAbortable(error)
  }

  private toAbortable(cause: Error): Error {
    if (this.state !== 'abortable-error') {
      this.state = 'abortable-error'
      this.lastError = cause
      this.sender?.failUnsent(this.abortableError())
    }
    return this.abortableError()
  }

  private abortableError(): TransactionAbortableError {
    const cause = this.lastError
    return new TransactionAbortableError(
      `the transaction cannot commit${cause ? `: ${cause.message}` : ''}; abort it and begin a new one`,
      { cause },
    )
  }
}
