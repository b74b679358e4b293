import { ConnectionError } from '../errors.js'
import { kafkaBackend } from '../producer/kafka-sender.js'
import type {
  ByteStream,
  ByteStreamHandlers,
  SaslOptions,
  SocketConnectOptions,
  SocketTransport,
} from '../transport.js'
import { IN_MEMORY_LISTENER, type FakeCluster } from './cluster.js'

export interface FakeTransportOptions {
  /** Default: every broker of the cluster (fake-<id>:9092). */
  bootstrap?: string[]
  clientId?: string
  sasl?: SaslOptions
  /**
   * Deliver bytes in pieces of at most this many bytes (both directions), as a real socket may. Default: whatever
   * was written since the last delivery, in one piece (writes coalesce, as on TCP).
   */
  chunkSize?: number
  /** 'microtask' (default) or 'macrotask' (setTimeout 0, real time) between a write and its delivery. */
  delivery?: 'microtask' | 'macrotask'
}

/**
 * One direction of an in-memory connection: bytes are copied on write and delivered later, in order; an end marker
 * follows the bytes written before it. `abort` drops everything (the reader is gone).
 */
class Pipe {
  private queue: Uint8Array[] = []
  private ending = false
  private done = false
  private scheduled = false

  constructor(
    private readonly cluster: FakeCluster,
    private readonly options: FakeTransportOptions,
    private readonly deliver: (chunk: Uint8Array) => void,
    private readonly onEnd: () => void,
  ) {}

  get open(): boolean {
    return !this.ending && !this.done
  }

  push(bytes: Uint8Array): void {
    if (!this.open) return
    this.queue.push(bytes.slice())
    this.kick()
  }

  end(): void {
    if (!this.open) return
    this.ending = true
    this.kick()
  }

  abort(): void {
    this.done = true
    this.queue = []
  }

  private kick(): void {
    if (this.scheduled || this.done) return
    this.scheduled = true
    const finished = this.cluster.beginWork()
    const run = () => {
      this.scheduled = false
      try {
        this.flush()
      } finally {
        finished()
      }
    }
    if (this.options.delivery === 'macrotask') setTimeout(run, 0)
    else queueMicrotask(run)
  }

  private flush(): void {
    if (this.done) return
    const parts = this.queue
    this.queue = []
    if (parts.length > 0) {
      let data = parts[0]!
      if (parts.length > 1) {
        data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
        let at = 0
        for (const p of parts) {
          data.set(p, at)
          at += p.length
        }
      }
      const size = this.options.chunkSize && this.options.chunkSize > 0 ? this.options.chunkSize : data.length
      for (let at = 0; at < data.length && !this.done; at += size) this.deliver(data.subarray(at, at + size))
    }
    if (this.ending && !this.done && this.queue.length === 0) {
      this.done = true
      this.onEnd()
    }
  }
}

/** The in-memory transport: connect() resolves a fake-<id>:9092 address to a broker of the cluster. */
export function inMemoryTransport(cluster: FakeCluster, options: FakeTransportOptions): SocketTransport {
  return {
    kind: 'socket',
    backend: kafkaBackend,
    bootstrap: options.bootstrap ?? cluster.bootstrap,
    clientId: options.clientId,
    sasl: options.sasl,
    connect: (o, handlers) => connect(cluster, options, o, handlers),
  }
}

async function connect(
  cluster: FakeCluster,
  options: FakeTransportOptions,
  o: SocketConnectOptions,
  handlers: ByteStreamHandlers,
): Promise<ByteStream> {
  await Promise.resolve()
  const address = `${o.host}:${o.port}`
  const broker = cluster.brokerIds.find((id) => {
    const a = IN_MEMORY_LISTENER.address(id)
    return a.host === o.host && a.port === o.port
  })
  if (broker === undefined) throw new ConnectionError(`could not connect to ${address}: no such fake broker`)
  let clientClosed = false
  const toClient = new Pipe(
    cluster,
    options,
    (chunk) => handlers.onData(chunk),
    () => {
      if (clientClosed) return
      clientClosed = true
      handlers.onClose(new ConnectionError(`connection to ${address} was closed by the broker`))
    },
  )
  const toServer = new Pipe(
    cluster,
    options,
    (chunk) => server!.receive(chunk),
    () => server!.peerClosed(),
  )
  const server = cluster.accept(broker, IN_MEMORY_LISTENER, {
    write: (bytes) => toClient.push(bytes),
    close: () => {
      toServer.abort()
      toClient.end()
    },
  })
  if (!server)
    throw new ConnectionError(`could not connect to ${address}: connection refused (broker ${broker} is down)`)
  return {
    write(data) {
      if (clientClosed) return Promise.reject(new ConnectionError(`connection to ${address} is closed`))
      toServer.push(data)
    },
    close() {
      if (clientClosed) return
      clientClosed = true
      toClient.abort()
      toServer.end()
      queueMicrotask(() => handlers.onClose())
    },
  }
}
