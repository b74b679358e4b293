/**
 * isokafka gateway (Node): lets browsers, Workers and other HTTP/WebSocket-only clients produce to Kafka.
 *
 *   WebSocket  /v1/ws                                     MessagePack frames (docs/gateway-protocol.md)
 *   HTTP POST  /v1/metadata, /v1/produce                  one MessagePack frame in, one out
 *   HTTP POST  /v3/clusters/{id}/topics/{t}/records       Confluent REST Proxy v3 produce (JSON, streamed records)
 *   HTTP GET   /v3/clusters, /v3/clusters/{id}/topics/{t}/partitions
 *   HTTP POST  /topics/{t}                                Confluent REST Proxy v2 produce (binary/json embedded)
 *   HTTP GET   /topics/{t}/partitions
 *   HTTP GET   /healthz, /metrics
 *
 * Records are produced with isokafka's own Node TCP producer (acks=all, idempotent). A client batch is acknowledged
 * only after Kafka acknowledged every record of it; batch ids are deduplicated per token subject.
 */
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
// The server (Node) speaks MessagePack with @msgpack/msgpack; browser-side transports use the compact codec in
// ./msgpack.ts (wire-compatible, cross-checked in test/unit/msgpack.test.ts) to keep their bundles small.
import { Decoder as MsgpackDecoder, encode as msgpackEncode } from '@msgpack/msgpack'
import { KafkaCluster } from '../../src/client/cluster.js'
import {
  ConnectionError, DeliveryTimeoutError, InvalidArgumentError, KafkaProtocolError, MaxBlockTimeoutError,
  ProducerFatalError, RecordTooLargeError, RequestTimeoutError,
} from '../../src/errors.js'
import type { RecordMetadata } from '../../src/producer/accumulator.js'
import { resolveOptions, type ProducerOptions } from '../../src/producer/options.js'
import { createProducer, type Producer } from '../../src/producer/producer.js'
import { Metadata, type MetadataResponse } from '../../src/protocol/messages/metadata.js'
import type { SocketTransport } from '../../src/transport.js'
import { tcp, type TcpOptions } from '../node-tcp/index.js'
import {
  CLOSE_SHUTDOWN, CLOSE_UNAUTHENTICATED, MSGPACK_CONTENT_TYPE, PROTOCOL_VERSION, SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX,
  fromBase64, isRetriableCode, msgpackShapeOk, peekFrameId, splitJsonStream,
  type AckFrame, type ErrorFrame, type GatewayErrorCode, type GatewayLimits, type MetadataResponseFrame, type ServerFrame,
  type WireBatch, type WireRecord, type WireResult,
} from './protocol.js'
import { topicAllowed, verifyGatewayToken, type GatewayTokenClaims, type TokenSecret } from './token.js'

export { createGatewayToken, verifyGatewayToken, topicAllowed } from './token.js'
export type { CreateGatewayTokenOptions, GatewayTokenClaims, TokenCheck, TokenSecret } from './token.js'
export * from './protocol.js'

export interface GatewayOptions {
  /** Kafka bootstrap servers (`host:port`, comma-separated or a list). */
  bootstrap?: string | string[]
  /** TLS / SASL for the Kafka side (as tcp()). */
  kafka?: Omit<TcpOptions, 'bootstrap'>
  /** Or a ready transport for the Kafka side (wins over bootstrap/kafka). */
  transport?: SocketTransport
  /** HMAC secret(s) for tokens; several allow rotation (any of them verifies). */
  secret: TokenSecret | TokenSecret[]
  /** Browser origins allowed (exact `scheme://host[:port]`), or '*'. Requests without an Origin header always pass. Default: none. */
  origins?: '*' | string[]
  limits?: Partial<GatewayLimits>
  /** Bytes of records waiting for Kafka above which the gateway stops reading from clients. Default 16 MiB. */
  maxPendingBytes?: number
  /** Batch ids remembered for deduplication (LRU). Default 100000. */
  dedupEntries?: number
  /** Connections that have not authenticated within this are closed. Default 10000. */
  helloTimeoutMs?: number
  /**
   * Whole-request deadline for HTTP (headers and body), against slow-loris clients: the connection is closed with
   * 408 when a request is still arriving after this long. Headers must be complete within min(this, 10 s). Default 30000.
   */
  httpTimeoutMs?: number
  /** Open WebSocket connections at most. Default 10000. */
  maxConnections?: number
  /** Let produce/metadata requests create topics (if the brokers allow it). Default false. */
  allowAutoTopicCreation?: boolean
  /** Settings for the gateway's Kafka producer (acks and idempotence are fixed: 'all', on). */
  producer?: Omit<ProducerOptions<Uint8Array | null, Uint8Array | null>, 'transport' | 'acks' | 'enableIdempotence' | 'keySerializer' | 'valueSerializer'>
  /** Log lines (connections refused, producer replaced, ...). Default: silent. */
  log?: (line: string) => void
}

export interface GatewayMetrics {
  uptimeSec: number
  connections: { current: number; total: number; httpRequests: number }
  records: { in: number; out: number; failed: number }
  batches: { in: number; acked: number; deduplicated: number }
  bytesIn: number
  pendingBytes: number
  paused: boolean
  pauses: number
  errors: Record<string, number>
}

export interface Gateway {
  readonly server: http.Server
  /** Start listening; resolves with the bound address. Port 0 picks a free port. */
  listen(port: number, host?: string): Promise<{ host: string; port: number; url: string }>
  /** For embedding in an existing HTTP server. */
  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): void
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void
  metrics(): GatewayMetrics
  /** Stop accepting, close client connections, flush the producer (at most `timeoutMs`). */
  close(options?: { timeoutMs?: number }): Promise<void>
}

/** Shortest token secret accepted (string characters or key bytes), here and in the CLI. */
export const MIN_SECRET_LENGTH = 16

const DEFAULT_LIMITS: GatewayLimits = { maxFrameBytes: 2 << 20, maxInFlightBatches: 256, recordsPerSecond: 200_000 }

interface TopicMeta {
  errorCode: number
  partitions: number
  leaders: number[]
  at: number
}

/** A batch id's fate: offsets filled in as Kafka acknowledges; `pending` while a produce of it runs. */
interface DedupEntry {
  topic: string
  partition: number
  count: number
  offsets: Array<number | undefined>
  logAppendTime: number
  pending: Promise<void> | null
  result: WireResult | null
}

/** Per connection (WebSocket) or per token subject (HTTP): in-flight batches and a records/s token bucket. */
class Limiter {
  inFlightBatches = 0
  private tokens: number
  private last = Date.now()
  constructor(private readonly limits: GatewayLimits) {
    this.tokens = limits.recordsPerSecond
  }
  /** null when allowed (tokens taken), else how long to wait. */
  take(records: number): number | null {
    const rate = this.limits.recordsPerSecond
    if (!(rate > 0)) return null
    const now = Date.now()
    this.tokens = Math.min(rate, this.tokens + ((now - this.last) / 1000) * rate)
    this.last = now
    const need = Math.min(records, rate)
    if (this.tokens >= need) {
      this.tokens -= records
      return null
    }
    return Math.max(1, Math.ceil(((need - this.tokens) / rate) * 1000))
  }
}

interface Session {
  claims: GatewayTokenClaims
  limiter: Limiter
}

