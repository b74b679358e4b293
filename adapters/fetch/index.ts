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
 * While the page is being hidden or unloaded (see `flushOnPageHide`), requests go out with `keepalive: true` so the
 * browser finishes them after the page is gone; keepalive bodies are limited to 64 KiB in flight, so the batches are
 * then sent in requests of at most that size (one that is larger goes as a normal request).
 */
import { gatewayBackend } from '../../src/producer/gateway-backend.js'
import {
  AuthenticationError,
  ConnectionError,
  IsoKafkaError,
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
import {
  DEFAULT_MAX_IN_FLIGHT_BATCHES,
  DEFAULT_MAX_RECORDS_PER_FRAME,
  MSGPACK_CONTENT_TYPE,
  decodeServerFrame,
  encodeFrame,
  errorFromFrame,
  messageTooLarge,
  splitJsonStream,
  toBase64,
  toWireBatch,
  recordCount,
  decodeWireRecords,
  fromWireRecord,
  type ServerFrame,
  type WireResult,
} from '../gateway-wire/index.js'

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
}

/** The browser allows this many bytes of keepalive request bodies in flight (per page). */
export const KEEPALIVE_BUDGET = 64 * 1024

let pageHiding = false
let keepaliveInFlight = 0

function pageIsHidden(): boolean {
  if (pageHiding) return true
  const doc = (globalThis as { document?: { visibilityState?: string } }).document
  return doc?.visibilityState === 'hidden'
}

export function fetchTransport(options: FetchTransportOptions): GatewayTransport {
  return new FetchTransport(options)
}

const RETRIABLE_HTTP = new Set([408, 425, 429, 500, 502, 503, 504])

class FetchTransport implements GatewayTransport {
  readonly kind = 'gateway' as const
  readonly backend = gatewayBackend
  private readonly base: string
  private readonly mode: 'gateway' | 'rest-v3' | 'rest-v2'
  private readonly fetchFn: typeof fetch
  private clusterId: string | null
  private nextId = 1
  private readonly controllers = new Set<AbortController>()
  private closed = false

  constructor(private readonly options: FetchTransportOptions) {
    if (!options.url || !/^https?:\/\//i.test(options.url))
      throw new IsoKafkaError('INVALID_CONFIG', 'fetchTransport(): url must start with http:// or https://')
    this.base = options.url.replace(/\/+$/, '')
    this.mode = options.mode ?? 'gateway'
    if (!['gateway', 'rest-v3', 'rest-v2'].includes(this.mode))
      throw new IsoKafkaError('INVALID_CONFIG', `fetchTransport(): unknown mode ${String(this.mode)}`)
    if (!options.fetch && typeof (globalThis as { fetch?: typeof fetch }).fetch !== 'function') {
      throw new IsoKafkaError('INVALID_CONFIG', 'fetchTransport(): no global fetch here; pass one')
    }
    // the global fetch must be called as a plain function: browsers and workerd throw "Illegal invocation" when it is
    // called as a method of another object
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.clusterId = options.clusterId ?? null
  }

  async close(): Promise<void> {
    this.closed = true
    for (const c of this.controllers) c.abort()
    this.controllers.clear()
  }

  // ---- HTTP plumbing ----

  private async headers(contentType?: string): Promise<Record<string, string>> {
    const h: Record<string, string> = { ...(this.options.headers ?? {}) }
    const t = this.options.token
    if (t !== undefined) h.Authorization = `Bearer ${typeof t === 'function' ? await t() : t}`
    if (contentType) h['Content-Type'] = contentType
    return h
  }

  /** One HTTP exchange with a timeout; network failures become retriable ConnectionErrors. */
  private async http(
    method: 'GET' | 'POST',
    path: string,
    body: Uint8Array | string | null,
    contentType: string | undefined,
    timeoutMs: number,
    accept: string,
    signal?: AbortSignal,
  ): Promise<{ status: number; bytes: Uint8Array; headers: Headers }> {
    if (this.closed) throw new ConnectionError('the fetch transport is closed')
    const size = body === null ? 0 : typeof body === 'string' ? body.length * 3 : body.length
    const wanted = this.options.keepalive === true || (this.options.keepalive !== false && pageIsHidden())
    // a keepalive request above the budget would be refused by the browser: send it as a normal request
    const keepalive = wanted && keepaliveInFlight + size <= KEEPALIVE_BUDGET
    const controller = new AbortController()
    const onAbort = () => controller.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    this.controllers.add(controller)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, timeoutMs)
    if (keepalive) keepaliveInFlight += size
    try {
      const res = await this.fetchFn(this.base + path, {
        method,
        headers: { ...(await this.headers(contentType)), Accept: accept },
        body: body === null ? undefined : (body as BodyInit),
        signal: controller.signal,
        keepalive,
        credentials: 'omit',
        cache: 'no-store',
      } as RequestInit)
      const bytes = new Uint8Array(await res.arrayBuffer())
      return { status: res.status, bytes, headers: res.headers }
    } catch (err) {
      if (timedOut) throw new RequestTimeoutError(`${method} ${path}: no answer within ${timeoutMs} ms`)
      if (signal?.aborted) throw new RequestTimeoutError(`${method} ${path} was aborted`)
      throw new ConnectionError(`${method} ${this.base}${path} failed: ${String((err as Error)?.message ?? err)}`, {
        cause: err,
      })
    } finally {
      clearTimeout(timer)
      if (keepalive) keepaliveInFlight -= size
      signal?.removeEventListener('abort', onAbort)
      this.controllers.delete(controller)
    }
  }

