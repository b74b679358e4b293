/**
 * The gateway's service settings, one table: every flag, environment variable, config-file key, type, default and
 * line of documentation. ./config.ts parses with it; `isokafka gateway --help` and the table in
 * docs/deploying-gateway.md are printed from it (gatewaySettingsHelp, gatewaySettingsMarkdown), and
 * test/unit/gateway-config.test.ts checks the doc against it.
 */

export type GatewaySettingKind =
  | 'int'
  | 'string'
  | 'boolean'
  | 'enum'
  | 'origins'
  | 'bootstrap'
  | 'secrets'
  | 'secret'
  | 'path'
export type GatewaySettingSource = 'flag' | 'env' | 'file' | 'default'
export type GatewayServiceLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export interface GatewaySetting {
  /** The flag without its dashes: `--max-frame-bytes` is 'max-frame-bytes'. */
  readonly flag: string
  /**
   * Environment variables. The first one set wins, except for kind 'secrets', where every one set is taken, in this
   * order (current secret, previous secret). An empty variable counts as not set.
   */
  readonly env: readonly string[]
  /**
   * The config-file key, a dotted path (= the createGateway option where there is one): `limits.maxFrameBytes` may
   * also be written flat (`maxFrameBytes`), `kafka.sasl.mechanism` nested (`{"kafka": {"sasl": {"mechanism": ...}}}`).
   * null: not settable from a file.
   */
  readonly key: string | null
  readonly kind: GatewaySettingKind
  /** For 'int': the smallest (and largest) value accepted. */
  readonly min?: number
  readonly max?: number
  /** For 'enum'. */
  readonly values?: readonly string[]
  /** The default (undefined: none; see `required`). */
  readonly default?: number | string | boolean | readonly string[]
  readonly required?: boolean
  /** `--secret` may be given several times. */
  readonly repeatable?: boolean
  /** The value is a secret: never echoed in an error, a log line or `--help`. */
  readonly sensitive?: boolean
  /** Placeholder for the value in --help (`--port N`). */
  readonly metavar?: string
  /** One line of documentation. */
  readonly doc: string
}

export const MiB = 1024 * 1024
export const ENV_PREFIX = 'ISOKAFKA_GATEWAY_'
export const env = (flag: string): string => ENV_PREFIX + flag.toUpperCase().replace(/-/g, '_')
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const

/** Shortest token secret accepted (characters), as createGateway. */
export const MIN_SECRET_CHARS = 16