interface WsConn {
  id: string
  ws: WebSocket
  session: Session | null
  authenticating: Promise<void> | null
  helloTimer: NodeJS.Timeout | null
  alive: boolean
  limiter: Limiter
}

class BadFrame extends Error {}

export function createGateway(options: GatewayOptions): Gateway {
  return new GatewayServer(options)
}

class GatewayServer implements Gateway {
  readonly server: http.Server
  private readonly wss: WebSocketServer
  private readonly limits: GatewayLimits
  private readonly secrets: TokenSecret[]
  private readonly origins: '*' | Set<string>
  private readonly transport: SocketTransport
  private producer: Producer<Uint8Array | null, Uint8Array | null>
  private readonly cluster: KafkaCluster
  private clusterId: string | null = null
  private readonly topicMeta = new Map<string, TopicMeta>()
  private readonly metaWaiters = new Map<string, Array<(m: TopicMeta) => void>>()
  private metaScheduled = false
  private readonly dedup = new Map<string, DedupEntry>()
  private readonly httpLimiters = new Map<string, Limiter>()
  private readonly conns = new Set<WsConn>()
  private readonly log: (line: string) => void
  private readonly maxPendingBytes: number
  private pendingBytes = 0
  private paused = false
  private resumeWaiters: Array<() => void> = []
  private readonly heartbeat: NodeJS.Timeout
  private readonly started = Date.now()
  private closing = false
  private readonly m = {
    connectionsTotal: 0, httpRequests: 0, recordsIn: 0, recordsOut: 0, recordsFailed: 0,
    batchesIn: 0, batchesAcked: 0, dedupHits: 0, bytesIn: 0, pauses: 0, errors: {} as Record<string, number>,
  }

