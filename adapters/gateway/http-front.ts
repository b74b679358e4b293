/**
 * The HTTP front: probes (/healthz liveness, /readyz readiness), /metrics, CORS, the gateway's own MessagePack
 * endpoints (POST /v1/produce, /v1/metadata: one frame in, one out), and the REST Proxy routes (./rest-proxy.ts).
 * Limits over HTTP belong to the token's namespace (subject, or signature), kept in a bounded map.
 */
import http from 'node:http'
import { MSGPACK_CONTENT_TYPE, encodeFrame, peekFrameId, type ServerFrame } from '../gateway-wire/index.js'
import type { Backpressure } from './limits.js'
import type { GatewayLog } from './log.js'
import { errorFields, safePath } from './log.js'
import type { MetricsRegistry } from './metrics.js'
import type { ResolvedGatewayOptions } from './options.js'
import type { KafkaSide } from './producing.js'
import type { Authenticate, Requests, Session } from './requests.js'
import { sessionNamespace } from './requests.js'
import type { RestProxy } from './rest-proxy.js'
import type { GatewayTokenClaims } from './token.js'
import type { FrameDecoderFn } from './ws-front.js'

const HTTP_SESSIONS_MAX = 10_000

export class HttpFront {
  private readonly sessions = new Map<string, Session>()
  draining = false