  /** A non-2xx answer as an error: 401 → authentication, 403 → topic authorization, 408/429/5xx → retriable. */
  private httpError(status: number, text: string, what: string): IsoKafkaError {
    const detail = text.length > 300 ? `${text.slice(0, 300)}...` : text
    if (status === 401) return new AuthenticationError(`${what}: HTTP 401 ${detail}`)
    if (status === 413) return new RecordTooLargeError(`${what}: HTTP 413 ${detail}`)
    return new IsoKafkaError(`HTTP_${status}`, `${what}: HTTP ${status} ${detail}`, {
      retriable: RETRIABLE_HTTP.has(status),
    })
  }

  // ---- GatewayTransport ----

  metadata(topics: string[], signal?: AbortSignal): Promise<GatewayTopicMetadata[]> {
    if (this.mode === 'gateway') return this.gatewayMetadata(topics, signal)
    return Promise.all(topics.map((t) => this.restPartitions(t, signal)))
  }

  produce(
    batches: GatewayPartitionBatch[],
    options: { acks: -1 | 0 | 1; timeoutMs: number },
  ): Promise<GatewayPartitionResult[]> {
    // Encode now: the records are views into producer buffers, valid only during this call.
    try {
      if (this.mode === 'gateway') return this.gatewayProduce(batches, options)
      const requests = batches.map((b) => (this.mode === 'rest-v3' ? this.v3Request(b) : this.v2Request(b)))
      return Promise.all(requests.map((r) => r(options.timeoutMs)))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  // ---- gateway mode ----

  private async frameExchange(
    path: string,
    body: Uint8Array,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ServerFrame> {
    const res = await this.http('POST', path, body, MSGPACK_CONTENT_TYPE, timeoutMs, MSGPACK_CONTENT_TYPE, signal)
    let frame: ServerFrame | null = null
    try {
      frame = decodeServerFrame(res.bytes)
    } catch {
      /* not a frame: a proxy's error page, say */
    }
    if (frame?.t === 'error') throw errorFromFrame(frame, typeof this.options.token === 'function')
    if (res.status < 200 || res.status >= 300 || !frame)
      throw this.httpError(res.status, new TextDecoder().decode(res.bytes), `POST ${path}`)
    return frame
  }

  private async gatewayMetadata(topics: string[], signal?: AbortSignal): Promise<GatewayTopicMetadata[]> {
    const frame = await this.frameExchange(
      '/v1/metadata',
      encodeFrame({ t: 'metadata', id: this.nextId++, topics }),
      30_000,
      signal,
    )
    if (frame.t !== 'metadata')
      throw new IsoKafkaError('MALFORMED_RESPONSE', `expected a metadata frame, got ${frame.t}`, { retriable: true })
    return frame.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions,
      errorCode: t.errorCode,
      error: t.error,
    }))
  }