  constructor(private readonly options: GatewayOptions) {
    if (!options || (!options.secret && options.secret !== '')) throw new InvalidArgumentError('INVALID_CONFIG', 'createGateway: a token secret is required')
    this.secrets = (Array.isArray(options.secret) ? options.secret : [options.secret]) as TokenSecret[]
    if (this.secrets.length === 0 || this.secrets.some((s) => s.length === 0)) throw new InvalidArgumentError('INVALID_CONFIG', 'createGateway: the token secret is empty')
    // as the CLI: an HMAC key anyone could guess signs tokens anyone could forge
    if (this.secrets.some((s) => s.length < MIN_SECRET_LENGTH)) {
      throw new InvalidArgumentError('INVALID_CONFIG', `createGateway: each token secret must be at least ${MIN_SECRET_LENGTH} characters (bytes)`)
    }
    this.limits = { ...DEFAULT_LIMITS, ...(options.limits ?? {}) }
    this.origins = options.origins === '*' ? '*' : new Set(options.origins ?? [])
    this.maxPendingBytes = options.maxPendingBytes ?? 16 << 20
    this.log = options.log ?? (() => {})
    if (options.transport) this.transport = options.transport
    else if (options.bootstrap) this.transport = tcp({ ...(options.kafka ?? {}), bootstrap: options.bootstrap, clientId: options.kafka?.clientId ?? 'isokafka-gateway' })
    else throw new InvalidArgumentError('INVALID_CONFIG', 'createGateway: bootstrap (or transport) is required')
    this.producer = this.newProducer()
    const o = resolveOptions({ transport: this.transport, ...(options.producer ?? {}) })
    this.cluster = new KafkaCluster(this.transport, { ...o, allowAutoTopicCreation: options.allowAutoTopicCreation ?? false })
    const httpTimeoutMs = options.httpTimeoutMs ?? 30_000
    this.server = http.createServer(
      {
        requestTimeout: httpTimeoutMs,
        headersTimeout: Math.min(httpTimeoutMs, 10_000),
        // how often Node checks those deadlines (default 30 s would let a slow client linger far past them)
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(httpTimeoutMs / 4))),
      },
      (req, res) => this.handleRequest(req, res),
    )
    this.server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head))
    this.server.on('clientError', (_err, socket) => socket.destroy())
    this.wss = new WebSocketServer({
      noServer: true,
      // ws closes (1009) above this; between maxFrameBytes and it we answer FRAME_TOO_LARGE and keep the connection
      maxPayload: Math.max(this.limits.maxFrameBytes * 4, this.limits.maxFrameBytes + (1 << 20)),
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    })
    this.heartbeat = setInterval(() => {
      for (const c of this.conns) {
        if (!c.alive) {
          c.ws.terminate()
          continue
        }
        c.alive = false
        c.ws.ping()
      }
    }, 30_000)
    this.heartbeat.unref()
  }

  private newProducer(): Producer<Uint8Array | null, Uint8Array | null> {
    return createProducer<Uint8Array | null, Uint8Array | null>({
      lingerMs: 0,
      batchSize: 512 * 1024,
      maxBlockMs: 30_000,
      ...(this.options.producer ?? {}),
      transport: this.transport,
      acks: 'all',
      enableIdempotence: true,
      allowAutoTopicCreation: this.options.allowAutoTopicCreation ?? false,
    })
  }

  async listen(port: number, host = '127.0.0.1'): Promise<{ host: string; port: number; url: string }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    const addr = this.server.address() as { address: string; port: number }
    const h = addr.address.includes(':') ? `[${addr.address}]` : addr.address
    return { host: addr.address, port: addr.port, url: `http://${h}:${addr.port}` }
  }

  metrics(): GatewayMetrics {
    return {
      uptimeSec: Math.round((Date.now() - this.started) / 1000),
      connections: { current: this.conns.size, total: this.m.connectionsTotal, httpRequests: this.m.httpRequests },
      records: { in: this.m.recordsIn, out: this.m.recordsOut, failed: this.m.recordsFailed },
      batches: { in: this.m.batchesIn, acked: this.m.batchesAcked, deduplicated: this.m.dedupHits },
      bytesIn: this.m.bytesIn,
      pendingBytes: this.pendingBytes,
      paused: this.paused,
      pauses: this.m.pauses,
      errors: { ...this.m.errors },
    }
  }

  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closing) return
    this.closing = true
    clearInterval(this.heartbeat)
    const timeoutMs = options.timeoutMs ?? 10_000
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeIdleConnections?.()
    // read no more frames, let what Kafka is writing be acknowledged to the clients, then close: a client that got
    // its acks has nothing to resend (the dedup memory goes away with this process)
    for (const c of this.conns) c.ws.pause()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.producer.flush().catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))])
    clearTimeout(timer)
    await new Promise((resolve) => setImmediate(resolve))
    for (const c of this.conns) c.ws.close(CLOSE_SHUTDOWN, 'gateway shutting down')
    await this.producer.close({ timeoutMs: 1000 }).catch(() => {})
    this.cluster.close()
    for (const c of this.conns) c.ws.terminate()
    this.server.closeAllConnections?.()
    await serverClosed
  }

  private countError(code: string): void {
    this.m.errors[code] = (this.m.errors[code] ?? 0) + 1
  }

  private errorFrame(code: GatewayErrorCode, message: string, extra: Partial<ErrorFrame> = {}): ErrorFrame {
    this.countError(code)
    return { t: 'error', ...(extra.id !== undefined ? { id: extra.id } : {}), code, message, retriable: isRetriableCode(code), ...extra }
  }

  private originAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true
    return this.origins === '*' || this.origins.has(origin)
  }

  private async authenticate(token: string | null | undefined): Promise<{ claims: GatewayTokenClaims } | ErrorFrame> {
    const check = await verifyGatewayToken(token, this.secrets, { leewaySec: 0 })
    if (check.ok) return { claims: check.claims }
    if (check.reason === 'expired') return this.errorFrame('TOKEN_EXPIRED', 'the token has expired')
    const why = check.reason === 'missing' ? 'no token was presented' : check.reason === 'bad-signature' ? 'the token signature is not valid' : `the token is ${check.reason}`
    return this.errorFrame('UNAUTHENTICATED', why)
  }

  // ---- backpressure ----

  private addPending(bytes: number): void {
    this.pendingBytes += bytes
    if (!this.paused && this.pendingBytes > this.maxPendingBytes) {
      this.paused = true
      this.m.pauses++
      for (const c of this.conns) c.ws.pause()
    }
  }

  private subPending(bytes: number): void {
    this.pendingBytes -= bytes
    if (this.paused && this.pendingBytes <= this.maxPendingBytes / 2) {
      this.paused = false
      for (const c of this.conns) c.ws.resume()
      for (const w of this.resumeWaiters.splice(0)) w()
    }
  }

  private whenResumed(): Promise<void> {
    if (!this.paused) return Promise.resolve()
    return new Promise((resolve) => this.resumeWaiters.push(resolve))
  }

  // ---- metadata ----

  /** Partition count of a topic, cached (10 s when known, 1 s for errors); lookups in one tick share a request. */
  private lookupTopic(topic: string): Promise<TopicMeta> {
    const cached = this.topicMeta.get(topic)
    const now = Date.now()
    if (cached && now - cached.at < (cached.errorCode === 0 ? 10_000 : 1_000)) return Promise.resolve(cached)
    return new Promise((resolve) => {
      let waiters = this.metaWaiters.get(topic)
      if (!waiters) this.metaWaiters.set(topic, (waiters = []))
      waiters.push(resolve)
      if (!this.metaScheduled) {
        this.metaScheduled = true
        setImmediate(() => void this.fetchMetadata())
      }
    })
  }

  private async fetchMetadata(): Promise<void> {
    this.metaScheduled = false
    const waiting = new Map(this.metaWaiters)
    this.metaWaiters.clear()
    const topics = [...waiting.keys()]
    let res: MetadataResponse | null = null
    let failure: unknown = null
    try {
      res = await this.metadataRequest(topics)
    } catch (err) {
      failure = err
    }
    const now = Date.now()
    for (const topic of topics) {
      let meta: TopicMeta
      const t = res?.topics.find((x) => x.name === topic)
      if (!res || !t) {
        // Kafka unreachable: keep serving what we knew, else answer a retriable error
        meta = this.topicMeta.get(topic) ?? { errorCode: failure instanceof KafkaProtocolError ? failure.errorCode : 13, partitions: 0, leaders: [], at: now }
        if (failure) this.log(`metadata for ${topic} failed: ${String((failure as Error).message ?? failure)}`)
      } else if (t.errorCode !== 0 && t.partitions.length === 0) {
        meta = { errorCode: t.errorCode, partitions: 0, leaders: [], at: now }
        this.topicMeta.set(topic, meta)
      } else {
        const count = t.partitions.reduce((mx, p) => Math.max(mx, p.partition + 1), 0)
        const leaders = new Array<number>(count).fill(-1)
        for (const p of t.partitions) leaders[p.partition] = p.leaderId
        meta = { errorCode: 0, partitions: count, leaders, at: now }
        this.topicMeta.set(topic, meta)
      }
      for (const w of waiting.get(topic)!) w(meta)
    }
    if (this.topicMeta.size > 10_000) {
      for (const k of [...this.topicMeta.keys()].slice(0, this.topicMeta.size - 10_000)) this.topicMeta.delete(k)
    }
  }

  private async metadataRequest(topics: string[]): Promise<MetadataResponse> {
    const conn = await this.cluster.anyConnection()
    const res = await conn.request(Metadata, { topics, allowAutoTopicCreation: this.options.allowAutoTopicCreation ?? false })
    if (res.clusterId) this.clusterId = res.clusterId
    return res
  }

  private async getClusterId(): Promise<string | null> {
    if (this.clusterId) return this.clusterId
    try {
      await this.metadataRequest([])
    } catch {
      /* reported as unavailable by the caller */
    }
    return this.clusterId
  }

  // ---- producing ----

  private errorCodeOf(err: unknown): number {
    if (err instanceof KafkaProtocolError) return err.errorCode
    if (err instanceof DeliveryTimeoutError || err instanceof RequestTimeoutError || err instanceof MaxBlockTimeoutError) return 7
    if (err instanceof RecordTooLargeError) return 10
    if (err instanceof ConnectionError) return 13
    if (err instanceof InvalidArgumentError) {
      if (err.code === 'INVALID_TOPIC') return 17
      if (err.code === 'INVALID_PARTITION') return 3
      if (err.code === 'INVALID_TIMESTAMP') return 32
      return 87 // INVALID_RECORD
    }
    return -1
  }

  /** Send records through the gateway's producer (synchronously, so one batch's records stay together). */
  private sendRecords(topic: string, partition: number | undefined, records: ReadonlyArray<{ key: Uint8Array | null; value: Uint8Array | null; headers: Array<[string, Uint8Array | null]>; timestamp?: number }>): Array<Promise<RecordMetadata>> {
    const producer = this.producer
    const out: Array<Promise<RecordMetadata>> = new Array(records.length)
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      out[i] = producer.send({ topic, partition, key: r.key ?? undefined, value: r.value, headers: r.headers, timestamp: r.timestamp })
    }
    return out
  }

  /** After a send failed: a fatal producer error (fenced, ...) ends that producer; start a new one. */
  private checkFatal(err: unknown, producer: Producer<Uint8Array | null, Uint8Array | null>): void {
    if (err instanceof ProducerFatalError && this.producer === producer && !this.closing) {
      this.log(`the Kafka producer failed (${err.message}); starting a new one`)
      this.producer = this.newProducer()
      void producer.close({ timeoutMs: 0 }).catch(() => {})
    }
  }

  /** Produce a client batch (or the part of it not yet acknowledged) and fill the dedup entry. */
  private runBatch(entry: DedupEntry, records: WireRecord[], bytes: number): Promise<void> {
    const todo: number[] = []
    for (let i = 0; i < entry.count; i++) if (entry.offsets[i] === undefined) todo.push(i)
    const producer = this.producer
    const sends: Array<Promise<RecordMetadata>> = new Array(todo.length)
    for (let k = 0; k < todo.length; k++) {
      const r = records[todo[k]!]!
      sends[k] = producer.send({ topic: entry.topic, partition: entry.partition, key: r[1] ?? undefined, value: r[2], headers: r[3], timestamp: r[0] })
    }
    this.m.recordsIn += todo.length
    this.addPending(bytes)
    entry.result = null
    entry.pending = Promise.allSettled(sends).then((settled) => {
      this.subPending(bytes)
      let firstError: unknown = null
      settled.forEach((s, k) => {
        if (s.status === 'fulfilled') {
          entry.offsets[todo[k]!] = s.value.offset
          if (s.value.timestamp !== records[todo[k]!]![0]) entry.logAppendTime = s.value.timestamp
          this.m.recordsOut++
        } else {
          this.m.recordsFailed++
          firstError ??= s.reason
        }
      })
      entry.pending = null
      if (firstError) this.checkFatal(firstError, producer)
      if (firstError) {
        const code = this.errorCodeOf(firstError)
        this.countError(`KAFKA_${code}`)
        entry.result = {
          topic: entry.topic, partition: entry.partition, batchId: '', errorCode: code === 0 ? -1 : code, baseOffset: -1, logAppendTime: -1,
          message: (firstError as Error)?.message ?? String(firstError),
        }
        return
      }
      const offsets = entry.offsets as number[]
      let contiguous = true
      for (let i = 1; i < offsets.length; i++) if (offsets[i] !== offsets[0]! + i) contiguous = false
      entry.offsets = [] // the result says it all; keep remembered batches small
      this.m.batchesAcked++
      entry.result = {
        topic: entry.topic, partition: entry.partition, batchId: '', errorCode: 0, baseOffset: offsets[0]!,
        logAppendTime: entry.logAppendTime, ...(contiguous ? {} : { offsets: [...offsets] }),
      }
    })
    return entry.pending
  }

  private dedupGet(key: string): DedupEntry | undefined {
    const e = this.dedup.get(key)
    if (e) {
      this.dedup.delete(key)
      this.dedup.set(key, e)
    }
    return e
  }

  private dedupPut(key: string, e: DedupEntry): void {
    this.dedup.set(key, e)
    const max = this.options.dedupEntries ?? 100_000
    while (this.dedup.size > max) {
      // evict the least recently used entry that is not running
      let evicted = false
      for (const [k, v] of this.dedup) {
        if (v.pending) continue
        this.dedup.delete(k)
        evicted = true
        break
      }
      if (!evicted) break
    }
  }

  /** One client batch → its result (waits for Kafka, at most `timeoutMs`). */
  private async produceBatch(session: Session, b: WireBatch, acks: number, timeoutMs: number): Promise<WireResult> {
    const base = { topic: b.topic, partition: b.partition, batchId: b.batchId, baseOffset: -1, logAppendTime: -1 }
    if (!topicAllowed(session.claims.topics, b.topic)) {
      this.countError('TOPIC_AUTHORIZATION_FAILED')
      return { ...base, errorCode: 29, message: `this token may not produce to topic ${b.topic}` }
    }
    const meta = await this.lookupTopic(b.topic)
    if (meta.errorCode !== 0) {
      this.countError(`KAFKA_${meta.errorCode}`)
      return { ...base, errorCode: meta.errorCode, message: `topic ${b.topic}` }
    }
    if (b.partition >= meta.partitions) {
      this.countError('KAFKA_3')
      return { ...base, errorCode: 3, message: `partition ${b.partition} is not in [0, ${meta.partitions}) for topic ${b.topic}` }
    }
    const key = `${session.claims.sub ?? ''}\n${b.batchId}`
    let entry = this.dedupGet(key)
    if (entry && (entry.topic !== b.topic || entry.partition !== b.partition || entry.count !== b.records.length)) {
      this.countError('BATCH_ID_REUSED')
      return { ...base, errorCode: 42, message: `batch id ${b.batchId} was already used for other records` }
    }
    if (entry && (entry.pending || entry.result?.errorCode === 0)) {
      this.m.dedupHits++
    } else {
      if (!entry) {
        entry = { topic: b.topic, partition: b.partition, count: b.records.length, offsets: new Array(b.records.length), logAppendTime: -1, pending: null, result: null }
        this.dedupPut(key, entry)
      }
      let bytes = 0
      for (const r of b.records) bytes += (r[1]?.length ?? 0) + (r[2]?.length ?? 0) + 16
      void this.runBatch(entry, b.records, bytes)
    }
    if (acks === 0) return { ...base, errorCode: 0 }
    if (entry.pending) {
      let timer: NodeJS.Timeout | undefined
      const timedOut = await Promise.race([
        entry.pending.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
      ])
      clearTimeout(timer)
      if (timedOut) {
        this.countError('KAFKA_7')
        return { ...base, errorCode: 7, message: `Kafka did not acknowledge within ${timeoutMs} ms; resend the same batch id` }
      }
    }
    return { ...entry.result!, batchId: b.batchId }
  }

  /** A validated produce frame from an authenticated session → ack (or error) frame. */
  private async produceFrame(session: Session, raw: Record<string, unknown>, limiter: Limiter): Promise<ServerFrame> {
    const id = raw.id as number
    let frame: { acks: number; timeoutMs: number; batches: WireBatch[] }
    try {
      frame = parseProduce(raw)
    } catch (err) {
      return this.errorFrame('MALFORMED', (err as Error).message, { id })
    }
    if (Date.now() / 1000 >= session.claims.exp) return this.errorFrame('TOKEN_EXPIRED', 'the token has expired; send a new hello', { id })
    const n = frame.batches.length
    if (limiter.inFlightBatches > 0 && limiter.inFlightBatches + n > this.limits.maxInFlightBatches) {
      return this.errorFrame('TOO_MANY_IN_FLIGHT', `at most ${this.limits.maxInFlightBatches} batches may wait for Kafka per connection`, { id, retryAfterMs: 50 })
    }
    let records = 0
    for (const b of frame.batches) records += b.records.length
    const wait = limiter.take(records)
    if (wait !== null) {
      return this.errorFrame('RATE_LIMITED', `more than ${this.limits.recordsPerSecond} records/s on this connection`, { id, retryAfterMs: wait })
    }
    this.m.batchesIn += n
    limiter.inFlightBatches += n
    try {
      const results = await Promise.all(frame.batches.map((b) => this.produceBatch(session, b, frame.acks, frame.timeoutMs)))
      return { t: 'ack', id, results } satisfies AckFrame
    } finally {
      limiter.inFlightBatches -= n
    }
  }

  private async metadataFrame(session: Session, raw: Record<string, unknown>): Promise<ServerFrame> {
    const id = raw.id as number
    const topics = raw.topics
    if (!Array.isArray(topics) || topics.length > 1000 || !topics.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 249)) {
      return this.errorFrame('MALFORMED', 'metadata: topics must be a list of topic names', { id })
    }
    if (Date.now() / 1000 >= session.claims.exp) return this.errorFrame('TOKEN_EXPIRED', 'the token has expired; send a new hello', { id })
    const out = await Promise.all((topics as string[]).map(async (topic) => {
      if (!topicAllowed(session.claims.topics, topic)) {
        this.countError('TOPIC_AUTHORIZATION_FAILED')
        return { topic, partitions: 0, errorCode: 29, message: `this token may not produce to topic ${topic}` }
      }
      const meta = await this.lookupTopic(topic)
      return { topic, partitions: meta.partitions, errorCode: meta.errorCode }
    }))
    return { t: 'metadata', id, topics: out } satisfies MetadataResponseFrame
  }

  // ---- WebSocket ----

  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, text: string, code: string) => {
      this.countError(code)
      this.log(`refused a WebSocket from ${req.socket.remoteAddress}: ${text}`)
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`)
    }
    const url = new URL(req.url ?? '/', 'http://gateway')
    if (url.pathname !== '/v1/ws' && url.pathname !== '/') return refuse(404, 'not found', 'NOT_FOUND')
    if (this.closing) return refuse(503, 'the gateway is shutting down', 'SHUTTING_DOWN')
    if (!this.originAllowed(req.headers.origin)) return refuse(403, `origin ${req.headers.origin} is not allowed`, 'FORBIDDEN_ORIGIN')
    if (this.conns.size >= (this.options.maxConnections ?? 10_000)) return refuse(503, 'too many connections', 'TOO_MANY_CONNECTIONS')
    let token = url.searchParams.get('token')
    for (const p of String(req.headers['sec-websocket-protocol'] ?? '').split(',')) {
      const s = p.trim()
      if (s.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) token = s.slice(TOKEN_SUBPROTOCOL_PREFIX.length)
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, token))
  }

  private onConnection(ws: WebSocket, token: string | null): void {
    this.m.connectionsTotal++
    const conn: WsConn = {
      id: crypto.randomUUID(), ws, session: null, authenticating: null, helloTimer: null, alive: true,
      limiter: new Limiter(this.limits),
    }
    this.conns.add(conn)
    if (this.paused) ws.pause()
    ws.on('pong', () => (conn.alive = true))
    ws.on('error', (err) => this.log(`connection ${conn.id}: ${err.message}`))
    ws.on('close', () => {
      this.conns.delete(conn)
      if (conn.helloTimer) clearTimeout(conn.helloTimer)
    })
    ws.on('message', (data, isBinary) => {
      const bytes = toBytes(data)
      if (!isBinary) {
        this.send(conn, this.errorFrame('MALFORMED', 'frames are binary MessagePack, not text'))
        return
      }
      this.onFrame(conn, bytes).catch((err) => {
        this.log(`connection ${conn.id}: ${err?.stack ?? err}`)
        this.send(conn, this.errorFrame('INTERNAL', 'the gateway failed to process a frame'))
      })
    })
    conn.helloTimer = setTimeout(() => {
      if (!conn.session) this.closeUnauthenticated(conn, this.errorFrame('UNAUTHENTICATED', `no hello with a valid token within ${this.options.helloTimeoutMs ?? 10_000} ms`))
    }, this.options.helloTimeoutMs ?? 10_000)
    if (token !== null) conn.authenticating = this.hello(conn, token)
  }

  private send(conn: WsConn, frame: ServerFrame): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(msgpackEncode(frame, { ignoreUndefined: true }))
  }

  private closeUnauthenticated(conn: WsConn, frame: ErrorFrame): void {
    this.send(conn, { ...frame, fatal: true })
    conn.ws.close(CLOSE_UNAUTHENTICATED, frame.code)
  }

  private async hello(conn: WsConn, token: string | null | undefined): Promise<void> {
    const auth = await this.authenticate(token)
    if ('t' in auth) {
      conn.session = null
      this.closeUnauthenticated(conn, auth)
      return
    }
    conn.session = { claims: auth.claims, limiter: conn.limiter }
    if (conn.helloTimer) clearTimeout(conn.helloTimer)
    conn.helloTimer = null
    this.send(conn, {
      t: 'welcome', v: PROTOCOL_VERSION, session: conn.id, subject: auth.claims.sub, expiresAt: auth.claims.exp * 1000, limits: this.limits,
    })
  }

  private decode(bytes: Uint8Array): Record<string, unknown> {
    let v: unknown
    if (!msgpackShapeOk(bytes)) throw new BadFrame('the frame is not valid MessagePack (truncated, nested too deeply, or lengths that do not fit the frame)')
    try {
      v = this.frameDecoder.decode(bytes)
    } catch (err) {
      throw new BadFrame(`the frame is not valid MessagePack: ${(err as Error).message}`)
    }
    if (!v || typeof v !== 'object' || Array.isArray(v) || typeof (v as { t?: unknown }).t !== 'string') {
      throw new BadFrame('a frame is a MessagePack map with a string "t"')
    }
    return v as Record<string, unknown>
  }

  private get frameDecoder(): { decode(bytes: Uint8Array): unknown } {
    const max = this.limits.maxFrameBytes
    // limits on top of msgpackShapeOk: no ext types, bounded strings/maps
    return (this._frameDecoder ??= new MsgpackDecoder({ maxStrLength: 1 << 20, maxBinLength: max, maxArrayLength: max, maxMapLength: 64, maxExtLength: 0 }))
  }
  private _frameDecoder: MsgpackDecoder | null = null

  private async onFrame(conn: WsConn, bytes: Uint8Array): Promise<void> {
    this.m.bytesIn += bytes.length
    if (bytes.length > this.limits.maxFrameBytes) {
      this.send(conn, this.errorFrame('FRAME_TOO_LARGE', `the frame is ${bytes.length} bytes; the limit is ${this.limits.maxFrameBytes}`, { id: peekFrameId(bytes) }))
      return
    }
    let frame: Record<string, unknown>
    try {
      frame = this.decode(bytes)
    } catch (err) {
      this.send(conn, this.errorFrame('MALFORMED', (err as Error).message, { id: peekFrameId(bytes) }))
      return
    }
    const id = Number.isSafeInteger(frame.id) ? (frame.id as number) : undefined
    if (frame.t === 'hello') {
      if (frame.v !== undefined && frame.v !== PROTOCOL_VERSION) {
        this.closeUnauthenticated(conn, this.errorFrame('UNSUPPORTED', `protocol version ${String(frame.v)} is not supported (${PROTOCOL_VERSION} is)`))
        return
      }
      conn.authenticating = this.hello(conn, typeof frame.token === 'string' ? frame.token : null)
      return
    }
    if (conn.authenticating) await conn.authenticating
    const session = conn.session
    if (!session) {
      this.closeUnauthenticated(conn, this.errorFrame('UNAUTHENTICATED', 'send a hello frame with a token first', { id }))
      return
    }
    if (id === undefined) {
      this.send(conn, this.errorFrame('MALFORMED', `a ${String(frame.t)} frame needs a numeric id`))
      return
    }
    if (frame.t === 'produce') this.send(conn, await this.produceFrame(session, frame, conn.limiter))
    else if (frame.t === 'metadata') this.send(conn, await this.metadataFrame(session, frame))
    else this.send(conn, this.errorFrame('UNSUPPORTED', `unknown frame type ${JSON.stringify(frame.t).slice(0, 40)}`, { id }))
  }

  // ---- HTTP ----

  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.m.httpRequests++
    this.route(req, res).catch((err) => {
      this.log(`${req.method} ${req.url}: ${err?.stack ?? err}`)
      this.countError('INTERNAL')
      if (!res.headersSent) json(res, 500, { error_code: 500, message: 'internal error' })
      else res.destroy()
    })
  }

  private cors(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const origin = req.headers.origin
    if (origin === undefined) return true
    if (!this.originAllowed(origin)) {
      this.countError('FORBIDDEN_ORIGIN')
      return false
    }
    res.setHeader('Access-Control-Allow-Origin', origin)
    res.setHeader('Vary', 'Origin')
    return true
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway')
    const path = url.pathname
    const method = req.method ?? 'GET'
    if (path === '/healthz' && method === 'GET') return this.healthz(res)
    if (path === '/metrics' && method === 'GET') return json(res, 200, this.metrics())
    if (!this.cors(req, res)) return json(res, 403, { error_code: 403, message: `origin ${req.headers.origin} is not allowed` })
    if (method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
        'Access-Control-Allow-Headers': 'authorization, content-type',
        'Access-Control-Max-Age': '600',
      })
      res.end()
      return
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const token = bearer ?? url.searchParams.get('token')
    let m: RegExpExecArray | null
    if (path === '/v1/produce' || path === '/v1/metadata') {
      if (method !== 'POST') return json(res, 405, { error_code: 405, message: 'use POST' })
      return this.httpFrame(req, res, path === '/v1/produce' ? 'produce' : 'metadata', token)
    }
    if ((m = /^\/v3\/clusters\/([^/]+)\/topics\/([^/]+)\/records$/.exec(path)) && method === 'POST') {
      return this.restV3Produce(req, res, decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), token)
    }
    if ((m = /^\/v3\/clusters\/([^/]+)\/topics\/([^/]+)\/partitions$/.exec(path)) && method === 'GET') {
      return this.restV3Partitions(res, decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), token)
    }
    if ((path === '/v3/clusters' || (m = /^\/v3\/clusters\/([^/]+)$/.exec(path))) && method === 'GET') {
      const auth = await this.authenticate(token)
      if ('t' in auth) return json(res, 401, { error_code: 401, message: auth.message })
      const id = await this.getClusterId()
      if (!id) return json(res, 503, { error_code: 503, message: 'Kafka is not reachable' })
      const cluster = { kind: 'KafkaCluster', metadata: { self: `/v3/clusters/${id}` }, cluster_id: id }
      if (path === '/v3/clusters') return json(res, 200, { kind: 'KafkaClusterList', metadata: { self: '/v3/clusters', next: null }, data: [cluster] })
      if (decodeURIComponent(m![1]!) !== id) return json(res, 404, { error_code: 404, message: 'Cluster not found' })
      return json(res, 200, cluster)
    }
    if ((m = /^\/topics\/([^/]+)$/.exec(path)) && method === 'POST') return this.restV2Produce(req, res, decodeURIComponent(m[1]!), token)
    if ((m = /^\/topics\/([^/]+)\/partitions$/.exec(path)) && method === 'GET') return this.restV2Partitions(res, decodeURIComponent(m[1]!), token)
    return json(res, 404, { error_code: 404, message: 'not found' })
  }

  private health: { at: number; kafka: Promise<boolean> } | null = null

  private async healthz(res: http.ServerResponse): Promise<void> {
    // unauthenticated: probe Kafka at most once a second, whatever the request rate
    if (!this.health || Date.now() - this.health.at > 1000) {
      this.health = { at: Date.now(), kafka: withTimeout(this.metadataRequest([]), 3000).then(() => true, () => false) }
    }
    const kafka = await this.health.kafka
    json(res, kafka && !this.closing ? 200 : 503, { status: kafka && !this.closing ? 'ok' : 'unavailable', kafka: kafka ? 'up' : 'down', connections: this.conns.size, paused: this.paused })
  }

  private httpLimiter(claims: GatewayTokenClaims): Limiter {
    const key = claims.sub ?? ''
    let l = this.httpLimiters.get(key)
    if (l) {
      this.httpLimiters.delete(key)
    } else {
      l = new Limiter(this.limits)
      if (this.httpLimiters.size >= 10_000) {
        for (const [k, v] of this.httpLimiters) {
          if (v.inFlightBatches === 0) {
            this.httpLimiters.delete(k)
            break
          }
        }
      }
    }
    this.httpLimiters.set(key, l)
    return l
  }

  /**
   * Reads a body of at most `max` bytes (after waiting out backpressure); null when it is larger. A larger body is
   * read and discarded up to 4 × max before the caller answers 413, so a client still uploading gets the 413 rather
   * than a connection reset; beyond that the connection is closed after the answer.
   */
  private async readBody(req: http.IncomingMessage, res: http.ServerResponse, max: number): Promise<Buffer | null> {
    const hardCap = max * 4
    const declared = Number(req.headers['content-length'])
    if (declared > hardCap) {
      res.setHeader('Connection', 'close')
      return null
    }
    await this.whenResumed()
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      let done = false
      req.on('data', (c: Buffer) => {
        size += c.length
        if (size > hardCap && !done) {
          done = true
          res.setHeader('Connection', 'close')
          req.pause()
          resolve(null)
          return
        }
        if (size <= max) chunks.push(c)
        else chunks.length = 0 // too large: keep reading (to discard it), keep nothing
      })
      req.on('end', () => {
        this.m.bytesIn += size
        if (done) return
        done = true
        resolve(size > max ? null : Buffer.concat(chunks))
      })
      req.on('error', (err) => {
        if (!done) reject(err)
      })
    })
  }

  private async httpFrame(req: http.IncomingMessage, res: http.ServerResponse, kind: 'produce' | 'metadata', token: string | null): Promise<void> {
    const reply = (status: number, frame: ServerFrame, headers: Record<string, string> = {}) => {
      const body = msgpackEncode(frame, { ignoreUndefined: true })
      res.writeHead(status, { 'Content-Type': MSGPACK_CONTENT_TYPE, 'Content-Length': body.length, 'Cache-Control': 'no-store', ...headers })
      res.end(body)
    }
    const auth = await this.authenticate(token)
    if ('t' in auth) return reply(401, auth)
    const body = await this.readBody(req, res, this.limits.maxFrameBytes)
    if (!body) {
      return reply(413, this.errorFrame('FRAME_TOO_LARGE', `the body is larger than ${this.limits.maxFrameBytes} bytes`))
    }
    let frame: Record<string, unknown>
    try {
      frame = this.decode(body)
    } catch (err) {
      return reply(400, this.errorFrame('MALFORMED', (err as Error).message, { id: peekFrameId(body) }))
    }
    if (frame.t !== kind) return reply(400, this.errorFrame('MALFORMED', `POST /v1/${kind} takes a ${kind} frame`))
    const id = Number.isSafeInteger(frame.id) ? (frame.id as number) : 0
    frame.id = id
    const session: Session = { claims: auth.claims, limiter: this.httpLimiter(auth.claims) }
    const out = kind === 'produce' ? await this.produceFrame(session, frame, session.limiter) : await this.metadataFrame(session, frame)
    if (out.t !== 'error') return reply(200, out)
    const status = { RATE_LIMITED: 429, TOO_MANY_IN_FLIGHT: 429, MALFORMED: 400, UNSUPPORTED: 400, TOKEN_EXPIRED: 401, UNAUTHENTICATED: 401 }[out.code as string] ?? 500
    reply(status, out, out.retryAfterMs ? { 'Retry-After': String(Math.ceil(out.retryAfterMs / 1000)) } : {})
  }

  /** Authentication, authorization and topic existence for the REST endpoints. */
  private async restPreamble(res: http.ServerResponse, topic: string, token: string | null, v2: boolean): Promise<{ claims: GatewayTokenClaims; meta: TopicMeta } | null> {
    const auth = await this.authenticate(token)
    if ('t' in auth) {
      json(res, 401, { error_code: v2 ? 40101 : 401, message: auth.message })
      return null
    }
    if (!topicAllowed(auth.claims.topics, topic)) {
      this.countError('TOPIC_AUTHORIZATION_FAILED')
      json(res, 403, { error_code: v2 ? 40301 : 403, message: `this token may not produce to topic ${topic}` })
      return null
    }
    const meta = await this.lookupTopic(topic)
    if (meta.errorCode === 3 || meta.errorCode === 17) {
      json(res, 404, { error_code: v2 ? 40401 : 404, message: `Topic ${topic} not found.` })
      return null
    }
    if (meta.errorCode !== 0) {
      json(res, 503, { error_code: v2 ? 50003 : 503, message: `topic ${topic} is not available (Kafka error ${meta.errorCode})` })
      return null
    }
    return { claims: auth.claims, meta }
  }

  private async restV3Partitions(res: http.ServerResponse, clusterId: string, topic: string, token: string | null): Promise<void> {
    const ok = await this.restPreamble(res, topic, token, false)
    if (!ok) return
    const id = await this.getClusterId()
    if (clusterId !== id) return json(res, 404, { error_code: 404, message: 'Cluster not found' })
    json(res, 200, {
      kind: 'KafkaPartitionList',
      metadata: { self: `/v3/clusters/${id}/topics/${topic}/partitions`, next: null },
      data: ok.meta.leaders.map((leader, p) => ({
        kind: 'KafkaPartition', cluster_id: id, topic_name: topic, partition_id: p,
        leader: leader >= 0 ? { related: `/v3/clusters/${id}/topics/${topic}/partitions/${p}/replicas/${leader}` } : null,
      })),
    })
  }

  private async restV3Produce(req: http.IncomingMessage, res: http.ServerResponse, clusterId: string, topic: string, token: string | null): Promise<void> {
    const ok = await this.restPreamble(res, topic, token, false)
    if (!ok) return
    const id = await this.getClusterId()
    if (clusterId !== id) return json(res, 404, { error_code: 404, message: 'Cluster not found' })
    const body = await this.readBody(req, res, this.limits.maxFrameBytes)
    if (!body) {
      this.countError('FRAME_TOO_LARGE')
      return json(res, 413, { error_code: 413, message: `the body is larger than ${this.limits.maxFrameBytes} bytes` })
    }
    let items: unknown[]
    try {
      items = splitJsonStream(body.toString('utf8'))
    } catch (err) {
      this.countError('MALFORMED')
      return json(res, 400, { error_code: 400, message: `the body is not JSON: ${(err as Error).message}` })
    }
    const limiter = this.httpLimiter(ok.claims)
    const wait = limiter.take(items.length)
    if (wait !== null) {
      this.countError('RATE_LIMITED')
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)))
      return json(res, 429, { error_code: 429, message: `more than ${this.limits.recordsPerSecond} records/s` })
    }
    // records are sent in order, synchronously, so a keyless stream keeps its order within a partition
    const producer = this.producer
    const answers: Array<Promise<unknown> | unknown> = items.map((item) => {
      let r: ParsedRestRecord
      try {
        r = parseV3Record(item, ok.meta.partitions)
      } catch (err) {
        this.countError('MALFORMED')
        return { error_code: 400, message: (err as Error).message }
      }
      const bytes = (r.key?.length ?? 0) + (r.value?.length ?? 0) + 16
      this.addPending(bytes)
      this.m.recordsIn++
      const [sent] = this.sendRecords(topic, r.partition, [r])
      return sent!.then(
        (meta) => {
          this.subPending(bytes)
          this.m.recordsOut++
          return {
            error_code: 200, cluster_id: id, topic_name: topic, partition_id: meta.partition, offset: meta.offset,
            timestamp: new Date(meta.timestamp).toISOString(),
            ...(r.keyType ? { key: { type: r.keyType, size: r.key?.length ?? 0 } } : {}),
            ...(r.valueType ? { value: { type: r.valueType, size: r.value?.length ?? 0 } } : {}),
          }
        },
        (err) => {
          this.subPending(bytes)
          this.m.recordsFailed++
          this.checkFatal(err, producer)
          const code = this.errorCodeOf(err)
          this.countError(`KAFKA_${code}`)
          return { error_code: code === 10 ? 413 : code === 3 ? 404 : 500, message: (err as Error).message }
        },
      )
    })
    const results = await Promise.all(answers)
    if (results.length === 1) {
      const only = results[0] as { error_code: number }
      return json(res, only.error_code === 200 ? 200 : only.error_code, only)
    }
    const text = results.map((r) => JSON.stringify(r)).join('\n') + '\n'
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' })
    res.end(text)
  }

  private async restV2Partitions(res: http.ServerResponse, topic: string, token: string | null): Promise<void> {
    const ok = await this.restPreamble(res, topic, token, true)
    if (!ok) return
    json(res, 200, ok.meta.leaders.map((leader, p) => ({
      partition: p, leader, replicas: leader >= 0 ? [{ broker: leader, leader: true, in_sync: true }] : [],
    })), 'application/vnd.kafka.v2+json')
  }

  private async restV2Produce(req: http.IncomingMessage, res: http.ServerResponse, topic: string, token: string | null): Promise<void> {
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    const embedded = type === 'application/vnd.kafka.binary.v2+json' ? 'binary' : type === 'application/vnd.kafka.json.v2+json' ? 'json' : null
    if (!embedded) {
      return json(res, 415, { error_code: 415, message: 'Content-Type must be application/vnd.kafka.binary.v2+json or application/vnd.kafka.json.v2+json' }, 'application/vnd.kafka.v2+json')
    }
    const ok = await this.restPreamble(res, topic, token, true)
    if (!ok) return
    const body = await this.readBody(req, res, this.limits.maxFrameBytes)
    if (!body) {
      this.countError('FRAME_TOO_LARGE')
      return json(res, 413, { error_code: 413, message: `the body is larger than ${this.limits.maxFrameBytes} bytes` }, 'application/vnd.kafka.v2+json')
    }
    let parsed: Array<{ key: Uint8Array | null; value: Uint8Array | null; partition: number | undefined; headers: [] }>
    try {
      const doc = JSON.parse(body.toString('utf8')) as { records?: unknown }
      if (!doc || !Array.isArray(doc.records) || doc.records.length === 0) throw new Error('the body must be {"records": [...]} with at least one record')
      parsed = doc.records.map((r: unknown) => parseV2Record(r, embedded, ok.meta.partitions))
    } catch (err) {
      this.countError('MALFORMED')
      return json(res, 422, { error_code: 42205, message: (err as Error).message }, 'application/vnd.kafka.v2+json')
    }
    const limiter = this.httpLimiter(ok.claims)
    const wait = limiter.take(parsed.length)
    if (wait !== null) {
      this.countError('RATE_LIMITED')
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)))
      return json(res, 429, { error_code: 42901, message: `more than ${this.limits.recordsPerSecond} records/s` }, 'application/vnd.kafka.v2+json')
    }
    let bytes = 0
    for (const r of parsed) bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0) + 16
    this.addPending(bytes)
    this.m.recordsIn += parsed.length
    const producer = this.producer
    const sends: Array<Promise<RecordMetadata>> = parsed.map((r) => this.sendRecords(topic, r.partition, [r])[0]!)
    const settled = await Promise.allSettled(sends)
    this.subPending(bytes)
    const offsets = settled.map((s) => {
      if (s.status === 'fulfilled') {
        this.m.recordsOut++
        return { partition: s.value.partition, offset: s.value.offset, error_code: null, error: null }
      }
      this.m.recordsFailed++
      this.checkFatal(s.reason, producer)
      const code = this.errorCodeOf(s.reason)
      this.countError(`KAFKA_${code}`)
      const retriable = code === 7 || code === 13 || code === 3 || code === 5 || code === 6 || code === 19 || code === 20
      return { partition: null, offset: null, error_code: retriable ? 2 : 1, error: (s.reason as Error).message }
    })
    json(res, 200, { key_schema_id: null, value_schema_id: null, offsets }, 'application/vnd.kafka.v2+json')
  }
}

// ---- helpers ----

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[])
  return new Uint8Array(data as ArrayBuffer)
}

function json(res: http.ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' })
  res.end(text)
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer))
}

const isBytesOrNull = (v: unknown): v is Uint8Array | null => v === null || v instanceof Uint8Array

/** Validates a produce frame's shape (throws BadFrame with a message naming the problem). */
function parseProduce(f: Record<string, unknown>): { acks: number; timeoutMs: number; batches: WireBatch[] } {
  const acks = f.acks ?? -1
  if (acks !== -1 && acks !== 0 && acks !== 1) throw new BadFrame('produce: acks must be -1, 0 or 1')
  const timeoutMs = f.timeoutMs ?? 30_000
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new BadFrame('produce: timeoutMs must be a positive number')
  const batches = f.batches
  if (!Array.isArray(batches) || batches.length === 0) throw new BadFrame('produce: batches must be a non-empty list')
  const ids = new Set<string>()
  for (const b of batches as WireBatch[]) {
    if (!b || typeof b !== 'object') throw new BadFrame('produce: a batch must be a map')
    if (typeof b.topic !== 'string' || !/^[a-zA-Z0-9._-]{1,249}$/.test(b.topic) || b.topic === '.' || b.topic === '..') {
      throw new BadFrame(`produce: invalid topic name ${JSON.stringify(String(b.topic)).slice(0, 60)}`)
    }
    if (!Number.isSafeInteger(b.partition) || b.partition < 0) throw new BadFrame('produce: partition must be a non-negative integer')
    if (typeof b.batchId !== 'string' || b.batchId.length === 0 || b.batchId.length > 128) throw new BadFrame('produce: batchId must be a string of 1-128 characters')
    if (ids.has(b.batchId)) throw new BadFrame(`produce: batch id ${b.batchId} appears twice in one frame`)
    ids.add(b.batchId)
    if (!Array.isArray(b.records) || b.records.length === 0) throw new BadFrame('produce: records must be a non-empty list')
    for (const r of b.records) {
      if (!Array.isArray(r) || r.length !== 4) throw new BadFrame('produce: a record is [timestamp, key, value, headers]')
      if (!Number.isSafeInteger(r[0]) || r[0] < 0) throw new BadFrame('produce: a record timestamp must be a non-negative integer (ms)')
      if (!isBytesOrNull(r[1]) || !isBytesOrNull(r[2])) throw new BadFrame('produce: key and value must be binary or nil')
      if (!Array.isArray(r[3])) throw new BadFrame('produce: headers must be a list')
      for (const h of r[3]) {
        if (!Array.isArray(h) || h.length !== 2 || typeof h[0] !== 'string' || !isBytesOrNull(h[1])) {
          throw new BadFrame('produce: a header is [name, binary or nil]')
        }
      }
    }
  }
  return { acks, timeoutMs: Math.min(Math.max(timeoutMs, 100), 300_000), batches: batches as WireBatch[] }
}

interface ParsedRestRecord {
  partition: number | undefined
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
  timestamp?: number
  keyType?: string
  valueType?: string
}

const utf8 = new TextEncoder()

function restData(field: unknown, what: string): { bytes: Uint8Array | null; type?: string } {
  if (field === undefined || field === null) return { bytes: null }
  if (typeof field !== 'object') throw new Error(`${what} must be an object {"type", "data"}`)
  const { type, data } = field as { type?: unknown; data?: unknown }
  const t = typeof type === 'string' ? type.toUpperCase() : 'JSON'
  if (data === undefined || data === null) return { bytes: null, type: t }
  if (t === 'BINARY') {
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw new Error(`${what}.data must be base64 for type BINARY`)
    return { bytes: fromBase64(data), type: t }
  }
  if (t === 'STRING') {
    if (typeof data !== 'string') throw new Error(`${what}.data must be a string for type STRING`)
    return { bytes: utf8.encode(data), type: t }
  }
  if (t === 'JSON') return { bytes: utf8.encode(JSON.stringify(data)), type: t }
  throw new Error(`${what}.type ${t} is not supported (BINARY, STRING, JSON; no schema registry here)`)
}

function checkPartition(p: unknown, partitions: number): number | undefined {
  if (p === undefined || p === null) return undefined
  if (!Number.isSafeInteger(p) || (p as number) < 0 || (p as number) >= partitions) throw new Error(`partition ${String(p)} is not in [0, ${partitions})`)
  return p as number
}

function parseV3Record(item: unknown, partitions: number): ParsedRestRecord {
  if (!item || typeof item !== 'object' || Array.isArray(item)) throw new Error('a record must be a JSON object')
  const r = item as Record<string, unknown>
  const key = restData(r.key, 'key')
  const value = restData(r.value, 'value')
  const headers: Array<[string, Uint8Array | null]> = []
  if (r.headers !== undefined) {
    if (!Array.isArray(r.headers)) throw new Error('headers must be a list')
    for (const h of r.headers as Array<{ name?: unknown; value?: unknown }>) {
      if (!h || typeof h.name !== 'string') throw new Error('a header needs a string name')
      if (h.value !== null && h.value !== undefined && (typeof h.value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(h.value))) {
        throw new Error('a header value must be base64 or null')
      }
      headers.push([h.name, h.value === null || h.value === undefined ? null : fromBase64(h.value as string)])
    }
  }
  let timestamp: number | undefined
  if (r.timestamp !== undefined && r.timestamp !== null) {
    timestamp = typeof r.timestamp === 'number' ? r.timestamp : Date.parse(String(r.timestamp))
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new Error('timestamp must be an ISO-8601 date-time or ms since the epoch')
  }
  return {
    partition: checkPartition(r.partition_id, partitions), key: key.bytes, value: value.bytes, headers, timestamp,
    keyType: key.type, valueType: value.type,
  }
}

function parseV2Record(item: unknown, embedded: 'binary' | 'json', partitions: number): { key: Uint8Array | null; value: Uint8Array | null; partition: number | undefined; headers: [] } {
  if (!item || typeof item !== 'object' || Array.isArray(item)) throw new Error('a record must be a JSON object')
  const r = item as Record<string, unknown>
  const field = (v: unknown, what: string): Uint8Array | null => {
    if (v === undefined || v === null) return null
    if (embedded === 'json') return utf8.encode(JSON.stringify(v))
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new Error(`${what} must be base64`)
    return fromBase64(v)
  }
  return { key: field(r.key, 'key'), value: field(r.value, 'value'), partition: checkPartition(r.partition, partitions), headers: [] }
}
