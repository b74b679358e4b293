import { backoffMs } from '../clock.js'
import type { ProducerHooks } from '../hooks.js'
import type { ProducerMetrics } from './metrics.js'
import { InvalidArgumentError, MaxBlockTimeoutError, ProducerClosedError, TransactionStateError } from '../errors.js'
import { RecordAccumulator } from './accumulator.js'
import { SETTLES_PROMISE, type DeliveryCallback, type RecordMetadata } from './producer-batch.js'
import type { PendingSend } from './pending-send.js'
import { validateTopic } from './pending-send.js'
import { resolveOptions, type ProducerOptions, type ResolvedOptions } from './options.js'
import { createPartitioner, type Partitioner } from './partitioners.js'
import { defaultSerializer, type Serializer } from './serializers.js'
import { createSendPipeline } from './send-pipeline.js'
import type { GroupMetadata, TransactionManager, TransactionOffset } from './transactions.js'

export type HeaderValue = string | Uint8Array | null
export type RecordHeaders = Record<string, HeaderValue> | ReadonlyArray<readonly [string, HeaderValue]>

export interface ProducerRecord<K, V> {
  topic: string
  key?: K
  value: V
  headers?: RecordHeaders
  /** Explicit partition: wins over the partitioner. */
  partition?: number
  /** CreateTime in ms since the epoch. Default: now. */
  timestamp?: number
}

export interface CloseOptions {
  /** Wait at most this long for pending records; then fail what is left. Default: wait for all (bounded by deliveryTimeoutMs). */
  timeoutMs?: number
}

export interface Producer<K, V> {
  /** Appends the record to the accumulator; resolves with its metadata once acknowledged (after acks), or rejects. */
  send(record: ProducerRecord<K, V>): Promise<RecordMetadata>
  sendBatch(records: ReadonlyArray<ProducerRecord<K, V>>): Promise<RecordMetadata[]>
  /**
   * Java's `send(record, callback)`: no promise per record, for hot loops. The callback runs once, with an error or
   * with the record's metadata (never before `produce()` returns). Bad input and a closed or failed producer throw at
   * once, as `send()` would reject. Returns `false` when the record had to queue behind sends that wait for buffer
   * memory or metadata (Java's send() would block here), or to ask for a turn: full batches pile up beyond what the
   * requests in flight take, and the sender only runs when the caller awaits. The record is kept either way; produce
   * no more until `await ready()`. `tag` (any value) comes back as the callback's third argument, so one callback
   * can tell many records apart without a closure for each (an index into the caller's own arrays, say).
   */
  produce(record: ProducerRecord<K, V>, callback?: DeliveryCallback, tag?: unknown): boolean
  /**
   * Resolves once no send is waiting for buffer memory or metadata (every earlier record is in a batch or settled)
   * and, after produce() asked for a turn, once the sender ran (and, while its window of requests is full, got a response).
   */
  ready(): Promise<void>
  /** Resolves when every record sent before the call is acknowledged or failed. */
  flush(): Promise<void>
  close(options?: CloseOptions): Promise<void>
  /** The client id the producer names itself with (the `clientId` option, the transport's, or 'isokafka'). */
  readonly clientId: string
  /** Partition count of a topic (fetches metadata if needed). */
  partitionsFor(topic: string): Promise<number>
  /**
   * A topic as the producer's metadata has it (fetched if needed): partition count and leader per partition, or the
   * Kafka error code that metadata gave (e.g. 3 for an unknown topic when auto-creation is off). Waits at most
   * `timeoutMs` (default maxBlockMs) for an answer; rejects with MaxBlockTimeoutError after that.
   */
  describeTopic(topic: string, options?: { timeoutMs?: number }): Promise<TopicDescription>
  /** Refreshes metadata now (at most `timeoutMs`, default maxBlockMs) and returns the cluster id it named. */
  describeCluster(options?: { timeoutMs?: number }): Promise<{ clusterId: string | null }>
  /**
   * Registers hooks (src/hooks.ts: connections, requests, batches, records, throttling, metadata, producer ids,
   * transactions) and returns a function that removes them. A hook that throws never disturbs the producer.
   */
  addHooks(hooks: ProducerHooks): () => void
  /**
   * A snapshot of Java-named producer metrics (record-send-rate, request-latency-avg, buffer-available-bytes, ...;
   * docs/api.md#metrics). Collected from the first call on: call it once at startup to measure from the start.
   * Kafka transports only (over a gateway it throws UNSUPPORTED_OPERATION: use hooks there).
   */
  metrics(): ProducerMetrics
  /**
   * Transactional producers (`transactionalId`), as Java's: once, before the first transaction. Takes the id's
   * producer id and epoch from its coordinator, fencing any earlier producer with the same id (its open transaction
   * is aborted).
   */
  initTransactions(): Promise<void>
  /** Starts a transaction; sends are refused outside one (INVALID_TRANSACTION_STATE). */
  beginTransaction(): void
  /** Flushes, then commits. A record that failed makes it reject with TRANSACTION_ABORTABLE: abort, then retry. */
  commitTransaction(): Promise<void>
  /** Fails the records not yet sent (TRANSACTION_ABORTED), waits for the ones sent, then aborts. */
  abortTransaction(): Promise<void>
  /** Commits a consumer group's offsets as part of the transaction (consume-transform-produce). */
  sendOffsetsToTransaction(offsets: readonly TransactionOffset[], group: GroupMetadata): Promise<void>
  /** begin, `fn`, commit; aborts (and rethrows) when `fn` or the commit throws. */
  transaction<T>(fn: (producer: Producer<K, V>) => Promise<T>): Promise<T>
}

