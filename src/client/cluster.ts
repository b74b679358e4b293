import { backoffMs, type Clock } from '../clock.js'
import { RefreshSchedule } from '../refresh-schedule.js'
import { ConnectionError, InvalidArgumentError, IsoKafkaError } from '../errors.js'
import { Metadata, type MetadataResponse } from '../protocol/messages/metadata.js'
import type { ProducePartitionResponse, ProduceResponse } from '../protocol/messages/produce.js'
import type { BrokerRef, HookSet } from '../hooks.js'
import type { SocketTransport } from '../transport.js'
import { BrokerConnection } from './connection.js'
import { brokerError } from '../protocol/error-messages.js'

/** A connection attempt: `conn` from the start, `ready` once connected (the sender's synchronous pass reads it). */
type ConnectionEntry = Promise<BrokerConnection> & { conn?: BrokerConnection; ready?: BrokerConnection }

export interface ClusterOptions {
  clientId: string
  requestTimeoutMs: number
  connectTimeoutMs: number
  retryBackoffMs: number
  retryBackoffMaxMs: number
  metadataMaxAgeMs: number
  /** Topics not asked for during this long leave `topics` and the refreshed list (Java's metadata.max.idle.ms). */
  metadataMaxIdleMs?: number
  allowAutoTopicCreation: boolean
  clock: Clock
  hooks?: HookSet
}

export interface TopicMetadata {
  name: string
  errorCode: number
  partitionCount: number
  /** Leader node id per partition, -1 when the partition has no leader right now. */
  leaders: number[]
  /** Partitions that have a leader (the sticky and round-robin partitioners choose among these). */
  available: number[]
  /** Leader epoch per partition (-1 unknown): a leader learned from a newer epoch is not undone by older metadata. */
  epochs?: number[]
  fetchedAt: number
}

/** Kafka's "wait and retry metadata" errors for a topic; anything else non-zero fails the sends to it. */
const RETRIABLE_TOPIC_ERRORS = new Set([3, 5, 6, 9, 56, 74, 75, 76, 100])

/**
 * The cluster as the producer sees it: broker addresses, topic → partition leaders, and one connection per broker.
 * Metadata is fetched on demand for the topics in use and refreshed when stale or when a send hits a leadership error.
 */
export class KafkaCluster {
  readonly brokers = new Map<number, { host: string; port: number }>()
  readonly topics = new Map<string, TopicMetadata>()
  // the last usable topic topic() returned: the producer asks once per record, mostly for the same topic
  private lastTopicName: string | null = null
  private lastTopic: TopicMetadata | null = null
  private readonly wanted = new Set<string>()
  /** Topics asked for (topic()) since the last idle sweep; the others are dropped at the sweep. */
  private used = new Set<string>()
  private lastSweepAt = 0
  private readonly connections = new Map<string, ConnectionEntry>()
  private readonly lastFailure = new Map<string, { at: number; attempts: number }>()
  /** The broker each connection's hook events name, by address (see connectionAt). */
  private readonly brokerRefs = new Map<string, BrokerRef>()
  private readonly refreshes: RefreshSchedule
  private bootstrapIndex = 0
  private closed = false
  clusterId: string | null = null
  /** The last non-retriable connect error (authentication, unsupported versions): sends fail fast with it. */
  private connectError: IsoKafkaError | null = null
  /** Called after every metadata update (the sender re-routes) and after a connection closes. */
  onChange: () => void = () => {}

  constructor(
    private readonly transport: SocketTransport,
    private readonly options: ClusterOptions,
  ) {
    this.refreshes = new RefreshSchedule(
      options,
      () => void this.refresh().catch(() => {}),
      (now) => this.expireOverdue(now),
    )
  }

  // ---- connections ----

  /** A ready connection to the broker with this node id (connecting if needed). */
  connectionTo(nodeId: number): Promise<BrokerConnection> {
    const broker = this.brokers.get(nodeId)
    if (!broker) return Promise.reject(new ConnectionError(`broker ${nodeId} is not in the metadata`))
    return this.connectionAt(broker.host, broker.port)
  }

  /** The connection to host:port if it is ready now, else null (used by the sender's synchronous pass). */
  readyConnection(nodeId: number): BrokerConnection | null {
    const broker = this.brokers.get(nodeId)
    if (!broker) return null
    const entry = this.connections.get(`${broker.host}:${broker.port}`)
    const conn = entry?.ready
    return conn && !conn.isClosed ? conn : null
  }

