/// <reference path="./cloudflare-sockets.d.ts" />
import { connect, type Socket } from 'cloudflare:sockets'
import { ConnectionError, InvalidArgumentError } from '../../src/errors.js'
import { kafkaBackend } from '../../src/producer/kafka-sender.js'
import { parseBootstrap } from '../../src/client/cluster.js'
import type {
  ByteStream,
  ByteStreamHandlers,
  SaslOptions,
  SocketConnectOptions,
  SocketTransport,
} from '../../src/transport.js'

export interface WorkersSocketOptions {
  /** `host:port` seeds, e.g. ['broker-1.example.com:9093'], or one comma-separated string. */
  bootstrap: string | string[]
  /**
   * true: TLS from the first byte (`secureTransport: 'on'`), the certificate checked against the broker's host.
   * 'starttls': open plain TCP, then upgrade with `socket.startTls()` before the first Kafka byte (Kafka has no
   * STARTTLS exchange, so this is the same TLS on the wire); use it with `tlsServerName`.
   */
  tls?: boolean | 'starttls'
  /** With tls 'starttls': the name the broker certificate must carry, when it differs from the advertised host. */
  tlsServerName?: string
  sasl?: SaslOptions
  clientId?: string
  /** Default: the producer's connectTimeoutMs (10000). Covers the TCP connect and, with tls true, the TLS handshake. */
  connectTimeoutMs?: number
}

/** workerd's message when an I/O object is used outside the request that created it. */
const CROSS_REQUEST = /on behalf of a different request/i

/**
 * Kafka over `connect()` from `cloudflare:sockets` (Cloudflare Workers, workerd, wrangler dev). One socket per broker.
 *
 * Workers binds a socket to the request that opened it (a Durable Object's requests share theirs). A producer kept in
 * module scope of a stateless Worker therefore finds, in a later request, sockets it may no longer use: the first
 * write fails, this transport reports a retriable ConnectionError, and the core reconnects within the current
 * request. That covers one request after another only; concurrent requests on such a producer wait on each other's
 * I/O, which Workers cancels as hung. Keep the producer in a Durable Object, or make one per request: see
 * docs/runtime-workers.md.
 */
export function workersSocket(options: WorkersSocketOptions): SocketTransport {
  const bootstrap = parseBootstrap(options?.bootstrap, 'workersSocket()')
  if (options.tlsServerName !== undefined && options.tls !== 'starttls') {
    throw new InvalidArgumentError(
      'INVALID_CONFIG',
      "workersSocket(): tlsServerName needs tls: 'starttls' (secureTransport 'on' checks the connect hostname)",
    )
  }
  const tls = options.tls ?? false
  return {
    kind: 'socket',
    backend: kafkaBackend,
    bootstrap,
    clientId: options.clientId,
    sasl: options.sasl,
    connectTimeoutMs: options.connectTimeoutMs,
    connect: (connectOptions, handlers) =>
      openSocket(
        { ...connectOptions, connectTimeoutMs: options.connectTimeoutMs ?? connectOptions.connectTimeoutMs },
        handlers,
        tls,
        options.tlsServerName,
      ),
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}

/** Rejects after `ms` with a connect-timeout error; `cancel()` stops the timer. */
function deadline(ms: number, address: string): { promise: Promise<never>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConnectionError(`connecting to ${address} timed out after ${ms} ms`)), ms)
  })
  promise.catch(() => {})
  return { promise, cancel: () => clearTimeout(timer) }
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close().catch(() => {})
  } catch {
    /* already closed, or owned by another request */
  }
}

