import { systemClock, type Clock } from '../clock.js'
import { gzip, resolveCodec, type CompressionCodec } from '../compression.js'
import { ApiKey } from '../protocol/api.js'
import type { RequestHeader } from '../protocol/framing.js'
import type { ApiVersionRange } from '../protocol/messages/api-versions.js'
import type { SocketTransport } from '../transport.js'
import { FaultRegistry, type CorruptMode, type Fault, type FaultTarget } from './faults.js'
import type { FakeSaslConfig } from './handlers/sasl.js'
import { FakePartition, type FakeBatch, type FakeRecord, type TimestampType } from './partition.js'
import { FakeServerConnection, type ConnectionIO } from './server-connection.js'
import { inMemoryTransport, type FakeTransportOptions } from './transport.js'
import { FakeTransactions } from './transactions.js'

/** Version ranges a Kafka 4.x broker advertises for the APIs the fake serves. */
export const DEFAULT_API_VERSIONS: Readonly<Record<number, readonly [number, number]>> = Object.freeze({
  [ApiKey.Produce]: [3, 12],
  [ApiKey.Metadata]: [0, 12],
  [ApiKey.SaslHandshake]: [0, 1],
  [ApiKey.ApiVersions]: [0, 4],
  [ApiKey.InitProducerId]: [0, 4],
  [ApiKey.FindCoordinator]: [1, 6],
  [ApiKey.AddPartitionsToTxn]: [0, 3], // 4+ are broker-to-broker (not served here)
  [ApiKey.AddOffsetsToTxn]: [0, 4],
  [ApiKey.EndTxn]: [0, 5],
  [ApiKey.TxnOffsetCommit]: [0, 5],
  [ApiKey.SaslAuthenticate]: [0, 2],
})

export interface FakeTopicConfig {
  partitions?: number
  /** Leader node id per partition. Default: round-robin over the brokers. */
  leaders?: number[]
  /** Replicas per partition (leader first). Default min(3, brokers). */
  replicationFactor?: number
  timestampType?: TimestampType
  /** Largest batch accepted (bytes as produced). Default 1048588, Kafka's max.message.bytes. */
  maxMessageBytes?: number
}

export interface FakeClusterOptions {
  /** Node ids, or how many brokers (ids 1..n). Default 1. */
  brokers?: number | number[]
  /** Topics to create: name → partition count or config. */
  topics?: Record<string, number | FakeTopicConfig>
  /** Create unknown topics asked for in Metadata (when the client allows it). Default false. */
  autoCreateTopics?: boolean | FakeTopicConfig
  /** Timers (response delays), append timestamps and the random bytes of 'random-bytes' corruption. */
  clock?: Clock
  clusterId?: string
  /** Override advertised version ranges: apiKey → [min, max], or null to not advertise the API. */
  apiVersions?: Record<number, readonly [number, number] | null>
  /** Require SASL on every connection. */
  sasl?: FakeSaslConfig
  /** Codecs for compressed batches. Default: gzip, snappy, lz4 and zstd (each loaded when a batch first needs it), as a broker. */
  codecs?: CompressionCodec[]
  /** First producer id handed out. Default 1000. */
  firstProducerId?: number
  /** The finalized `transaction.version` feature: 2 (KIP-890, Kafka 4.x's default) or 1. Default 2. */
  transactionVersion?: number
  /** The broker that coordinates transactions and groups (FindCoordinator). Default: the first live broker. */
  coordinator?: number
}

export interface FakeTopic {
  readonly name: string
  readonly partitions: FakePartition[]
  readonly timestampType: TimestampType
  readonly maxMessageBytes: number
}

/** How brokers are addressed on one way in (in-memory names, or 127.0.0.1 ports for the TCP server). */
export interface FakeListener {
  readonly name: string
  address(nodeId: number): { host: string; port: number }
}

/** One request as the cluster saw it. */
export interface FakeRequestInfo {
  broker: number
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
  /** Cluster clock time when the broker started handling it. */
  at: number
  /** Earlier requests on the same connection still unanswered when it arrived (the client's pipelining depth). */
  pipelined: number
  /** Produce: the batch each partition carried (producer id and first sequence; -1 when not idempotent). */
  batches?: Array<{ topic: string; partition: number; producerId: number; baseSequence: number; recordCount: number }>
}

/** In-memory addresses: broker 1 is fake-1:9092, broker 2 fake-2:9092, ... */
export const IN_MEMORY_LISTENER: FakeListener = {
  name: 'memory',
  address: (nodeId) => ({ host: `fake-${nodeId}`, port: 9092 }),
}