  /**
   * Enforce connect and request timeouts whose timers never fired (see BrokerConnection.expireOverdue): the sender
   * calls this at the start of each pass, so a stalled request or connect attempt fails and is retried.
   */
  expireOverdue(now: number): void {
    for (const entry of this.connections.values()) entry.conn?.expireOverdue(now) // fail() may delete the entry: safe mid-iteration
  }

  /** Milliseconds to wait before reconnecting to an address that failed recently (0 = go). */
  reconnectDelay(nodeId: number): number {
    const broker = this.brokers.get(nodeId)
    if (!broker) return 0
    const f = this.lastFailure.get(`${broker.host}:${broker.port}`)
    if (!f) return 0
    const wait = backoffMs(f.attempts, this.options.retryBackoffMs, this.options.retryBackoffMaxMs, () => 0.5)
    return Math.max(0, f.at + wait - this.options.clock.now())
  }

  connectionAt(host: string, port: number): Promise<BrokerConnection> {
    if (this.closed) return Promise.reject(new ConnectionError('the producer is closed'))
    const key = `${host}:${port}`
    const existing = this.connections.get(key)
    if (existing && !(existing.ready && existing.ready.isClosed)) return existing
    let nodeId = -1
    for (const [id, b] of this.brokers) if (b.host === host && b.port === port) nodeId = id
    // the node id of a bootstrap address is learnt from metadata later: apply() fills it into this same object
    const broker = this.brokerRefs.get(key) ?? { host, port, nodeId }
    this.brokerRefs.set(key, broker)
    const conn = new BrokerConnection(host, port, this.transport, {
      clientId: this.options.clientId,
      requestTimeoutMs: this.options.requestTimeoutMs,
      connectTimeoutMs: this.options.connectTimeoutMs,
      clock: this.options.clock,
      hooks: this.options.hooks,
      broker,
    })
    const promise: ConnectionEntry = conn.connect().then(
      () => {
        promise.ready = conn
        this.lastFailure.delete(key)
        this.connectError = null
        return conn
      },
      (err) => {
        const prev = this.lastFailure.get(key)
        this.lastFailure.set(key, { at: this.options.clock.now(), attempts: (prev?.attempts ?? 0) + 1 })
        if (err instanceof IsoKafkaError && !err.retriable) this.connectError = err
        if (this.connections.get(key) === promise) this.connections.delete(key)
        throw err
      },
    )
    promise.conn = conn
    promise.catch(() => {})
    conn.onClose(() => {
      if (this.connections.get(key) === promise) this.connections.delete(key)
      if (!this.closed) this.onChange()
    })
    this.connections.set(key, promise)
    return promise
  }

  // ---- metadata ----

  /** Topic metadata if known and usable. */
  topic(name: string): TopicMetadata | undefined {
    if (name === this.lastTopicName) return this.lastTopic!
    const t = this.topics.get(name)
    this.used.add(name)
    if (t && t.errorCode === 0 && t.partitionCount > 0) {
      this.lastTopicName = name
      this.lastTopic = t
      return t
    }
    // unknown, or known with a retriable error (not created yet, no leader yet): keep asking, with backoff
    this.wanted.add(name)
    this.requestRefresh()
    return undefined
  }

  leaderFor(topic: string, partition: number): number {
    return this.topics.get(topic)?.leaders[partition] ?? -1
  }

  /** Ask for a metadata refresh soon (coalesced, with backoff after failures; see RefreshSchedule). */
  requestRefresh(): void {
    this.refreshes.request()
  }

  /**
   * Stop asking for a topic that nothing sends to (the producer described it and metadata answered with an error):
   * names that came from the network must not stay in every later metadata request.
   */
  forgetTopic(name: string): void {
    if (name === this.lastTopicName) return
    this.wanted.delete(name)
    this.topics.delete(name)
    this.used.delete(name)
  }

  /** Refresh now (joins a refresh under way). */
  refresh(): Promise<void> {
    return this.refreshes.run(
      () => this.doRefresh(),
      (err) => {
        this.onChange()
        return err !== null && this.wanted.size > 0 // topics still unknown: keep asking, with backoff
      },
    )
  }

  /** Is any wanted topic's metadata older than metadataMaxAgeMs? */
  isStale(now: number): boolean {
    return now - this.refreshes.lastRefreshAt >= this.options.metadataMaxAgeMs
  }

