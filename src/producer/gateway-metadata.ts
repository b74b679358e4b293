import { RefreshSchedule } from '../refresh-schedule.js'
import {
  IsoKafkaError,
  KafkaProtocolError,
  MalformedResponseError,
  RETRIABLE_CODES,
  RequestTimeoutError,
} from '../errors.js'
import type { GatewayTopicMetadata, GatewayTransport } from '../transport.js'
import type { RecordAccumulator } from './accumulator.js'
import type { ResolvedOptions } from './options.js'
import type { ProducerBackend, TopicInfo } from './backend.js'

interface TopicState {
  info: TopicInfo | null
  errorCode: number
  /** Kafka's name for errorCode, when the gateway sent it. */
  error?: string
  fetchedAt: number
}

/** A request in flight and how to give up on it (see GatewayMetadata.deadlines). */
export interface Deadline {
  at: number
  expire: () => void
}

/**
 * The gateway backend's topic metadata: partition counts from `transport.metadata()`, fetched when a send names a
 * topic not known yet, refreshed after errors that may mean the topic changed and every metadataMaxAgeMs, with
 * backoff after failures. A topic refused for good (not authorized) fails its sends; one not usable yet (not created
 * yet, no leader) is polled.
 */
export class GatewayMetadata implements ProducerBackend {
  readonly topics = new Map<string, TopicState>()
  readonly #wanted = new Set<string>()
  readonly #refreshes: RefreshSchedule
  /**
   * A non-retriable metadata failure (bad token, ...), or an answer with a partition count no topic has: sends fail
   * fast with it until a refresh succeeds.
   */
  #metadataError: IsoKafkaError | null = null
  #closed = false
  onChange: () => void = () => {}
  readonly #transport: GatewayTransport
  readonly #accumulator: RecordAccumulator
  readonly #options: ResolvedOptions
  /**
   * The deadline of every request in flight (metadata and produce; shared with the sender). Each also has a timer;
   * the sender's passes check them again, because a timer set during an earlier Workers request never fires.
   */
  readonly #deadlines: Set<Deadline>
  /** Closes the sender's side (GatewayBackend): the producer closes its backend, which is this. */
  readonly #onClose: () => void

  constructor(
    transport: GatewayTransport,
    accumulator: RecordAccumulator,
    options: ResolvedOptions,
    deadlines: Set<Deadline>,
    onClose: () => void,
  ) {
    this.#onClose = onClose
    this.#transport = transport
    this.#accumulator = accumulator
    this.#options = options
    this.#deadlines = deadlines
    this.#refreshes = new RefreshSchedule(
      options,
      () => void this.fetchMetadata(),
      (now) => this.expireOverdue(now),
    )
  }

  /** When the last metadata request ended. */
  get lastRefreshAt(): number {
    return this.#refreshes.lastRefreshAt
  }

  topic(name: string): TopicInfo | undefined {
    const t = this.topics.get(name)
    if (t?.info) return t.info
    this.#wanted.add(name)
    this.requestRefresh()
    return undefined
  }

  topicError(name: string): IsoKafkaError | null {
    const t = this.topics.get(name)
    if (t?.info) return null
    if (this.#metadataError) return this.#metadataError
    if (!t || t.errorCode === 0 || RETRIABLE_CODES.includes(t.errorCode)) return null
    return new KafkaProtocolError(t.errorCode, `topic ${name}`, { name: t.error })
  }

  lastTopicErrorCode(name: string): number {
    return this.topics.get(name)?.errorCode ?? 0
  }

  close(): void {
    this.#closed = true
    this.#refreshes.close()
    this.#onClose()
  }

  /** Give up on requests past their deadline whose timers did not fire (see `deadlines`). */
  expireOverdue(now: number): void {
    for (const d of this.#deadlines) if (now > d.at) d.expire() // expire() deletes d: safe mid-iteration
  }

  /** Ask for a metadata refresh soon (coalesced; backoff after failures; see RefreshSchedule). */
  requestRefresh(): void {
    this.#refreshes.request()
  }

  /** Fetch now (joins a fetch under way); never rejects: a failure is kept for the sends it concerns. */
  fetchMetadata(): Promise<void> {
    return this.#refreshes
      .run(
        () => this.#fetch(),
        (err) => this.#settled(err),
      )
      .catch(() => {})
  }

  #fetch(): Promise<void> {
    const { clock, requestTimeoutMs } = this.#options
    const names = new Set(this.#wanted)
    for (const q of this.#accumulator.queues) if (q.batches.length > 0 || q.inFlight > 0) names.add(q.topic)
    const controller = new AbortController()
    let timer: unknown = null
    const deadline = { at: clock.now() + requestTimeoutMs, expire: () => {} }
    const timeout = new Promise<never>((_, reject) => {
      deadline.expire = () => {
        this.#deadlines.delete(deadline)
        controller.abort()
        reject(new RequestTimeoutError(`gateway metadata request got no answer in ${requestTimeoutMs} ms`))
      }
      timer = clock.setTimeout(deadline.expire, requestTimeoutMs)
    })
    this.#deadlines.add(deadline)
    const request = Promise.resolve().then(() => this.#transport.metadata([...names], controller.signal))
    return Promise.race([request, timeout])
      .finally(() => {
        clock.clearTimeout(timer)
        this.#deadlines.delete(deadline)
      })
      .then((res) => {
        this.#apply(res)
        this.#metadataError = null
      })
  }

  /** After a fetch: tell the producer, and say whether to ask again. */
  #settled(err: unknown): boolean {
    if (err instanceof IsoKafkaError && !err.retriable) this.#metadataError = err
    if (!this.#closed) this.onChange()
    if (err !== null) return this.#wanted.size > 0
    // topics not usable yet for a reason that may pass (not created yet, no leader): poll them, every retryBackoffMs;
    // a topic refused for good (not authorized, invalid) is not polled
    return [...this.#wanted].some((n) => {
      const t = this.topics.get(n)
      return !t?.info && (!t || RETRIABLE_CODES.includes(t.errorCode))
    })
  }

  #apply(res: readonly GatewayTopicMetadata[]): void {
    const now = this.#options.clock.now()
    if (this.#options.hooks.active)
      this.#options.hooks.emit('metadataRefreshed', { topics: res.map((t) => t.topic), brokers: 0 })
    for (const t of res) {
      const previous = this.topics.get(t.topic)
      if (t.errorCode !== 0 || !(t.partitions > 0)) {
        const code = t.errorCode || 3
        // keep what we knew through a transient error
        if (previous?.info && RETRIABLE_CODES.includes(code)) continue
        this.topics.set(t.topic, { info: null, errorCode: code, error: t.error, fetchedAt: now })
        continue
      }
      if (previous?.info && previous.info.partitionCount === t.partitions) {
        previous.fetchedAt = now
        previous.errorCode = 0
        continue
      }
      // a count from a broken or hostile transport that the producer would list one by one (1.5, '3', 2^32, 1e9):
      // refused before anything is sized by it (at most MAX_PARTITIONS of adapters/gateway-wire; 0 and below were
      // and stay "no partitions yet"); topics before it in the answer were fine and stay applied
      if (t.partitions >>> 0 !== t.partitions || t.partitions > 100_000)
        throw (this.#metadataError = new MalformedResponseError(`topic ${t.topic}: ${t.partitions} partitions`))
      const available = Array.from({ length: t.partitions }, (_, i) => i)
      this.topics.set(t.topic, { info: { partitionCount: t.partitions, available }, errorCode: 0, fetchedAt: now })
    }
  }
}
