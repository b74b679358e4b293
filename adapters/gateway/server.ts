/**
 * The listener: builds the gateway's parts and wires them to one HTTP server (upgrades go to the WebSocket front,
 * requests to the HTTP front), and the drain on close. The parts:
 *   ws-front.ts     WebSocket upgrades, hello window, frames, per-connection output backpressure, heartbeat
 *   http-front.ts   probes, /metrics, CORS, POST /v1/produce and /v1/metadata
 *   rest-proxy.ts   Confluent REST Proxy v3/v2 produce endpoints
 *   requests.ts     produce/metadata requests of a session: limits, allow-list, batch ledger → Kafka side
 *   batch-ledger.ts batch ids → results (dedup of resends)
 *   limits.ts       token buckets, budgets per address, record cost, global backpressure
 *   validate.ts     frame and REST record validation
 *   producing.ts    the Kafka producer, topic metadata from it, safe error messages
 *   metrics.ts, log.ts, options.ts, token.ts
 */
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { Decoder as MsgpackDecoder } from '@msgpack/msgpack'
import { InvalidArgumentError } from '../../src/errors.js'
import type { SocketTransport } from '../../src/transport.js'
import { msgpackShapeOk } from '../gateway-wire/index.js'
import { tcp } from '../node-tcp/index.js'
import { BatchLedger } from './batch-ledger.js'
import { HttpFront } from './http-front.js'
import { Backpressure } from './limits.js'
import { createGatewayLog, type GatewayLog } from './log.js'
import { MetricsRegistry, type GatewayMetrics } from './metrics.js'
import { resolveGatewayOptions, type GatewayOptions, type ResolvedGatewayOptions } from './options.js'
import { KafkaSide } from './producing.js'
import { Requests, type Authenticate } from './requests.js'
import { RestProxy } from './rest-proxy.js'
import { VerifiedTokens, verifyGatewayToken } from './token.js'
import { BadFrame } from './validate.js'
import { parseProduceFast } from './fast-produce.js'
import { FAST_FRAME } from './requests.js'
import { WsFront } from './ws-front.js'

export interface Gateway {
  readonly server: http.Server
  /** Start listening; resolves with the bound address. Port 0 picks a free port. */
  listen(port: number, host?: string): Promise<{ host: string; port: number; url: string }>
  /** For embedding in an existing HTTP server. */
  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): void
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void
  metrics(): GatewayMetrics
  /** Prometheus text (what GET /metrics answers). */
  prometheusMetrics(): string
  /**
   * The drain: stop accepting (new upgrades and requests get 503), stop reading frames, let what was read finish and
   * be acknowledged, flush the producer, then close every connection (1001). At most `timeoutMs` (default 10000).
   */
  close(options?: { timeoutMs?: number }): Promise<void>
}

export function createGateway(options: GatewayOptions): Gateway {
  return new GatewayServer(options)
}

class GatewayServer implements Gateway {
  readonly server: http.Server
  private readonly o: ResolvedGatewayOptions
  private readonly log: GatewayLog
  private readonly stats = new MetricsRegistry()
  private readonly kafka: KafkaSide
  private readonly requests: Requests
  private readonly ws: WsFront
  private readonly http: HttpFront
  private closing: Promise<void> | null = null

