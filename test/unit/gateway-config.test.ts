/// <reference types="node" />
// adapters/gateway/config.ts: the gateway's service settings (flags, environment, JSON config file) as createGateway
// options. Driven by GATEWAY_SETTINGS, so a setting added to the table is tested from every source without a new test.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  GATEWAY_SETTINGS,
  gatewaySettingsHelp,
  gatewaySettingsMarkdown,
  jsonLogger,
  loadGatewayConfig,
  type GatewayServiceConfig,
  type GatewaySetting,
} from '../../adapters/gateway/config.js'

const root = path.resolve(import.meta.dirname, '../..')
const SECRET = 'unit-secret-0123456789'
const OLD_SECRET = 'unit-old-secret-987654321'
const BOOT = '127.0.0.1:9092'
const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'

/** A fake file system: the config file (JSON) and the CA file. */
function files(map: Record<string, unknown>): (p: string) => string {
  return (p) => {
    if (!(p in map)) throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' })
    const v = map[p]
    return typeof v === 'string' ? v : JSON.stringify(v)
  }
}

function load(
  argv: string[],
  env: Record<string, string> = {},
  fileMap: Record<string, unknown> = {},
): GatewayServiceConfig {
  return loadGatewayConfig({ argv, env, readFile: files({ 'ca.pem': CA_PEM, ...fileMap }) })
}

function invalid(fn: () => unknown): Error & { code?: string } {
  try {
    fn()
  } catch (err) {
    expect(err).toMatchObject({ code: 'INVALID_CONFIG' })
    expect((err as Error).message).not.toMatch(/\n\s+at /)
    return err as Error & { code?: string }
  }
  throw new Error('expected INVALID_CONFIG, nothing was thrown')
}

const settings = GATEWAY_SETTINGS.filter((s) => s.flag !== 'config')
const setting = (flag: string): GatewaySetting => GATEWAY_SETTINGS.find((s) => s.flag === flag)!

/** A value for the setting that is not its default: [as a flag/env string, as a config-file value, as read back]. */
function sample(s: GatewaySetting): [string, unknown, unknown] {
  switch (s.kind) {
    case 'int': {
      const n = (s.min ?? 0) + 7
      return [String(n), n, n]
    }
    case 'boolean':
      return ['true', true, true]
    case 'enum': {
      const v = s.values!.find((x) => x !== s.default)!
      return [v, v, v]
    }
    case 'string':
      return ['sample-value', 'sample-value', 'sample-value']
    case 'bootstrap':
      return ['h1:9092, h2:9093', ['h1:9092', 'h2:9093'], 'h1:9092,h2:9093']
    case 'origins':
      return [
        'https://a.example,http://b.example:8080',
        ['https://a.example', 'http://b.example:8080'],
        ['https://a.example', 'http://b.example:8080'],
      ]
    case 'secrets':
      return ['sample-token-secret-0123', ['sample-token-secret-0123', OLD_SECRET], null] // read back below
    case 'secret':
      return ['sample-secret-value-xyz', 'sample-secret-value-xyz', 'sample-secret-value-xyz']
    case 'path':
      return ['ca.pem', 'ca.pem', CA_PEM]
  }
}

/** Where a setting's value lands in loadGatewayConfig's answer. */
function readBack(cfg: GatewayServiceConfig, s: GatewaySetting): unknown {
  switch (s.key) {
    case 'port':
    case 'host':
    case 'drainTimeoutMs':
    case 'heapGrowthPercent':
      return cfg[s.key]
    case 'kafka.tls':
      return cfg.options.kafka?.tls === true
    case 'kafka.clientId': // left to createGateway (same default) unless set
      return cfg.sources['kafka-client-id'] === 'default'
        ? (expect(cfg.options.kafka?.clientId).toBeUndefined(), 'isokafka-gateway')
        : cfg.options.kafka?.clientId
    case 'kafka.ca': {
      const tls = cfg.options.kafka?.tls
      return typeof tls === 'object' ? tls.ca : undefined
    }
  }
  let v: unknown = cfg.options
  for (const part of s.key!.split('.')) v = (v as Record<string, unknown> | undefined)?.[part]
  return v
}