export interface TopicDescription {
  topic: string
  /** 0 when usable; else the Kafka error code metadata answered for the topic (partitions is then 0). */
  errorCode: number
  partitions: number
  /** Leader node id per partition, -1 where there is none right now (empty when the backend does not say). */
  leaders: readonly number[]
}

/**
 * Creates a producer. `send()` serializes, partitions and appends to the record accumulator; a sender ships batches.
 * Sends are applied in call order: one that has to wait (metadata, buffer memory, an async partitioner) holds back
 * the ones after it, as a Java producer's send() blocks its thread.
 */
export function createProducer<K = Uint8Array | string | null | undefined, V = Uint8Array | string | null | undefined>(
  options: ProducerOptions<K, V>,
): Producer<K, V> {
  const o: ResolvedOptions = resolveOptions(options)
  const keySerializer = (options.keySerializer ?? defaultSerializer) as Serializer<K>
  const valueSerializer = (options.valueSerializer ?? defaultSerializer) as Serializer<V>
  const partitioner: Partitioner = createPartitioner(options.partitioner, o.batchSize, o.clock.random)
  const accumulator = new RecordAccumulator(o.batchSize, o.bufferMemory, o.lingerMs)
  accumulator.hooks = o.hooks

  let fatal: Error | null = null
  let closed = false
  const onFatal = (err: Error) => {
    fatal = err
    pipeline.refuseWaiting(err, true)
  }
  if (typeof options.transport.backend !== 'function') {
    throw new InvalidArgumentError(
      'INVALID_CONFIG',
      "the transport has no backend: a custom transport sets `backend: kafkaBackend` (byte stream) or `backend: gatewayBackend` (from 'isokafka')",
    )
  }
  const {
    backend,
    sender,
    transactions: txn = null,
    metrics: backendMetrics,
  } = options.transport.backend({ transport: options.transport, accumulator, options: o, onFatal })
  if (o.transactionalId !== null && !txn)
    throw new InvalidArgumentError('INVALID_CONFIG', "this transport's backend has no transactions (transactionalId)")
  const pipeline = createSendPipeline(o, accumulator, backend, sender, partitioner, keySerializer, valueSerializer)
  const { prepare, submit, ready, waitForChange } = pipeline

  function send(record: ProducerRecord<K, V>): Promise<RecordMetadata> {
    if (fatal) return Promise.reject(fatal)
    if (closed) return Promise.reject(new ProducerClosedError())
    let e: PendingSend
    try {
      txn?.checkSend()
      e = prepare(record)
    } catch (err) {
      return Promise.reject(err)
    }
    // no promise made here: the record's batch makes it when the record joins, or submit() when the send has to wait
    // (SETTLES_PROMISE)
    e.callback = SETTLES_PROMISE
    submit(e)
    const promise = e.promise!
    e.promise = null
    return promise
  }

  /**
   * What `Promise.all(records.map(send))` does (each record checked and sent on its own; the first failure rejects,
   * the other records are still sent), without a promise per record: one promise for the call and a callback per
   * record that fills its slot of the result.
   */
  function sendBatch(records: ReadonlyArray<ProducerRecord<K, V>>): Promise<RecordMetadata[]> {
    if (!Array.isArray(records))
      return Promise.reject(new InvalidArgumentError('INVALID_RECORD', 'sendBatch() takes an array of records'))
    const n = records.length
    const results = new Array<RecordMetadata>(n)
    if (n === 0) return Promise.resolve(results)
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      let left = n
      let failed = false
      const fail = (err: unknown) => {
        if (failed) return
        failed = true
        reject(err)
      }
      // one callback for every record: the record's index comes back as its tag
      const slot: DeliveryCallback = (err, meta, i: number) => {
        if (err) fail(err)
        else results[i] = meta!
        if (--left === 0 && !failed) resolve(results)
      }
      for (let i = 0; i < n; i++) {
        if (fatal || closed) {
          fail(fatal ?? new ProducerClosedError())
          return
        }
        let e: PendingSend
        try {
          txn?.checkSend()
          e = prepare(records[i]!)
        } catch (err) {
          fail(err)
          continue
        }
        e.callback = slot
        e.tag = i
        submit(e)
      }
    })
  }

  function produce(record: ProducerRecord<K, V>, callback?: DeliveryCallback, tag?: unknown): boolean {
    if (fatal) throw fatal
    if (closed) throw new ProducerClosedError()
    if (callback !== undefined && typeof callback !== 'function')
      throw new InvalidArgumentError('INVALID_RECORD', 'produce() takes a callback function')
    txn?.checkSend()
    const e = prepare(record)
    if (callback) e.callback = callback
    e.tag = tag
    return submit(e)
  }

  async function flush(): Promise<void> {
    sender.flushing++
    try {
      sender.wake()
      await ready()
      sender.wake()
      const batches = [...accumulatorIncomplete()]
      await Promise.all(batches.map((b) => b.whenDone()))
    } finally {
      sender.flushing--
    }
  }
  const accumulatorIncomplete = () => accumulator.incomplete

  async function close(closeOptions: CloseOptions = {}): Promise<void> {
    if (closed) return
    closed = true
    const timeoutMs = closeOptions.timeoutMs ?? Infinity
    let timer: unknown = null
    const flushed = flush().then(() => true)
    const timedOut =
      timeoutMs === Infinity
        ? null
        : new Promise<boolean>((resolve) => (timer = o.clock.setTimeout(() => resolve(false), timeoutMs)))
    const ok = timedOut ? await Promise.race([flushed, timedOut]) : await flushed
    if (timer !== null) o.clock.clearTimeout(timer)
    if (!ok) {
      const err = new ProducerClosedError(`the producer was closed with records still pending after ${timeoutMs} ms`)
      pipeline.refuseWaiting(err)
      sender.abortAll(err)
    }
    sender.stop()
    backend.close()
  }

  async function partitionsFor(topic: string): Promise<number> {
    const problem = validateTopic(topic)
    if (problem) throw new InvalidArgumentError('INVALID_TOPIC', problem)
    const deadline = o.clock.now() + o.maxBlockMs
    for (;;) {
      const t = backend.topic(topic)
      if (t) return t.partitionCount
      const err = backend.topicError(topic)
      if (err) throw err
      const now = o.clock.now()
      if (now >= deadline)
        throw new MaxBlockTimeoutError(`topic ${topic} not present in metadata after ${o.maxBlockMs} ms`)
      await waitForChange(deadline - now)
    }
  }

  async function describeTopic(topic: string, options: { timeoutMs?: number } = {}): Promise<TopicDescription> {
    const problem = validateTopic(topic)
    if (problem) throw new InvalidArgumentError('INVALID_TOPIC', problem)
    const timeoutMs = options.timeoutMs ?? o.maxBlockMs
    const deadline = o.clock.now() + timeoutMs
    let asked = false
    let failures = 0
    for (;;) {
      const t = backend.topic(topic)
      if (t) return { topic, errorCode: 0, partitions: t.partitionCount, leaders: t.leaders ?? [] }
      const err = backend.topicError(topic)
      if (err) throw err
      // an answer that names an error (unknown topic while auto-creation is off, no leader yet) is the answer, once
      // metadata was asked after this call began: sends would wait for it to change, a description does not
      const code = backend.lastTopicErrorCode(topic)
      if (asked && code !== 0 && !o.allowAutoTopicCreation) {
        backend.forgetTopic?.(topic)
        return { topic, errorCode: code, partitions: 0, leaders: [] }
      }
      const now = o.clock.now()
      if (now >= deadline)
        throw new MaxBlockTimeoutError(`topic ${topic} not present in metadata after ${timeoutMs} ms`)
      if (backend.refresh) {
        const answered = await raceDeadline(
          backend.refresh().then(
            () => true,
            () => false,
          ),
          deadline - now,
        )
        // a refresh that failed (no broker reachable) is tried again after a backoff, not at once in a loop
        if (!answered) {
          const wait = backoffMs(++failures, o.retryBackoffMs, o.retryBackoffMaxMs, o.clock.random)
          await raceDeadline(new Promise<never>(() => {}), Math.min(wait, deadline - o.clock.now()))
        }
      } else await waitForChange(deadline - now)
      asked = true
    }
  }

  async function describeCluster(options: { timeoutMs?: number } = {}): Promise<{ clusterId: string | null }> {
    const timeoutMs = options.timeoutMs ?? o.maxBlockMs
    if (backend.refresh) {
      const done = await raceDeadline(
        backend.refresh().then(() => true),
        timeoutMs,
      )
      if (!done) throw new MaxBlockTimeoutError(`no metadata answer within ${timeoutMs} ms`)
    }
    return { clusterId: backend.clusterId ?? null }
  }

  /** Resolves with p's value, or with false after `ms` (the timer is cleared either way). */
  function raceDeadline<T>(p: Promise<T>, ms: number): Promise<T | false> {
    let timer: unknown = null
    const timeout = new Promise<false>((resolve) => (timer = o.clock.setTimeout(() => resolve(false), Math.max(0, ms))))
    return Promise.race([p, timeout]).finally(() => o.clock.clearTimeout(timer))
  }

  function transactional(): TransactionManager {
    if (closed) throw new ProducerClosedError()
    if (!txn) throw new TransactionStateError('transactional calls need the transactionalId option')
    return txn
  }
  const commitTransaction = async () => transactional().commitTransaction(flush)
  const abortTransaction = async () =>
    transactional().abortTransaction(flush, (err) => {
      pipeline.refuseWaiting(err)
    })

  const producer: Producer<K, V> = {
    initTransactions: async () => transactional().initTransactions(),
    beginTransaction: () => transactional().beginTransaction(),
    commitTransaction,
    abortTransaction,
    sendOffsetsToTransaction: async (offsets, group) => transactional().sendOffsetsToTransaction(offsets, group),
    async transaction<T>(fn: (producer: Producer<K, V>) => Promise<T>): Promise<T> {
      const t = transactional()
      t.beginTransaction()
      try {
        const result = await fn(producer)
        await commitTransaction()
        return result
      } catch (err) {
        // a fenced producer cannot abort, and a commit that timed out must be retried, not aborted
        if (t.state !== 'fatal-error' && t.state !== 'committing') await abortTransaction().catch(() => {})
        throw err
      }
    },
    describeTopic,
    describeCluster,
    addHooks: (hooks) => o.hooks.add(hooks),
    metrics: () => {
      if (!backendMetrics) {
        throw new InvalidArgumentError(
          'UNSUPPORTED_OPERATION',
          'metrics() is part of the Kafka transports (Node TCP, Workers TCP); over a gateway, use hooks',
        )
      }
      return backendMetrics()
    },
    send,
    sendBatch,
    produce,
    ready,
    flush,
    close,
    partitionsFor,
    clientId: o.clientId,
  }
  return producer
}