export const GATEWAY_SETTINGS: readonly GatewaySetting[] = [
  {
    flag: 'config',
    env: [env('config')],
    key: null,
    kind: 'path',
    metavar: 'FILE',
    doc: 'JSON config file; its keys are the option names (`limits` nested or flat)',
  },
  {
    flag: 'port',
    env: [env('port')],
    key: 'port',
    kind: 'int',
    min: 0,
    max: 65535,
    default: 8080,
    metavar: 'N',
    doc: 'TCP port to listen on (0 picks a free one)',
  },
  {
    flag: 'host',
    env: [env('host')],
    key: 'host',
    kind: 'string',
    default: '0.0.0.0',
    metavar: 'ADDR',
    doc: 'address to listen on',
  },
  {
    flag: 'bootstrap',
    env: [env('bootstrap'), 'KAFKA_BOOTSTRAP'],
    key: 'bootstrap',
    kind: 'bootstrap',
    required: true,
    metavar: 'HOST:PORT,...',
    doc: 'Kafka bootstrap servers',
  },
  {
    flag: 'secret',
    env: [env('secret'), env('secret-previous')],
    key: 'secret',
    kind: 'secrets',
    required: true,
    repeatable: true,
    sensitive: true,
    metavar: 'S',
    doc: `token HMAC secret, at least ${MIN_SECRET_CHARS} characters; repeat (or set the _PREVIOUS variable, or a list in the file) to accept old tokens during a rotation`,
  },
  {
    flag: 'origins',
    env: [env('origins')],
    key: 'origins',
    kind: 'origins',
    default: [],
    metavar: 'A,B|*',
    doc: 'browser Origins allowed (exact scheme://host[:port]) or `*`; requests without an Origin always pass',
  },
  {
    flag: 'rate',
    env: [env('rate')],
    key: 'limits.recordsPerSecond',
    kind: 'int',
    min: 0,
    default: 200_000,
    metavar: 'N',
    doc: 'records/s per connection (WebSocket) or token subject (HTTP); 0 = unlimited',
  },
  {
    flag: 'max-frame-bytes',
    env: [env('max-frame-bytes')],
    key: 'limits.maxFrameBytes',
    kind: 'int',
    min: 1024,
    default: 2 * MiB,
    metavar: 'N',
    doc: 'largest WebSocket message or HTTP body',
  },
  {
    flag: 'max-in-flight',
    env: [env('max-in-flight')],
    key: 'limits.maxInFlightBatches',
    kind: 'int',
    min: 1,
    default: 256,
    metavar: 'N',
    doc: 'client batches waiting for Kafka per connection (HTTP: per token subject)',
  },
  {
    flag: 'max-records-per-frame',
    env: [env('max-records-per-frame')],
    key: 'limits.maxRecordsPerFrame',
    kind: 'int',
    min: 1,
    default: 10_000,
    metavar: 'N',
    doc: 'records in one frame or one REST request (never more than --rate when that is set)',
  },
  {
    flag: 'metadata-rate',
    env: [env('metadata-rate')],
    key: 'limits.metadataTopicsPerSecond',
    kind: 'int',
    min: 0,
    default: 100,
    metavar: 'N',
    doc: 'topic lookups/s per connection (HTTP: per token subject), metadata and produce frames alike; 0 = unlimited',
  },
  {
    flag: 'max-pending-bytes',
    env: [env('max-pending-bytes')],
    key: 'maxPendingBytes',
    kind: 'int',
    min: 1024,
    default: 16 * MiB,
    metavar: 'N',
    doc: 'record bytes waiting for Kafka above which the gateway stops reading from every client',
  },
  {
    flag: 'dedup-entries',
    env: [env('dedup-entries')],
    key: 'dedupEntries',
    kind: 'int',
    min: 0,
    default: 100_000,
    metavar: 'N',
    doc: 'finished batch ids remembered for deduplication (LRU, per process)',
  },
  {
    flag: 'max-running-batches',
    env: [env('max-running-batches')],
    key: 'maxRunningBatches',
    kind: 'int',
    min: 1,
    default: 20_000,
    metavar: 'N',
    doc: 'batches running for all clients together; more are refused TOO_MANY_IN_FLIGHT (retriable)',
  },
  {
    flag: 'max-connections',
    env: [env('max-connections')],
    key: 'maxConnections',
    kind: 'int',
    min: 1,
    default: 10_000,
    metavar: 'N',
    doc: 'authenticated WebSocket connections',
  },
  {
    flag: 'max-unauthenticated',
    env: [env('max-unauthenticated')],
    key: 'maxUnauthenticated',
    kind: 'int',
    min: 1,
    default: 256,
    metavar: 'N',
    doc: 'WebSocket connections not yet authenticated, all addresses together (503 above)',
  },
  {
    flag: 'max-unauthenticated-per-address',
    env: [env('max-unauthenticated-per-address')],
    key: 'maxUnauthenticatedPerAddress',
    kind: 'int',
    min: 1,
    default: 16,
    metavar: 'N',
    doc: "the same per remote address (behind a proxy: the proxy's address)",
  },
  {
    flag: 'hello-timeout-ms',
    env: [env('hello-timeout-ms')],
    key: 'helloTimeoutMs',
    kind: 'int',
    min: 100,
    default: 5000,
    metavar: 'MS',
    doc: 'an unauthenticated WebSocket is closed after this',
  },
  {
    flag: 'http-timeout-ms',
    env: [env('http-timeout-ms')],
    key: 'httpTimeoutMs',
    kind: 'int',
    min: 100,
    default: 30_000,
    metavar: 'MS',
    doc: 'whole-request deadline for HTTP (slow clients)',
  },
  {
    flag: 'heartbeat-ms',
    env: [env('heartbeat-ms')],
    key: 'heartbeatMs',
    kind: 'int',
    min: 100,
    default: 30_000,
    metavar: 'MS',
    doc: 'WebSocket ping period; a connection that missed the previous pong is dropped',
  },
  {
    flag: 'max-buffered-bytes',
    env: [env('max-buffered-bytes')],
    key: 'maxBufferedBytes',
    kind: 'int',
    min: 1024,
    default: 1 * MiB,
    metavar: 'N',
    doc: 'answers queued for one connection before the gateway stops reading it',
  },
  {
    flag: 'allow-auto-create',
    env: [env('allow-auto-create')],
    key: 'allowAutoTopicCreation',
    kind: 'boolean',
    default: false,
    doc: 'let requests for unknown topics create them (if the brokers allow it); logs a warning',
  },
  {
    flag: 'metrics-token',
    env: [env('metrics-token')],
    key: 'metricsToken',
    kind: 'secret',
    sensitive: true,
    metavar: 'T',
    doc: 'when set, GET /metrics needs `Authorization: Bearer <token>`',
  },
  {
    flag: 'log-level',
    env: [env('log-level')],
    key: 'logLevel',
    kind: 'enum',
    values: LOG_LEVELS,
    default: 'info',
    metavar: 'LEVEL',
    doc: 'JSON log lines on stderr at this level and above',
  },
  {
    flag: 'drain-timeout-ms',
    env: [env('drain-timeout-ms')],
    key: 'drainTimeoutMs',
    kind: 'int',
    min: 0,
    default: 10_000,
    metavar: 'MS',
    doc: 'on SIGTERM/SIGINT: the longest wait for acks and the producer flush before closing',
  },
  {
    flag: 'heap-growth-percent',
    env: [env('heap-growth-percent')],
    key: 'heapGrowthPercent',
    kind: 'int',
    min: 0,
    default: 100,
    metavar: 'N',
    doc: "the process's V8 old space may grow to (1 + N/100) × what the last full collection kept (V8's --heap-growing-percent, set by `isokafka gateway` at start-up, not by createGateway()); 0 = V8's own choice (up to 4×)",
  },
  {
    flag: 'kafka-client-id',
    env: [env('kafka-client-id')],
    key: 'kafka.clientId',
    kind: 'string',
    default: 'isokafka-gateway',
    metavar: 'ID',
    doc: 'client id the gateway gives Kafka (broker logs, quotas, ACL audits)',
  },
  {
    flag: 'kafka-tls',
    env: [env('kafka-tls')],
    key: 'kafka.tls',
    kind: 'boolean',
    default: false,
    doc: 'TLS to the brokers',
  },
  {
    flag: 'kafka-ca',
    env: [env('kafka-ca')],
    key: 'kafka.ca',
    kind: 'path',
    metavar: 'FILE',
    doc: "PEM file of the CA that signed the brokers' certificates (implies TLS)",
  },
  {
    flag: 'kafka-sasl-mechanism',
    env: [env('kafka-sasl-mechanism')],
    key: 'kafka.sasl.mechanism',
    kind: 'enum',
    values: SASL_MECHANISMS,
    metavar: 'M',
    doc: 'SASL mechanism for the brokers',
  },
  {
    flag: 'kafka-sasl-username',
    env: [env('kafka-sasl-username')],
    key: 'kafka.sasl.username',
    kind: 'string',
    metavar: 'USER',
    doc: 'SASL username',
  },
  {
    flag: 'kafka-sasl-password',
    env: [env('kafka-sasl-password'), 'KAFKA_SASL_PASSWORD'],
    key: 'kafka.sasl.password',
    kind: 'secret',
    sensitive: true,
    metavar: 'P',
    doc: 'SASL password',
  },
]

