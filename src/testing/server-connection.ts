import { ApiKey } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { decodeRequestBody, encodeResponseFrame, FrameDecoder, readRequestHeader } from '../protocol/framing.js'
import { ApiVersions } from '../protocol/messages/api-versions.js'
import type { FakeCluster, FakeListener } from './cluster.js'
import { corruptFrame } from './faults.js'
import { HANDLERS, NO_RESPONSE, serverApi, type HandlerContext } from './handlers/index.js'
import { newSaslSession, type SaslSession } from './handlers/sasl.js'

/** Where a broker connection's bytes go: the in-memory pipe or a real socket. */
export interface ConnectionIO {
  write(bytes: Uint8Array): void
  /** Close the connection (bytes written before are still delivered). */
  close(): void
}

interface QueuedFrame {
  frame: Uint8Array
  /** "Work in progress" token (null while the connection waits on the clock). */
  token: (() => void) | null
  pipelined: number
}

const PRE_AUTH_APIS = new Set<number>([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate])

/**
 * The broker side of one client connection. Requests are handled one at a time, in arrival order, and answered in
 * that order (a Kafka broker stops reading a connection while it handles a request from it). Anything the broker
 * cannot parse closes the connection, as a real broker does.
 */
export class FakeServerConnection {
  private readonly decoder = new FrameDecoder(100 * 1024 * 1024)
  /** Frames received and not handled yet; each holds a "work in progress" token unless the connection waits on the clock. */
  private readonly queue: QueuedFrame[] = []
  /** Requests received and not answered (or given up) yet. */
  private unanswered = 0
  private running = false
  private closed = false
  /** Set by a 'no-response' fault: the broker reads nothing more from this connection. */
  private stalled = false
  /** A response is held on the cluster clock: nothing on this connection counts as work until it is sent. */
  private waitingOnClock = false
  readonly sasl: SaslSession = newSaslSession()

  constructor(
    readonly cluster: FakeCluster,
    readonly broker: number,
    readonly listener: FakeListener,
    private readonly io: ConnectionIO,
  ) {}

  get isClosed(): boolean {
    return this.closed
  }

  /** Bytes from the client. */
  receive(chunk: Uint8Array): void {
    if (this.closed || this.stalled) return
    let frames: Uint8Array[]
    try {
      frames = this.decoder.push(chunk)
    } catch {
      this.close()
      return
    }
    for (const frame of frames) {
      this.queue.push({
        frame,
        token: this.waitingOnClock ? null : this.cluster.beginWork(),
        pipelined: this.unanswered++,
      })
    }
    if (!this.running) void this.run()
  }

  private async run(): Promise<void> {
    this.running = true
    try {
      while (this.queue.length > 0 && !this.closed && !this.stalled) {
        const item = this.queue.shift()!
        item.token ??= this.cluster.beginWork()
        try {
          await this.handleFrame(item)
        } catch {
          this.close()
        } finally {
          item.token?.()
          this.unanswered--
        }
      }
    } finally {
      this.running = false
      if (this.closed || this.stalled) this.releaseQueued()
    }
  }

  private releaseQueued(): void {
    for (const q of this.queue.splice(0)) q.token?.()
  }

  /** The client went away. */
  peerClosed(): void {
    if (this.closed) return
    this.closed = true
    if (!this.running) this.releaseQueued()
    this.cluster.connectionClosed(this)
  }

  /** Close from the broker side. */
  close(): void {
    if (this.closed) return
    this.closed = true
    if (!this.running) this.releaseQueued()
    this.cluster.connectionClosed(this)
    this.io.close()
  }

  private async handleFrame(item: QueuedFrame): Promise<void> {
    const { header, api, body } = readRequestHeader(item.frame, serverApi)
    const handler = HANDLERS.get(header.apiKey)
    const range = this.cluster.advertisedRange(header.apiKey)
    const info = this.cluster.recordRequest(this.broker, header, item.pipelined)
    if (!handler || !api || !range) {
      this.close()
      return
    }
    const version = header.apiVersion
    if (version < range.minVersion || version > range.maxVersion) {
      if (header.apiKey === ApiKey.ApiVersions) {
        // answered in v0 layout so any client can read which versions to use
        const res = {
          errorCode: ErrorCode.UNSUPPORTED_VERSION,
          apiKeys: this.cluster.advertisedVersions(),
          throttleTimeMs: 0,
        }
        this.io.write(encodeResponseFrame(ApiVersions, 0, header.correlationId, res))
      } else this.close()
      return
    }
    if (this.cluster.sasl && !this.sasl.authenticated && !PRE_AUTH_APIS.has(header.apiKey)) {
      this.close()
      return
    }
    const request = decodeRequestBody(api, version, body)
    if (handler.describe) Object.assign(info, handler.describe(request))
    const faults = this.cluster.faults.match(
      header.apiKey,
      this.broker,
      handler.scope ? handler.scope(request) : { topics: null },
    )
    if (faults.noResponse) {
      this.stalled = true
      return
    }
    if (faults.disconnect === 'before-append') {
      this.close()
      return
    }
    const ctx: HandlerContext = {
      cluster: this.cluster,
      connection: this,
      broker: this.broker,
      version,
      header,
      faults,
      closeConnection: false,
    }
    const response = await handler.handle(ctx, request)
    if (this.closed) return
    if (faults.disconnect === 'after-append') {
      this.close()
      return
    }
    if (response === NO_RESPONSE) {
      if (ctx.closeConnection) this.close()
      return
    }
    let out = encodeResponseFrame(api, version, header.correlationId, response, 512)
    let partial = false
    if (faults.corrupt === 'partial-frame') {
      out = out.slice(0, Math.max(5, Math.floor(out.length / 2)))
      partial = true
    } else if (faults.corrupt) {
      out = corruptFrame(out, faults.corrupt, () => this.cluster.clock.random())
    }
    if (faults.delayMs > 0) {
      // waiting on the (possibly fake) clock is not "work in progress", for this request nor the ones queued behind
      // it: a test advances time to get past it
      this.waitingOnClock = true
      item.token?.()
      item.token = null
      for (const q of this.queue) {
        q.token?.()
        q.token = null
      }
      await new Promise<void>((resolve) => this.cluster.clock.setTimeout(resolve, faults.delayMs))
      this.waitingOnClock = false
      if (this.closed) return
    }
    this.io.write(out)
    if (partial || ctx.closeConnection) this.close()
  }
}
