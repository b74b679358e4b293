import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import { createProducer, type Producer, type ProducerOptions } from '../../src/index.js'
import type { SaslOptions, SocketTransport } from '../../src/transport.js'
import { tcp } from '../node-tcp/index.js'
import { UsageError, str, type Parsed } from './args.js'

type Settable = Omit<ProducerOptions, 'transport' | 'keySerializer' | 'valueSerializer' | 'clock' | 'outbox'>

/** Where to connect and how, plus producer options: filled from flags, Java property names and the environment. */
export interface ClientSettings {
  bootstrap?: string
  tls: boolean
  tlsOptions: ConnectionOptions
  saslMechanism?: string
  saslUsername?: string
  saslPassword?: string
  saslToken?: string
  producer: Settable
}

export function emptySettings(): ClientSettings {
  return { tls: false, tlsOptions: {}, producer: {} }
}

/** The connection flags every producing command takes (node:util parseArgs options). */
export const CONNECTION_FLAGS = {
  bootstrap: { type: 'string', short: 'b' },
  tls: { type: 'boolean' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  insecure: { type: 'boolean' },
  'sasl-mechanism': { type: 'string' },
  'sasl-username': { type: 'string' },
  'sasl-password': { type: 'string' },
  'sasl-token': { type: 'string' },
  'client-id': { type: 'string' },
} as const

export const CONNECTION_HELP = `connection:
  -b, --bootstrap HOST:PORT[,...]   brokers to start from (default: $KAFKA_BOOTSTRAP)
  --tls                             TLS to the brokers (implied by --ca/--cert/--key)
  --ca FILE                         PEM CA bundle to trust (default: the system's)
  --cert FILE, --key FILE           PEM client certificate and key (mutual TLS)
  --insecure                        do not verify the brokers' certificates (testing only)
  --sasl-mechanism M                plain | scram-sha-256 | scram-sha-512 | oauthbearer
  --sasl-username U                 (default: $KAFKA_SASL_USERNAME)
  --sasl-password P                 (default: $KAFKA_SASL_PASSWORD; prefer the variable: ps shows flags)
  --sasl-token T                    OAUTHBEARER token (default: $KAFKA_SASL_TOKEN)
  --client-id ID                    client.id sent to the brokers`

function readPem(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as Error).message}`)
  }
}

/** Applies the connection flags (and their environment defaults) onto settings; flags win over earlier values. */
export function applyConnectionFlags(s: ClientSettings, values: Parsed['values'], env: CliEnv): void {
  s.bootstrap = str(values, 'bootstrap') ?? s.bootstrap ?? env.KAFKA_BOOTSTRAP
  const ca = str(values, 'ca')
  const cert = str(values, 'cert')
  const key = str(values, 'key')
  if (ca) s.tlsOptions.ca = readPem('--ca', ca)
  if (cert) s.tlsOptions.cert = readPem('--cert', cert)
  if (key) s.tlsOptions.key = readPem('--key', key)
  if (values.insecure === true) s.tlsOptions.rejectUnauthorized = false
  if (values.tls === true || ca || cert || key || values.insecure === true) s.tls = true
  s.saslMechanism = str(values, 'sasl-mechanism') ?? s.saslMechanism
  s.saslUsername = str(values, 'sasl-username') ?? s.saslUsername ?? env.KAFKA_SASL_USERNAME
  s.saslPassword = str(values, 'sasl-password') ?? s.saslPassword ?? env.KAFKA_SASL_PASSWORD
  s.saslToken = str(values, 'sasl-token') ?? s.saslToken ?? env.KAFKA_SASL_TOKEN
  const clientId = str(values, 'client-id')
  if (clientId) s.producer.clientId = clientId
}

export type CliEnv = Record<string, string | undefined>

function sasl(s: ClientSettings): SaslOptions | undefined {
  if (!s.saslMechanism) return undefined
  const m = s.saslMechanism.toLowerCase()
  if (m === 'oauthbearer') {
    const token = s.saslToken
    if (!token) throw new UsageError('--sasl-mechanism oauthbearer needs --sasl-token (or KAFKA_SASL_TOKEN)')
    return { mechanism: 'oauthbearer', token: () => token }
  }
  if (m !== 'plain' && m !== 'scram-sha-256' && m !== 'scram-sha-512') {
    throw new UsageError(
      `--sasl-mechanism must be plain, scram-sha-256, scram-sha-512 or oauthbearer, got ${JSON.stringify(s.saslMechanism)}`,
    )
  }
  if (!s.saslUsername || s.saslPassword === undefined) {
    throw new UsageError(
      `SASL ${m} needs a username and password (--sasl-username/--sasl-password or KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD)`,
    )
  }
  return { mechanism: m, username: s.saslUsername, password: s.saslPassword }
}

/** Node TCP (or TLS, SASL) to the brokers the settings name. */
export function transportFor(s: ClientSettings): SocketTransport {
  if (!s.bootstrap) throw new UsageError('no brokers: pass -b/--bootstrap (or set KAFKA_BOOTSTRAP)')
  return tcp({
    bootstrap: s.bootstrap
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    tls: s.tls ? s.tlsOptions : undefined,
    sasl: sasl(s),
    clientId: s.producer.clientId,
  })
}

/** A producer over Node TCP from the settings; createProducer's own validation (INVALID_CONFIG) speaks for options. */
export function openProducer(s: ClientSettings, extra: Settable = {}): Producer<Uint8Array | null, Uint8Array | null> {
  return createProducer<Uint8Array | null, Uint8Array | null>({ ...s.producer, ...extra, transport: transportFor(s) })
}

/** `--acks`: 0, 1, all or -1. */
export function parseAcks(value: string): 0 | 1 | 'all' {
  if (value === 'all' || value === '-1') return 'all'
  if (value === '0' || value === '1') return Number(value) as 0 | 1
  throw new UsageError(`acks must be 0, 1, all or -1, got ${JSON.stringify(value)}`)
}

/** Partitioner names the CLI takes, to the core's. `sticky` is the default (murmur2 for keys, sticky without). */
export function parsePartitioner(value: string): ProducerOptions['partitioner'] {
  switch (value) {
    case 'murmur2':
    case 'default':
    case 'sticky':
      return 'murmur2'
    case 'round-robin':
    case 'roundrobin':
    case 'roundRobin':
      return 'roundRobin'
    case 'sha256':
      return 'sha256'
    default:
      throw new UsageError(`--partitioner must be murmur2, sticky, round-robin or sha256, got ${JSON.stringify(value)}`)
  }
}