/** The options createGateway() gets (a structural subset of GatewayOptions). */

function defaultText(s: GatewaySetting): string {
  if (s.required) return 'required'
  const d = s.default
  if (d === undefined) return 'unset'
  if (Array.isArray(d)) return d.length === 0 ? 'none' : d.join(',')
  if (typeof d === 'number' && d >= MiB && d % MiB === 0) return `${d} (${d / MiB} MiB)`
  return String(d)
}

function configKeyText(s: GatewaySetting): string {
  if (s.key === null) return '—'
  if (s.key.startsWith('limits.')) return `\`${s.key}\` or \`${s.key.slice('limits.'.length)}\``
  return `\`${s.key}\``
}

/** `--flag VALUE` as --help and the doc show it. */
export function gatewaySettingUsage(s: GatewaySetting): string {
  const value = s.kind === 'boolean' ? '' : ` ${s.metavar ?? 'V'}`
  return `--${s.flag}${value}${s.repeatable ? ' (repeatable)' : ''}`
}

/** The settings as a Markdown table (flag | env | config key | default | meaning), pasted into docs/deploying-gateway.md. */
export function gatewaySettingsMarkdown(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|')
  const rows = GATEWAY_SETTINGS.map((s) =>
    [
      `\`${gatewaySettingUsage(s)}\``,
      s.env.map((e) => `\`${e}\``).join(', '),
      configKeyText(s),
      s.kind === 'enum' ? `${defaultText(s)} (${s.values!.join(', ')})` : defaultText(s),
      s.doc,
    ]
      .map(cell)
      .join(' | '),
  )
  return (
    ['| flag | env | config key | default | meaning |', '|---|---|---|---|---|', ...rows.map((r) => `| ${r} |`)].join(
      '\n',
    ) + '\n'
  )
}

/** The settings for `isokafka gateway --help`: one flag a line, with its default and variables. */
export function gatewaySettingsHelp(): string {
  const width = Math.max(...GATEWAY_SETTINGS.map((s) => gatewaySettingUsage(s).length)) + 2
  return GATEWAY_SETTINGS.map((s) => {
    const extra = [
      s.required ? 'required' : `default ${defaultText(s)}`,
      ...(s.kind === 'enum' ? [s.values!.join('|')] : []),
      s.env.join(' / '),
    ]
    return `  ${gatewaySettingUsage(s).padEnd(width)}${s.doc.replace(/`/g, '')} (${extra.join('; ')})`
  }).join('\n')
}
