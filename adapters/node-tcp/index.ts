import * as net from 'node:net'
import * as tls from 'node:tls'
import { AuthenticationError, ConnectionError } from '../../src/errors.js'
import { kafkaBackend } from '../../src/producer/kafka-sender.js'
import { parseBootstrap } from '../../src/client/cluster.js'

const TLS_VERIFY_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|HOSTNAME/
import type {
  ByteStream,
  ByteStreamHandlers,
  SaslOptions,
  SocketConnectOptions,
  SocketTransport,
} from '../../src/transport.js'

export interface TcpOptions {
  /** `host:port` seeds, e.g. ['127.0.0.1:9092']. */
  bootstrap: string | string[]
  /** true, or Node TLS options (ca, cert, key, servername, rejectUnauthorized...). */
  tls?: boolean | tls.ConnectionOptions
  sasl?: SaslOptions
  clientId?: string
  /** Default: the producer's connectTimeoutMs (10000). Set here, it wins over the producer's. */
  connectTimeoutMs?: number
}

/**
 * Kafka over TCP (or TLS) with `node:net` / `node:tls`. One socket per broker; the core pipelines requests on it.
 */
export function tcp(options: TcpOptions): SocketTransport {
  const bootstrap = parseBootstrap(options?.bootstrap, 'tcp()')
  return {
    kind: 'socket',
    backend: kafkaBackend,
    bootstrap,
    clientId: options.clientId,
    sasl: options.sasl,
    connectTimeoutMs: options.connectTimeoutMs,
    connect: (connectOptions, handlers) =>
      connectNode(
        { ...connectOptions, connectTimeoutMs: options.connectTimeoutMs ?? connectOptions.connectTimeoutMs },
        handlers,
        options.tls,
      ),
  }
}

function connectNode(
  o: SocketConnectOptions,
  handlers: ByteStreamHandlers,
  tlsOption: TcpOptions['tls'],
): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    let settled = false
    let closed = false
    const address = `${o.host}:${o.port}`
    const socket: net.Socket = tlsOption
      ? tls.connect({
          host: o.host,
          port: o.port,
          servername: net.isIP(o.host) ? undefined : o.host,
          ...(typeof tlsOption === 'object' ? tlsOption : {}),
        })
      : net.connect({ host: o.host, port: o.port })
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 30000)
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      socket.destroy()
      reject(new ConnectionError(`connecting to ${address} timed out after ${o.connectTimeoutMs} ms`))
    }, o.connectTimeoutMs)

    const onConnected = () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const isClosed = () => Promise.reject(new ConnectionError(`connection to ${address} is closed`))
      // resolve at once unless the kernel buffer is full: the core gets backpressure without a promise per write
      const drained = (room: boolean) => (room ? undefined : new Promise<void>((res) => socket.once('drain', res)))
      resolve({
        write(data) {
          return closed ? isClosed() : drained(socket.write(data))
        },
        writev(chunks) {
          if (closed) return isClosed()
          // corked writes leave as one writev system call
          socket.cork()
          let room = true
          for (const chunk of chunks) room = socket.write(chunk)
          socket.uncork()
          return drained(room)
        },
        close() {
          closed = true
          socket.destroy()
        },
      })
    }
    socket.once(tlsOption ? 'secureConnect' : 'connect', onConnected)
    socket.on('data', (chunk: Buffer) =>
      handlers.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)),
    )
    socket.on('error', (cause: Error & { code?: string }) => {
      if (!settled) {
        settled = true
        clearTimeout(timer)
        // A certificate the client does not trust will not become trusted by retrying: fail fast, as Java's
        // SslAuthenticationException does.
        if (tlsOption && cause.code && TLS_VERIFY_ERRORS.test(cause.code)) {
          reject(new AuthenticationError(`TLS handshake with ${address} failed: ${cause.message}`, { cause }))
        } else {
          reject(new ConnectionError(`could not connect to ${address}: ${cause.message}`, { cause }))
        }
      }
    })
    socket.on('close', (hadError) => {
      const wasLocal = closed
      closed = true
      if (settled)
        handlers.onClose(
          wasLocal
            ? undefined
            : new ConnectionError(`connection to ${address} ${hadError ? 'failed' : 'was closed by the broker'}`),
        )
    })
  })
}
