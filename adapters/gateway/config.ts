/**
 * Service settings for `isokafka gateway`: command-line flags, environment variables and a JSON config file, turned
 * into the options of createGateway(), following the one table in ./settings.ts.
 *
 * Precedence, per setting: flag > environment variable > config file > default. Errors are thrown with
 * `code: 'INVALID_CONFIG'` and name the flag, variable or key and the bad value, except for secrets (token secrets,
 * the metrics token, the SASL password), whose values never appear in a message.
 */
import { readFileSync } from 'node:fs'
import type { GatewayLimits } from '../gateway-wire/index.js'
import type { GatewayOptions } from './options.js'
import {
  GATEWAY_SETTINGS,
  MIN_SECRET_CHARS,
  SASL_MECHANISMS,
  env,
  type GatewayServiceLogLevel,
  type GatewaySetting,
  type GatewaySettingSource,
} from './settings.js'

export {
  GATEWAY_SETTINGS,
  gatewaySettingUsage,
  gatewaySettingsHelp,
  gatewaySettingsMarkdown,
  type GatewayServiceLogLevel,
  type GatewaySetting,
  type GatewaySettingKind,
  type GatewaySettingSource,
} from './settings.js'
export { jsonLogger, type GatewayServiceLogEntry } from './log.js'

/** What loadGatewayConfig gives createGateway: the options every setting maps to, each one present. */
export type GatewayServiceOptions = Required<
  Pick<
    GatewayOptions,
    | 'maxPendingBytes'
    | 'dedupEntries'
    | 'maxRunningBatches'
    | 'maxConnections'
    | 'maxUnauthenticated'
    | 'maxUnauthenticatedPerAddress'
    | 'helloTimeoutMs'
    | 'httpTimeoutMs'
    | 'heartbeatMs'
    | 'maxBufferedBytes'
    | 'allowAutoTopicCreation'
  >
> & {
  bootstrap: string
  secret: string[]
  origins: '*' | string[]
  limits: Required<GatewayLimits>
  metricsToken?: string
  logLevel: GatewayServiceLogLevel
  kafka?: {
    clientId?: string
    tls?: true | { ca: string }
    sasl?: { mechanism: (typeof SASL_MECHANISMS)[number]; username: string; password: string }
  }
}

// what loadGatewayConfig makes must be something createGateway takes (a compile-time check, no code)
type Assignable<T extends GatewayOptions> = T
type GatewayServiceOptionsCheck = Assignable<GatewayServiceOptions>

export interface GatewayServiceConfig {
  options: GatewayServiceOptions
  port: number
  host: string
  drainTimeoutMs: number
  /**
   * The process's V8 heap growth (--heap-growing-percent): applied by the `isokafka gateway` command, not by
   * createGateway(), which may share its process with an application.
   */
  heapGrowthPercent: number
  /** Where each setting came from, by flag name. */
  sources: Record<string, GatewaySettingSource>
  /** The settings not at their default, for a start-up log line: secrets shown as '[redacted]'. */
  effective: Record<string, { source: GatewaySettingSource; value: unknown }>
}

export interface GatewayConfigInput {
  /** Arguments after `isokafka gateway`. */
  argv: readonly string[]
  env: Readonly<Record<string, string | undefined>>
  /** Reads the config file and the CA file (default: fs.readFileSync as UTF-8). */
  readFile?: (path: string) => string
}

type Value = number | string | boolean | string[]

class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG'
  constructor(message: string) {
    super(message)
    this.name = 'GatewayConfigError'
  }
}

const byFlag = new Map(GATEWAY_SETTINGS.map((s) => [s.flag, s]))
const byKey = new Map(GATEWAY_SETTINGS.filter((s) => s.key !== null).map((s) => [s.key!, s]))
const FILE_GROUPS = new Set(['limits', 'kafka', 'kafka.sasl'])

