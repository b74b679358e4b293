// The part of the Workers runtime module `cloudflare:sockets` that isokafka uses, declared here so the repository
// type-checks without @cloudflare/workers-types. Only adapters/workers-socket imports this module.
declare module 'cloudflare:sockets' {
  export interface SocketAddress {
    hostname: string
    port: number
  }

  export interface SocketOptions {
    /** 'off' (default): plain TCP; 'on': TLS from the first byte; 'starttls': plain until `startTls()`. */
    secureTransport?: 'off' | 'on' | 'starttls'
    /** false (default): the writable side closes when the readable side reaches EOF. */
    allowHalfOpen?: boolean
  }

  export interface SocketInfo {
    remoteAddress?: string | null
    localAddress?: string | null
  }

  export interface TlsOptions {
    /** The name the server certificate must match (default: the hostname passed to `connect()`). */
    expectedServerHostname?: string
  }

  export interface Socket {
    readonly readable: ReadableStream<Uint8Array>
    readonly writable: WritableStream<Uint8Array>
    /** Resolves once the connection is established; rejects if it could not be. */
    readonly opened: Promise<SocketInfo>
    /** Resolves when the socket is closed; rejects if it failed. */
    readonly closed: Promise<void>
    readonly upgraded: boolean
    readonly secureTransport: 'off' | 'on' | 'starttls'
    close(): Promise<void>
    /** Only on a socket opened with secureTransport 'starttls'; the original socket is unusable afterwards. */
    startTls(options?: TlsOptions): Socket
  }

  export function connect(address: SocketAddress | string, options?: SocketOptions): Socket
}
