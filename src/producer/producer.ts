import { backoffMs, burstClock, systemClock } from '../clock.js'
import type { Transport } from '../transport.js'
import type { ProducerHooks } from '../hooks.js'
import type { ProducerMetrics } from './metrics.js'
import {
  InvalidArgumentError,
  KafkaProtocolError,
  MaxBlockTimeoutError,
  ProducerClosedError,
  RecordTooLargeError,
  TransactionStateError,
  type IsoKafkaError,
} from '../errors.js'
import { APPENDED, RecordAccumulator, type DeliveryCallback, type RecordMetadata } from './accumulator.js'
import { Fifo } from './fifo.js'
import {
  blankPendingSend,
  encodeHeaders,
  ignoreOutcome,
  partitionerFailed,
  refuse,
  validateTopic,
  type PendingSend,
} from './pending-send.js'
import { resolveOptions, type ProducerOptions, type ResolvedOptions } from './options.js'
import { createPartitioner, type Partitioner } from './partitioners.js'
import { defaultSerializer, runSerializer, type Serializer } from './serializers.js'
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
   * no more until `await ready()`.
   */
  produce(record: ProducerRecord<K, V>, callback?: DeliveryCallback): boolean
  /**
   * Resolves once no send is waiting for buffer memory or metadata (every earlier record is in a batch or settled)
   * and, after produce() asked for a turn, once the sender ran (and, while its window of requests is full, got a response).
   */
  ready(): Promise<void>
  /** Resolves when every record sent before the call is acknowledged or failed. */
  flush(): Promise<void>
  close(options?: CloseOptions): Promise<void>
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

/** What the producer needs from the cluster side, whatever the transport: topic metadata and a sender. */
export interface TopicInfo {
  partitionCount: number
  available: readonly number[]
  leaders?: readonly number[]
}
export interface ProducerBackend {
  topic(name: string): TopicInfo | undefined
  topicError(name: string): IsoKafkaError | null
  lastTopicErrorCode(name: string): number
  /** The cluster id from the last metadata answer (Kafka backends). */
  readonly clusterId?: string | null
  /** Fetch metadata now, joining a fetch under way (Kafka backends); rejects when no broker answers. */
  refresh?(): Promise<void>
  /** Drop a topic from the metadata kept and refreshed (after a description answered an error). */
  forgetTopic?(name: string): void
  onChange: () => void
  close(): void
}
/** Builds the cluster side for a transport (see SocketTransport.backend / GatewayTransport.backend). */
export type BackendFactory = (context: {
  transport: Transport
  accumulator: RecordAccumulator
  options: ResolvedOptions
  onFatal: (err: Error) => void
}) => {
  backend: ProducerBackend
  sender: Sender
  transactions?: TransactionManager
  /** producer.metrics(): the Kafka backend brings the collector (src/producer/metrics.ts), gateway backends do not. */
  metrics?: () => ProducerMetrics
}

export interface Sender {
  flushing: number
  memoryWaiters: number
  /** The last pass left batches waiting on an answer (a response, a connection) whose arrival runs another pass. */
  readonly saturated: boolean
  /** Set by the producer: called at the end of every pass. */
  onPass: () => void
  readonly fatalError: Error | null
  wake(): void
  stop(): void
  abortAll(err: Error): void
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
  const rawValues = valueSerializer === (defaultSerializer as Serializer<unknown>)
  const partitioner: Partitioner = createPartitioner(options.partitioner, o.batchSize, o.clock.random)
  const accumulator = new RecordAccumulator(o.batchSize, o.bufferMemory)
  accumulator.hooks = o.hooks