  constructor(options: GatewayOptions) {
    this.o = resolveGatewayOptions(options)
    this.log = createGatewayLog(options)
    let transport: SocketTransport
    if (options.transport) transport = options.transport
    else if (options.bootstrap)
      transport = tcp({
        ...(options.kafka ?? {}),
        bootstrap: options.bootstrap,
        clientId: options.kafka?.clientId ?? 'isokafka-gateway',
      })
    else throw new InvalidArgumentError('INVALID_CONFIG', 'createGateway: bootstrap (or transport) is required')
    if (this.o.allowAutoTopicCreation)
      this.log.warn('allowAutoTopicCreation is on: token holders can create topics their allow-list matches')
    this.kafka = new KafkaSide(transport, options, this.o.allowAutoTopicCreation, this.log)
    const backpressure = new Backpressure(this.o.maxPendingBytes)
    const ledger = new BatchLedger(this.o.dedupEntries, this.o.maxRunningBatches)
    this.requests = new Requests(
      this.kafka,
      ledger,
      backpressure,
      this.stats,
      this.o.limits,
      this.o.allowAutoTopicCreation,
      this.log,
    )
    const tokens = new VerifiedTokens((token) => verifyGatewayToken(token, this.o.secrets, { leewaySec: 0 }))
    const authenticate: Authenticate = async (token) => {
      const check = await tokens.check(token)
      if (check.ok) return { claims: check.claims }
      if (check.reason === 'expired') return this.requests.errorFrame('TOKEN_EXPIRED', 'the token has expired')
      const why =
        check.reason === 'missing'
          ? 'no token was presented'
          : check.reason === 'bad-signature'
            ? 'the token signature is not valid'
            : `the token is ${check.reason}`
      return this.requests.errorFrame('UNAUTHENTICATED', why)
    }
    const decode = frameDecoder(this.o.limits)
    const originAllowed = (origin: string | undefined) =>
      origin === undefined || this.o.origins === '*' || this.o.origins.has(origin)
    const rest = new RestProxy(this.o, this.kafka, this.stats, backpressure, authenticate)
    this.http = new HttpFront(
      this.o,
      this.requests,
      this.kafka,
      this.stats,
      this.log,
      backpressure,
      authenticate,
      decode,
      originAllowed,
      rest,
    )
    rest.deps = {
      readBody: (req, res, max) => this.http.readBody(req, res, max),
      session: (c, t) => this.http.session(c, t),
      chargeLookups: (s, topics) => this.requests.chargeLookups(s, topics),
    }
    this.ws = new WsFront(
      this.o,
      this.requests,
      this.stats,
      this.log,
      backpressure,
      authenticate,
      decode,
      originAllowed,
    )
    this.stats.setGauges({
      authenticated: () => this.ws.authenticated,
      unauthenticated: () => this.ws.unauthenticated,
      pausedSockets: () => this.ws.pausedSockets,
      pendingBytes: () => backpressure.pendingBytes,
      paused: () => backpressure.paused,
      pauses: () => backpressure.pauses,
      runningBatches: () => ledger.runningCount,
    })
    const t = this.o.httpTimeoutMs
    this.server = http.createServer(
      {
        requestTimeout: t,
        headersTimeout: Math.min(t, 10_000),
        // how often Node checks those deadlines (default 30 s would let a slow client linger far past them)
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(t / 4))),
      },
      (req, res) => this.handleRequest(req, res),
    )
    this.server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head))
    this.server.on('clientError', (_err, socket) => socket.destroy())
  }

  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.http.handleRequest(req, res)
  }

  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.ws.handleUpgrade(req, socket, head)
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
    const url = `http://${h}:${addr.port}`
    this.log.info('listening', { url })
    return { host: addr.address, port: addr.port, url }
  }

  metrics(): GatewayMetrics {
    return this.stats.snapshot()
  }

  prometheusMetrics(): string {
    return this.stats.prometheus()
  }

  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.drain(options.timeoutMs ?? 10_000)
    return this.closing
  }

  private async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    this.log.info('draining', { timeoutMs })
    // the listener stays open while draining, so probes see /readyz 503 and new clients a 503 (not a refused
    // connection), which tells a load balancer to send them elsewhere
    this.http.draining = true
    this.ws.drain()
    this.server.closeIdleConnections?.()
    // frames already read finish (they may still be waiting for topic metadata before their records go out)
    while (this.requests.active > 0 && Date.now() < deadline) await sleep(20)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.kafka.flush().catch(() => {}),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
    ])
    clearTimeout(timer)
    while (this.requests.active > 0 && Date.now() < deadline) await sleep(20)
    this.ws.seal() // in the same turn as the last look at active requests: nothing starts after it
    await new Promise((resolve) => setImmediate(resolve)) // the acks go out before the close frames
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.ws.close()
    await this.kafka.close(1000)
    this.ws.terminate()
    this.server.closeAllConnections?.()
    this.stats.close()
    await serverClosed
    this.log.info('closed')
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Frames as the server decodes them: a valid produce frame is read in place (fast-produce.ts: `{ t, id, fast }`);
 * every other frame, and a produce frame the fast path does not take, gets the shape check first, then
 * @msgpack/msgpack with limits on top.
 */
function frameDecoder(limits: {
  maxFrameBytes: number
  maxInFlightBatches: number
  maxRecordsPerFrame: number
}): (bytes: Uint8Array) => Record<string, unknown> {
  const maxFrameBytes = limits.maxFrameBytes
  // no ext types, bounded strings and maps
  const decoder = new MsgpackDecoder({
    maxStrLength: 1 << 20,
    maxBinLength: maxFrameBytes,
    maxArrayLength: maxFrameBytes,
    maxMapLength: 64,
    maxExtLength: 0,
  })
  return (bytes) => {
    const fast = parseProduceFast(bytes, limits)
    if (fast !== null) return { t: 'produce', id: fast.id, [FAST_FRAME]: fast }
    if (!msgpackShapeOk(bytes))
      throw new BadFrame(
        'the frame is not valid MessagePack (truncated, nested too deeply, or lengths that do not fit the frame)',
      )
    let v: unknown
    try {
      v = decoder.decode(bytes)
    } catch (err) {
      throw new BadFrame(`the frame is not valid MessagePack: ${String((err as Error).message).slice(0, 200)}`)
    }
    if (!v || typeof v !== 'object' || Array.isArray(v) || typeof (v as { t?: unknown }).t !== 'string') {
      throw new BadFrame('a frame is a MessagePack map with a string "t"')
    }
    return v as Record<string, unknown>
  }
}