/** Settings the tested one needs to be valid (as flags; never the tested setting itself). */
function deps(s: GatewaySetting): string[] {
  const out: string[] = []
  if (s.flag !== 'bootstrap') out.push('--bootstrap', BOOT)
  if (s.flag !== 'secret') out.push(`--secret=${SECRET}`)
  const sasl = ['kafka-sasl-mechanism', 'kafka-sasl-username', 'kafka-sasl-password']
  if (sasl.includes(s.flag)) {
    if (s.flag !== 'kafka-sasl-mechanism') out.push('--kafka-sasl-mechanism', 'plain')
    if (s.flag !== 'kafka-sasl-username') out.push('--kafka-sasl-username', 'user')
    if (s.flag !== 'kafka-sasl-password') out.push('--kafka-sasl-password', 'dep-password')
  }
  return out
}

/** Puts a dotted key into a config-file object. */
function fileWith(key: string, value: unknown): Record<string, unknown> {
  const obj: Record<string, unknown> = {}
  let at = obj
  const parts = key.split('.')
  for (const p of parts.slice(0, -1)) at = (at[p] = {}) as Record<string, unknown>
  at[parts.at(-1)!] = value
  return obj
}

describe('gateway settings table', () => {
  it('names every flag, env variable and config key once, env names ISOKAFKA_GATEWAY_<FLAG> first', () => {
    const flags = GATEWAY_SETTINGS.map((s) => s.flag)
    expect(new Set(flags).size).toBe(flags.length)
    const envs = GATEWAY_SETTINGS.flatMap((s) => s.env)
    expect(new Set(envs).size).toBe(envs.length)
    const keys = GATEWAY_SETTINGS.flatMap((s) => (s.key ? [s.key] : []))
    expect(new Set(keys).size).toBe(keys.length)
    for (const s of GATEWAY_SETTINGS) {
      expect(s.env[0]).toBe(`ISOKAFKA_GATEWAY_${s.flag.toUpperCase().replace(/-/g, '_')}`)
      expect(s.doc.length).toBeGreaterThan(5)
    }
    // the spec's flags, all of them
    expect(flags.sort()).toEqual([
      'allow-auto-create',
      'bootstrap',
      'config',
      'dedup-entries',
      'drain-timeout-ms',
      'heap-growth-percent',
      'heartbeat-ms',
      'hello-timeout-ms',
      'host',
      'http-timeout-ms',
      'kafka-ca',
      'kafka-client-id',
      'kafka-sasl-mechanism',
      'kafka-sasl-password',
      'kafka-sasl-username',
      'kafka-tls',
      'log-level',
      'max-buffered-bytes',
      'max-connections',
      'max-frame-bytes',
      'max-in-flight',
      'max-pending-bytes',
      'max-records-per-frame',
      'max-running-batches',
      'max-unauthenticated',
      'max-unauthenticated-per-address',
      'metadata-rate',
      'metrics-token',
      'origins',
      'port',
      'rate',
      'secret',
    ])
    expect(setting('bootstrap').env).toContain('KAFKA_BOOTSTRAP')
    expect(setting('secret').env).toEqual(['ISOKAFKA_GATEWAY_SECRET', 'ISOKAFKA_GATEWAY_SECRET_PREVIOUS'])
    expect(setting('kafka-sasl-password').env).toContain('KAFKA_SASL_PASSWORD')
  })

  it('docs/deploying-gateway.md holds gatewaySettingsMarkdown() verbatim (regenerate the table when this fails)', () => {
    const doc = readFileSync(path.join(root, 'docs/deploying-gateway.md'), 'utf8')
    const table = gatewaySettingsMarkdown()
    expect(table.split('\n').filter((l) => l.startsWith('|')).length).toBe(GATEWAY_SETTINGS.length + 2)
    expect(doc).toContain(table)
  })

  it('--help lists every flag with its default and never a secret value', () => {
    const help = gatewaySettingsHelp()
    for (const s of GATEWAY_SETTINGS) expect(help).toContain(`--${s.flag}`)
    expect(help).toContain('default 8080')
  })

  it('the package entry re-exports config.ts (bin/isokafka.mjs loads loadGatewayConfig from dist/gateway.js)', () => {
    expect(readFileSync(path.join(root, 'adapters/gateway/index.ts'), 'utf8')).toMatch(
      /export \* from '\.\/config\.js'/,
    )
  })
})

