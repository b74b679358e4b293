// Span attributes of a Kafka send, after the OpenTelemetry messaging semantic conventions (messaging spans + the
// Kafka page). Those conventions are still in development: these are the names of the generation since v1.27
// (`messaging.operation.type`, `messaging.destination.partition.id`, `messaging.kafka.offset`), the ones the OTel JS
// semantic-conventions package exports. v1.45 renames the Kafka-specific ones (`kafka.offset`,
// `kafka.message.key`) and `messaging.system` (`messaging.system.name`); docs/otel.md says which.

export const ATTR = {
  system: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destination: 'messaging.destination.name',
  partition: 'messaging.destination.partition.id',
  offset: 'messaging.kafka.offset',
  key: 'messaging.kafka.message.key',
  tombstone: 'messaging.kafka.message.tombstone',
  bodySize: 'messaging.message.body.size',
  clientId: 'messaging.client.id',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
} as const

/** Fixed per instrumented producer: client id and the broker address, as far as the caller knows them. */
export interface StaticAttributes {
  clientId?: string
  serverAddress?: string
  serverPort?: number
}

/** UTF-8 byte length of a string without encoding it (lone surrogates count 3, as TextEncoder writes U+FFFD). */
export function utf8Length(s: string): number {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) n += 1
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2 // a pair: 2 UTF-16 units, 4 bytes
      i++
    } else n += 2
  }
  return n
}

/** `error.type`: an IsoKafkaError's `code` (a Kafka error name for broker errors), else the error's class name. */
export function errorType(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && code !== '') return code
    const name = (err as { name?: unknown }).name
    if (typeof name === 'string' && name !== '') return name
  }
  return '_OTHER'
}

/** Parses 'host:port', '[v6]:port' or a bare host into server.address / server.port. */
export function parseServer(server: string | readonly string[] | undefined): {
  serverAddress?: string
  serverPort?: number
} {
  const first = typeof server === 'string' ? server.split(',')[0] : server?.[0]
  if (!first) return {}
  const s = first.trim()
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s)
  if (!m) return { serverAddress: s }
  return m[2] === undefined ? { serverAddress: m[1] } : { serverAddress: m[1], serverPort: Number(m[2]) }
}