  private gatewayProduce(
    batches: GatewayPartitionBatch[],
    o: { acks: -1 | 0 | 1; timeoutMs: number },
  ): Promise<GatewayPartitionResult[]> {
    const max = this.options.maxFrameBytes ?? 1 << 20
    const timeoutMs = Math.max(100, Math.floor(o.timeoutMs * 0.9))
    type Wire = ReturnType<typeof toWireBatch>
    const frames: Array<{ body: Uint8Array; group: Wire[] }> = []
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
      const body = encodeFrame({ t: 'produce', id: this.nextId++, acks: o.acks, timeoutMs, batches: group })
      if ((body.length <= limit && countsFit) || group.length === 1) {
        if (body.length > max) {
          tooLarge.push(messageTooLarge(group[0]!, `the batch is ${body.length} bytes as a frame; the limit is ${max}`))
          return
        }
        frames.push({ body, group })
        return
      }
      const half = Math.ceil(group.length / 2)
      encode(group.slice(0, half), limit)
      encode(group.slice(half), limit)
    }
    // while the page is hiding, small requests so each fits the keepalive budget
    const keepaliveSized = this.options.keepalive === true || (this.options.keepalive !== false && pageIsHidden())
    encode(batches.map(toWireBatch), keepaliveSized ? KEEPALIVE_BUDGET : max)
    const send = async (body: Uint8Array, group: Wire[]): Promise<WireResult[]> => {
      try {
        const a = await this.frameExchange('/v1/produce', body, o.timeoutMs)
        if (a.t !== 'ack')
          throw new IsoKafkaError('MALFORMED_RESPONSE', `expected an ack frame, got ${a.t}`, { retriable: true })
        return a.results
      } catch (err) {
        const overLimit =
          err instanceof RecordTooLargeError || (err instanceof IsoKafkaError && err.code === 'LIMIT_EXCEEDED')
        if (!overLimit || group.length < 2) throw err
        // the gateway's limit is below ours: split in two and try again (the records stay valid until we settle)
        const half = Math.ceil(group.length / 2)
        const parts = [group.slice(0, half), group.slice(half)]
        const answers = await Promise.all(
          parts.map((g) =>
            send(encodeFrame({ t: 'produce', id: this.nextId++, acks: o.acks, timeoutMs, batches: g }), g),
          ),
        )
        return answers.flat()
      }
    }
    return Promise.all(frames.map((f) => send(f.body, f.group))).then((answers) => [...tooLarge, ...answers.flat()])
  }

  // ---- REST proxy modes ----

  private async v3ClusterId(signal?: AbortSignal): Promise<string> {
    if (this.clusterId) return this.clusterId
    const res = await this.http('GET', '/v3/clusters', null, undefined, 30_000, 'application/json', signal)
    const text = new TextDecoder().decode(res.bytes)
    if (res.status !== 200) throw this.httpError(res.status, text, 'GET /v3/clusters')
    const id = (JSON.parse(text) as { data?: Array<{ cluster_id?: string }> }).data?.[0]?.cluster_id
    if (!id) throw new IsoKafkaError('MALFORMED_RESPONSE', 'GET /v3/clusters listed no cluster', { retriable: true })
    this.clusterId = id
    return id
  }

  private async restPartitions(topic: string, signal?: AbortSignal): Promise<GatewayTopicMetadata> {
    const t = encodeURIComponent(topic)
    const path =
      this.mode === 'rest-v3'
        ? `/v3/clusters/${encodeURIComponent(await this.v3ClusterId(signal))}/topics/${t}/partitions`
        : `/topics/${t}/partitions`
    const accept = this.mode === 'rest-v3' ? 'application/json' : 'application/vnd.kafka.v2+json'
    const res = await this.http('GET', path, null, undefined, 30_000, accept, signal)
    const text = new TextDecoder().decode(res.bytes)
    if (res.status === 404) return { topic, partitions: 0, errorCode: 3 }
    if (res.status === 403) return { topic, partitions: 0, errorCode: 29 }
    if (res.status !== 200) throw this.httpError(res.status, text, `GET ${path}`)
    let list: unknown
    try {
      const doc = JSON.parse(text) as { data?: unknown }
      list = this.mode === 'rest-v3' ? doc.data : doc
    } catch {
      list = null
    }
    if (!Array.isArray(list))
      throw new IsoKafkaError('MALFORMED_RESPONSE', `GET ${path} did not list partitions`, { retriable: true })
    return { topic, partitions: list.length, errorCode: list.length > 0 ? 0 : 5 }
  }

  private v3Request(b: GatewayPartitionBatch): (timeoutMs: number) => Promise<WireResult> {
    const records = decodeWireRecords(b.records)
    const lines: string[] = new Array(records.length)
    for (let i = 0; i < records.length; i++) {
      const r: GatewayRecord = fromWireRecord(records[i]!)
      const rec: Record<string, unknown> = { partition_id: b.partition }
      if (r.headers.length > 0)
        rec.headers = r.headers.map(([name, value]) => ({ name, value: value === null ? null : toBase64(value) }))
      if (r.key !== null) rec.key = { type: 'BINARY', data: toBase64(r.key) }
      if (r.value !== null) rec.value = { type: 'BINARY', data: toBase64(r.value) }
      rec.timestamp = new Date(r.timestamp).toISOString()
      lines[i] = JSON.stringify(rec)
    }
    const body = lines.join('\n')
    const base = { topic: b.topic, partition: b.partition, batchId: b.batchId, logAppendTime: -1 }
    return async (timeoutMs) => {
      const path = `/v3/clusters/${encodeURIComponent(await this.v3ClusterId())}/topics/${encodeURIComponent(b.topic)}/records`
      const res = await this.http('POST', path, body, 'application/json', timeoutMs, 'application/json')
      const text = new TextDecoder().decode(res.bytes)
      if (res.status === 401) throw this.httpError(401, text, `POST ${path}`)
      let answers: Array<{ error_code?: number; offset?: number; message?: string }>
      try {
        answers = splitJsonStream(text) as typeof answers
      } catch {
        throw this.httpError(res.status, text, `POST ${path}`)
      }
      if (answers.length !== b.count) {
        // one error for the whole request (auth, unknown topic, too large, rate limited, ...)
        const code = answers[0]?.error_code ?? res.status
        if (answers.length === 1 && code !== 200)
          return {
            ...base,
            baseOffset: -1,
            errorCode: kafkaCodeForHttp(code),
            message: answers[0]!.message ?? `HTTP ${code}`,
          }
        throw this.httpError(res.status, text, `POST ${path} (${answers.length} answers for ${b.count} records)`)
      }
      const offsets: number[] = []
      for (const a of answers) {
        if (a.error_code !== 200 || typeof a.offset !== 'number') {
          return {
            ...base,
            baseOffset: -1,
            errorCode: kafkaCodeForHttp(a.error_code ?? res.status),
            message: a.message ?? `error ${a.error_code}`,
          }
        }
        offsets.push(a.offset)
      }
      return withOffsets(base, offsets)
    }
  }

  private v2Request(b: GatewayPartitionBatch): (timeoutMs: number) => Promise<WireResult> {
    const base = { topic: b.topic, partition: b.partition, batchId: b.batchId, logAppendTime: -1 }
    const records = decodeWireRecords(b.records).map(fromWireRecord)
    if (records.some((r) => r.headers.length > 0)) {
      const result: WireResult = {
        ...base,
        baseOffset: -1,
        errorCode: 87,
        message: 'REST Proxy v2 cannot carry record headers (use mode rest-v3 or gateway)',
      }
      return () => Promise.resolve(result)
    }
    const body = JSON.stringify({
      records: records.map((r) => ({
        key: r.key === null ? null : toBase64(r.key),
        value: r.value === null ? null : toBase64(r.value),
        partition: b.partition,
      })),
    })
    return async (timeoutMs) => {
      const path = `/topics/${encodeURIComponent(b.topic)}`
      const res = await this.http(
        'POST',
        path,
        body,
        'application/vnd.kafka.binary.v2+json',
        timeoutMs,
        'application/vnd.kafka.v2+json',
      )
      const text = new TextDecoder().decode(res.bytes)
      if (res.status === 401) throw this.httpError(401, text, `POST ${path}`)
      let doc: {
        offsets?: Array<{ offset?: number | null; error_code?: number | null; error?: string | null }>
        error_code?: number
        message?: string
      }
      try {
        doc = JSON.parse(text)
      } catch {
        throw this.httpError(res.status, text, `POST ${path}`)
      }
      if (res.status !== 200 || !Array.isArray(doc.offsets)) {
        if (RETRIABLE_HTTP.has(res.status)) throw this.httpError(res.status, text, `POST ${path}`)
        return {
          ...base,
          baseOffset: -1,
          errorCode: kafkaCodeForHttp(res.status),
          message: doc.message ?? `HTTP ${res.status}`,
        }
      }
      if (doc.offsets.length !== b.count)
        throw this.httpError(res.status, text, `POST ${path} (${doc.offsets.length} offsets for ${b.count} records)`)
      const offsets: number[] = []
      for (const o of doc.offsets) {
        if (o.error_code !== null && o.error_code !== undefined) {
          // v2: 1 = non-retriable Kafka exception, 2 = retriable
          return {
            ...base,
            baseOffset: -1,
            errorCode: o.error_code === 2 ? 7 : -1,
            message: o.error ?? `error ${o.error_code}`,
          }
        }
        offsets.push(o.offset as number)
      }
      return withOffsets(base, offsets)
    }
  }
}

function withOffsets(base: Omit<WireResult, 'baseOffset' | 'errorCode'>, offsets: number[]): WireResult {
  let contiguous = true
  for (let i = 1; i < offsets.length; i++) if (offsets[i] !== offsets[0]! + i) contiguous = false
  return { ...base, errorCode: 0, baseOffset: offsets[0] ?? -1, ...(contiguous ? {} : { offsets }) }
}

/** A REST error code (HTTP status or Confluent's 5-digit code) as the nearest Kafka error code. */
function kafkaCodeForHttp(code: number): number {
  const http = code >= 10000 ? Math.floor(code / 100) : code
  if (http === 404) return 3 // UNKNOWN_TOPIC_OR_PARTITION (retriable: it may be being created)
  if (http === 403) return 29 // TOPIC_AUTHORIZATION_FAILED
  if (http === 413) return 10 // MESSAGE_TOO_LARGE
  if (http === 400 || http === 422) return 87 // INVALID_RECORD
  if (RETRIABLE_HTTP.has(http)) return 7 // REQUEST_TIMED_OUT: retriable
  return -1
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
