/**
 * `websocket({ url, token })`: a GatewayTransport over one WebSocket to an isokafka gateway (docs/gateway-protocol.md).
 * Runtime-free: uses `globalThis.WebSocket` (browsers, Workers, Deno, Node ≥ 22) or an injected constructor (the
 * `ws` package on Node 20).
 *
 * - Connects lazily, authenticates with a `hello` frame (or the token in the subprotocol list / query string) and
 *   waits for `welcome` before sending anything else.
 * - When the socket drops, it reconnects with exponential backoff and resends every unanswered frame unchanged, so
 *   batch ids are reused and the gateway's deduplication keeps a batch from being written twice.
 * - Respects the gateway's limits from `welcome`: frames above maxFrameBytes are split (a batch never is), and no
 *   more than maxInFlightBatches batches wait for acks at once. RATE_LIMITED / TOO_MANY_IN_FLIGHT answers are
 *   resent after the gateway's retryAfterMs.
 * - Trusts nothing the gateway sends: a message above maxResponseBytes, one that is not a frame, an answer that is
 *   not the one its request asked for (answerOk) or to a request never made, an error frame without a string code:
 *   the gateway broke the protocol. The request it answered (when known, else every one in flight) fails with
 *   MALFORMED_RESPONSE (retriable: unsure if written, as on a lost connection, so nothing in it is acknowledged),
 *   and the connection is dropped and made anew; the other requests are resent on the new one.
 */
import { backoffMs } from '../../src/clock.js'
import { gatewayBackend } from '../../src/producer/gateway-backend.js'
import {
  AuthenticationError,
  ConnectionError,
  InvalidArgumentError,
  IsoKafkaError,
  MalformedResponseError,
  RecordTooLargeError,
  RequestTimeoutError,
} from '../../src/errors.js'
import type {
  GatewayPartitionBatch,
  GatewayPartitionResult,
  GatewayTopicMetadata,
  GatewayTransport,
} from '../../src/transport.js'
// frames.js, not gateway-wire/index.ts: a transport's bundle then has no reason to reach the REST Proxy helpers
import {
  CLOSE_UNAUTHENTICATED,
  DEFAULT_MAX_IN_FLIGHT_BATCHES,
  DEFAULT_MAX_RECORDS_PER_FRAME,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  answerOk,
  decodeServerFrame,
  encodeClientFrame,
  errorFromFrame,
  welcomeLimits,
  messageTooLarge,
  recordCount,
  toWireBatch,
  type AckFrame,
  type ErrorFrame,
  type GatewayLimits,
  type MetadataResponseFrame,
  type ServerFrame,
  type OutgoingBatch,
} from '../gateway-wire/frames.js'

/** The part of the WHATWG WebSocket API used here (the `ws` package implements it too). */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number; reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
}
/** `options` is for the `ws` package (`maxPayload`); the WHATWG constructor ignores it. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { maxPayload?: number },
) => WebSocketLike

export type TokenSource = string | (() => string | Promise<string>)

export interface WebSocketTransportOptions {
  /** `ws://` or `wss://` URL of the gateway's WebSocket endpoint, e.g. `wss://gw.example.com/v1/ws`. */
  url: string
  /** A gateway token, or a function returning a fresh one (called on every (re)connect and when one expires). */
  token: TokenSource
  /** WebSocket constructor; default `globalThis.WebSocket`. On Node 20 pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor | (new (url: string, protocols?: string | string[]) => unknown)
  /** Where the token goes: a `hello` frame (default), the `Sec-WebSocket-Protocol` list, or the `?token=` query. */
  tokenIn?: 'hello' | 'protocol' | 'query'
  /** First reconnect delay (doubles up to the max, ±20% jitter). Default 100 / 5000 ms. */
  reconnectBackoffMs?: number
  reconnectBackoffMaxMs?: number
  /** Give up a connection attempt (and retry) after this long. Default 10000. */
  connectTimeoutMs?: number
  /** Used until the gateway's welcome says otherwise. Default 1 MiB. */
  maxFrameBytes?: number
  /**
   * Largest message taken from the gateway, in bytes: a larger one fails the requests in flight with
   * MALFORMED_RESPONSE (retriable) and drops the connection. Default 4 MiB (a gateway's largest answer, metadata for
   * 1,000 topics, is under 0.5 MiB). Also the `ws` package's `maxPayload`, so it stops reading at the cap; a browser
   * has read the whole message before the transport sees it.
   */
  maxResponseBytes?: number
}

