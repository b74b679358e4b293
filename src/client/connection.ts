import type { KafkaApi } from '../protocol/api.js'
import { ApiVersions } from '../protocol/messages/api-versions.js'
import {
  decodeResponse,
  encodeRequest,
  encodeRequestChunks,
  FrameDecoder,
  readResponseHeader,
} from '../protocol/framing.js'
import type { ByteStream, SocketTransport } from '../transport.js'
import type { BrokerRef, HookSet } from '../hooks.js'
import type { Clock } from '../clock.js'
import {
  ConnectionError,
  IsoKafkaError,
  MalformedResponseError,
  RequestTimeoutError,
  UnsupportedVersionError,
} from '../errors.js'
import { authenticateSasl } from './sasl.js'
import { brokerError } from '../protocol/error-messages.js'

export interface ConnectionOptions {
  clientId: string
  requestTimeoutMs: number
  connectTimeoutMs: number
  clock: Clock
  /** The producer's hooks (connections, requests); `broker` names this connection in their events. */
  hooks?: HookSet
  broker?: BrokerRef
}

interface Pending {
  correlationId: number
  api: KafkaApi<unknown, unknown>
  version: number
  resolve(value: unknown): void
  reject(err: Error): void
  /** When it was written (only while hooks are active: responseRead's latency). */
  sentAt?: number
  timer: unknown
  /** When the timer should fire: checked again by expireOverdue() in case it never does. */
  deadline: number
}

/** Byte arrays in a request at least this large (record batches) are written by reference when the stream has writev. */
const SHARE_FROM = 1024
const CLIENT_SOFTWARE_NAME = 'isokafka'
const CLIENT_SOFTWARE_VERSION = '0.1.0'

/**
 * One connection to one broker: frames requests with correlation ids and pipelines them (Kafka answers in order on
 * a connection), negotiates API versions on connect, and authenticates with SASL when configured.
 */