  let fatal: Error | null = null
  const onFatal = (err: Error) => {
    fatal = err
    for (const e of blocked.drain()) refuse(e, err)
    turnWanted = false
    flushWaiters()
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
  // the backend set the batches' wire form; a record's size estimate is that form's (read once, used per record)
  const estimateSize = accumulator.format.estimate

  const blocked = new Fifo<PendingSend>()
  let nextSeq = 0
  let processedSeq = 0
  let pumping = false
  let closed = false
  const changeWaiters = new Set<() => void>()
  const notify = () => {
    if (changeWaiters.size > 0) for (const w of [...changeWaiters]) w() // called for every batch a response completes
  }
  /** Resolves on the next metadata change or memory release, or after `ms`. */
  const waitForChange = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        changeWaiters.delete(done)
        o.clock.clearTimeout(timer)
        resolve()
      }
      const timer = o.clock.setTimeout(done, ms)
      changeWaiters.add(done)
    })
  backend.onChange = () => {
    sender.wake()
    notify()
  }
  accumulator.onMemoryFreed = () => {
    if (blocked.length > 0) notify()
  }

  /** Try to append now (at `e.now`, the clock's time of this attempt); false when it has to wait. Settles the send (resolve or reject) when it returns true. */
  function tryAppend(e: PendingSend): boolean {
    const t = backend.topic(e.topic)
    if (!t) {
      const err = backend.topicError(e.topic)
      if (err) {
        refuse(e, err)
        return true
      }
      return false
    }
    if (e.partition >= 0) {
      if (e.partition >= t.partitionCount) {
        refuse(
          e,
          new InvalidArgumentError(
            'INVALID_PARTITION',
            `partition ${e.partition} is not in [0, ${t.partitionCount}) for topic ${e.topic}`,
          ),
        )
        return true
      }
    } else if (e.partitionPromise === null) {
      let result: number | Promise<number>
      try {
        result = partitioner.partition(e, t.partitionCount, t.available) // e has the record's topic, key and value
      } catch (err) {
        // a throwing custom partitioner fails this send only (it must not escape send() or stop the pipeline)
        refuse(e, partitionerFailed(err))
        return true
      }
      if (result !== null && typeof result === 'object' && typeof (result as Promise<number>).then === 'function') {
        e.partitionPromise = Promise.resolve(result)
        return false
      }
      // anything else that is not a valid partition (undefined, a string, 1.5) is refused below
      const p = result as number
      if (!Number.isInteger(p) || p < 0 || p >= t.partitionCount) {
        refuse(
          e,
          new InvalidArgumentError(
            'INVALID_PARTITION',
            `the partitioner returned ${p} for a topic with ${t.partitionCount} partitions`,
          ),
        )
        return true
      }
      e.partition = p
    } else {
      return false
    }
    if (!accumulator.hasRoom(e.estimate)) return false
    const appended = accumulator.append(e)
    partitioner.onAppend?.(e.topic, e.partition, e.estimate)
    if (appended !== APPENDED) {
      sender.wake() // a new batch (linger starts) or a full one (it can go now)
      if (pastTurnMark()) turnWanted = true
    }
    return true
  }

  /**
   * Turns. The sender runs between tasks, never inside a synchronous loop of produce() calls, so a loop that
   * appended all of bufferMemory before it awaited anything would leave the broker idle meanwhile (Java's sender is a
   * thread of its own and sends while send() appends). Once more full batches wait than twice what the window of
   * requests can take (pastTurnMark), produce() returns false to ask for a turn: `await ready()` lets the sender write
   * requests and, while its window of requests is full, waits for the next response. Measured on the headline
   * benchmark (1M x 100 B, 6 partitions): the broker starts at once instead of after ~100 ms, and the batches in use
   * stay few and warm.
   */
  let turnWanted = false
  function pastTurnMark(): boolean {
    // The mark: twice what a full window of requests takes (one batch per partition each), at most a quarter of
    // bufferMemory. A lower mark made requests emptier: with 2 per partition the 6-partition headline sent ~25 % more
    // Produce requests (4.7 batches each instead of 5.8) and the broker's CPU per record went up with them.
    const cap = Math.max(1, Math.floor(o.bufferMemory / 4 / o.batchSize))
    return accumulator.fullBatchesWaiting >= Math.min(cap, Math.max(2, 2 * o.maxInFlight * accumulator.queues.length))
  }
  sender.onPass = () => {
    if (!turnWanted) return
    if (sender.saturated && pastTurnMark()) return // a response will bring another pass
    turnWanted = false
    flushWaiters()
  }

  async function pump(): Promise<void> {
    if (pumping) return
    pumping = true
    try {
      while (blocked.length > 0) {
        const e = blocked.peek()!
        e.now = o.clock.now()
        if (tryAppend(e)) {
          blocked.shift()
          processedSeq = e.seq
          continue
        }
        if (e.partitionPromise) {
          try {
            const p = await e.partitionPromise
            const count = backend.topic(e.topic)?.partitionCount ?? 0
            if (!Number.isInteger(p) || p < 0 || p >= count) {
              throw new InvalidArgumentError(
                'INVALID_PARTITION',
                `the partitioner returned ${p} for a topic with ${count} partitions`,
              )
            }
            e.partition = p
          } catch (err) {
            blocked.shift()
            processedSeq = e.seq
            refuse(e, partitionerFailed(err))
          }
          e.partitionPromise = null
          continue
        }
        const now = o.clock.now()
        if (now >= e.deadline) {
          blocked.shift()
          processedSeq = e.seq
          refuse(e, timeoutFor(e))
          continue
        }
        const waitingForMemory = backend.topic(e.topic) !== undefined
        if (waitingForMemory) {
          sender.memoryWaiters++
          sender.wake()
        }
        await waitForChange(e.deadline - now)
        if (waitingForMemory) sender.memoryWaiters--
      }
    } finally {
      pumping = false
      flushWaiters()
    }
  }

  function timeoutFor(e: PendingSend): Error {
    if (!backend.topic(e.topic)) {
      const code = backend.lastTopicErrorCode(e.topic)
      return new MaxBlockTimeoutError(`topic ${e.topic} not present in metadata after ${o.maxBlockMs} ms`, {
        cause: code ? new KafkaProtocolError(code, `topic ${e.topic}`) : undefined,
      })
    }
    return new MaxBlockTimeoutError(
      `no room in the ${o.bufferMemory}-byte buffer within ${o.maxBlockMs} ms (bufferMemory)`,
    )
  }

  let pipelineWaiters: Array<{ seq: number; resolve: () => void }> = []
  function flushWaiters(): void {
    if (turnWanted) return
    const head = blocked.peek()
    const done = head ? head.seq - 1 : nextSeq
    pipelineWaiters = pipelineWaiters.filter((w) => {
      if (w.seq <= Math.max(done, processedSeq)) {
        w.resolve()
        return false
      }
      return true
    })
  }

  // the per-record time: the system clock read once per burst of sends; a test's clock as it is
  const recordNow = o.clock === systemClock ? burstClock(Date.now) : o.clock.now

  const scratch = blankPendingSend()
  let scratchInUse = false

  /** Validates and serializes a record into a pending send (the reused scratch object when free). Throws on bad input. */
  function prepare(record: ProducerRecord<K, V>): PendingSend {
    if (!record || typeof record !== 'object')
      throw new InvalidArgumentError('INVALID_RECORD', 'send() takes a record object')
    const topicProblem = validateTopic(record.topic)
    if (topicProblem) throw new InvalidArgumentError('INVALID_TOPIC', topicProblem)
    const key = record.key === undefined ? null : runSerializer(keySerializer, record.key, record.topic, 'key')
    // bytes through the default serializer come out as they went in: skip the call and its checks
    const value =
      rawValues && record.value instanceof Uint8Array
        ? record.value
        : runSerializer(valueSerializer, record.value, record.topic, 'value')
    const headers = encodeHeaders(record.headers)
    const partition = record.partition ?? -1
    // -1 is the internal "let the partitioner choose": an explicit negative partition is an error, as in Java
    if (!Number.isInteger(partition) || (partition < 0 && record.partition != null))
      throw new InvalidArgumentError(
        'INVALID_PARTITION',
        `partition must be a non-negative integer, got ${record.partition}`,
      )
    const now = recordNow()
    const timestamp = record.timestamp ?? (o.clock === systemClock ? now : Date.now())
    if (!Number.isSafeInteger(timestamp) || timestamp < 0)
      throw new InvalidArgumentError(
        'INVALID_TIMESTAMP',
        `timestamp must be a non-negative integer (ms), got ${record.timestamp}`,
      )
    const estimate = estimateSize(key, value, headers)
    if (estimate + 61 > o.maxRequestSize) {
      throw new RecordTooLargeError(
        `the record is ${estimate} bytes when serialized, more than maxRequestSize (${o.maxRequestSize})`,
      )
    }
    if (estimate > o.bufferMemory) {
      throw new RecordTooLargeError(
        `the record is ${estimate} bytes when serialized, more than bufferMemory (${o.bufferMemory})`,
      )
    }
    // The common case appends at once and keeps nothing of the entry: fill a reused scratch object, and copy it
    // only when the send has to wait. (A partitioner that calls send() re-entrantly gets a fresh object.)
    const e = scratchInUse ? blankPendingSend() : scratch
    e.topic = record.topic
    e.partition = partition
    e.key = key
    e.value = value
    e.headers = headers
    e.timestamp = timestamp
    e.estimate = estimate
    e.now = now
    e.deadline = now + o.maxBlockMs
    e.seq = ++nextSeq
    e.partitionPromise = null
    e.callback = ignoreOutcome
    return e
  }

  /** Appends now when nothing waits ahead and there is room (true); otherwise queues the send in order (false). */
  function submit(e: PendingSend): boolean {
    const isScratch = e === scratch
    if (isScratch) scratchInUse = true
    try {
      if (blocked.length === 0 && tryAppend(e)) {
        processedSeq = e.seq
        return !turnWanted
      }
    } finally {
      if (isScratch) scratchInUse = false
    }
    if (blocked.length > 0) {
      // Sends already wait, for metadata or memory. Make sure what they wait on still moves: a timer that died with an
      // earlier Workers request may be all there was. Asking for the head's topic re-requests missing metadata (and
      // gives up on a stuck refresh); a sender pass gives up on requests past their deadline.
      backend.topic(blocked.peek()!.topic)
      sender.wake()
    }
    blocked.push(isScratch ? Object.assign(blankPendingSend(), e) : e)
    void pump()
    return false
  }

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
    const promise = new Promise<RecordMetadata>((resolve, reject) => {
      e.callback = (err, meta) => (err ? reject(err) : resolve(meta!))
    })
    submit(e)
    return promise
  }

  function produce(record: ProducerRecord<K, V>, callback?: DeliveryCallback): boolean {
    if (fatal) throw fatal
    if (closed) throw new ProducerClosedError()
    if (callback !== undefined && typeof callback !== 'function')
      throw new InvalidArgumentError('INVALID_RECORD', 'produce() takes a callback function')
    txn?.checkSend()
    const e = prepare(record)
    if (callback) e.callback = callback
    return submit(e)
  }

  function ready(): Promise<void> {
    if (blocked.length === 0 && !turnWanted) return Promise.resolve()
    return new Promise<void>((resolve) => {
      pipelineWaiters.push({ seq: nextSeq, resolve })
      if (turnWanted) sender.wake()
      flushWaiters()
    })
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
      for (const b of blocked.drain()) refuse(b, err)
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
      for (const e of blocked.drain()) refuse(e, err)
      flushWaiters()
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
    sendBatch: (records) => Promise.all(records.map((r) => send(r))),
    produce,
    ready,
    flush,
    close,
    partitionsFor,
  }
  return producer
}