  /**
   * Drops topics nobody asked for during a whole idle period (names taken from network input would otherwise be kept
   * and refreshed for ever). The fast path's topic (lastTopicName) is in use by definition.
   */
  private sweepIdle(now: number): void {
    const idle = this.options.metadataMaxIdleMs ?? 300_000
    if (now - this.lastSweepAt < idle) return
    if (this.lastSweepAt !== 0) {
      const idleTopic = (name: string) => !this.used.has(name) && name !== this.lastTopicName
      for (const name of this.topics.keys()) if (idleTopic(name)) this.topics.delete(name)
      for (const name of this.wanted) if (idleTopic(name)) this.wanted.delete(name)
    }
    this.used = new Set()
    this.lastSweepAt = now
  }

  private async doRefresh(): Promise<void> {
    this.sweepIdle(this.options.clock.now())
    const topics = [...this.wanted]
    let lastError: unknown = null
    for (const [host, port] of this.candidates()) {
      try {
        const conn = await this.connectionAt(host, port)
        const res = await conn.request(Metadata, {
          topics,
          allowAutoTopicCreation: this.options.allowAutoTopicCreation,
        })
        this.apply(res)
        return
      } catch (err) {
        lastError = err
        if (err instanceof IsoKafkaError && !err.retriable) throw err
      }
    }
    throw lastError instanceof Error ? lastError : new ConnectionError('no broker reachable')
  }

  /** A connection to any broker that answers (for requests that any broker can serve, e.g. InitProducerId). */
  async anyConnection(): Promise<BrokerConnection> {
    let lastError: unknown = null
    for (const [host, port] of this.candidates()) {
      try {
        return await this.connectionAt(host, port)
      } catch (err) {
        lastError = err
        if (err instanceof IsoKafkaError && !err.retriable) throw err
      }
    }
    throw lastError instanceof Error ? lastError : new ConnectionError('no broker reachable')
  }

  /** Known brokers first (ready connections first), then the bootstrap list, rotating the start point. */
  private candidates(): Array<[string, number]> {
    const out: Array<[string, number]> = []
    const seen = new Set<string>()
    const add = (host: string, port: number) => {
      const k = `${host}:${port}`
      if (!seen.has(k)) {
        seen.add(k)
        out.push([host, port])
      }
    }
    for (const id of this.brokers.keys())
      if (this.readyConnection(id)) add(this.brokers.get(id)!.host, this.brokers.get(id)!.port)
    const bootstrap = this.transport.bootstrap.map(parseHostPort)
    const start = this.bootstrapIndex++ % Math.max(1, bootstrap.length)
    const rotated = [...bootstrap.slice(start), ...bootstrap.slice(0, start)]
    const brokers = [...this.brokers.values()]
    for (const b of brokers) add(b.host, b.port)
    for (const [h, p] of rotated) add(h, p)
    return out
  }

  private apply(res: MetadataResponse): void {
    if (this.options.hooks?.active) {
      this.options.hooks.emit('metadataRefreshed', {
        topics: res.topics.map((t) => t.name),
        brokers: res.brokers.length,
      })
    }
    this.lastTopicName = null // topics may change below
    this.clusterId = res.clusterId
    if (res.brokers.length > 0) {
      this.brokers.clear()
      for (const b of res.brokers) {
        this.brokers.set(b.nodeId, { host: b.host, port: b.port })
        const ref = this.brokerRefs.get(`${b.host}:${b.port}`)
        if (ref) ref.nodeId = b.nodeId
      }
    }
    const now = this.options.clock.now()
    for (const t of res.topics) {
      const previous = this.topics.get(t.name)
      if (t.errorCode !== 0 && t.partitions.length === 0) {
        // keep what we knew through a transient error; record the error for topics never seen
        if (!previous || !RETRIABLE_TOPIC_ERRORS.has(t.errorCode)) {
          this.topics.set(t.name, {
            name: t.name,
            errorCode: t.errorCode,
            partitionCount: 0,
            leaders: [],
            available: [],
            fetchedAt: now,
          })
        }
        continue
      }
      const count = t.partitions.reduce((m, p) => Math.max(m, p.partition + 1), 0)
      const leaders = new Array<number>(count).fill(-1)
      const epochs = new Array<number>(count).fill(-1)
      for (const p of t.partitions) {
        const known = previous?.epochs?.[p.partition] ?? -1
        if (p.leaderEpoch >= 0 && known > p.leaderEpoch && this.brokers.has(previous!.leaders[p.partition]!)) {
          // this broker's metadata is older than a leader we learned from a Produce response (KIP-951): keep ours
          leaders[p.partition] = previous!.leaders[p.partition]!
          epochs[p.partition] = known
          continue
        }
        leaders[p.partition] = p.errorCode === 0 || p.leaderId >= 0 ? p.leaderId : -1
        epochs[p.partition] = p.leaderEpoch
      }
      this.topics.set(t.name, {
        name: t.name,
        errorCode: 0,
        partitionCount: count,
        leaders,
        available: this.availableOf(leaders),
        epochs,
        fetchedAt: now,
      })
    }
  }

