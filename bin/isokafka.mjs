#!/usr/bin/env node
// isokafka command line.
//
//   isokafka gateway [--config FILE] [--port N] [--bootstrap B] [--secret S]... [settings]   (isokafka gateway --help)
//   isokafka token --secret S --topics T1,T2 [--expires SECONDS] [--subject NAME]
//   isokafka produce -b BROKERS -t TOPIC [flags] [FILE ...]      (kcat -P style; isokafka produce --help)
//   isokafka perf --topic T --num-records N --record-size S --throughput R [--producer-props K=V ...]
//                                                          (Java's ProducerPerformance flags and output)
//   isokafka topics list | describe [TOPIC ...] | create TOPIC [--partitions N] [--replication-factor R]
//
// Gateway settings come from flags, environment variables (ISOKAFKA_GATEWAY_*, KAFKA_BOOTSTRAP, KAFKA_SASL_PASSWORD)
// and a JSON config file, in that order of precedence (adapters/gateway/config.ts, docs/deploying-gateway.md).
// Secrets belong in the environment or the file, not on the command line (`ps` shows flags). The gateway module is the
// built package (dist/gateway.js): run `npm run build` in a checkout. produce, perf and topics live in dist/cli.js
// (adapters/cli/); this file only dispatches.
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'

const USAGE = `usage:
  isokafka gateway [settings]       run the gateway (isokafka gateway --help lists every setting)
      precedence: --flag > environment variable > config file (--config FILE or ISOKAFKA_GATEWAY_CONFIG) > default
      required: --bootstrap (or KAFKA_BOOTSTRAP) and a token secret (ISOKAFKA_GATEWAY_SECRET)
  isokafka token --secret S --topics T1,T2 [--expires SECONDS] [--subject NAME]
      prints a gateway token (HS256 JWT) allowing those topics ('prefix*' and '*' patterns work)
      the secret can come from ISOKAFKA_GATEWAY_SECRET instead of --secret
  isokafka produce -b BROKERS -t TOPIC [flags] [FILE ...]
      produces lines (or --json / --binary records) from files or stdin, like kcat -P; a summary on stderr
  isokafka perf --topic T --num-records N --record-size S --throughput R --producer-props K=V ...
      producer benchmark with the flags and output lines of Java's ProducerPerformance
  isokafka topics list | describe [TOPIC ...] | create TOPIC --partitions N --replication-factor R
      topic names, partitions and replicas; CreateTopics
  (every command takes --help; docs/cli.md)`

function fail(message, usage = true) {
  process.stderr.write(`isokafka: ${message}\n${usage ? `${USAGE}\n` : ''}`)
  process.exit(2)
}

function int(name, value, min = 0) {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got ${value}`)
  return n
}

async function loadBuilt(file) {
  let mod
  try {
    mod = await import(new URL(`../dist/${file}`, import.meta.url).href)
  } catch (err) {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') fail(`dist/${file} is missing: run \`npm run build\` first`, false)
    throw err
  }
  return mod
}

const loadGateway = () => loadBuilt('gateway.js')

/** produce / perf / topics: an exit status (adapters/cli runCommand: 2 for bad flags, 1 when anything failed). */
async function cliCommand(name, argv) {
  const cli = await loadBuilt('cli.js')
  const status = await cli.runCommand(name, cli.processIo(argv))
  // stdin may still be open (an early stop): exit rather than wait for it
  process.exitCode = status
  process.stdout.write('', () => process.exit(status))
}