  constructor(
    private readonly o: ResolvedGatewayOptions,
    private readonly requests: Requests,
    private readonly kafka: KafkaSide,
    private readonly metrics: MetricsRegistry,
    private readonly log: GatewayLog,
    private readonly backpressure: Backpressure,
    private readonly authenticate: Authenticate,
    private readonly decode: FrameDecoderFn,
    private readonly originAllowed: (origin: string | undefined) => boolean,
    private readonly rest: RestProxy,
  ) {}

  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.metrics.httpRequests++
    this.route(req, res).catch((err) => {
      this.log.error('request failed', { method: req.method, path: safePath(req.url), ...errorFields(err) })
      this.metrics.refuse('INTERNAL')
      if (!res.headersSent) json(res, 500, { error_code: 500, message: 'internal error' })
      else res.destroy()
    })
  }

  /** The session of a token over HTTP: one per namespace, so limits hold across requests. */
  session(claims: GatewayTokenClaims, token: string): Session {
    const key = sessionNamespace(claims, token)
    let s = this.sessions.get(key)
    if (s) {
      this.sessions.delete(key)
      s.claims = claims
    } else {
      s = this.requests.newSession(claims, token)
      if (this.sessions.size >= HTTP_SESSIONS_MAX) {
        for (const [k, v] of this.sessions) {
          if (v.inFlightBatches === 0) {
            this.sessions.delete(k)
            break
          }
        }
      }
    }
    this.sessions.set(key, s)
    return s
  }

  private cors(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const origin = req.headers.origin
    if (origin === undefined) return true
    if (!this.originAllowed(origin)) {
      this.metrics.refuse('FORBIDDEN_ORIGIN')
      return false
    }
    res.setHeader('Access-Control-Allow-Origin', origin)
    res.setHeader('Vary', 'Origin')
    return true
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://gateway')
    } catch {
      this.metrics.refuse('BAD_REQUEST')
      return json(res, 400, { error_code: 400, message: 'the request target is not a valid URL' })
    }
    const path = url.pathname
    const method = req.method ?? 'GET'
    if (path === '/healthz' && method === 'GET') return json(res, 200, { status: 'ok' })
    if (path === '/readyz' && method === 'GET') return this.readyz(res)
    if (path === '/metrics' && method === 'GET') return this.metricsEndpoint(req, res, url)
    if (this.draining) {
      res.setHeader('Connection', 'close')
      this.metrics.refuse('SHUTTING_DOWN')
      return json(res, 503, { error_code: 503, message: 'the gateway is shutting down' })
    }
    if (!this.cors(req, res)) return json(res, 403, { error_code: 403, message: 'origin not allowed' })
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
    if (path === '/v1/produce' || path === '/v1/metadata') {
      if (method !== 'POST') return json(res, 405, { error_code: 405, message: 'use POST' })
      return this.frameEndpoint(req, res, path === '/v1/produce' ? 'produce' : 'metadata', token)
    }
    return this.rest.route(req, res, method, path, token)
  }

  private async readyz(res: http.ServerResponse): Promise<void> {
    const kafka = await this.kafka.kafkaReachable()
    const ok = kafka && !this.draining
    json(res, ok ? 200 : 503, {
      status: ok ? 'ready' : 'unavailable',
      kafka: kafka ? 'up' : 'down',
      draining: this.draining,
    })
  }

  private metricsEndpoint(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    if (this.o.metricsToken !== null) {
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
      if (bearer !== this.o.metricsToken) {
        this.metrics.refuse('UNAUTHENTICATED')
        return json(res, 401, { error_code: 401, message: 'the metrics need a bearer token' })
      }
    }
    if (url.searchParams.get('format') === 'json' || /application\/json/.test(String(req.headers.accept ?? ''))) {
      return json(res, 200, this.metrics.snapshot())
    }
    const text = this.metrics.prometheus()
    res.writeHead(200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
    })
    res.end(text)
  }

  /**
   * Reads a body of at most `max` bytes (after waiting out backpressure); null when it is larger. A larger body is
   * read and discarded up to 4 × max before the caller answers 413, so a client still uploading gets the 413 rather
   * than a connection reset; beyond that the connection is closed after the answer.
   */
  async readBody(req: http.IncomingMessage, res: http.ServerResponse, max: number): Promise<Buffer | null> {
    const hardCap = max * 4
    const declared = Number(req.headers['content-length'])
    if (declared > hardCap) {
      res.setHeader('Connection', 'close')
      return null
    }
    await this.backpressure.whenResumed()
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
        this.metrics.bytesIn += size
        if (done) return
        done = true
        resolve(size > max ? null : Buffer.concat(chunks))
      })
      req.on('error', (err) => {
        if (!done) reject(err)
      })
    })
  }

  private async frameEndpoint(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    kind: 'produce' | 'metadata',
    token: string | null,
  ): Promise<void> {
    const reply = (status: number, frame: ServerFrame, headers: Record<string, string> = {}) => {
      const body = encodeFrame(frame)
      res.writeHead(status, {
        'Content-Type': MSGPACK_CONTENT_TYPE,
        'Content-Length': body.length,
        'Cache-Control': 'no-store',
        ...headers,
      })
      res.end(body)
    }
    const auth = await this.authenticate(token)
    if ('t' in auth) return reply(401, auth)
    const max = this.o.limits.maxFrameBytes
    const body = await this.readBody(req, res, max)
    if (!body) return reply(413, this.requests.errorFrame('FRAME_TOO_LARGE', `the body is larger than ${max} bytes`))
    let frame: Record<string, unknown>
    try {
      frame = this.decode(body)
    } catch (err) {
      return reply(400, this.requests.errorFrame('MALFORMED', (err as Error).message, { id: peekFrameId(body) }))
    }
    this.metrics.frame(String(frame.t))
    if (frame.t !== kind)
      return reply(400, this.requests.errorFrame('MALFORMED', `POST /v1/${kind} takes a ${kind} frame`))
    frame.id = Number.isSafeInteger(frame.id) ? (frame.id as number) : 0
    const session = this.session(auth.claims, token!)
    // answered in a continuation, not after an await here, which would keep `body` alive until Kafka acknowledged
    const answer = kind === 'produce' ? this.requests.produce(session, frame) : this.requests.metadata(session, frame)
    return answer.then((out) => answered(reply, out))
  }
}

/** Sends a request's answer: 200, or the HTTP status of its error code. */
function answered(
  reply: (status: number, frame: ServerFrame, headers?: Record<string, string>) => void,
  out: ServerFrame,
): void {
  if (out.t !== 'error') return reply(200, out)
  const status =
    (
      {
        RATE_LIMITED: 429,
        TOO_MANY_IN_FLIGHT: 429,
        MALFORMED: 400,
        UNSUPPORTED: 400,
        LIMIT_EXCEEDED: 413,
        TOKEN_EXPIRED: 401,
        UNAUTHENTICATED: 401,
        UNAVAILABLE: 503,
      } as Record<string, number>
    )[out.code] ?? 500
  reply(status, out, out.retryAfterMs ? { 'Retry-After': String(Math.ceil(out.retryAfterMs / 1000)) } : {})
}

export function json(res: http.ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  })
  res.end(text)
}