  private availableOf(leaders: readonly number[]): number[] {
    const available: number[] = []
    for (let i = 0; i < leaders.length; i++) if (leaders[i]! >= 0 && this.brokers.has(leaders[i]!)) available.push(i)
    return available
  }

  /**
   * Leader hints (KIP-951): a Produce v10+ response that refuses a partition with NOT_LEADER_OR_FOLLOWER names the
   * new leader and its epoch, and the endpoints of such leaders. A hint newer than what we know moves the partition
   * at once, without a metadata round trip. Returns the response entries whose hint moved a partition.
   */
  applyLeaderHints(res: ProduceResponse): ProducePartitionResponse[] {
    const moved: ProducePartitionResponse[] = []
    for (const t of res.topics) {
      const meta = this.topics.get(t.topic)
      if (!meta) continue
      for (const p of t.partitions) {
        const hint = p.currentLeader
        if (!hint || hint.leaderId < 0 || hint.leaderEpoch < 0 || p.partition >= meta.partitionCount) continue
        const epochs = (meta.epochs ??= new Array<number>(meta.partitionCount).fill(-1))
        if ((epochs[p.partition] ?? -1) >= hint.leaderEpoch) continue
        if (!this.brokers.has(hint.leaderId)) {
          const node = res.nodeEndpoints?.find((n) => n.nodeId === hint.leaderId)
          if (!node) continue // nowhere to connect: the metadata refresh will tell
          this.brokers.set(node.nodeId, { host: node.host, port: node.port })
        }
        meta.leaders[p.partition] = hint.leaderId
        epochs[p.partition] = hint.leaderEpoch
        meta.available = this.availableOf(meta.leaders)
        moved.push(p)
      }
    }
    return moved
  }

  /** The error to give sends to this topic, if its metadata says it cannot be produced to. */
  topicError(name: string): IsoKafkaError | null {
    const t = this.topics.get(name)
    if (t && t.errorCode === 0 && t.partitionCount > 0) return null
    if (this.connectError) return this.connectError
    if (!t || t.errorCode === 0 || RETRIABLE_TOPIC_ERRORS.has(t.errorCode)) return null
    return brokerError(t.errorCode, `topic ${name}`)
  }

  /** The last metadata error of a topic (for the timeout message). */
  lastTopicErrorCode(name: string): number {
    return this.topics.get(name)?.errorCode ?? 0
  }

  close(): void {
    this.closed = true
    this.refreshes.close()
    for (const p of this.connections.values())
      p.then(
        (c) => c.close(),
        () => {},
      )
    this.connections.clear()
  }
}

export function parseHostPort(address: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address.trim())
  const port = m ? Number(m[2]) : 0
  if (!m || port < 1 || port > 65535)
    throw new InvalidArgumentError('INVALID_CONFIG', `bootstrap address "${address}" is not host:port`)
  return [m[1]!, port]
}

/**
 * A socket transport's `bootstrap` option ('h1:9092,h2:9092' or a list) as trimmed `host:port` entries. Throws
 * INVALID_CONFIG at once (when the transport is created) for none, or for an entry that is not host:port.
 */
export function parseBootstrap(bootstrap: string | readonly string[] | undefined, who: string): string[] {
  const list = typeof bootstrap === 'string' ? bootstrap.split(',') : (bootstrap ?? [])
  const out = list.map((s) => (typeof s === 'string' ? s.trim() : '')).filter((s) => s.length > 0)
  if (out.length === 0)
    throw new InvalidArgumentError('INVALID_CONFIG', `${who}: bootstrap must name at least one host:port`)
  for (const address of out) parseHostPort(address)
  return out
}