/** A request frame. */
interface Frame {
  id: number
  bytes: Uint8Array
  /** The batch ids (produce) or topics (metadata) asked for: what the answer may name (answerOk). */
  asked: string[]
  /** Batches in the frame; 0 for metadata. */
  batches: number
  records: number
}

interface Pending extends Frame {
  sent: boolean
  notBefore: number
  resolve(frame: ServerFrame): void
  reject(err: Error): void
  timer: ReturnType<typeof setTimeout> | null
}

const OPEN = 1

export function websocket(options: WebSocketTransportOptions): GatewayTransport {
  return new WebSocketTransport(options)
}

class WebSocketTransport implements GatewayTransport {
  readonly kind = 'gateway' as const
  readonly backend = gatewayBackend
  readonly #Ctor: WebSocketConstructor
  #socket: WebSocketLike | null = null
  /** idle: no socket; connecting: socket opening or waiting for welcome; ready: welcome received. */
  #state: 'idle' | 'connecting' | 'ready' = 'idle'
  #limits: GatewayLimits
  #defaults: GatewayLimits
  #nextId = 1
  readonly #pending = new Map<number, Pending>()
  #inFlightBatches = 0
  #attempts = 0
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null
  #pumpTimer: ReturnType<typeof setTimeout> | null = null
  #connectTimer: ReturnType<typeof setTimeout> | null = null
  #closed = false
  /** Set when the gateway refused our token: pending requests failed with it; the next request reconnects. */
  #authError: Error | null = null

  readonly #options: WebSocketTransportOptions

  constructor(options: WebSocketTransportOptions) {
    this.#options = options
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (!Ctor)
      throw new IsoKafkaError(
        'INVALID_CONFIG',
        'websocket(): no global WebSocket here; pass one (on Node 20, the "ws" package\'s)',
      )
    if (!options.url || !/^wss?:\/\//i.test(options.url))
      throw new InvalidArgumentError('INVALID_CONFIG', 'websocket(): url must start with ws:// or wss://')
    if (!options.token) throw new InvalidArgumentError('INVALID_CONFIG', 'websocket(): a token is required')
    this.#Ctor = Ctor as WebSocketConstructor
    // what a gateway allows by default, until its welcome says otherwise
    this.#limits = this.#defaults = {
      maxFrameBytes: options.maxFrameBytes ?? 1 << 20,
      maxInFlightBatches: DEFAULT_MAX_IN_FLIGHT_BATCHES,
      recordsPerSecond: 0,
      maxRecordsPerFrame: DEFAULT_MAX_RECORDS_PER_FRAME,
    }
  }

  /** The limits from the gateway's welcome (the defaults before it). */
  frameLimits(): GatewayLimits {
    return this.#limits
  }

