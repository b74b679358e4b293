/**
 * The WebSocket front: upgrades (checked before any WebSocket exists: path, origin, capacity, a token that came with
 * the upgrade), the hello window of unauthenticated sockets (a small budget of their own, per remote address too; the
 * first frame that is not a valid hello closes them), frames of authenticated sessions, and the two kinds of
 * backpressure: the gateway's (too many bytes wait for Kafka: nobody is read) and each connection's own (answers it
 * does not read pile up: that connection is not read, and is dropped if it stays stuck). Heartbeat pings carry a
 * nonce; only the pong that echoes it counts.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import {
  CLOSE_SHUTDOWN,
  CLOSE_UNAUTHENTICATED,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  encodeFrame,
  peekFrameId,
  type ErrorFrame,
  type ServerFrame,
} from '../gateway-wire/index.js'
import type { Backpressure } from './limits.js'
import { Budget } from './limits.js'
import type { GatewayLog } from './log.js'
import { errorFields } from './log.js'
import type { MetricsRegistry } from './metrics.js'
import type { ResolvedGatewayOptions } from './options.js'
import { sessionNamespace, type Authenticate, type Requests, type Session } from './requests.js'
import type { GatewayTokenClaims } from './token.js'
import { BadFrame } from './validate.js'

/** Largest frame an unauthenticated socket may send: a hello (tokens are at most 8 KiB). */
const PRE_AUTH_MAX_PAYLOAD = 16 * 1024
/** Frames a client may pipeline behind its hello while the token is being checked. */
const PRE_AUTH_QUEUE = 32
/** WebSocket close code for "try again later" (RFC 6455 1013). */
const CLOSE_TRY_AGAIN = 1013

interface WsConn {
  id: string
  ws: WebSocket
  /** The connection's socket: corked while answers pile up within one tick (see send()). */
  socket: Duplex
  corked: boolean
  address: string
  session: Session | null
  /** The token of the session (kept to re-check namespaces on a new hello). */
  authenticating: Promise<void> | null
  helloTimer: NodeJS.Timeout | null
  preAuthQueued: number
  /** Holds a slot of the unauthenticated budget. */
  heldUnauth: boolean
  closing: boolean
  /** Bytes handed to ws.send() and not yet written to the socket. */
  queued: number
  outputPaused: boolean
  queuedAtTick: number
  readPaused: boolean
  pingNonce: Buffer | null
}

export interface FrameDecoderFn {
  (bytes: Uint8Array): Record<string, unknown>
}

export class WsFront {
  readonly conns = new Set<WsConn>()
  authenticated = 0
  private readonly unauth: Budget
  private readonly wss: WebSocketServer
  private readonly heartbeat: NodeJS.Timeout
  private draining = false
  /** See seal(). */
  private sealed = false
  /** Connections whose socket send() corked in this tick; uncorked together once the tick's work is done. */
  private corked: WsConn[] = []

  constructor(
    private readonly o: ResolvedGatewayOptions,
    private readonly requests: Requests,
    private readonly metrics: MetricsRegistry,
    private readonly log: GatewayLog,
    private readonly backpressure: Backpressure,
    private readonly authenticate: Authenticate,
    private readonly decode: FrameDecoderFn,
    private readonly originAllowed: (origin: string | undefined) => boolean,
  ) {
    this.unauth = new Budget(o.maxUnauthenticated, o.maxUnauthenticatedPerAddress)
    const max = o.limits.maxFrameBytes
    this.wss = new WebSocketServer({
      noServer: true,
      // ws closes (1009) above this; between maxFrameBytes and it we answer FRAME_TOO_LARGE and keep the connection.
      // ws holds a message whole before handing it over, so this bounds what one connection can make the gateway
      // buffer (unauthenticated ones get PRE_AUTH_MAX_PAYLOAD)
      maxPayload: hardFrameCap(max),
      perMessageDeflate: false,
      // one message per turn of the event loop: a read holding 20,000 tiny frames would otherwise be handled in one
      // synchronous run, and every other client (and /healthz) would wait for it
      allowSynchronousEvents: false,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    })
    backpressure.onChange((paused) => {
      for (const c of this.conns) {
        if (paused) c.pingNonce = null // nobody is dropped for a pong we did not read
        this.applyPause(c)
      }
    })
    this.heartbeat = setInterval(() => this.tick(), o.heartbeatMs)
    this.heartbeat.unref()
  }

