/**
 * `fetchTransport({ url, token, mode })`: a GatewayTransport over plain HTTP requests (`fetch`). Runtime-free.
 *
 * - mode 'gateway' (default): MessagePack frames to an isokafka gateway (`POST /v1/metadata`, `POST /v1/produce`),
 *   with client batch ids, so resends are deduplicated.
 * - mode 'rest-v3': Confluent REST Proxy v3 (`POST /v3/clusters/{id}/topics/{t}/records`, records as concatenated
 *   JSON with base64 key/value/headers and our partitioner's `partition_id`; `GET .../partitions` for metadata).
 * - mode 'rest-v2': Confluent REST Proxy v2 (`POST /topics/{t}`, `application/vnd.kafka.binary.v2+json`;
 *   `GET /topics/{t}/partitions`). v2 has no headers: a batch with headers fails with INVALID_RECORD.
 *
 * REST proxies know no batch ids: a batch resent after a lost answer may be written twice.
 *
 * Answers are untrusted: a body is read up to `maxResponseBytes` (then the connection is dropped), within the request's
 * timeout, and must decode as the answer asked for; anything else is MALFORMED_RESPONSE (retriable: unsure if written).
 *
 * While the page is being hidden or unloaded (see `flushOnPageHide`), requests go out with `keepalive: true` so the
 * browser finishes them after the page is gone; keepalive bodies are limited to 64 KiB in flight, so the batches are
 * then sent in requests of at most that size (one that is larger goes as a normal request).
 */
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
  GatewayRecord,
  GatewayTopicMetadata,
  GatewayTransport,
} from '../../src/transport.js'
// frames.js, not gateway-wire/index.ts: a transport's bundle then has no reason to reach the REST Proxy helpers
import {
  DEFAULT_MAX_IN_FLIGHT_BATCHES,
  DEFAULT_MAX_RECORDS_PER_FRAME,
  MAX_PARTITIONS,
  MSGPACK_CONTENT_TYPE,
  answerOk,
  decodeServerFrame,
  decodeWireRecords,
  encodeClientFrame,
  errorFromFrame,
  fromWireRecord,
  messageTooLarge,
  toWireBatch,
  recordCount,
  type AckFrame,
  type MetadataResponseFrame,
  type ServerFrame,
  type WireResult,
} from '../gateway-wire/frames.js'
import type { RestClient, RestProxy } from './rest-proxy.js'

export type TokenSource = string | (() => string | Promise<string>)

export interface FetchTransportOptions {
  /** Base URL of the gateway or REST proxy, e.g. `https://gw.example.com` (paths are appended). */
  url: string
  /** Bearer token (isokafka gateway token, or what the proxy expects), or a function returning a fresh one. */
  token?: TokenSource
  mode?: 'gateway' | 'rest-v3' | 'rest-v2'
  /** rest-v3: the cluster id in the URL. Default: the first of `GET /v3/clusters`. */
  clusterId?: string
  /** Extra request headers (e.g. `Authorization: Basic ...` for a proxy that wants it instead of a token). */
  headers?: Record<string, string>
  /** Default `globalThis.fetch`. */
  fetch?: typeof fetch
  /** gateway mode: frames are split above this. Default 1 MiB. */
  maxFrameBytes?: number
  /** Use `keepalive` requests: 'auto' (default) while the page is hidden or unloading, or always / never. */
  keepalive?: 'auto' | boolean
  /**
   * Largest answer body read, in bytes: past it the request is dropped unread and fails with MALFORMED_RESPONSE
   * (retriable). Default 4 MiB (a gateway's largest answer, metadata for 1,000 topics, is under 0.5 MiB); a REST
   * produce answer may take 1 KiB per record when that is more.
   */
  maxResponseBytes?: number
}

/**
 * The body of `res`, refused (MALFORMED_RESPONSE) past `cap` bytes without reading further (the caller then aborts the
 * request, which drops the connection): from `res.body` as it streams in, or, where a response has no stream, after
 * `arrayBuffer()` (a declared Content-Length is checked first).
 */