/**
 * An in-process Kafka cluster for tests (in the spirit of franz-go's kfake): brokers, topics with partitions and
 * leaders, an in-memory log per partition, idempotent-producer checks, and fault injection. It speaks the real wire
 * protocol, so the producer's own framing, connection and sender code runs against it.
 *
 * Use `transport()` for an in-memory SocketTransport (any runtime), or serve it on TCP from Node with
 * `serveFakeCluster` (adapters/testing-node).
 */
export class FakeCluster {
  readonly clock: Clock
  readonly clusterId: string
  readonly codecs: readonly CompressionCodec[]
  readonly sasl: FakeSaslConfig | null
  readonly faults = new FaultRegistry()
  readonly requests: FakeRequestInfo[] = []
  /** throttle_time_ms of every Produce response (a broker quota, as the client sees it); 0 by default. */
  produceThrottleMs = 0
  private readonly brokers: number[]
  private readonly down = new Set<number>()
  private readonly topicMap = new Map<string, FakeTopic>()
  private readonly autoCreate: FakeTopicConfig | null
  private readonly versions: Map<number, ApiVersionRange>
  private readonly connections = new Set<FakeServerConnection>()
  private nextProducerId: number
  private readonly transactional = new Map<string, { producerId: number; producerEpoch: number }>()
  private readonly fencedBelow = new Map<number, number>()
  private work = 0
  /** The transaction coordinator's state (transactional ids, open transactions, group offsets). */
  readonly transactions: FakeTransactions
  /** Set to move coordination to another broker (FindCoordinator answers it; the others answer NOT_COORDINATOR). */
  coordinator: number | null

  constructor(options: FakeClusterOptions = {}) {
    const b = options.brokers ?? 1
    this.brokers = typeof b === 'number' ? Array.from({ length: b }, (_, i) => i + 1) : [...b]
    if (this.brokers.length === 0) throw new RangeError('a fake cluster needs at least one broker')
    this.clock = options.clock ?? systemClock
    this.clusterId = options.clusterId ?? 'fake-cluster'
    this.codecs = options.codecs ?? [gzip, resolveCodec('snappy')!, resolveCodec('lz4')!, resolveCodec('zstd')!]
    this.sasl = options.sasl ?? null
    this.autoCreate = options.autoCreateTopics
      ? options.autoCreateTopics === true
        ? {}
        : options.autoCreateTopics
      : null
    this.nextProducerId = options.firstProducerId ?? 1000
    this.transactions = new FakeTransactions(this, options.transactionVersion ?? 2)
    this.coordinator = options.coordinator ?? null
    this.versions = new Map()
    const table: Record<number, readonly [number, number] | null> = { ...DEFAULT_API_VERSIONS, ...options.apiVersions }
    for (const [key, range] of Object.entries(table)) {
      if (range) this.versions.set(Number(key), { apiKey: Number(key), minVersion: range[0], maxVersion: range[1] })
    }
    for (const [name, config] of Object.entries(options.topics ?? {})) {
      this.createTopic(name, typeof config === 'number' ? { partitions: config } : config)
    }
  }

  // ---- brokers and topics ----

  get brokerIds(): readonly number[] {
    return this.brokers
  }

  /** In-memory bootstrap addresses (fake-<id>:9092). */
  get bootstrap(): string[] {
    return this.brokers.map((id) => {
      const a = IN_MEMORY_LISTENER.address(id)
      return `${a.host}:${a.port}`
    })
  }

  isBrokerUp(id: number): boolean {
    return this.brokers.includes(id) && !this.down.has(id)
  }

  liveBrokers(): number[] {
    return this.brokers.filter((id) => !this.down.has(id))
  }

  /**
   * Take a broker down: its connections close, new ones are refused, and each partition it led moves to the next
   * live replica (or has no leader).
   */
  stopBroker(id: number): void {
    this.requireBroker(id)
    this.down.add(id)
    for (const c of [...this.connections]) if (c.broker === id) c.close()
    for (const t of this.topicMap.values()) {
      for (const p of t.partitions) {
        if (p.leader !== id) continue
        p.leader = p.replicas.find((r) => r !== id && !this.down.has(r)) ?? -1
        p.leaderEpoch++
      }
    }
  }

  /** Bring a broker back (leadership stays where it is; move it with moveLeader). */
  startBroker(id: number): void {
    this.requireBroker(id)
    this.down.delete(id)
  }

  get autoCreateTopics(): boolean {
    return this.autoCreate !== null
  }