  metadata(topics: string[], signal?: AbortSignal): Promise<GatewayTopicMetadata[]> {
    const id = this.#nextId++
    const bytes = encodeClientFrame({ t: 'metadata', id, topics })
    return this.#request({ id, bytes, asked: topics, batches: 0, records: 0 }, 30_000, signal).then(
      (f) => (f as MetadataResponseFrame).topics,
    )
  }

  async produce(
    batches: GatewayPartitionBatch[],
    options: { acks: -1 | 0 | 1; timeoutMs: number },
  ): Promise<GatewayPartitionResult[]> {
    if (this.#closed) throw new ConnectionError('the websocket transport is closed')
    // Encode now, before the first await: the records are views into producer buffers, valid only during this call.
    const tooLarge: GatewayPartitionResult[] = []
    const frames = this.#encodeProduce(batches.map(toWireBatch), options, tooLarge)
    const answers = await Promise.all(frames.map((f) => this.#request(f, options.timeoutMs)))
    // a batch too large for any frame fails alone (MESSAGE_TOO_LARGE); its neighbours go on
    return tooLarge.concat(...answers.map((a) => (a as AckFrame).results))
  }

  /**
   * One frame, or several when the whole would exceed the gateway's limits: maxFrameBytes, maxInFlightBatches batches,
   * maxRecordsPerFrame records (halving; a single batch is never split).
   */
  #encodeProduce(
    batches: OutgoingBatch[],
    o: { acks: -1 | 0 | 1; timeoutMs: number },
    tooLarge: GatewayPartitionResult[],
  ): Frame[] {
    let records = 0
    for (const b of batches) records += recordCount(b)
    // always set here (#limits starts from the defaults; welcomeLimits keeps a default the welcome lacks)
    const maxRecords = this.#limits.maxRecordsPerFrame!
    const fits = batches.length <= this.#limits.maxInFlightBatches && records <= maxRecords
    if (fits || batches.length === 1) {
      if (records > maxRecords) {
        tooLarge.push(
          messageTooLarge(
            batches[0]!,
            `the batch has ${records} records; the gateway accepts at most ${maxRecords} in a frame`,
          ),
        )
        return []
      }
      const id = this.#nextId++
      // the gateway gets a little less time than we wait, so its REQUEST_TIMED_OUT answer arrives before our timer
      const bytes = encodeClientFrame({
        t: 'produce',
        id,
        acks: o.acks,
        timeoutMs: Math.max(100, Math.floor(o.timeoutMs * 0.9)),
        batches,
      })
      if (bytes.length <= this.#limits.maxFrameBytes)
        return [{ id, bytes, asked: batches.map((b) => b.batchId), batches: batches.length, records }]
      if (batches.length === 1) {
        tooLarge.push(
          messageTooLarge(
            batches[0]!,
            `the batch is ${bytes.length} bytes as a frame; the gateway accepts at most ${this.#limits.maxFrameBytes}`,
          ),
        )
        return []
      }
    }
    const half = Math.ceil(batches.length / 2)
    return [
      ...this.#encodeProduce(batches.slice(0, half), o, tooLarge),
      ...this.#encodeProduce(batches.slice(half), o, tooLarge),
    ]
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // (the connect timer goes with the socket; a timer that still fires finds the transport closed)
    clearTimeout(this.#reconnectTimer!)
    clearTimeout(this.#pumpTimer!)
    this.#failAll(new ConnectionError('the websocket transport was closed'))
    if (this.#socket) this.#drop(this.#socket, 1000, 'closed')
  }

  // ---- requests ----

  /** Sends `f` (when the connection and limits allow) and waits for its answer. */
  async #request(f: Frame, timeoutMs: number, signal?: AbortSignal): Promise<ServerFrame> {
    if (this.#closed) throw new ConnectionError('the websocket transport is closed')
    if (signal?.aborted) throw new RequestTimeoutError('the request was aborted')
    return new Promise<ServerFrame>((resolve, reject) => {
      const p: Pending = { ...f, sent: false, notBefore: 0, resolve, reject, timer: null }
      p.timer = setTimeout(() => {
        p.timer = null
        this.#finish(p, new RequestTimeoutError(`no answer from the gateway within ${timeoutMs} ms`))
      }, timeoutMs)
      signal?.addEventListener('abort', () => this.#finish(p, new RequestTimeoutError('the request was aborted')), {
        once: true,
      })
      this.#pending.set(f.id, p)
      this.#pump()
    })
  }

  #failAll(err: Error): void {
    for (const p of this.#pending.values()) this.#finish(p, err)
  }

  #finish(p: Pending, result: ServerFrame | Error): void {
    if (this.#pending.get(p.id) !== p) return
    this.#pending.delete(p.id)
    clearTimeout(p.timer!)
    p.timer = null
    if (p.sent) this.#inFlightBatches -= p.batches
    if (result instanceof Error) p.reject(result)
    else p.resolve(result)
  }

  /** Send what may be sent now, in order; connect if needed. */
  #pump(): void {
    if (this.#closed) return
    if (this.#state !== 'ready') {
      if (this.#state === 'idle' && this.#pending.size > 0) this.#connect()
      return
    }
    const socket = this.#socket!
    const now = Date.now()
    let wakeAt = Infinity
    for (const p of this.#pending.values()) {
      if (p.sent) continue
      if (p.notBefore > now) {
        wakeAt = Math.min(wakeAt, p.notBefore)
        continue
      }
      if (this.#inFlightBatches > 0 && this.#inFlightBatches + p.batches > this.#limits.maxInFlightBatches) break
      const overRecords = p.records > this.#limits.maxRecordsPerFrame! || p.batches > this.#limits.maxInFlightBatches
      if (p.bytes.length > this.#limits.maxFrameBytes || overRecords) {
        // encoded before the gateway told its (smaller) limits: several batches are worth a retry, split this time
        const message = `a frame of ${p.bytes.length} bytes, ${p.batches} batches, ${p.records} records is above the gateway's limits`
        this.#finish(
          p,
          p.batches > 1
            ? new IsoKafkaError('FRAME_TOO_LARGE', message, { retriable: true })
            : new RecordTooLargeError(message),
        )
        continue
      }
      try {
        socket.send(p.bytes)
      } catch {
        break // the socket is closing: onclose resends
      }
      p.sent = true
      this.#inFlightBatches += p.batches
    }
    if (wakeAt !== Infinity && this.#pumpTimer === null) {
      this.#pumpTimer = setTimeout(
        () => {
          this.#pumpTimer = null
          this.#pump()
        },
        Math.max(0, wakeAt - now),
      )
    }
  }

  // ---- connection ----

  async #token(): Promise<string> {
    const t = this.#options.token
    return typeof t === 'function' ? t() : t
  }

  #connect(): void {
    if (this.#state !== 'idle' || this.#closed || this.#reconnectTimer !== null) return
    if (this.#attempts > 0) {
      const delay = backoffMs(
        this.#attempts,
        this.#options.reconnectBackoffMs ?? 100,
        this.#options.reconnectBackoffMaxMs ?? 5000,
        Math.random,
      )
      this.#reconnectTimer = setTimeout(() => {
        this.#reconnectTimer = null
        this.#open()
      }, delay)
      return
    }
    this.#open()
  }

  #open(): void {
    if (this.#state !== 'idle' || this.#closed) return
    this.#state = 'connecting'
    this.#attempts++
    this.#token().then(
      (token) => this.#openWith(token),
      (err) =>
        this.#connectFailed(
          new AuthenticationError(`could not get a gateway token: ${String(err?.message ?? err)}`, { cause: err }),
        ),
    )
  }

  #openWith(token: string): void {
    if (this.#closed) return
    const how = this.#options.tokenIn ?? 'hello'
    let url = this.#options.url
    if (how === 'query') url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`
    const protocols = how === 'protocol' ? [SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + token] : [SUBPROTOCOL]
    const cap = this.#options.maxResponseBytes ?? 4 << 20
    const tooLarge = () =>
      this.#socket === ws && this.#violation(undefined, `the gateway sent a message over maxResponseBytes (${cap})`)
    let ws: WebSocketLike
    try {
      ws = new this.#Ctor(url, protocols, { maxPayload: cap })
    } catch (err) {
      this.#connectFailed(
        new ConnectionError(
          `could not open a WebSocket to ${this.#options.url}: ${String((err as Error)?.message ?? err)}`,
          { cause: err },
        ),
      )
      return
    }
    this.#socket = ws
    ws.binaryType = 'arraybuffer'
    this.#clearConnectTimer()
    this.#connectTimer = setTimeout(() => {
      this.#connectTimer = null
      if (this.#socket === ws && this.#state !== 'ready') this.#drop(ws, 4000, 'connect timeout')
    }, this.#options.connectTimeoutMs ?? 10_000)
    ws.onopen = () => {
      if (how === 'hello') ws.send(encodeClientFrame({ t: 'hello', v: PROTOCOL_VERSION, token }))
    }
    ws.onmessage = ({ data }) => {
      const d = data as (Blob & Uint8Array) | null
      if (this.#socket !== ws || typeof data === 'string') return // text is no frame (a gateway sends none)
      // the size before decoding, or reading a Blob: byteLength (ArrayBuffer, views), size (Blob)
      if ((d?.byteLength ?? d?.size)! > cap) tooLarge()
      else if (d?.arrayBuffer) void d.arrayBuffer().then((b) => this.#socket === ws && this.#onFrame(new Uint8Array(b)))
      else if (d) this.#onFrame(new Uint8Array(d.buffer ?? d, d.byteOffset, d.byteLength))
    }
    ws.onclose = (ev) => {
      this.#onSocketClosed(ws, ev?.code ?? 1006)
    }
    ws.onerror = (ev) => {
      // a close event follows; or the ws package refused a message past maxPayload
      if ((ev as { error?: { code?: string } })?.error?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') tooLarge()
    }
  }

  #connectFailed(err: Error): void {
    this.#state = 'idle'
    this.#socket = null
    if (err instanceof IsoKafkaError && !err.retriable) {
      this.#failAll((this.#authError = err))
      return
    }
    this.#connect()
  }

  #onSocketClosed(ws: WebSocketLike, code: number): void {
    if (this.#socket !== ws) return
    ws.onclose = null
    ws.onmessage = null
    this.#clearConnectTimer()
    this.#socket = null
    this.#state = 'idle'
    this.#inFlightBatches = 0
    for (const p of this.#pending.values()) p.sent = false // resent, unchanged, after the next welcome
    if (this.#closed) return
    if (code === CLOSE_UNAUTHENTICATED && this.#authError) return // pending already failed; reconnect on demand
    if (this.#pending.size > 0) this.#connect()
  }

  #onFrame(bytes: Uint8Array): void {
    let p: Pending | undefined
    try {
      const f = decodeServerFrame(bytes)
      const id = (f as { id?: number }).id!
      p = this.#pending.get(id)
      switch (f.t) {
        case 'welcome':
          this.#clearConnectTimer()
          this.#state = 'ready'
          this.#attempts = 0
          this.#authError = null
          this.#limits = welcomeLimits(f.limits, this.#defaults)
          this.#pump()
          return
        case 'metadata':
        case 'ack':
          // the answer its request asked for; one to a request no longer waiting (timed out, aborted) is dropped
          if (p ? answerOk(f, p.batches ? 'ack' : 'metadata', id, p.asked) : id > 0 && id < this.#nextId) {
            if (p) this.#finish(p, f)
            this.#pump()
            return
          }
          break
        case 'error':
          if (typeof f.code !== 'string') break
          this.#onErrorFrame(f, p)
          return
        default:
          return // a frame type from a later protocol version
      }
    } catch {
      // not a frame (or one whose fields break handling it)
    }
    this.#violation(p, 'the gateway sent a frame not asked for')
  }

  /**
   * The gateway broke the protocol: the request its frame answered, or when that is not known every request in
   * flight, fails with MALFORMED_RESPONSE (retriable: unsure if written); the connection is dropped, and the rest is
   * resent on a new one.
   */
  #violation(p: Pending | undefined, what: string): void {
    const err = new MalformedResponseError(what)
    for (const q of p ? [p] : this.#pending.values()) if (q === p || q.sent) this.#finish(q, err)
    if (this.#socket) this.#drop(this.#socket, 4002, 'malformed frame')
  }

  /** Close `ws` and go on as if it had closed (resend on a new one), without waiting for its close event. */
  #drop(ws: WebSocketLike, code: number, reason: string): void {
    try {
      ws.close(code, reason)
    } catch {
      /* ignore */
    }
    this.#onSocketClosed(ws, code)
  }

  /** `p`: the request it answers. */
  #onErrorFrame(f: ErrorFrame, p: Pending | undefined): void {
    const refreshable = typeof this.#options.token === 'function'
    if (f.code === 'TOKEN_EXPIRED' && refreshable) {
      // get a fresh token (a new hello on this connection, or a reconnect if the gateway closes it); the refused
      // frame is resent after the next welcome
      if (p) this.#unsend(p)
      if (!f.fatal && this.#state === 'ready') this.#reauthenticate()
      return
    }
    if (p && !f.fatal) {
      if ((f.code === 'RATE_LIMITED' || f.code === 'TOO_MANY_IN_FLIGHT') && p.timer !== null) {
        this.#unsend(p)
        const r = f.retryAfterMs // 10 ms to 30 s; 100 ms when not a finite number
        p.notBefore = Date.now() + (Number.isFinite(r) ? Math.min(Math.max(10, r!), 30_000) : 100)
        this.#pump()
        return
      }
      this.#finish(p, errorFromFrame(f, refreshable))
      this.#pump()
      return
    }
    if (f.fatal || f.code === 'UNAUTHENTICATED' || f.code === 'TOKEN_EXPIRED' || f.code === 'UNSUPPORTED') {
      // the gateway closes the connection after this: fail what is waiting (a bad token will not become good)
      this.#failAll((this.#authError = errorFromFrame(f, refreshable)))
      this.#attempts ||= 1
    }
  }

  /** p goes out again (after the next welcome, or its retryAfterMs). */
  #unsend(p: Pending): void {
    if (p.sent) this.#inFlightBatches -= p.batches
    p.sent = false
  }

  #reauthenticate(): void {
    const ws = this.#socket
    if (!ws) return
    this.#state = 'connecting' // nothing new is sent until the next welcome
    this.#token().then(
      (token) => {
        if (this.#socket === ws && ws.readyState === OPEN)
          ws.send(encodeClientFrame({ t: 'hello', v: PROTOCOL_VERSION, token }))
      },
      () => ws.close(4001, 'no token'),
    )
  }

  #clearConnectTimer(): void {
    clearTimeout(this.#connectTimer!)
    this.#connectTimer = null
  }
}