async function readBody(res: Response, cap: number): Promise<Uint8Array> {
  const tooLarge = () => new MalformedResponseError(`the answer is larger than maxResponseBytes (${cap})`)
  if (Number(res.headers.get('content-length')) > cap) throw tooLarge()
  const reader = (res.body ?? new Blob([await res.arrayBuffer()]).stream()).getReader()
  const chunks: BlobPart[] = []
  let n = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return new Uint8Array(await new Blob(chunks).arrayBuffer())
    if ((n += value.length) > cap) throw tooLarge()
    chunks.push(value as BlobPart)
  }
}

/** HTTP statuses after which trying again may help (the gateway's and a REST proxy's answers alike). */
const RETRIABLE_HTTP: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504])

/** The browser allows this many bytes of keepalive request bodies in flight (per page). */
export const KEEPALIVE_BUDGET = 64 * 1024

let pageHiding = false
let keepaliveInFlight = 0

/** Whether requests go out with keepalive now: the `keepalive` option, or for 'auto' while the page is hidden. */
function keepaliveNow(option: FetchTransportOptions['keepalive']): boolean {
  if (option === true || option === false) return option
  return (
    pageHiding || (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === 'hidden'
  )
}

export function fetchTransport(options: FetchTransportOptions): GatewayTransport {
  return new FetchTransport(options)
}

class FetchTransport implements GatewayTransport, RestClient {
  readonly kind = 'gateway' as const
  readonly backend = gatewayBackend
  readonly #base: string
  readonly #mode: 'gateway' | 'rest-v3' | 'rest-v2'
  readonly #fetchFn: typeof fetch
  /** The REST Proxy modes' code (rest-proxy.ts), imported on first use: gateway-mode bundles leave it out. */
  #rest: RestProxy | null = null
  #restLoading: Promise<RestProxy> | null = null
  #nextId = 1
  readonly #controllers = new Set<AbortController>()
  #closed = false

  readonly #options: FetchTransportOptions

  constructor(options: FetchTransportOptions) {
    this.#options = options
    if (!options.url || !/^https?:\/\//i.test(options.url))
      throw new InvalidArgumentError('INVALID_CONFIG', 'fetchTransport(): url must start with http:// or https://')
    this.#base = options.url.replace(/\/+$/, '')
    this.#mode = options.mode ?? 'gateway'
    if (!['gateway', 'rest-v3', 'rest-v2'].includes(this.#mode))
      throw new InvalidArgumentError('INVALID_CONFIG', `fetchTransport(): unknown mode ${String(this.#mode)}`)
    if (!options.fetch && typeof (globalThis as { fetch?: typeof fetch }).fetch !== 'function') {
      throw new InvalidArgumentError('INVALID_CONFIG', 'fetchTransport(): no global fetch here; pass one')
    }
    // the global fetch must be called as a plain function: browsers and workerd throw "Illegal invocation" when it is
    // called as a method of another object
    this.#fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    if (this.#mode !== 'gateway') void this.#loadRest().catch(() => {})
  }

  #loadRest(): Promise<RestProxy> {
    this.#restLoading ??= import('./rest-proxy.js').then((m) => {
      this.#rest = m.restProxy(this, this.#mode as 'rest-v3' | 'rest-v2', this.#options.clusterId)
      return this.#rest
    })
    return this.#restLoading
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const c of this.#controllers) c.abort()
    this.#controllers.clear()
  }

  // ---- HTTP plumbing ----

  async #headers(contentType?: string): Promise<Record<string, string>> {
    const h: Record<string, string> = { ...(this.#options.headers ?? {}) }
    const t = this.#options.token
    if (t !== undefined) h.Authorization = `Bearer ${typeof t === 'function' ? await t() : t}`
    if (contentType) h['Content-Type'] = contentType
    return h
  }

  /**
   * One HTTP exchange with a timeout that also covers reading the body, of at most maxResponseBytes (or `minCap` when
   * more); network failures become retriable ConnectionErrors. (RestClient)
   */
  async http(
    method: 'GET' | 'POST',
    path: string,
    body: Uint8Array | string | null,
    contentType: string | undefined,
    timeoutMs: number,
    accept: string,
    signal?: AbortSignal,
    minCap = 0,
  ): Promise<{ status: number; bytes: Uint8Array; headers: Headers }> {
    if (this.#closed) throw new ConnectionError('the fetch transport is closed')
    const size = body === null ? 0 : typeof body === 'string' ? body.length * 3 : body.length
    // a keepalive request above the budget would be refused by the browser: send it as a normal request
    const keepalive = keepaliveNow(this.#options.keepalive) && keepaliveInFlight + size <= KEEPALIVE_BUDGET
    const controller = new AbortController()
    const onAbort = () => controller.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    this.#controllers.add(controller)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, timeoutMs)
    if (keepalive) keepaliveInFlight += size
    try {
      const res = await this.#fetchFn(this.#base + path, {
        method,
        headers: { ...(await this.#headers(contentType)), Accept: accept },
        body: body === null ? undefined : (body as BodyInit),
        signal: controller.signal,
        keepalive,
        credentials: 'omit',
        cache: 'no-store',
      } as RequestInit)
      return {
        status: res.status,
        bytes: await readBody(res, Math.max(this.#options.maxResponseBytes ?? 4 << 20, minCap)),
        headers: res.headers,
      }
    } catch (err) {
      controller.abort() // drop the connection of an answer refused half read
      if (timedOut) throw new RequestTimeoutError(`${method} ${path}: no answer within ${timeoutMs} ms`)
      if (signal?.aborted) throw new RequestTimeoutError(`${method} ${path} was aborted`)
      if (err instanceof IsoKafkaError) throw err
      throw new ConnectionError(`${method} ${this.#base}${path} failed: ${String((err as Error)?.message ?? err)}`, {
        cause: err,
      })
    } finally {
      clearTimeout(timer)
      if (keepalive) keepaliveInFlight -= size
      signal?.removeEventListener('abort', onAbort)
      this.#controllers.delete(controller)
    }
  }

  /** A non-2xx answer as an error: 401 → authentication, 403 → topic authorization, 408/429/5xx → retriable. */
  /** (RestClient) */
  httpError(status: number, text: string, what: string): IsoKafkaError {
    const detail = text.length > 300 ? `${text.slice(0, 300)}...` : text
    if (status === 401) return new AuthenticationError(`${what}: HTTP 401 ${detail}`)
    if (status === 413) return new RecordTooLargeError(`${what}: HTTP 413 ${detail}`)
    return new IsoKafkaError(`HTTP_${status}`, `${what}: HTTP ${status} ${detail}`, {
      retriable: RETRIABLE_HTTP.has(status),
    })
  }

  // ---- the rest of RestClient: what the REST modes (rest-proxy.ts) take from here rather than import ----

  readonly retriableStatuses = RETRIABLE_HTTP
  readonly maxPartitions = MAX_PARTITIONS

  malformed(message: string): IsoKafkaError {
    return new MalformedResponseError(message)
  }

  records(b: GatewayPartitionBatch): GatewayRecord[] {
    return decodeWireRecords(b.records).map(fromWireRecord)
  }

  // ---- GatewayTransport ----

  /** Gateway mode: the frame limits it splits at (REST modes have no frames). */
  frameLimits(): { maxFrameBytes: number; maxBatchBytes?: number } | undefined {
    if (this.#mode !== 'gateway') return
    const maxFrameBytes = this.#options.maxFrameBytes ?? 1 << 20
    const k = this.#options.keepalive
    // where keepalive requests may carry them (a page, or keepalive: true), a grown batch and its frame must still
    // fit the keepalive budget
    if (k === true || (k !== false && 'document' in globalThis))
      return { maxFrameBytes, maxBatchBytes: KEEPALIVE_BUDGET - 1024 }
    return { maxFrameBytes }
  }

  metadata(topics: string[], signal?: AbortSignal): Promise<GatewayTopicMetadata[]> {
    if (this.#mode === 'gateway') return this.#gatewayMetadata(topics, signal)
    return this.#loadRest().then((rest) => Promise.all(topics.map((t) => rest.partitions(t, signal))))
  }

  produce(
    batches: GatewayPartitionBatch[],
    options: { acks: -1 | 0 | 1; timeoutMs: number },
  ): Promise<GatewayPartitionResult[]> {
    // Encode now: the records are views into producer buffers, valid only during this call.
    try {
      if (this.#mode === 'gateway') return this.#gatewayProduce(batches, options)
      const rest = this.#rest
      if (rest) return Promise.all(batches.map((b) => rest.request(b)).map((r) => r(options.timeoutMs)))
      // the REST module is still loading (metadata normally comes first and loads it): the records are views valid
      // only during this call, so they are copied before waiting for it
      const copies = batches.map((b) => ({ ...b, records: b.records.slice() }))
      return this.#loadRest().then((r) => Promise.all(copies.map((b) => r.request(b)(options.timeoutMs))))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  // ---- gateway mode ----

  /** Request `id` asking for `asked` (batch ids or topics); the answer frame, checked (answerOk), or an error. */
  async #frameExchange<F extends ServerFrame>(
    t: 'ack' | 'metadata',
    id: number,
    asked: string[],
    body: Uint8Array,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<F> {
    const path = `/v1/${t === 'ack' ? 'produce' : t}`
    const res = await this.http('POST', path, body, MSGPACK_CONTENT_TYPE, timeoutMs, MSGPACK_CONTENT_TYPE, signal)
    let frame: ServerFrame | null = null
    try {
      frame = decodeServerFrame(res.bytes)
    } catch {
      /* not a frame: a proxy's error page, say */
    }
    if (frame?.t === 'error' && typeof frame.code === 'string')
      throw errorFromFrame(frame, typeof this.#options.token === 'function')
    if (res.status < 200 || res.status >= 300)
      throw this.httpError(res.status, new TextDecoder().decode(res.bytes), `POST ${path}`)
    // a 2xx that is not the answer asked for (a portal's page, a cached or forged answer): unsure if written
    if (!frame || !answerOk(frame, t, id, asked))
      throw new MalformedResponseError(`POST ${path}: not the answer asked for`)
    return frame as F
  }

  async #gatewayMetadata(topics: string[], signal?: AbortSignal): Promise<GatewayTopicMetadata[]> {
    const id = this.#nextId++
    const frame = await this.#frameExchange<MetadataResponseFrame>(
      'metadata',
      id,
      topics,
      encodeClientFrame({ t: 'metadata', id, topics }),
      30_000,
      signal,
    )
    return frame.topics
  }

  #gatewayProduce(
    batches: GatewayPartitionBatch[],
    o: { acks: -1 | 0 | 1; timeoutMs: number },
  ): Promise<GatewayPartitionResult[]> {
    const max = this.#options.maxFrameBytes ?? 1 << 20
    const timeoutMs = Math.max(100, Math.floor(o.timeoutMs * 0.9))
    type Wire = ReturnType<typeof toWireBatch>
    const frame = (group: Wire[]) => {
      const id = this.#nextId++
      return { id, group, body: encodeClientFrame({ t: 'produce', id, acks: o.acks, timeoutMs, batches: group }) }
    }
    const frames: Array<ReturnType<typeof frame>> = []
    // a batch too large for any frame fails alone (MESSAGE_TOO_LARGE); its neighbours go on
    const tooLarge: GatewayPartitionResult[] = []
    /**
     * One frame for the group, or halves until each fits `limit` bytes and a gateway's default batch and record
     * limits (a single batch is never split).
     */
    const encode = (group: Wire[], limit: number): void => {
      let records = 0
      for (const b of group) records += recordCount(b)
      const countsFit = group.length <= DEFAULT_MAX_IN_FLIGHT_BATCHES && records <= DEFAULT_MAX_RECORDS_PER_FRAME
      const f = frame(group)
      const size = f.body.length
      if ((size <= limit && countsFit) || group.length === 1) {
        if (size > max) {
          tooLarge.push(messageTooLarge(group[0]!, `the batch is ${size} bytes as a frame; the limit is ${max}`))
          return
        }
        frames.push(f)
        return
      }
      const half = Math.ceil(group.length / 2)
      encode(group.slice(0, half), limit)
      encode(group.slice(half), limit)
    }
    // while the page is hiding, small requests so each fits the keepalive budget
    encode(batches.map(toWireBatch), keepaliveNow(this.#options.keepalive) ? KEEPALIVE_BUDGET : max)
    const send = async ({ id, group, body }: (typeof frames)[0]): Promise<WireResult[]> => {
      try {
        const ids = group.map((b) => b.batchId)
        return (await this.#frameExchange<AckFrame>('ack', id, ids, body, o.timeoutMs)).results
      } catch (err) {
        const overLimit =
          err instanceof RecordTooLargeError || (err instanceof IsoKafkaError && err.code === 'LIMIT_EXCEEDED')
        if (!overLimit || group.length < 2) throw err
        // the gateway's limit is below ours: split in two and try again (the records stay valid until we settle)
        const half = Math.ceil(group.length / 2)
        const parts = [group.slice(0, half), group.slice(half)]
        const answers = await Promise.all(parts.map((g) => send(frame(g))))
        return answers.flat()
      }
    }
    return Promise.all(frames.map(send)).then((answers) => [...tooLarge, ...answers.flat()])
  }
}

// ---- page lifecycle ----

/** The part of a producer flushOnPageHide needs. */
export interface Flushable {
  flush(): Promise<void>
}

interface EventTargetLike {
  addEventListener(type: string, fn: (ev: unknown) => void, options?: unknown): void
  removeEventListener(type: string, fn: (ev: unknown) => void, options?: unknown): void
}

/**
 * Sends a producer's pending records when the page is hidden or unloaded (`visibilitychange` → hidden, `pagehide`):
 * calls `producer.flush()`, and while the page is hiding a fetch transport sends with `keepalive: true` in requests of
 * at most 64 KiB, so they complete after the page is gone. Returns a function that removes the listeners.
 * Best effort: a browser may still drop what does not fit the keepalive budget; records already in flight on a
 * WebSocket are not resent after unload.
 */
export function flushOnPageHide(
  producer: Flushable,
  target?: { window?: EventTargetLike; document?: EventTargetLike & { visibilityState?: string } },
): () => void {
  const g = globalThis as unknown as {
    addEventListener?: EventTargetLike['addEventListener']
    removeEventListener?: EventTargetLike['removeEventListener']
    document?: EventTargetLike & { visibilityState?: string }
  }
  const win: EventTargetLike | undefined =
    target?.window ?? (typeof g.addEventListener === 'function' ? (g as EventTargetLike) : undefined)
  const doc = target?.document ?? g.document
  const flush = () => {
    void producer.flush().catch(() => {})
  }
  const onPageHide = () => {
    pageHiding = true
    flush()
  }
  const onPageShow = () => {
    pageHiding = false
  }
  const onVisibility = () => {
    if (doc?.visibilityState === 'hidden') {
      pageHiding = true
      flush()
    } else {
      pageHiding = false
    }
  }
  win?.addEventListener('pagehide', onPageHide)
  win?.addEventListener('pageshow', onPageShow)
  doc?.addEventListener('visibilitychange', onVisibility)
  return () => {
    win?.removeEventListener('pagehide', onPageHide)
    win?.removeEventListener('pageshow', onPageShow)
    doc?.removeEventListener('visibilitychange', onVisibility)
  }
}