  createTopic(name: string, config: FakeTopicConfig = this.autoCreate ?? {}): FakeTopic {
    if (this.topicMap.has(name)) throw new Error(`topic ${name} already exists`)
    const count = config.partitions ?? 1
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`partition count must be a positive integer, got ${count}`)
    const rf = Math.min(config.replicationFactor ?? 3, this.brokers.length)
    const partitions = Array.from({ length: count }, (_, i) => {
      const leader = config.leaders?.[i] ?? this.brokers[i % this.brokers.length]!
      if (leader !== -1) this.requireBroker(leader)
      const start = Math.max(0, this.brokers.indexOf(leader))
      const replicas = Array.from({ length: rf }, (_, k) => this.brokers[(start + k) % this.brokers.length]!)
      return new FakePartition(
        name,
        i,
        leader,
        leader === -1 ? replicas : [leader, ...replicas.filter((r) => r !== leader)].slice(0, rf),
      )
    })
    const topic: FakeTopic = {
      name,
      partitions,
      timestampType: config.timestampType ?? 'CreateTime',
      maxMessageBytes: config.maxMessageBytes ?? 1048588,
    }
    this.topicMap.set(name, topic)
    return topic
  }

  deleteTopic(name: string): void {
    this.topicMap.delete(name)
  }

  topic(name: string): FakeTopic | undefined {
    return this.topicMap.get(name)
  }

  topicNames(): string[] {
    return [...this.topicMap.keys()]
  }

  private partitionOf(topic: string, partition: number): FakePartition {
    const p = this.topicMap.get(topic)?.partitions[partition]
    if (!p) throw new RangeError(`no partition ${topic}-${partition}`)
    return p
  }

  private requireBroker(id: number): void {
    if (!this.brokers.includes(id)) throw new RangeError(`no broker ${id} (brokers: ${this.brokers.join(', ')})`)
  }

  leaderOf(topic: string, partition: number): number {
    return this.partitionOf(topic, partition).leader
  }

  /**
   * Move a partition's leadership (-1: no leader). The old leader answers Produce with NOT_LEADER_OR_FOLLOWER from now
   * on; the log and producer state move along (they are replicated, as far as the fake is concerned).
   */
  moveLeader(topic: string, partition: number, to: number): void {
    if (to !== -1) this.requireBroker(to)
    const p = this.partitionOf(topic, partition)
    p.leader = to
    p.leaderEpoch++
    if (to !== -1 && !p.replicas.includes(to)) p.replicas = [to, ...p.replicas]
  }

  // ---- producer ids ----

  /** A new producer id (epoch 0), or for a transactional id the same id with the next epoch. */
  initProducerId(transactionalId: string | null): { producerId: number; producerEpoch: number } {
    if (transactionalId === null) return { producerId: this.nextProducerId++, producerEpoch: 0 }
    const prev = this.transactional.get(transactionalId)
    const next = prev
      ? { producerId: prev.producerId, producerEpoch: prev.producerEpoch + 1 }
      : { producerId: this.nextProducerId++, producerEpoch: 0 }
    this.transactional.set(transactionalId, next)
    this.fenceProducer(next.producerId, next.producerEpoch)
    return next
  }

  /**
   * Fence a producer: its batches with an epoch below `minEpoch` (default: one above the newest epoch any partition
   * saw from it) are refused with INVALID_PRODUCER_EPOCH, as after another instance took over its id.
   */
  fenceProducer(producerId: number, minEpoch?: number): void {
    let epoch = minEpoch
    if (epoch === undefined) {
      epoch = this.fencedBelow.get(producerId) ?? 0
      for (const t of this.topicMap.values())
        for (const p of t.partitions) epoch = Math.max(epoch, p.producerEpoch(producerId) + 1)
    }
    this.fencedBelow.set(producerId, epoch)
    for (const t of this.topicMap.values())
      for (const p of t.partitions) if (p.producerEpoch(producerId) >= 0) p.bumpProducerEpoch(producerId, epoch)
  }

  /** The lowest epoch the cluster accepts from a producer (0 unless fenced). */
  minProducerEpoch(producerId: number): number {
    return this.fencedBelow.get(producerId) ?? 0
  }

  /** The broker coordinating transactions and groups now. */
  coordinatorId(): number {
    return this.coordinator ?? this.liveBrokers()[0] ?? this.brokers[0]!
  }

  // ---- inspection ----

  /** What a read_committed consumer reads: committed and non-transactional records, up to the first open transaction. */
  readCommitted(topic: string, partition?: number): FakeRecord[] {
    const t = this.topicMap.get(topic)
    if (!t) throw new RangeError(`no topic ${topic}`)
    const parts = partition === undefined ? t.partitions : [this.partitionOf(topic, partition)]
    return parts.flatMap((p) => FakeTransactions.readCommitted(p.records, p.batches))
  }

  /** Records of a partition in offset order (or of every partition of the topic, partition by partition). */
  records(topic: string, partition?: number): FakeRecord[] {
    if (partition !== undefined) return [...this.partitionOf(topic, partition).records]
    const t = this.topicMap.get(topic)
    if (!t) throw new RangeError(`no topic ${topic}`)
    return t.partitions.flatMap((p) => p.records)
  }

  /** Batches appended to a partition, in order. */
  batches(topic: string, partition: number): FakeBatch[] {
    return [...this.partitionOf(topic, partition).batches]
  }

  logEndOffset(topic: string, partition: number): number {
    return this.partitionOf(topic, partition).logEndOffset
  }

  /** Requests received, optionally of one API key and/or on one broker. */
  requestCount(apiKey?: number, broker?: number): number {
    let n = 0
    for (const r of this.requests)
      if ((apiKey === undefined || r.apiKey === apiKey) && (broker === undefined || r.broker === broker)) n++
    return n
  }

  /** Open connections, optionally to one broker. */
  connectionCount(broker?: number): number {
    let n = 0
    for (const c of this.connections) if (broker === undefined || c.broker === broker) n++
    return n
  }

  // ---- fault injection ----

  /** The next `count` requests of this API answer with `errorCode` (Produce: per targeted partition, not appended). */
  failNext(apiKey: number, errorCode: number, target?: FaultTarget): Fault {
    return this.faults.add(apiKey, { kind: 'error', errorCode }, target)
  }

  /** Responses to the next `count` requests of this API are held `ms` on the cluster clock. */
  delayNext(apiKey: number, ms: number, target?: FaultTarget): Fault {
    return this.faults.add(apiKey, { kind: 'delay', ms }, target)
  }

  /** Close the connection on the next request: before handling it (nothing appended) or after (appended, no answer). */
  disconnectNext(apiKey: number, when: 'before-append' | 'after-append', target?: FaultTarget): Fault {
    return this.faults.add(apiKey, { kind: 'disconnect', when }, target)
  }

  /** Damage the next response frame(s) of this API. */
  corruptNext(apiKey: number, mode: CorruptMode, target?: FaultTarget): Fault {
    return this.faults.add(apiKey, { kind: 'corrupt', mode }, target)
  }

  /** Never answer the next request(s) of this API; the connection stops being read. */
  stallNext(apiKey: number, target?: FaultTarget): Fault {
    return this.faults.add(apiKey, { kind: 'no-response' }, target)
  }

  clearFaults(): void {
    this.faults.clear()
  }

  // ---- serving ----

  advertisedVersions(): ApiVersionRange[] {
    return [...this.versions.values()].map((r) => ({ ...r }))
  }

  advertisedRange(apiKey: number): ApiVersionRange | undefined {
    return this.versions.get(apiKey)
  }

  /** An in-memory SocketTransport to this cluster (bootstrap: every broker's fake-<id>:9092). */
  transport(options: FakeTransportOptions = {}): SocketTransport {
    return inMemoryTransport(this, options)
  }

  /** A new broker-side connection on `listener`, or null if that broker is down. For transports and servers. */
  accept(broker: number, listener: FakeListener, io: ConnectionIO): FakeServerConnection | null {
    if (!this.isBrokerUp(broker)) return null
    const conn = new FakeServerConnection(this, broker, listener, io)
    this.connections.add(conn)
    return conn
  }

  /** Close every connection (the cluster stays usable). */
  closeConnections(broker?: number): void {
    for (const c of [...this.connections]) if (broker === undefined || c.broker === broker) c.close()
  }

  /** @internal */
  connectionClosed(conn: FakeServerConnection): void {
    this.connections.delete(conn)
  }

  /** @internal */
  recordRequest(broker: number, header: RequestHeader, pipelined: number): FakeRequestInfo {
    const info: FakeRequestInfo = { broker, ...header, at: this.clock.now(), pipelined }
    this.requests.push(info)
    return info
  }

  /** @internal Marks asynchronous work (delivery, request handling) under way; call the result when it is done. */
  beginWork(): () => void {
    this.work++
    let done = false
    return () => {
      if (done) return
      done = true
      this.work--
    }
  }

  /** True while bytes are being delivered or requests handled (time-based delays do not count). */
  get busy(): boolean {
    return this.work > 0
  }

  /** Resolves once nothing is being delivered or handled (waits on real macrotasks, not on the cluster clock). */
  async idle(maxRounds = 10000): Promise<void> {
    for (let i = 0; i < maxRounds && this.busy; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0))
  }
}
