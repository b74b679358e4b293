import { readFileSync } from 'node:fs'
import { UsageError } from './args.js'
import { parseAcks, type ClientSettings } from './client.js'

/**
 * Java producer property names (ProducerConfig) onto isokafka settings, so a ProducerPerformance or console-producer
 * command line works as it is. Properties isokafka has no use for are reported and skipped, as Java warns about
 * configs it does not know; serializer classes are skipped silently (every CLI record is bytes).
 */
const INT_PROPS: Record<string, keyof ClientSettings['producer']> = {
  'linger.ms': 'lingerMs',
  'batch.size': 'batchSize',
  'buffer.memory': 'bufferMemory',
  'max.block.ms': 'maxBlockMs',
  'max.request.size': 'maxRequestSize',
  retries: 'retries',
  'retry.backoff.ms': 'retryBackoffMs',
  'retry.backoff.max.ms': 'retryBackoffMaxMs',
  'delivery.timeout.ms': 'deliveryTimeoutMs',
  'request.timeout.ms': 'requestTimeoutMs',
  'max.in.flight.requests.per.connection': 'maxInFlightRequestsPerConnection',
  'metadata.max.age.ms': 'metadataMaxAgeMs',
  'metadata.max.idle.ms': 'metadataMaxIdleMs',
  'socket.connection.setup.timeout.ms': 'connectTimeoutMs',
  'transaction.timeout.ms': 'transactionTimeoutMs',
  // isokafka's compressionLevel is zstd's (gzip and lz4 have one setting each here: their *.level are reported skipped)
  'compression.zstd.level': 'compressionLevel',
}

const SILENT = new Set(['key.serializer', 'value.serializer'])

function bool(name: string, v: string): boolean {
  const t = v.trim().toLowerCase()
  if (t === 'true') return true
  if (t === 'false') return false
  throw new UsageError(`${name} must be true or false, got ${JSON.stringify(v)}`)
}

function int(name: string, v: string): number {
  const n = Number(v.trim())
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name} must be a number, got ${JSON.stringify(v)}`)
  return n
}

/** `username="u" password="p"` out of a sasl.jaas.config value. */
function jaasField(jaas: string, field: string): string | undefined {
  const m = new RegExp(`\\b${field}\\s*=\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(jaas)
  return m ? m[1]!.replace(/\\(.)/g, '$1') : undefined
}

/** Applies Java properties in order; returns the names skipped (for a warning). */
export function applyJavaProps(s: ClientSettings, props: ReadonlyArray<readonly [string, string]>): string[] {
  const skipped: string[] = []
  for (const [name, value] of props) {
    const option = INT_PROPS[name]
    if (option) {
      ;(s.producer as Record<string, unknown>)[option] = int(name, value)
      continue
    }
    switch (name) {
      case 'bootstrap.servers':
        s.bootstrap = value
        break
      case 'acks':
        s.producer.acks = parseAcks(value.trim())
        break
      case 'compression.type':
        // passed as it is: createProducer says which names this build has (INVALID_CONFIG)
        s.producer.compression = value.trim() as ClientSettings['producer']['compression']
        break
      case 'enable.idempotence':
        s.producer.enableIdempotence = bool(name, value)
        break
      case 'allow.auto.create.topics':
        s.producer.allowAutoTopicCreation = bool(name, value)
        break
      case 'client.id':
        s.producer.clientId = value
        break
      case 'security.protocol': {
        const p = value.trim().toUpperCase()
        if (!['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].includes(p))
          throw new UsageError(
            `security.protocol ${JSON.stringify(value)} is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL`,
          )
        s.tls = p === 'SSL' || p === 'SASL_SSL'
        if (p === 'SASL_PLAINTEXT' || p === 'SASL_SSL') s.saslMechanism ??= 'plain' // Java's default sasl.mechanism is GSSAPI; PLAIN is the nearest we have
        break
      }
      case 'sasl.mechanism':
        s.saslMechanism = value.trim().toLowerCase()
        break
      case 'sasl.jaas.config':
        s.saslUsername = jaasField(value, 'username') ?? s.saslUsername
        s.saslPassword = jaasField(value, 'password') ?? s.saslPassword
        break
      case 'ssl.truststore.location':
        // PEM only (ssl.truststore.type=PEM); Node cannot read JKS or PKCS#12 truststores as a CA list
        s.tlsOptions.ca = readFileSync(value.trim(), 'utf8')
        break
      case 'ssl.truststore.type':
      case 'ssl.keystore.type':
        if (value.trim().toUpperCase() !== 'PEM')
          throw new UsageError(`${name}=${value}: only PEM stores are supported`)
        break
      case 'ssl.keystore.location': {
        // a PEM keystore holds the private key and the certificate chain; Node picks each block out of the same text
        const pem = readFileSync(value.trim(), 'utf8')
        s.tlsOptions.key = pem
        s.tlsOptions.cert = pem
        break
      }
      case 'ssl.endpoint.identification.algorithm':
        if (value.trim() === '') s.tlsOptions.checkServerIdentity = () => undefined
        break
      case 'transactional.id':
        s.producer.transactionalId = value
        break
      default:
        if (!SILENT.has(name)) skipped.push(name)
    }
  }
  return skipped
}

/** A Java .properties file: `k=v` or `k: v` lines, `#`/`!` comments, backslash line continuations. */
export function readPropertiesFile(file: string): Array<[string, string]> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`)
  }
  const out: Array<[string, string]> = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trimStart()
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.trimStart()
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line)
    if (m) out.push([m[1]!, m[2]!.trimEnd()])
    else out.push([line.trim(), ''])
  }
  return out
}
