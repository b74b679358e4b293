import * as net from 'node:net'
import type { FakeCluster, FakeListener } from '../../src/testing/index.js'

export interface ServeOptions {
  /** Interface to listen on and to advertise in metadata. Default 127.0.0.1. */
  host?: string
  /** Port per broker node id; default: ephemeral ports. */
  ports?: Record<number, number>
}

export interface FakeClusterServer {
  /** host:port of every broker, for a client's bootstrap list (kcat -b, tcp({ bootstrap })). */
  readonly bootstrap: string[]
  /** The port each broker listens on. */
  readonly ports: ReadonlyMap<number, number>
  /** Stop listening and close every connection made through this server. */
  close(): Promise<void>
}

/**
 * Serves a fake cluster on real TCP ports (one per broker), so the Node TCP transport, kcat or any Kafka client can
 * talk to it. Metadata read through these ports advertises these addresses; the in-memory transport keeps its own.
 */
export async function serveFakeCluster(cluster: FakeCluster, options: ServeOptions = {}): Promise<FakeClusterServer> {
  const host = options.host ?? '127.0.0.1'
  const ports = new Map<number, number>()
  const listener: FakeListener = {
    name: `tcp ${host}`,
    address: (nodeId) => ({ host, port: ports.get(nodeId) ?? 0 }),
  }
  const sockets = new Set<net.Socket>()
  const servers: net.Server[] = []
  try {
    for (const id of cluster.brokerIds) {
      const server = net.createServer((socket) => {
        socket.setNoDelay(true)
        const conn = cluster.accept(id, listener, {
          write: (bytes) => {
            if (!socket.destroyed) socket.write(bytes)
          },
          // end() after the pending writes, like a broker closing its side
          close: () => socket.end(() => socket.destroy()),
        })
        if (!conn) {
          socket.destroy()
          return
        }
        sockets.add(socket)
        socket.on('data', (chunk: Buffer) =>
          conn.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)),
        )
        socket.on('error', () => {})
        socket.on('close', () => {
          sockets.delete(socket)
          conn.peerClosed()
        })
      })
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(options.ports?.[id] ?? 0, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      ports.set(id, (server.address() as net.AddressInfo).port)
    }
  } catch (err) {
    for (const s of servers) s.close()
    throw err
  }
  return {
    bootstrap: cluster.brokerIds.map((id) => `${host}:${ports.get(id)}`),
    ports,
    async close() {
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    },
  }
}