/** A value for an error message: quoted, cut short; secrets never. */
function show(setting: GatewaySetting, raw: unknown): string {
  if (setting.sensitive) return '(value not shown)'
  let s: string
  try {
    s = typeof raw === 'string' ? JSON.stringify(raw) : (JSON.stringify(raw) ?? String(raw))
  } catch {
    s = String(raw)
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}

function parseValue(setting: GatewaySetting, raw: unknown, where: string, fromFile: boolean): Value {
  const bad = (what: string) => new ConfigError(`${where} ${what}, got ${show(setting, raw)}`)
  switch (setting.kind) {
    case 'int': {
      let n: number
      if (typeof raw === 'number' && fromFile) n = raw
      else if (typeof raw === 'string' && /^\s*\d+\s*$/.test(raw)) n = Number(raw)
      else n = NaN
      const range = setting.max !== undefined ? `between ${setting.min} and ${setting.max}` : `≥ ${setting.min ?? 0}`
      if (!Number.isSafeInteger(n) || n < (setting.min ?? 0) || (setting.max !== undefined && n > setting.max))
        throw bad(`must be an integer ${range}`)
      return n
    }
    case 'boolean': {
      if (typeof raw === 'boolean' && fromFile) return raw
      const s = typeof raw === 'string' ? raw.trim().toLowerCase() : null
      if (s === 'true' || s === '1' || s === 'yes' || s === 'on') return true
      if (s === 'false' || s === '0' || s === 'no' || s === 'off') return false
      throw bad('must be true or false')
    }
    case 'enum': {
      const s = typeof raw === 'string' ? raw.trim().toLowerCase() : null
      if (s === null || !setting.values!.includes(s)) throw bad(`must be one of ${setting.values!.join(', ')}`)
      return s
    }
    case 'string':
    case 'path':
    case 'secret': {
      if (typeof raw !== 'string' || raw.trim() === '') throw bad('must be a non-empty string')
      return setting.kind === 'secret' ? raw : raw.trim()
    }
    case 'bootstrap': {
      const list =
        typeof raw === 'string'
          ? raw.split(',')
          : Array.isArray(raw) && fromFile && raw.every((x) => typeof x === 'string')
            ? (raw as string[])
            : null
      if (!list) throw bad('must be HOST:PORT[,HOST:PORT...]')
      const entries = list.map((x) => x.trim()).filter(Boolean)
      if (entries.length === 0) throw bad('must name at least one HOST:PORT')
      for (const e of entries) {
        const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/.exec(e)
        if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
          throw bad(`must be HOST:PORT[,HOST:PORT...] (port 1-65535; ${JSON.stringify(e)} is not)`)
      }
      return entries.join(',')
    }
    case 'origins': {
      let list: string[]
      if (typeof raw === 'string') list = raw.split(',')
      else if (Array.isArray(raw) && fromFile && raw.every((x) => typeof x === 'string')) list = raw as string[]
      else throw bad('must be a comma-separated list of origins or *')
      const entries = list.map((x) => x.trim()).filter(Boolean)
      if (entries.includes('*')) {
        if (entries.length > 1) throw bad('must be either * or a list of origins, not both')
        return '*'
      }
      for (const e of entries) {
        if (!/^[a-z][a-z0-9+.-]*:\/\/[^/\s?#]+$/i.test(e))
          throw bad(`must list origins as scheme://host[:port] without a path (${JSON.stringify(e)} is not)`)
      }
      return entries
    }
    case 'secrets': {
      const list =
        typeof raw === 'string'
          ? [raw]
          : Array.isArray(raw) && fromFile && raw.every((x) => typeof x === 'string')
            ? (raw as string[])
            : null
      if (!list || list.length === 0) throw bad('must be a string or a list of strings')
      return list
    }
  }
}

interface Given {
  value: Value
  source: GatewaySettingSource
  /** How to name it in a message: `--max-frame-bytes`, `ISOKAFKA_GATEWAY_MAX_FRAME_BYTES`, `"maxFrameBytes" in FILE`. */
  where: string
}

/** Flags: `--name value`, `--name=value`, booleans `--name` / `--name=false`; the last one wins, except --secret (repeatable). */
function parseArgv(argv: readonly string[]): Map<GatewaySetting, { values: string[]; where: string }> {
  const out = new Map<GatewaySetting, { values: string[]; where: string }>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--') || arg === '--') {
      throw new ConfigError(
        `unexpected argument ${JSON.stringify(arg.length > 40 ? `${arg.slice(0, 37)}...` : arg)} (settings are --name value)`,
      )
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    const setting = byFlag.get(name)
    if (!setting) throw new ConfigError(`unknown flag --${name} (isokafka gateway --help lists the settings)`)
    let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1)
    if (value === undefined) {
      if (setting.kind === 'boolean') value = 'true'
      else {
        const next = argv[i + 1]
        if (next === undefined || (next.startsWith('--') && next.length > 2))
          throw new ConfigError(`--${name} needs a value`)
        value = next
        i++
      }
    }
    const entry = out.get(setting)
    if (entry && setting.repeatable) entry.values.push(value)
    else out.set(setting, { values: [value], where: `--${name}` })
  }
  return out
}

function parseJsonFile(text: string, file: string): Record<string, unknown> {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    // JSON.parse's own message quotes the text around the error, which may be a secret: say where, not what
    const pos = /position (\d+)/.exec(String((err as Error).message ?? ''))
    let at = ''
    if (pos) {
      const before = text.slice(0, Number(pos[1]))
      const line = before.split('\n').length
      at = ` at line ${line}, column ${before.length - before.lastIndexOf('\n')}`
    }
    throw new ConfigError(`config file ${file} is not valid JSON${at}`)
  }
  if (!data || typeof data !== 'object' || Array.isArray(data))
    throw new ConfigError(`config file ${file} must hold a JSON object`)
  return data as Record<string, unknown>
}

