import { burstClock, systemClock } from '../clock.js'
import { InvalidArgumentError, KafkaProtocolError, MaxBlockTimeoutError, RecordTooLargeError } from '../errors.js'
import { APPENDED, type RecordAccumulator } from './accumulator.js'
import type { ProducerBackend, Sender } from './backend.js'
import { Fifo } from './fifo.js'
import {
  blankPendingSend,
  copyPendingSend,
  encodeHeaders,
  partitionerFailed,
  refuse,
  validateTopic,
  type PendingSend,
} from './pending-send.js'
import { ignoreOutcome, SETTLES_PROMISE, type DeliveryCallback, type RecordMetadata } from './producer-batch.js'
import type { ResolvedOptions } from './options.js'
import type { Partitioner } from './partitioners.js'
import type { ProducerRecord } from './producer.js'
import { defaultSerializer, runSerializer, type Serializer } from './serializers.js'

/**
 * A promise's resolving functions, taken by an executor that is not a closure (the executor runs synchronously inside
 * `new Promise`, so they are read right after): a waiting send() then allocates no closure and no context of its own.
 */
const captured = {
  resolve: null as unknown as (meta: RecordMetadata) => void,
  reject: null as unknown as (err: Error) => void,
}
const noResolver = () => {}
function captureResolvers(resolve: (meta: RecordMetadata) => void, reject: (err: Error) => void): void {
  captured.resolve = resolve
  captured.reject = reject
}

/** The producer's send pipeline, as producer.ts's API uses it. */
export interface SendPipeline<K, V> {
  /** Validates and serializes a record into a pending send. Throws on bad input. */
  prepare(record: ProducerRecord<K, V>): PendingSend
  /** Appends now when nothing waits ahead and there is room (true); otherwise queues the send in order (false). */
  submit(e: PendingSend): boolean
  /** Resolves once no send waits (metadata, memory) and a turn produce() asked for was taken. */
  ready(): Promise<void>
  /** Resolves on the next metadata change or memory release, or after `ms`. */
  waitForChange(ms: number): Promise<void>
  /** Refuses every send still waiting with `err` (fatal error, forced close, abort); `endTurn` also ends a turn. */
  refuseWaiting(err: Error, endTurn?: boolean): void
}

/**
 * The in-order pipeline between send()/produce() and the accumulator: serialize, partition, append. Sends are
 * applied in call order: one that has to wait (metadata, buffer memory, an async partitioner) holds back the ones
 * after it, as a Java producer's send() blocks its thread; they wait here, in `blocked`, and `pump` moves them on.
 * It also hands out turns to a synchronous loop of produce() calls (see pastTurnMark).
 */
export function createSendPipeline<K, V>(
  o: ResolvedOptions,
  accumulator: RecordAccumulator,
  backend: ProducerBackend,
  sender: Sender,
  partitioner: Partitioner,
  keySerializer: Serializer<K>,
  valueSerializer: Serializer<V>,
): SendPipeline<K, V> {
  const rawValues = valueSerializer === (defaultSerializer as Serializer<unknown>)
  // the backend set the batches' wire form; a record's size estimate is that form's (read once, used per record)
  const estimateSize = accumulator.format.estimate
  const blocked = new Fifo<PendingSend>()
  // the per-record time: the system clock read once per burst of sends (and of waiting sends the pump appends);
  // a test's clock as it is
  const recordNow = o.clock === systemClock ? burstClock(Date.now) : o.clock.now
  let nextSeq = 0
  let processedSeq = 0
  let pumping = false
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
        e.now = recordNow()
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
    e.reject = null
    e.promise = null
    e.tag = undefined
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
    // A send() that has to wait gets a promise of its own (its batch is not known yet): the batch calls its resolve,
    // stored as the callback, or its reject (ProducerBatch.#rejects), so no closure is made for it.
    if (e.callback === SETTLES_PROMISE) {
      e.promise = new Promise<RecordMetadata>(captureResolvers)
      e.callback = captured.resolve as unknown as DeliveryCallback
      e.reject = captured.reject
      captured.resolve = captured.reject = noResolver // keep nothing of this send alive
    }
    blocked.push(isScratch ? copyPendingSend(e) : e)
    if (!pumping) void pump() // (an async call makes a promise even when it returns at once: one per waiting send)
    return false
  }

  function ready(): Promise<void> {
    if (blocked.length === 0 && !turnWanted) return Promise.resolve()
    return new Promise<void>((resolve) => {
      pipelineWaiters.push({ seq: nextSeq, resolve })
      if (turnWanted) sender.wake()
      flushWaiters()
    })
  }

  return {
    prepare,
    submit,
    ready,
    waitForChange,
    refuseWaiting(err: Error, endTurn = false): void {
      for (const e of blocked.drain()) refuse(e, err)
      if (endTurn) turnWanted = false
      flushWaiters()
    },
  }
}