describe('loadGatewayConfig', () => {
  it('gives every setting its default when only the required ones are set', () => {
    const cfg = load([], { KAFKA_BOOTSTRAP: BOOT, ISOKAFKA_GATEWAY_SECRET: SECRET })
    for (const s of settings) {
      if (s.required) continue
      expect(cfg.sources[s.flag], s.flag).toBe('default')
      if (s.key === 'kafka.tls') expect(cfg.options.kafka).toBeUndefined()
      else if (s.default !== undefined) expect(readBack(cfg, s), s.flag).toEqual(s.default)
      else expect(readBack(cfg, s), s.flag).toBeUndefined()
    }
    expect(cfg.options).toEqual({
      bootstrap: BOOT,
      secret: [SECRET],
      origins: [],
      limits: {
        maxFrameBytes: 2097152,
        maxInFlightBatches: 256,
        recordsPerSecond: 200000,
        maxRecordsPerFrame: 10000,
        metadataTopicsPerSecond: 100,
      },
      maxPendingBytes: 16777216,
      dedupEntries: 100000,
      maxRunningBatches: 20000,
      maxConnections: 10000,
      maxUnauthenticated: 256,
      maxUnauthenticatedPerAddress: 16,
      helloTimeoutMs: 5000,
      httpTimeoutMs: 30000,
      heartbeatMs: 30000,
      maxBufferedBytes: 1048576,
      allowAutoTopicCreation: false,
      logLevel: 'info',
    })
    expect({
      port: cfg.port,
      host: cfg.host,
      drainTimeoutMs: cfg.drainTimeoutMs,
      heapGrowthPercent: cfg.heapGrowthPercent,
    }).toEqual({
      port: 8080,
      host: '0.0.0.0',
      drainTimeoutMs: 10000,
      heapGrowthPercent: 100,
    })
  })

  describe.each(settings.map((s) => [s.flag, s] as const))('--%s', (_flag, s) => {
    const [text, fileValue, expected] = sample(s)
    const check = (cfg: GatewayServiceConfig, source: string, want = expected) => {
      expect(cfg.sources[s.flag]).toBe(source)
      expect(readBack(cfg, s)).toEqual(s.kind === 'secrets' ? (want ?? [text]) : want)
    }
    it('parses from a flag (--name value and --name=value)', () => {
      check(load([...deps(s), `--${s.flag}`, ...(s.kind === 'boolean' ? [] : [text])]), 'flag')
      check(load([...deps(s), `--${s.flag}=${text}`]), 'flag')
    })
    it.each(s.env.map((e) => [e]))('parses from %s', (name) => {
      if (s.kind === 'secrets' && name !== s.env[0]) {
        const cfg = load(deps(s), { [s.env[0]!]: text, [name]: OLD_SECRET })
        check(cfg, 'env', [text, OLD_SECRET])
        return
      }
      check(load(deps(s), { [name]: text }), 'env')
    })
    it('parses from the config file (given by --config and by ISOKAFKA_GATEWAY_CONFIG)', () => {
      if (!s.key) return
      const want = s.kind === 'secrets' ? fileValue : expected
      check(load([...deps(s), '--config', 'gw.json'], {}, { 'gw.json': fileWith(s.key, fileValue) }), 'file', want)
      check(
        load(deps(s), { ISOKAFKA_GATEWAY_CONFIG: 'gw.json' }, { 'gw.json': fileWith(s.key, fileValue) }),
        'file',
        want,
      )
      if (s.key.startsWith('limits.')) {
        // flat as well as nested
        check(
          load([...deps(s), '--config', 'gw.json'], {}, { 'gw.json': { [s.key.slice(7)]: fileValue } }),
          'file',
          want,
        )
      }
    })
    it('an invalid value is refused naming the flag / variable / key (and the value unless it is a secret)', () => {
      const badText =
        s.kind === 'int'
          ? `${(s.min ?? 0) - 1}`
          : s.kind === 'boolean'
            ? 'maybe'
            : s.kind === 'enum'
              ? 'loud'
              : s.kind === 'bootstrap'
                ? 'no-port'
                : s.kind === 'origins'
                  ? 'a.example/path'
                  : null
      if (badText !== null) {
        const e1 = invalid(() => load([...deps(s), `--${s.flag}=${badText}`]))
        expect(e1.message).toContain(`--${s.flag}`)
        expect(e1.message).toContain(JSON.stringify(badText))
        const e2 = invalid(() => load(deps(s), { [s.env[0]!]: badText }))
        expect(e2.message).toContain(s.env[0])
        expect(e2.message).toContain(JSON.stringify(badText))
      }
      if (s.key) {
        const badFile = s.kind === 'boolean' || s.kind === 'int' ? 'x' : 42
        const e3 = invalid(() =>
          load([...deps(s), '--config', 'gw.json'], {}, { 'gw.json': fileWith(s.key!, badFile) }),
        )
        expect(e3.message).toContain(`"${s.key}" in gw.json`)
        if (!s.sensitive) expect(e3.message).toContain(JSON.stringify(badFile))
      }
      if (s.kind !== 'boolean') {
        const e4 = invalid(() => load([...deps(s), `--${s.flag}`]))
        expect(e4.message).toContain(`--${s.flag} needs a value`)
      }
    })
  })

  it('precedence: flag > environment > config file > default, per setting', () => {
    const file = {
      'gw.json': {
        bootstrap: 'file:1',
        port: 1111,
        host: '10.0.0.1',
        limits: { maxFrameBytes: 3000 },
        maxConnections: 30,
        logLevel: 'warn',
      },
    }
    const env = {
      ISOKAFKA_GATEWAY_CONFIG: 'gw.json',
      ISOKAFKA_GATEWAY_SECRET: SECRET,
      ISOKAFKA_GATEWAY_PORT: '2222',
      ISOKAFKA_GATEWAY_MAX_FRAME_BYTES: '2000',
      KAFKA_BOOTSTRAP: 'env:1',
    }
    const cfg = load(['--port', '3333', '--log-level', 'debug'], env, file)
    expect(cfg.port).toBe(3333) // flag over env over file
    expect(cfg.options.logLevel).toBe('debug') // flag over file
    expect(cfg.options.limits.maxFrameBytes).toBe(2000) // env over file
    expect(cfg.options.bootstrap).toBe('env:1') // env over file
    expect(cfg.host).toBe('10.0.0.1') // file over default
    expect(cfg.options.maxConnections).toBe(30)
    expect(cfg.options.maxRunningBatches).toBe(20000) // default
    expect(cfg.sources).toMatchObject({
      port: 'flag',
      'log-level': 'flag',
      'max-frame-bytes': 'env',
      bootstrap: 'env',
      host: 'file',
      'max-connections': 'file',
      'max-running-batches': 'default',
      config: 'env',
    })
    // ISOKAFKA_GATEWAY_BOOTSTRAP over KAFKA_BOOTSTRAP; --config over ISOKAFKA_GATEWAY_CONFIG
    expect(load([], { ...env, ISOKAFKA_GATEWAY_BOOTSTRAP: 'gw:1' }, file).options.bootstrap).toBe('gw:1')
    expect(
      load(['--config', 'other.json'], env, { ...file, 'other.json': { maxConnections: 40 } }).options.maxConnections,
    ).toBe(40)
    // the last of a repeated flag wins
    expect(load(['--port', '1', '--port', '2'], env, file).port).toBe(2)
    // a config-file null means "default"
    expect(load([], env, { 'gw.json': { bootstrap: 'f:1', maxConnections: null } }).options.maxConnections).toBe(10000)
  })

  it('secrets: --secret repeats (rotation), flags replace the environment, env SECRET + SECRET_PREVIOUS, a list in the file', () => {
    expect(
      load(['--bootstrap', BOOT, '--secret', SECRET, '--secret', OLD_SECRET], {
        ISOKAFKA_GATEWAY_SECRET: 'env-secret-0123456789',
      }).options.secret,
    ).toEqual([SECRET, OLD_SECRET])
    expect(
      load(['--bootstrap', BOOT], { ISOKAFKA_GATEWAY_SECRET: SECRET, ISOKAFKA_GATEWAY_SECRET_PREVIOUS: OLD_SECRET })
        .options.secret,
    ).toEqual([SECRET, OLD_SECRET])
    expect(
      load(['--bootstrap', BOOT, '--config', 'f'], { ISOKAFKA_GATEWAY_SECRET: SECRET }, { f: { secret: [OLD_SECRET] } })
        .options.secret,
    ).toEqual([SECRET])
    expect(load(['--bootstrap', BOOT, '--config', 'f'], {}, { f: { secret: OLD_SECRET } }).options.secret).toEqual([
      OLD_SECRET,
    ])
    const e = invalid(() => load(['--bootstrap', BOOT], { ISOKAFKA_GATEWAY_SECRET_PREVIOUS: OLD_SECRET }))
    expect(e.message).toMatch(/ISOKAFKA_GATEWAY_SECRET_PREVIOUS is set but ISOKAFKA_GATEWAY_SECRET is not/)
    // an empty variable counts as unset (docker compose `VAR=`)
    expect(invalid(() => load(['--bootstrap', BOOT], { ISOKAFKA_GATEWAY_SECRET: '' })).message).toMatch(
      /--secret .*is required/,
    )
  })

  it('Kafka TLS and SASL map to the kafka option (tcp() shapes)', () => {
    const base = ['--bootstrap', BOOT, '--secret', SECRET]
    expect(load(base).options.kafka).toBeUndefined()
    expect(load([...base, '--kafka-tls']).options.kafka).toEqual({ tls: true })
    expect(load([...base, '--kafka-tls=false']).options.kafka).toBeUndefined()
    expect(load([...base, '--kafka-ca', 'ca.pem']).options.kafka).toEqual({ tls: { ca: CA_PEM } })
    expect(
      load([...base, '--kafka-sasl-mechanism', 'SCRAM-SHA-256', '--kafka-sasl-username', 'u'], {
        KAFKA_SASL_PASSWORD: 'pw-from-env',
      }).options.kafka,
    ).toEqual({
      sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'pw-from-env' },
    })
    expect(
      load(
        [...base, '--config', 'f'],
        {},
        { f: { kafka: { tls: true, sasl: { mechanism: 'plain', username: 'u', password: 'p' } } } },
      ).options.kafka,
    ).toEqual({
      tls: true,
      sasl: { mechanism: 'plain', username: 'u', password: 'p' },
    })
  })

  it('validation errors name the problem', () => {
    const base = ['--bootstrap', BOOT, '--secret', SECRET]
    const cases: Array<[string[], Record<string, string>, Record<string, unknown>, RegExp]> = [
      [
        [],
        { ISOKAFKA_GATEWAY_SECRET: SECRET },
        {},
        /--bootstrap \(or ISOKAFKA_GATEWAY_BOOTSTRAP \/ KAFKA_BOOTSTRAP, or "bootstrap" in the config file\) is required/,
      ],
      [
        ['--bootstrap', BOOT],
        {},
        {},
        /--secret \(or ISOKAFKA_GATEWAY_SECRET \/ ISOKAFKA_GATEWAY_SECRET_PREVIOUS.*\) is required/,
      ],
      [[...base, '--nope', '1'], {}, {}, /unknown flag --nope/],
      [[...base, 'gateway'], {}, {}, /unexpected argument "gateway"/],
      [[...base, '--port', '70000'], {}, {}, /--port must be an integer between 0 and 65535, got "70000"/],
      [[...base, '--rate', '1.5'], {}, {}, /--rate must be an integer ≥ 0, got "1.5"/],
      [[...base, '--max-frame-bytes', '1023'], {}, {}, /--max-frame-bytes must be an integer ≥ 1024, got "1023"/],
      [
        [...base],
        { ISOKAFKA_GATEWAY_MAX_IN_FLIGHT: '0' },
        {},
        /ISOKAFKA_GATEWAY_MAX_IN_FLIGHT must be an integer ≥ 1, got "0"/,
      ],
      [
        [...base, '--log-level', 'verbose'],
        {},
        {},
        /--log-level must be one of debug, info, warn, error, silent, got "verbose"/,
      ],
      [
        [...base, '--kafka-sasl-mechanism', 'gssapi'],
        {},
        {},
        /--kafka-sasl-mechanism must be one of plain, scram-sha-256, scram-sha-512, got "gssapi"/,
      ],
      [[...base, '--kafka-sasl-mechanism', 'plain'], {}, {}, /--kafka-sasl-mechanism needs --kafka-sasl-username/],
      [
        [...base, '--kafka-sasl-username', 'u'],
        {},
        {},
        /--kafka-sasl-username is set but --kafka-sasl-mechanism is not/,
      ],
      [
        [...base, '--kafka-ca', 'missing.pem'],
        {},
        {},
        /cannot read the CA file missing\.pem \(from --kafka-ca\): ENOENT/,
      ],
      [[...base, '--origins', '*,https://a.example'], {}, {}, /--origins must be either \* or a list/],
      [['--bootstrap', 'a:1,b', '--secret', SECRET], {}, {}, /--bootstrap must be HOST:PORT.*"b" is not/],
      [
        [...base, '--config', 'missing.json'],
        {},
        {},
        /cannot read config file missing\.json \(from --config\): ENOENT/,
      ],
      [[...base, '--config', 'f'], {}, { f: '[1]' }, /config file f must hold a JSON object/],
      [[...base, '--config', 'f'], {}, { f: { maxFrameByte: 5000 } }, /unknown key "maxFrameByte" in config file f/],
      [[...base, '--config', 'f'], {}, { f: { limits: { port: 1 } } }, /unknown key "limits.port" in config file f/],
      [[...base, '--config', 'f'], {}, { f: { limits: 5 } }, /"limits" in config file f must be an object/],
      [
        [...base, '--config', 'f'],
        {},
        { f: { maxFrameBytes: 5000, limits: { maxFrameBytes: 6000 } } },
        /"limits.maxFrameBytes" is given twice/,
      ],
      [
        [...base, '--config', 'f'],
        {},
        { f: { port: 1.5 } },
        /"port" in f must be an integer between 0 and 65535, got 1.5/,
      ],
      [[...base, '--config', 'f'], {}, { f: { config: 'x' } }, /unknown key "config"/],
    ]
    for (const [argv, env, fileMap, re] of cases) expect(invalid(() => load(argv, env, fileMap)).message).toMatch(re)
  })

  it('never puts a secret, the metrics token or the SASL password in an error message', () => {
    const short = 'short-secret-x'
    const token = 'metrics-token-value-abc'
    const pw = 'sasl-password-value-def'
    const msgs = [
      invalid(() => load(['--bootstrap', BOOT, '--secret', short])).message,
      invalid(() => load(['--bootstrap', BOOT, '--secret', SECRET, '--secret', short])).message,
      invalid(() => load(['--bootstrap', BOOT], { ISOKAFKA_GATEWAY_SECRET: short })).message,
      invalid(() => load(['--bootstrap', BOOT, '--config', 'f'], {}, { f: { secret: [short] } })).message,
      invalid(() => load(['--bootstrap', BOOT, '--config', 'f'], {}, { f: { secret: [short, 5] } })).message,
      invalid(() => load(['--bootstrap', BOOT, '--config', 'f'], {}, { f: { metricsToken: [token] } })).message,
      invalid(() => load(['--bootstrap', BOOT, '--secret', SECRET, '--metrics-token', ''])).message,
      invalid(() => load(['--bootstrap', BOOT, '--secret', SECRET, '--kafka-sasl-password', pw])).message,
      invalid(() =>
        load(
          ['--bootstrap', BOOT, '--secret', SECRET, '--config', 'f'],
          {},
          { f: { kafka: { sasl: { password: [pw] } } } },
        ),
      ).message,
      // a JSON syntax error right after a secret: JSON.parse's own message would quote the text around it
      invalid(() =>
        load(
          ['--bootstrap', BOOT, '--config', 'f'],
          {},
          { f: `{"secret": "${SECRET}", "metricsToken": "${token}" x}` },
        ),
      ).message,
      invalid(() => load(['--bootstrap', BOOT, '--config', 'f'], {}, { f: `{"secret": "${SECRET}" ${token}` })).message,
    ]
    for (const m of msgs) {
      for (const s of [short, token, pw, SECRET]) expect(m).not.toContain(s)
    }
    expect(msgs[0]).toMatch(/the token secret from --secret is shorter than 16 characters/)
    expect(msgs[1]).toMatch(/--secret \(#2 of 2\)/)
    expect(msgs[9]).toMatch(/config file f is not valid JSON at line 1, column \d+/)
    // the start-up summary redacts them as well
    const cfg = load([
      '--bootstrap',
      BOOT,
      '--secret',
      SECRET,
      '--metrics-token',
      token,
      '--kafka-sasl-mechanism',
      'plain',
      '--kafka-sasl-username',
      'u',
      '--kafka-sasl-password',
      pw,
    ])
    const summary = JSON.stringify(cfg.effective)
    for (const s of [token, pw, SECRET]) expect(summary).not.toContain(s)
    expect(cfg.effective['metrics-token']).toEqual({ source: 'flag', value: '[redacted]' })
    expect(cfg.options.metricsToken).toBe(token)
  })
})

describe('jsonLogger', () => {
  it('writes one JSON line per entry (ts, level, msg first, then fields), filtered by level', () => {
    const lines: string[] = []
    const log = jsonLogger('info', (s) => lines.push(s))
    log({ level: 'debug', msg: 'hidden' })
    log({ level: 'info', msg: 'hello', conn: 7 })
    log({ ts: '2026-01-01T00:00:00.000Z', level: 'error', msg: 'bad', error: new Error('boom'), n: 10n })
    expect(lines).toHaveLength(2)
    for (const l of lines) expect(l.endsWith('\n') && l.indexOf('\n') === l.length - 1).toBe(true)
    const first = JSON.parse(lines[0]!)
    expect(Object.keys(first)).toEqual(['ts', 'level', 'msg', 'conn'])
    expect(first).toMatchObject({ level: 'info', msg: 'hello', conn: 7 })
    expect(Number.isNaN(Date.parse(first.ts))).toBe(false)
    expect(JSON.parse(lines[1]!)).toEqual({
      ts: '2026-01-01T00:00:00.000Z',
      level: 'error',
      msg: 'bad',
      error: { name: 'Error', message: 'boom' },
      n: '10',
    })
    const circular: Record<string, unknown> = {}
    circular.self = circular
    log({ level: 'warn', msg: 'circular', circular })
    expect(JSON.parse(lines[2]!)).toMatchObject({ level: 'warn', msg: 'circular' })
  })

  it.each([
    ['debug', 4],
    ['info', 3],
    ['warn', 2],
    ['error', 1],
    ['silent', 0],
  ] as const)('level %s lets %i of debug/info/warn/error through', (level, count) => {
    const lines: string[] = []
    const log = jsonLogger(level, (s) => lines.push(s))
    for (const l of ['debug', 'info', 'warn', 'error'] as const) log({ level: l, msg: l })
    expect(lines).toHaveLength(count)
  })
})