async function gatewayCommand(argv) {
  const gw = await loadGateway()
  if (typeof gw.loadGatewayConfig !== 'function')
    fail('dist/gateway.js is older than this command (no loadGatewayConfig): run `npm run build`', false)
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      `usage: isokafka gateway [settings]\n` +
        `precedence: --flag > environment variable > config file (--config FILE or ISOKAFKA_GATEWAY_CONFIG) > default\n` +
        `config file: JSON, keys as in the third column of the table in docs/deploying-gateway.md ("limits" nested or flat)\n\n` +
        `${gw.gatewaySettingsHelp()}\n`,
    )
    return
  }
  let config
  try {
    config = gw.loadGatewayConfig({ argv, env: process.env })
  } catch (err) {
    if (err && err.code === 'INVALID_CONFIG')
      fail(`gateway: ${err.message}\n(isokafka gateway --help lists the settings)`, false)
    throw err
  }
  const logger = gw.jsonLogger(config.options.logLevel)
  // A bounded old space: V8 otherwise lets it (and the buffers it frees) grow to ~4× what a full collection keeps
  // before the next one. Measured at 1,000 clients: peak RSS 309-338 MB with V8's choice, 264-266 MB with 100, about
  // the same records/s. V8 reads this flag at every full collection, so setting it now takes effect.
  if (config.heapGrowthPercent > 0) setFlagsFromString(`--heap-growing-percent=${config.heapGrowthPercent}`)
  let gateway
  try {
    gateway = gw.createGateway({ ...config.options, logger })
  } catch (err) {
    if (err && err.code === 'INVALID_CONFIG') fail(`gateway: ${err.message}`, false)
    throw err
  }

  let stopping = false
  const stop = async (signal) => {
    if (stopping) {
      logger({ level: 'warn', msg: 'second signal: exiting without finishing the drain', signal })
      process.exit(1)
    }
    stopping = true
    logger({ level: 'info', msg: 'draining', signal, timeoutMs: config.drainTimeoutMs })
    // close() keeps to the timeout; this is only a backstop should it not return
    setTimeout(() => {
      logger({ level: 'error', msg: 'the drain did not finish in time: exiting', timeoutMs: config.drainTimeoutMs })
      process.exit(1)
    }, config.drainTimeoutMs + 5000).unref()
    try {
      await gateway.close({ timeoutMs: config.drainTimeoutMs })
    } catch (err) {
      logger({ level: 'error', msg: 'the drain failed', error: err && err.message ? err.message : String(err) })
      process.exit(1)
    }
    logger({ level: 'info', msg: 'stopped' })
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))

  let listening
  try {
    listening = await gateway.listen(config.port, config.host)
  } catch (err) {
    logger({
      level: 'error',
      msg: 'cannot listen',
      host: config.host,
      port: config.port,
      error: err && err.code ? err.code : String(err && err.message),
    })
    process.stderr.write(
      `isokafka: gateway: cannot listen on ${config.host}:${config.port}: ${err && err.message ? err.message : err}\n`,
    )
    process.exit(1)
  }
  const { url } = listening
  logger({
    level: 'info',
    msg: 'gateway started',
    url,
    bootstrap: config.options.bootstrap,
    settings: config.effective,
  })
  process.stdout.write(
    `isokafka gateway listening on ${url} (WebSocket ${url.replace(/^http/, 'ws')}/v1/ws), Kafka ${config.options.bootstrap}\n`,
  )
}

async function tokenCommand(argv) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'usage: isokafka token --secret S --topics T1,T2 [--expires SECONDS] [--subject NAME]\n' +
        "prints a gateway token (HS256 JWT) allowing those topics ('prefix*' and '*' patterns work); default --expires 3600\n" +
        'the secret can come from ISOKAFKA_GATEWAY_SECRET instead of --secret\n',
    )
    return
  }
  const { values } = parseArgs({
    args: argv,
    options: {
      secret: { type: 'string' },
      topics: { type: 'string' },
      expires: { type: 'string' },
      subject: { type: 'string' },
    },
  })
  const secret = values.secret ?? process.env.ISOKAFKA_GATEWAY_SECRET
  if (!secret) fail('--secret (or ISOKAFKA_GATEWAY_SECRET) is required')
  if (!values.topics) fail('--topics is required')
  const { createGatewayToken } = await loadGateway()
  const token = await createGatewayToken({
    secret,
    topics: values.topics
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    expiresInSec: int('expires', values.expires ?? '3600', 1),
    subject: values.subject,
  })
  process.stdout.write(`${token}\n`)
}

process.on('uncaughtException', (err) => {
  process.stderr.write(
    `${JSON.stringify({ ts: new Date().toISOString(), level: 'error', msg: 'uncaught exception', error: err && err.message ? err.message : String(err), stack: err && err.stack })}\n`,
  )
  process.exit(1)
})

const [command, ...rest] = process.argv.slice(2)
try {
  if (command === 'gateway') await gatewayCommand(rest)
  else if (command === 'token') await tokenCommand(rest)
  else if (command === 'produce' || command === 'perf' || command === 'topics') await cliCommand(command, rest)
  else if (command === undefined || command === '--help' || command === '-h' || command === 'help')
    process.stdout.write(`${USAGE}\n`)
  else fail(`unknown command ${command}`)
} catch (err) {
  fail(err && err.message ? err.message : String(err), false)
}