export class BrokerConnection {
  private stream: ByteStream | null = null
  private readonly decoder = new FrameDecoder()
  private readonly pending: Pending[] = []
  private nextCorrelationId = 1
  private versions = new Map<number, { min: number; max: number }>()
  /** The broker's finalized feature levels (ApiVersions v3+), e.g. transaction.version. */
  finalizedFeatures = new Map<string, number>()
  private closedError: Error | null = null
  private onCloseListeners: Array<(err: Error) => void> = []
  /** While the transport is connecting: when that must be over (else -1), and how to give up on it. */
  private connectDeadline = -1
  private abandonConnect: ((err: Error) => void) | null = null

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly transport: SocketTransport,
    private readonly options: ConnectionOptions,
  ) {}

  private get connectTimeoutMs(): number {
    return this.transport.connectTimeoutMs ?? this.options.connectTimeoutMs
  }

  get address(): string {
    return `${this.host}:${this.port}`
  }
  get isClosed(): boolean {
    return this.closedError !== null
  }
  get inFlight(): number {
    return this.pending.length
  }

  onClose(listener: (err: Error) => void): void {
    this.onCloseListeners.push(listener)
  }

  async connect(): Promise<void> {
    let connecting: Promise<ByteStream> | undefined
    try {
      const connectTimeoutMs = this.connectTimeoutMs
      this.connectDeadline = this.options.clock.now() + connectTimeoutMs
      // fail() (from expireOverdue) gives up on an attempt whose transport neither connects nor times out
      const abandoned = new Promise<never>((_, reject) => (this.abandonConnect = reject))
      connecting = this.transport.connect(
        { host: this.host, port: this.port, connectTimeoutMs },
        {
          onData: (chunk) => this.onData(chunk),
          onClose: (err) => this.fail(err ?? new ConnectionError(`connection to ${this.address} closed`)),
        },
      )
      this.stream = await Promise.race([connecting, abandoned])
    } catch (cause) {
      // given up on: a stream that still turns up later is closed at once
      void connecting?.then(
        (late) => late.close(),
        () => {},
      )
      const err =
        cause instanceof IsoKafkaError ? cause : new ConnectionError(`could not connect to ${this.address}`, { cause })
      this.fail(err)
      throw err
    } finally {
      this.connectDeadline = -1
      this.abandonConnect = null
    }
    if (this.closedError) throw this.closedError
    try {
      await this.negotiateVersions()
      if (this.transport.sasl) await authenticateSasl(this, this.transport.sasl)
    } catch (err) {
      this.fail(err instanceof Error ? err : new ConnectionError(String(err)))
      throw err
    }
    if (this.options.hooks?.active) this.options.hooks.emit('brokerConnected', { broker: this.brokerRef })
  }

  private get brokerRef(): BrokerRef {
    return this.options.broker ?? { host: this.host, port: this.port, nodeId: -1 }
  }

  /** requestWritten for a frame just handed to the stream. */
  private written(api: KafkaApi<unknown, unknown>, version: number, frame: Uint8Array | Uint8Array[]): void {
    let bytes = 0
    if (Array.isArray(frame)) for (const c of frame) bytes += c.length
    else bytes = frame.length
    this.options.hooks!.emit('requestWritten', {
      broker: this.brokerRef,
      api: api.name,
      apiKey: api.apiKey,
      version,
      bytes,
    })
  }

  private async negotiateVersions(): Promise<void> {
    const req = { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: CLIENT_SOFTWARE_VERSION }
    let version = ApiVersions.maxVersion
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await this.send(ApiVersions, version, req)
      if (res.errorCode === 35) {
        // UNSUPPORTED_VERSION: the broker answered in v0 layout with its own range for ApiVersions
        const own = res.apiKeys.find((k) => k.apiKey === ApiVersions.apiKey)
        version = own ? Math.min(own.maxVersion, ApiVersions.maxVersion) : 0
        continue
      }
      if (res.errorCode !== 0) throw brokerError(res.errorCode, 'ApiVersions')
      this.versions = new Map(res.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]))
      if (res.finalizedFeatures) this.finalizedFeatures = res.finalizedFeatures
      return
    }
    throw new UnsupportedVersionError(`${this.address}: could not agree on an ApiVersions version`)
  }

  /** The highest version both sides support, or a typed error if there is none. */
  versionFor(api: KafkaApi<unknown, unknown>): number {
    const broker = this.versions.get(api.apiKey)
    if (!broker) throw new UnsupportedVersionError(`${this.address} does not support ${api.name}`)
    const v = Math.min(broker.max, api.maxVersion)
    if (v < Math.max(broker.min, api.minVersion)) {
      throw new UnsupportedVersionError(
        `${this.address} supports ${api.name} v${broker.min}-${broker.max}, isokafka v${api.minVersion}-${api.maxVersion}`,
      )
    }
    return v
  }

  /** Send a request with the negotiated version and wait for its response. */
  request<Req, Res>(
    api: KafkaApi<Req, Res>,
    request: Req,
    options: { timeoutMs?: number; sizeHint?: number } = {},
  ): Promise<Res> {
    return this.send(api, this.versionFor(api as KafkaApi<unknown, unknown>), request, options)
  }

  /** Send a request the broker will not answer (Produce with acks=0). Resolves once handed to the stream. */
  async requestNoResponse<Req>(api: KafkaApi<Req, unknown>, request: Req, sizeHint?: number): Promise<void> {
    if (this.closedError) throw this.closedError
    const version = this.versionFor(api as KafkaApi<unknown, unknown>)
    const frame = this.encode(api, version, this.nextId(), request, sizeHint)
    if (this.options.hooks?.active) this.written(api as KafkaApi<unknown, unknown>, version, frame)
    await this.writeFrame(frame)
  }

  /**
   * One request frame. A stream with writev gets it as chunks, with record batches (≥ SHARE_FROM bytes) referenced
   * rather than copied into the frame: a copy of every byte less per Produce request, and no frame-sized garbage.
   */
  private encode<Req>(
    api: KafkaApi<Req, unknown>,
    version: number,
    correlationId: number,
    request: Req,
    sizeHint = 256,
  ): Uint8Array | Uint8Array[] {
    if (this.stream?.writev)
      return encodeRequestChunks(api, version, correlationId, this.options.clientId, request, 512, SHARE_FROM)
    return encodeRequest(api, version, correlationId, this.options.clientId, request, sizeHint)
  }

  private writeFrame(frame: Uint8Array | Uint8Array[]): Promise<void> | void {
    if (!Array.isArray(frame)) return this.stream!.write(frame)
    return frame.length === 1 ? this.stream!.write(frame[0]!) : this.stream!.writev!(frame)
  }

  private nextId(): number {
    const id = this.nextCorrelationId
    this.nextCorrelationId = id === 0x7fffffff ? 1 : id + 1
    return id
  }

  private send<Req, Res>(
    api: KafkaApi<Req, Res>,
    version: number,
    request: Req,
    options: { timeoutMs?: number; sizeHint?: number } = {},
  ): Promise<Res> {
    if (this.closedError) return Promise.reject(this.closedError)
    if (!this.stream) return Promise.reject(new ConnectionError(`${this.address}: not connected`))
    const correlationId = this.nextId()
    let frame: Uint8Array | Uint8Array[]
    try {
      frame = this.encode(api, version, correlationId, request, options.sizeHint)
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise<Res>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs
      const entry: Pending = {
        deadline: this.options.clock.now() + timeoutMs,
        correlationId,
        api: api as KafkaApi<unknown, unknown>,
        version,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: this.options.clock.setTimeout(() => {
          // A timed-out request leaves the connection in an unknown state: close it, as the Java client does.
          this.fail(new RequestTimeoutError(`${api.name} to ${this.address} got no response in ${timeoutMs} ms`))
        }, timeoutMs),
      }
      this.pending.push(entry)
      if (this.options.hooks?.active) {
        entry.sentAt = this.options.clock.now()
        this.written(entry.api, version, frame)
      }
      const written = this.writeFrame(frame)
      if (written && typeof (written as Promise<void>).then === 'function') {
        ;(written as Promise<void>).catch((cause) =>
          this.fail(new ConnectionError(`write to ${this.address} failed`, { cause })),
        )
      }
    })
  }

  private onData(chunk: Uint8Array): void {
    let frames: Uint8Array[]
    try {
      frames = this.decoder.push(chunk)
    } catch (err) {
      this.fail(err as Error)
      return
    }
    for (const frame of frames) {
      const entry = this.pending.shift()
      if (!entry) {
        this.fail(new MalformedResponseError(`${this.address} sent a response nobody asked for`))
        return
      }
      this.options.clock.clearTimeout(entry.timer)
      try {
        const { correlationId, body } = readResponseHeader(frame, entry.api, entry.version)
        if (correlationId !== entry.correlationId) {
          throw new MalformedResponseError(
            `${this.address}: correlation id ${correlationId}, expected ${entry.correlationId}`,
          )
        }
        const decoded = decodeResponse(entry.api, entry.version, body)
        if (entry.sentAt !== undefined && this.options.hooks?.active) {
          const { api, version } = entry
          const latencyMs = this.options.clock.now() - entry.sentAt
          this.options.hooks.emit('responseRead', {
            broker: this.brokerRef,
            api: api.name,
            apiKey: api.apiKey,
            version,
            bytes: frame.length + 4,
            latencyMs,
          })
        }
        entry.resolve(decoded)
      } catch (err) {
        entry.reject(err as Error)
        // after a framing mismatch nothing else on this connection can be trusted
        this.fail(err as Error)
        return
      }
    }
  }

  /**
   * Enforce the connect and request timeouts whose timers did not fire: a Workers request's timers die with it, while
   * a producer kept in module scope lives on into the next request. Called at the start of every sender pass; true
   * when it closed the connection. A late timer (a busy event loop) would have failed it the same way.
   */
  expireOverdue(now: number): boolean {
    if (this.closedError) return false
    if (this.connectDeadline >= 0 && now > this.connectDeadline) {
      this.fail(new ConnectionError(`connecting to ${this.address} timed out after ${this.connectTimeoutMs} ms`))
      return true
    }
    for (const p of this.pending) {
      if (now > p.deadline) {
        this.fail(
          new RequestTimeoutError(
            `${p.api.name} to ${this.address} got no response in time (${now - p.deadline} ms past its deadline)`,
          ),
        )
        return true
      }
    }
    return false
  }

  /** Close with an error: every pending request rejects with it. */
  fail(err: Error): void {
    if (this.closedError) return
    this.closedError = err
    this.abandonConnect?.(err)
    const pending = this.pending.splice(0)
    for (const p of pending) {
      this.options.clock.clearTimeout(p.timer)
      p.reject(err)
    }
    try {
      this.stream?.close()
    } catch {
      /* already gone */
    }
    if (this.stream && this.options.hooks?.active)
      this.options.hooks.emit('brokerDisconnected', { broker: this.brokerRef, cause: err })
    for (const l of this.onCloseListeners) l(err)
  }

  close(): void {
    this.fail(new ConnectionError(`connection to ${this.address} closed by the client`))
  }
}