async function openSocket(
  o: SocketConnectOptions,
  handlers: ByteStreamHandlers,
  tls: boolean | 'starttls',
  tlsServerName: string | undefined,
): Promise<ByteStream> {
  const address = `${o.host}:${o.port}`
  const hostname = o.host.startsWith('[') && o.host.endsWith(']') ? o.host.slice(1, -1) : o.host
  let socket: Socket
  try {
    socket = connect(
      { hostname, port: o.port },
      { secureTransport: tls === 'starttls' ? 'starttls' : tls ? 'on' : 'off', allowHalfOpen: false },
    )
  } catch (cause) {
    // e.g. a disallowed address or port 25: thrown synchronously by connect()
    throw new ConnectionError(`could not connect to ${address}: ${describe(cause)}`, { cause })
  }
  socket.closed.catch(() => {})
  const timeout = deadline(o.connectTimeoutMs, address)
  try {
    // With secureTransport 'on', `opened` settles after the TLS handshake.
    await Promise.race([socket.opened, timeout.promise])
    if (tls === 'starttls') {
      socket = socket.startTls(tlsServerName ? { expectedServerHostname: tlsServerName } : undefined)
      socket.closed.catch(() => {})
      await Promise.race([socket.opened, timeout.promise])
    }
  } catch (cause) {
    closeQuietly(socket)
    if (cause instanceof ConnectionError) throw cause
    // workerd reports refused connections, unresolvable names and failed TLS handshakes (untrusted certificate,
    // wrong name) alike as "proxy request failed, cannot connect to the specified address"; the reason is only in
    // the runtime's log. So all are retriable here, unlike node:tls where a certificate error fails fast.
    const hint = tls
      ? ' (with TLS: is the broker certificate trusted by the Workers runtime and valid for this host?)'
      : ''
    throw new ConnectionError(`could not connect to ${address}: ${describe(cause)}${hint}`, { cause })
  } finally {
    timeout.cancel()
  }
  return new WorkersByteStream(socket, address, handlers, tls !== false)
}

class WorkersByteStream implements ByteStream {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>
  private closed = false
  private reported = false
  private received = false

  constructor(
    private readonly socket: Socket,
    private readonly address: string,
    private readonly handlers: ByteStreamHandlers,
    private readonly tls: boolean,
  ) {
    this.writer = socket.writable.getWriter()
    // The end of the stream is taken from the reader, not from `socket.closed`, which can settle while received
    // bytes are still queued in the readable side (the core must see every response before the close).
    void this.readLoop(socket.readable.getReader())
  }

  private async readLoop(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    let error: Error | undefined
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        if (value.byteLength === 0) continue
        this.received = true
        this.handlers.onData(value)
      }
      error = new ConnectionError(`connection to ${this.address} was closed by the broker`)
    } catch (cause) {
      error = this.streamError('read from', cause)
    }
    if (this.closed) return this.report(undefined)
    this.closed = true
    closeQuietly(this.socket)
    this.report(error)
  }

  private streamError(what: string, cause: unknown): ConnectionError {
    const message = describe(cause)
    if (CROSS_REQUEST.test(message)) {
      return new ConnectionError(
        `the connection to ${this.address} belongs to another request (Workers binds sockets to the request that opened them); reconnecting`,
        { cause },
      )
    }
    // with 'starttls' a failed handshake only shows on the first read or write, as an "internal error"
    const hint =
      this.tls && !this.received
        ? ' (TLS handshake failed? an untrusted certificate or a name mismatch is logged by the runtime)'
        : ''
    return new ConnectionError(`${what} ${this.address} failed: ${message}${hint}`, { cause })
  }

  /** Tell the core once that the stream ended; no error for a local close. */
  private report(error?: Error): void {
    if (this.reported) return
    this.reported = true
    this.handlers.onClose(error)
  }

  /** Chunks queue on the stream writer in order; the last write's promise stands for all (a failure fails every one). */
  writev(chunks: readonly Uint8Array[]): Promise<void> {
    let last: Promise<void> = Promise.resolve()
    for (const chunk of chunks) {
      last.catch(() => {}) // reported once, through the last
      last = this.write(chunk)
    }
    return last
  }

  write(data: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new ConnectionError(`connection to ${this.address} is closed`))
    let written: Promise<void>
    try {
      written = this.writer.write(data)
    } catch (cause) {
      written = Promise.reject(cause)
    }
    // The promise resolves when the runtime took the bytes: the core awaits it where it wants backpressure.
    return written.catch((cause) => {
      const err = this.closed
        ? new ConnectionError(`connection to ${this.address} is closed`, { cause })
        : this.streamError('write to', cause)
      if (!this.closed) {
        // A socket of another request cannot be read here either (its reader loop runs in that request), so report
        // the end now: the core then reconnects within the current request.
        this.closed = true
        closeQuietly(this.socket)
        this.report(err)
      }
      throw err
    })
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    closeQuietly(this.socket)
    this.report(undefined)
  }
}