  get unauthenticated(): number {
    return this.unauth.total
  }

  get pausedSockets(): number {
    let n = 0
    for (const c of this.conns) if (c.readPaused) n++
    return n
  }

  // ---- upgrade ----

  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    try {
      this.upgrade(req, socket, head)
    } catch (err) {
      // nothing a client sends may end the process: whatever failed, the answer is 400
      this.log.debug('upgrade failed', errorFields(err))
      refuse(socket, 400, 'bad request')
      this.metrics.refuse('BAD_REQUEST')
    }
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {}) // a reset during the handshake is not our error
    const address = req.socket.remoteAddress ?? 'unknown'
    const no = (status: number, text: string, code: string) => {
      this.metrics.refuse(code)
      this.log.debug('refused a WebSocket', { address, status, code })
      refuse(socket, status, text)
    }
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://gateway')
    } catch {
      return no(400, 'the request target is not a valid URL', 'BAD_REQUEST')
    }
    if (url.pathname !== '/v1/ws' && url.pathname !== '/') return no(404, 'not found', 'NOT_FOUND')
    if (this.draining) return no(503, 'the gateway is shutting down', 'SHUTTING_DOWN')
    if (!this.originAllowed(req.headers.origin)) return no(403, 'origin not allowed', 'FORBIDDEN_ORIGIN')
    if (this.authenticated >= this.o.maxConnections) return no(503, 'too many connections', 'TOO_MANY_CONNECTIONS')
    let token = url.searchParams.get('token')
    for (const p of String(req.headers['sec-websocket-protocol'] ?? '').split(',')) {
      const s = p.trim()
      if (s.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) token = s.slice(TOKEN_SUBPROTOCOL_PREFIX.length)
    }
    if (token !== null) {
      // a token that came with the upgrade is checked before there is a WebSocket: a bad one gets 401, no socket
      this.authenticate(token)
        .then((auth) => {
          if (socket.destroyed) return
          if ('t' in auth) return no(401, auth.message, auth.code)
          if (this.draining) return no(503, 'the gateway is shutting down', 'SHUTTING_DOWN')
          if (this.authenticated >= this.o.maxConnections)
            return no(503, 'too many connections', 'TOO_MANY_CONNECTIONS')
          this.wss.handleUpgrade(req, socket, head, (ws) =>
            this.onConnection(ws, socket, address, { claims: auth.claims, token: token! }),
          )
        })
        .catch((err) => {
          this.log.error('upgrade failed', errorFields(err))
          if (!socket.destroyed) no(400, 'bad request', 'BAD_REQUEST')
        })
      return
    }
    if (!this.unauth.take(address))
      return no(503, 'too many connections waiting to authenticate', 'TOO_MANY_UNAUTHENTICATED')
    let upgraded = false
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true
        this.onConnection(ws, socket, address, null)
      })
    } finally {
      // ws answers an invalid handshake itself (400) without calling back: the slot is free again
      if (!upgraded) this.unauth.release(address)
    }
  }

  // ---- connections ----

  private onConnection(
    ws: WebSocket,
    socket: Duplex,
    address: string,
    auth: { claims: GatewayTokenClaims; token: string } | null,
  ): void {
    this.metrics.connectionsTotal++
    const conn: WsConn = {
      id: randomUUID(),
      ws,
      socket,
      corked: false,
      address,
      session: null,
      authenticating: null,
      helloTimer: null,
      preAuthQueued: 0,
      heldUnauth: auth === null,
      closing: false,
      queued: 0,
      outputPaused: false,
      queuedAtTick: Infinity,
      readPaused: false,
      pingNonce: null,
    }
    this.conns.add(conn)
    ws.on('pong', (data: Buffer) => {
      if (conn.pingNonce && data.equals(conn.pingNonce)) conn.pingNonce = null
    })
    ws.on('error', (err) => this.log.debug('connection error', { connection: conn.id, ...errorFields(err) }))
    ws.on('close', () => {
      this.conns.delete(conn)
      if (conn.helloTimer) clearTimeout(conn.helloTimer)
      if (conn.session) this.authenticated--
      if (conn.heldUnauth) this.unauth.release(conn.address)
    })
    ws.on('message', (data, isBinary) => this.onMessage(conn, toBytes(data), isBinary))
    if (auth) {
      this.admit(conn, auth.claims, auth.token)
    } else {
      setMaxPayload(ws, PRE_AUTH_MAX_PAYLOAD)
      conn.helloTimer = setTimeout(() => {
        if (!conn.session)
          this.closeFatal(
            conn,
            this.requests.errorFrame(
              'UNAUTHENTICATED',
              `no hello with a valid token within ${this.o.helloTimeoutMs} ms`,
            ),
          )
      }, this.o.helloTimeoutMs)
    }
    this.applyPause(conn)
  }

  /** A verified token: the connection's session begins (or, on a new hello, takes the new claims) and gets its welcome. */
  private admit(conn: WsConn, claims: GatewayTokenClaims, token: string): void {
    if (!conn.session) {
      if (conn.heldUnauth) {
        conn.heldUnauth = false
        this.unauth.release(conn.address)
      }
      if (this.authenticated >= this.o.maxConnections) {
        return this.closeFatal(conn, this.requests.errorFrame('UNAVAILABLE', 'too many connections'), CLOSE_TRY_AGAIN)
      }
      this.authenticated++
      conn.session = this.requests.newSession(claims, token)
      setMaxPayload(conn.ws, hardFrameCap(this.o.limits.maxFrameBytes))
    } else {
      // a new hello on a live connection (a refreshed token): new claims, the same buckets (no reset by re-hello)
      conn.session.claims = claims
      conn.session.namespace = sessionNamespace(claims, token)
    }
    if (conn.helloTimer) clearTimeout(conn.helloTimer)
    conn.helloTimer = null
    this.send(conn, {
      t: 'welcome',
      v: PROTOCOL_VERSION,
      session: conn.id,
      subject: claims.sub,
      expiresAt: claims.exp * 1000,
      limits: this.o.limits,
    })
  }

  private async hello(conn: WsConn, token: string | null): Promise<void> {
    const auth = await this.authenticate(token)
    if (conn.closing) return
    if ('t' in auth) return this.closeFatal(conn, auth)
    this.admit(conn, auth.claims, token!)
  }

  private closeFatal(conn: WsConn, frame: ErrorFrame, code = CLOSE_UNAUTHENTICATED): void {
    if (conn.closing) return
    conn.closing = true
    this.send(conn, { ...frame, fatal: true })
    conn.ws.close(code, frame.code)
  }

  // ---- frames ----

  private onMessage(conn: WsConn, bytes: Uint8Array, isBinary: boolean): void {
    this.metrics.bytesIn += bytes.length
    if (conn.closing || this.sealed) return
    if (!conn.session && !conn.authenticating) return this.firstFrame(conn, bytes, isBinary)
    this.onFrame(conn, bytes, isBinary).catch((err) => {
      this.log.error('frame failed', { connection: conn.id, ...errorFields(err) })
      this.send(conn, this.requests.errorFrame('INTERNAL', 'the gateway failed to process a frame'))
    })
  }

  /** Before authentication the only acceptable frame is a hello; anything else ends the connection. */
  private firstFrame(conn: WsConn, bytes: Uint8Array, isBinary: boolean): void {
    const e = (code: 'MALFORMED' | 'UNAUTHENTICATED' | 'UNSUPPORTED', message: string, id?: number) =>
      this.closeFatal(conn, this.requests.errorFrame(code, message, id !== undefined ? { id } : {}))
    if (!isBinary) return e('MALFORMED', 'frames are binary MessagePack, not text; send a hello first')
    let frame: Record<string, unknown>
    try {
      frame = this.decode(bytes)
    } catch (err) {
      return e('MALFORMED', `${(err as Error).message}; send a hello first`)
    }
    this.metrics.frame(String(frame.t))
    if (frame.t !== 'hello')
      return e(
        'UNAUTHENTICATED',
        'send a hello frame with a token first',
        Number.isSafeInteger(frame.id) ? (frame.id as number) : undefined,
      )
    this.startHello(conn, frame)
  }

  /** A hello frame: another protocol version ends the connection; else its token is checked (conn.authenticating). */
  private startHello(conn: WsConn, frame: Record<string, unknown>): void {
    if (frame.v !== undefined && frame.v !== PROTOCOL_VERSION) {
      return this.closeFatal(
        conn,
        this.requests.errorFrame(
          'UNSUPPORTED',
          `protocol version ${String(frame.v).slice(0, 20)} is not supported (${PROTOCOL_VERSION} is)`,
        ),
      )
    }
    conn.authenticating = this.hello(conn, typeof frame.token === 'string' ? frame.token : null).finally(
      () => (conn.authenticating = null),
    )
  }

  private async onFrame(conn: WsConn, bytes: Uint8Array, isBinary: boolean): Promise<void> {
    if (!conn.session) {
      // frames pipelined behind a hello wait for it, a few at most
      if (++conn.preAuthQueued > PRE_AUTH_QUEUE)
        return this.closeFatal(
          conn,
          this.requests.errorFrame('UNAUTHENTICATED', 'too many frames before the hello was answered'),
        )
      await conn.authenticating
      if (!conn.session || conn.closing) return
    }
    if (!isBinary)
      return this.send(conn, this.requests.errorFrame('MALFORMED', 'frames are binary MessagePack, not text'))
    const max = this.o.limits.maxFrameBytes
    if (bytes.length > max) {
      return this.send(
        conn,
        this.requests.errorFrame('FRAME_TOO_LARGE', `the frame is ${bytes.length} bytes; the limit is ${max}`, {
          id: peekFrameId(bytes),
        }),
      )
    }
    let frame: Record<string, unknown>
    try {
      frame = this.decode(bytes)
    } catch (err) {
      return this.send(
        conn,
        this.requests.errorFrame('MALFORMED', (err as BadFrame).message, { id: peekFrameId(bytes) }),
      )
    }
    this.metrics.frame(String(frame.t))
    if (frame.t === 'hello') {
      if (conn.authenticating) await conn.authenticating
      return this.startHello(conn, frame)
    }
    if (conn.authenticating) await conn.authenticating
    const session = conn.session
    if (!session || conn.closing) return
    const id = Number.isSafeInteger(frame.id) ? (frame.id as number) : undefined
    if (id === undefined)
      return this.send(
        conn,
        this.requests.errorFrame('MALFORMED', `a ${String(frame.t).slice(0, 40)} frame needs a numeric id`),
      )
    // answered in a continuation, not after an await here: a suspended onFrame would keep `bytes`, the whole frame,
    // alive until Kafka acknowledged (thousands of frames at a time under load), though its records were copied
    if (frame.t === 'produce') return this.answer(conn, this.requests.produce(session, frame))
    if (frame.t === 'metadata') return this.answer(conn, this.requests.metadata(session, frame))
    this.send(
      conn,
      this.requests.errorFrame('UNSUPPORTED', `unknown frame type ${JSON.stringify(frame.t).slice(0, 40)}`, { id }),
    )
  }

  private answer(conn: WsConn, out: Promise<ServerFrame>): Promise<void> {
    return out.then((frame) => this.send(conn, frame))
  }

  // ---- output and backpressure ----

  private send(conn: WsConn, frame: ServerFrame): void {
    const ws = conn.ws
    if (ws.readyState !== ws.OPEN) return
    const bytes = encodeFrame(frame)
    const n = bytes.length
    conn.queued += n
    if (!conn.corked) {
      // One Kafka response completes many frames at once: the answers a client gets in one tick go out in one write
      // instead of a system call each (in the 1,000-client load bench, ~9 % of answers shared a write this way).
      conn.corked = true
      conn.socket.cork()
      if (this.corked.push(conn) === 1) process.nextTick(this.uncorkAll)
    }
    ws.send(bytes, () => {
      conn.queued -= n
      if (conn.outputPaused && conn.queued <= this.o.maxBufferedBytes / 2) {
        conn.outputPaused = false
        conn.queuedAtTick = Infinity
        this.applyPause(conn)
      }
    })
    if (!conn.outputPaused && conn.queued > this.o.maxBufferedBytes) {
      // the client does not read its answers: stop reading its requests until it does
      conn.outputPaused = true
      conn.queuedAtTick = Infinity
      this.applyPause(conn)
    }
  }

  private readonly uncorkAll = (): void => {
    const conns = this.corked
    this.corked = []
    for (const c of conns) {
      c.corked = false
      c.socket.uncork()
    }
  }

  private applyPause(conn: WsConn): void {
    const pause = this.backpressure.paused || conn.outputPaused || this.draining
    if (pause === conn.readPaused) return
    conn.readPaused = pause
    if (pause) conn.ws.pause()
    else conn.ws.resume()
  }

  private tick(): void {
    for (const c of this.conns) {
      if (!c.session || c.closing) continue
      if (c.outputPaused) {
        // stuck for a whole period: a client that does not read is not kept
        if (c.queued >= c.queuedAtTick) {
          this.metrics.refuse('SLOW_READER')
          c.ws.terminate()
        } else c.queuedAtTick = c.queued
        continue
      }
      if (this.backpressure.paused || this.draining) {
        c.pingNonce = null // its pong sits unread while we pause: no verdict this period
        continue
      }
      if (c.pingNonce) {
        this.metrics.refuse('HEARTBEAT_TIMEOUT')
        c.ws.terminate()
        continue
      }
      c.pingNonce = randomBytes(8)
      c.ws.ping(c.pingNonce)
    }
  }

  /**
   * The drain's last look: from here no frame is taken at all, not even one `ws` still emits from what it had buffered
   * when reading paused (a frame taken now would be written to Kafka by the producer's close, and its connection
   * closed before its ack: in Kafka but never acknowledged). The client resends what got no ack.
   */
  seal(): void {
    this.sealed = true
  }

  /** Stop reading frames (the drain): what was read finishes; nothing new is accepted. */
  drain(): void {
    this.draining = true
    for (const c of this.conns) this.applyPause(c)
  }

  close(): void {
    clearInterval(this.heartbeat)
    for (const c of this.conns) c.ws.close(CLOSE_SHUTDOWN, 'gateway shutting down')
  }

  terminate(): void {
    for (const c of this.conns) c.ws.terminate()
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  if (socket.destroyed) return
  const body = text.replace(/[\r\n]/g, ' ')
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
  setTimeout(() => socket.destroy(), 1000).unref()
}

/** The size above which ws closes a connection (1009) instead of handing the message over. */
export function hardFrameCap(maxFrameBytes: number): number {
  return maxFrameBytes + Math.max(64 * 1024, Math.floor(maxFrameBytes / 4))
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[])
  return new Uint8Array(data as ArrayBuffer)
}

/** ws keeps one payload limit per server; an unauthenticated socket gets a small one of its own (ws 8 Receiver field). */
function setMaxPayload(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: number } })._receiver
  if (receiver && typeof receiver._maxPayload === 'number') receiver._maxPayload = bytes
}
