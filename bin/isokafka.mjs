#!/usr/bin/env node
// isokafka command line.
//
//   isokafka gateway --port P --bootstrap B --secret S [--origins O1,O2|*] [--host H] [--rate N]
//                    [--max-frame-bytes N] [--max-in-flight N] [--max-pending-bytes N] [--allow-auto-create]
//   isokafka token --secret S --topics T1,T2 [--expires SECONDS] [--subject NAME]
//
// The secret can come from ISOKAFKA_GATEWAY_SECRET instead of --secret (keeps it out of `ps`), the bootstrap from
// KAFKA_BOOTSTRAP. The gateway module is the built package (dist/gateway.js): run `npm run build` in a checkout.
import { parseArgs } from 'node:util'

const USAGE = `usage:
  isokafka gateway --port P --bootstrap HOST:PORT[,HOST:PORT] --secret S [options]
      --host H                listen address (default 0.0.0.0)
      --origins A,B | '*'     browser origins allowed (default: none; non-browser clients always pass)
      --rate N                records/s per connection (default 200000; 0 = unlimited)
      --max-frame-bytes N     largest frame / HTTP body (default 2097152)
      --max-in-flight N       client batches waiting for Kafka per connection (default 256)
      --max-pending-bytes N   stop reading from clients above this many bytes waiting for Kafka (default 16 MiB)
      --allow-auto-create     let requests for unknown topics create them (if the brokers allow it)
  isokafka token --secret S --topics T1,T2 [--expires SECONDS] [--subject NAME]
      prints a gateway token (HS256 JWT) allowing those topics ('prefix*' and '*' patterns work)
  environment: ISOKAFKA_GATEWAY_SECRET (instead of --secret), KAFKA_BOOTSTRAP (instead of --bootstrap)`

function fail(message) {
  process.stderr.write(`isokafka: ${message}\n${USAGE}\n`)
  process.exit(2)
}

function int(name, value, min = 0) {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got ${value}`)
  return n
}

async function loadGateway() {
  try {
    return await import(new URL('../dist/gateway.js', import.meta.url).href)
  } catch (err) {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') fail('dist/gateway.js is missing: run `npm run build` first')
    throw err
  }
}

async function gatewayCommand(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' }, host: { type: 'string' }, bootstrap: { type: 'string' }, secret: { type: 'string' },
      origins: { type: 'string' }, rate: { type: 'string' }, 'max-frame-bytes': { type: 'string' },
      'max-in-flight': { type: 'string' }, 'max-pending-bytes': { type: 'string' }, 'allow-auto-create': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const bootstrap = values.bootstrap ?? process.env.KAFKA_BOOTSTRAP
  const secret = values.secret ?? process.env.ISOKAFKA_GATEWAY_SECRET
  if (!bootstrap) fail('--bootstrap (or KAFKA_BOOTSTRAP) is required')
  if (!secret) fail('--secret (or ISOKAFKA_GATEWAY_SECRET) is required')
  if (secret.length < 16) fail('the secret must be at least 16 characters')
  const port = int('port', values.port ?? '8080')
  const origins = values.origins === undefined ? [] : values.origins.trim() === '*' ? '*' : values.origins.split(',').map((s) => s.trim()).filter(Boolean)
  const limits = {}
  const rate = int('rate', values.rate)
  if (rate !== undefined) limits.recordsPerSecond = rate
  const maxFrame = int('max-frame-bytes', values['max-frame-bytes'], 1024)
  if (maxFrame !== undefined) limits.maxFrameBytes = maxFrame
  const maxInFlight = int('max-in-flight', values['max-in-flight'], 1)
  if (maxInFlight !== undefined) limits.maxInFlightBatches = maxInFlight
  const { createGateway } = await loadGateway()
  const gateway = createGateway({
    bootstrap,
    secret,
    origins,
    limits,
    maxPendingBytes: int('max-pending-bytes', values['max-pending-bytes'], 1024),
    allowAutoTopicCreation: values['allow-auto-create'] === true,
    log: (line) => process.stderr.write(`[gateway] ${line}\n`),
  })
  const { url } = await gateway.listen(port, values.host ?? '0.0.0.0')
  process.stdout.write(`isokafka gateway listening on ${url} (WebSocket ${url.replace(/^http/, 'ws')}/v1/ws), Kafka ${bootstrap}\n`)
  let stopping = false
  const stop = async (signal) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`[gateway] ${signal}: closing\n`)
    await gateway.close({ timeoutMs: 10_000 })
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

async function tokenCommand(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { secret: { type: 'string' }, topics: { type: 'string' }, expires: { type: 'string' }, subject: { type: 'string' } },
  })
  const secret = values.secret ?? process.env.ISOKAFKA_GATEWAY_SECRET
  if (!secret) fail('--secret (or ISOKAFKA_GATEWAY_SECRET) is required')
  if (!values.topics) fail('--topics is required')
  const { createGatewayToken } = await loadGateway()
  const token = await createGatewayToken({
    secret,
    topics: values.topics.split(',').map((s) => s.trim()).filter(Boolean),
    expiresInSec: int('expires', values.expires ?? '3600', 1),
    subject: values.subject,
  })
  process.stdout.write(`${token}\n`)
}

const [command, ...rest] = process.argv.slice(2)
try {
  if (command === 'gateway') await gatewayCommand(rest)
  else if (command === 'token') await tokenCommand(rest)
  else if (command === undefined || command === '--help' || command === '-h' || command === 'help') process.stdout.write(`${USAGE}\n`)
  else fail(`unknown command ${command}`)
} catch (err) {
  fail(err && err.message ? err.message : String(err))
}