function flattenFile(
  obj: Record<string, unknown>,
  prefix: string,
  file: string,
  out: Map<GatewaySetting, Given>,
): void {
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k
    if (FILE_GROUPS.has(path)) {
      if (!v || typeof v !== 'object' || Array.isArray(v))
        throw new ConfigError(`"${path}" in config file ${file} must be an object`)
      flattenFile(v as Record<string, unknown>, path, file, out)
      continue
    }
    const setting = byKey.get(path) ?? (prefix === '' ? byKey.get(`limits.${k}`) : undefined)
    if (!setting) throw new ConfigError(`unknown key "${path}" in config file ${file}`)
    const where = `"${path}" in ${file}`
    if (out.has(setting)) throw new ConfigError(`${where}: "${setting.key}" is given twice (flat and under "limits")`)
    if (v === null) continue // null: leave it at its default
    out.set(setting, { value: parseValue(setting, v, where, true), source: 'file', where })
  }
}

/**
 * Resolve the gateway's settings: flag > environment variable > config file > default. Throws an Error with code
 * 'INVALID_CONFIG' on anything it cannot accept.
 */
export function loadGatewayConfig(input: GatewayConfigInput): GatewayServiceConfig {
  const readFile = input.readFile ?? ((p: string) => readFileSync(p, 'utf8'))
  const envOf = (name: string): string | undefined => {
    const v = input.env[name]
    return v === undefined || v === '' ? undefined : v
  }

  const flags = parseArgv(input.argv ?? [])
  const chosen = new Map<GatewaySetting, Given>()

  // config file: --config, else ISOKAFKA_GATEWAY_CONFIG
  const configSetting = byFlag.get('config')!
  const configFlag = flags.get(configSetting)
  const configEnv = configSetting.env.find((n) => envOf(n) !== undefined)
  let configFile: string | undefined
  if (configFlag) configFile = parseValue(configSetting, configFlag.values.at(-1), configFlag.where, false) as string
  else if (configEnv) configFile = parseValue(configSetting, envOf(configEnv), configEnv, false) as string
  const fromFile = new Map<GatewaySetting, Given>()
  if (configFile !== undefined) {
    let text: string
    try {
      text = readFile(configFile)
    } catch (err) {
      const code = (err as { code?: string }).code
      throw new ConfigError(
        `cannot read config file ${configFile} (from ${configFlag ? '--config' : configEnv})${code ? `: ${code}` : ''}`,
      )
    }
    flattenFile(parseJsonFile(text, configFile), '', configFile, fromFile)
  }

  for (const setting of GATEWAY_SETTINGS) {
    if (setting === configSetting) continue
    const flag = flags.get(setting)
    if (flag) {
      const value =
        setting.kind === 'secrets'
          ? flag.values.map(
              (v, i) =>
                (
                  parseValue(
                    setting,
                    v,
                    flag.values.length > 1 ? `${flag.where} (#${i + 1})` : flag.where,
                    false,
                  ) as string[]
                )[0]!,
            )
          : parseValue(setting, flag.values.at(-1), flag.where, false)
      chosen.set(setting, { value, source: 'flag', where: flag.where })
      continue
    }
    if (setting.kind === 'secrets') {
      const [current, ...previous] = setting.env
      const set = setting.env.filter((n) => envOf(n) !== undefined)
      if (set.length > 0) {
        if (envOf(current!) === undefined)
          throw new ConfigError(`${previous.join(', ')} is set but ${current} is not (the current secret goes there)`)
        chosen.set(setting, { value: set.map((n) => envOf(n)!), source: 'env', where: set.join(' / ') })
        continue
      }
    } else {
      const name = setting.env.find((n) => envOf(n) !== undefined)
      if (name) {
        chosen.set(setting, { value: parseValue(setting, envOf(name), name, false), source: 'env', where: name })
        continue
      }
    }
    const file = fromFile.get(setting)
    if (file) chosen.set(setting, file)
  }

  const get = <T extends Value>(flag: string): T | undefined => {
    const s = byFlag.get(flag)!
    return (chosen.get(s)?.value ?? (s.default as T | undefined)) as T | undefined
  }
  const whereOf = (flag: string): string => chosen.get(byFlag.get(flag)!)?.where ?? `--${flag}`

  // required
  for (const s of GATEWAY_SETTINGS) {
    if (s.required && !chosen.has(s)) {
      const key = s.key ? `, or "${s.key}" in the config file` : ''
      throw new ConfigError(`--${s.flag} (or ${s.env.join(' / ')}${key}) is required`)
    }
  }

  // token secrets: each at least 16 characters, never shown
  const secrets = get<string[]>('secret')!
  secrets.forEach((s, i) => {
    if (s.length < MIN_SECRET_CHARS) {
      const which = secrets.length > 1 ? ` (#${i + 1} of ${secrets.length})` : ''
      throw new ConfigError(
        `the token secret from ${whereOf('secret')}${which} is shorter than ${MIN_SECRET_CHARS} characters (value not shown)`,
      )
    }
  })

  // Kafka TLS / SASL
  const kafka: NonNullable<GatewayServiceOptions['kafka']> = {}
  const caPath = get<string>('kafka-ca')
  if (caPath !== undefined) {
    let ca: string
    try {
      ca = readFile(caPath)
    } catch (err) {
      const code = (err as { code?: string }).code
      throw new ConfigError(`cannot read the CA file ${caPath} (from ${whereOf('kafka-ca')})${code ? `: ${code}` : ''}`)
    }
    kafka.tls = { ca }
  } else if (get<boolean>('kafka-tls')) kafka.tls = true
  const mechanism = get<string>('kafka-sasl-mechanism')
  const username = get<string>('kafka-sasl-username')
  const password = get<string>('kafka-sasl-password')
  if (mechanism !== undefined) {
    if (username === undefined)
      throw new ConfigError(
        `${whereOf('kafka-sasl-mechanism')} needs --kafka-sasl-username (or ${env('kafka-sasl-username')})`,
      )
    if (password === undefined)
      throw new ConfigError(`${whereOf('kafka-sasl-mechanism')} needs --kafka-sasl-password (or KAFKA_SASL_PASSWORD)`)
    kafka.sasl = { mechanism: mechanism as (typeof SASL_MECHANISMS)[number], username, password }
  } else if (username !== undefined || password !== undefined) {
    throw new ConfigError(
      `${whereOf(username !== undefined ? 'kafka-sasl-username' : 'kafka-sasl-password')} is set but --kafka-sasl-mechanism is not`,
    )
  }

  const options: GatewayServiceOptions = {
    bootstrap: get<string>('bootstrap')!,
    secret: secrets,
    origins: get<'*' | string[]>('origins')!,
    limits: {
      maxFrameBytes: get<number>('max-frame-bytes')!,
      maxInFlightBatches: get<number>('max-in-flight')!,
      recordsPerSecond: get<number>('rate')!,
      maxRecordsPerFrame: get<number>('max-records-per-frame')!,
      metadataTopicsPerSecond: get<number>('metadata-rate')!,
    },
    maxPendingBytes: get<number>('max-pending-bytes')!,
    dedupEntries: get<number>('dedup-entries')!,
    maxRunningBatches: get<number>('max-running-batches')!,
    maxConnections: get<number>('max-connections')!,
    maxUnauthenticated: get<number>('max-unauthenticated')!,
    maxUnauthenticatedPerAddress: get<number>('max-unauthenticated-per-address')!,
    helloTimeoutMs: get<number>('hello-timeout-ms')!,
    httpTimeoutMs: get<number>('http-timeout-ms')!,
    heartbeatMs: get<number>('heartbeat-ms')!,
    maxBufferedBytes: get<number>('max-buffered-bytes')!,
    allowAutoTopicCreation: get<boolean>('allow-auto-create')!,
    logLevel: get<GatewayServiceLogLevel>('log-level')!,
  }
  const metricsToken = get<string>('metrics-token')
  if (metricsToken !== undefined) options.metricsToken = metricsToken
  const clientId = get<string>('kafka-client-id')
  if (chosen.has(byFlag.get('kafka-client-id')!)) kafka.clientId = clientId
  if (kafka.tls !== undefined || kafka.sasl !== undefined || kafka.clientId !== undefined) options.kafka = kafka

  const sources: Record<string, GatewaySettingSource> = {}
  const effective: GatewayServiceConfig['effective'] = {}
  for (const s of GATEWAY_SETTINGS) {
    const c =
      s === configSetting
        ? configFile !== undefined
          ? ({ source: configFlag ? 'flag' : 'env', value: configFile } as const)
          : undefined
        : chosen.get(s)
    sources[s.flag] = c?.source ?? 'default'
    if (c) effective[s.flag] = { source: c.source, value: s.sensitive ? '[redacted]' : c.value }
  }
  return {
    options,
    port: get<number>('port')!,
    host: get<string>('host')!,
    drainTimeoutMs: get<number>('drain-timeout-ms')!,
    heapGrowthPercent: get<number>('heap-growth-percent')!,
    sources,
    effective,
  }
}
