import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import {
  UsageError,
  intFlag,
  keyValues,
  numberFlag,
  parseFlags,
  sleep,
  str,
  takeMultiValued,
  type CliIo,
} from './args.js'
import { CONNECTION_FLAGS, CONNECTION_HELP, applyConnectionFlags, emptySettings, openProducer } from './client.js'
import { PerfStats } from './perf-stats.js'
import { applyJavaProps, readPropertiesFile } from './props.js'
import { Tally } from './summary.js'

export const PERF_HELP = `usage: isokafka perf --topic TOPIC --num-records N --throughput T
                    (--record-size BYTES | --payload-file FILE | --payload-monotonic)
                    [--producer-props K=V ...] [--command-property K=V ...] [--command-config FILE] [flags]

Producer benchmark with the flags and output of Java's ProducerPerformance (kafka-producer-perf-test.sh), so the
two compare line for line. Every few seconds (--reporting-interval, default 5000 ms):
  N records sent, X records/sec (Y MB/sec), Z ms avg latency, W ms max latency.
and at the end:
  N records sent, X records/sec (Y MB/sec), Z ms avg latency, W ms max latency, A ms 50th, B ms 95th, C ms 99th, D ms 99.9th.

  --topic TOPIC                 produce to this topic
  --num-records N               records to produce
  --record-size BYTES           random payloads of this size ('A'..'Z', new per record, as Java's)
  --payload-file FILE           payloads read from FILE (UTF-8), split at --payload-delimiter (a regular
                                expression, default \\n), one picked at random per record
  --payload-monotonic           the payload is the record's number (0, 1, 2, ...)
  --throughput T                at most about T records/s; -1 for no limit
  --producer-props K=V ...      Java producer properties (bootstrap.servers, acks, linger.ms, batch.size,
  --command-property K=V ...      compression.type, enable.idempotence, buffer.memory,
                                  max.in.flight.requests.per.connection, max.request.size, security.protocol,
                                  sasl.mechanism, sasl.jaas.config, ssl.truststore.location (PEM), ...)
  --producer.config FILE        the same from a .properties file (flags win over the file)
  --command-config FILE
  --bootstrap-server B          wins over bootstrap.servers (default: $KAFKA_BOOTSTRAP)
  --reporting-interval MS       window length (default 5000)
  --warmup-records N            leave the first N records out of a second, "steady state" total line
  --key-distribution D          none (null keys, default) | range (i mod R) | random (in [0, R)); keys are decimal text
  --record-key-range R
  --random-seed S               seed for payloads and random keys (default 0; sequences differ from Java's)
  --transactional-id ID         transactional producer (also transactional.id), a commit every
  --transaction-duration-ms MS    MS ms (default 3000; either flag turns transactions on, as in Java's tool)
  --print-metrics               not available (isokafka has no metrics registry): a note on stderr

${CONNECTION_HELP}

Failed records are not counted in the lines (as in Java); they are summed up on stderr by error code, and the exit
status is 1.

example:
  isokafka perf --topic bench --num-records 1000000 --record-size 100 --throughput -1 \\
    --producer-props bootstrap.servers=localhost:9092 acks=all linger.ms=5`

const MULTI = ['--producer-props', '--command-property'] as const

const FLAGS = {
  ...CONNECTION_FLAGS,
  topic: { type: 'string' },
  'num-records': { type: 'string' },
  'record-size': { type: 'string' },
  'payload-file': { type: 'string' },
  'payload-delimiter': { type: 'string' },
  'payload-monotonic': { type: 'boolean' },
  throughput: { type: 'string' },
  'producer.config': { type: 'string' },
  'command-config': { type: 'string' },
  'bootstrap-server': { type: 'string' },
  'reporting-interval': { type: 'string' },
  'warmup-records': { type: 'string' },
  'key-distribution': { type: 'string' },
  'record-key-range': { type: 'string' },
  'random-seed': { type: 'string' },
  'print-metrics': { type: 'boolean' },
  'transactional-id': { type: 'string' },
  'transaction-duration-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** splitmix32: small, seedable, good enough to pick letters and keys. */
function rng(seed: number): (bound: number) => number {
  let s = seed >>> 0
  return (bound) => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    z = (z ^ (z >>> 16)) >>> 0
    return z % bound
  }
}

export async function perfCommand(io: CliIo): Promise<number> {
  const { rest, taken } = takeMultiValued(io.argv, MULTI)
  const { values, positionals } = parseFlags(rest, FLAGS, 'perf')
  if (values.help || io.argv.length === 0) {
    io.stdout.write(`${PERF_HELP}\n`)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`perf: unexpected argument ${JSON.stringify(positionals[0])}`)
  const topic = str(values, 'topic')
  if (!topic) throw new UsageError('perf: --topic is required')
  const numRecords = intFlag('num-records', str(values, 'num-records'), 1)
  if (numRecords === undefined) throw new UsageError('perf: --num-records is required')
  const throughput = numberFlag('throughput', str(values, 'throughput'))
  if (throughput === undefined) throw new UsageError('perf: --throughput is required (-1: no limit)')
  if (throughput === 0) throw new UsageError('perf: --throughput 0 would send nothing; -1 means no limit')
  const recordSize = intFlag('record-size', str(values, 'record-size'), 1)
  const payloadFile = str(values, 'payload-file')
  const monotonic = values['payload-monotonic'] === true
  if ([recordSize !== undefined, payloadFile !== undefined, monotonic].filter(Boolean).length !== 1) {
    throw new UsageError('perf: give exactly one of --record-size, --payload-file or --payload-monotonic')
  }
  const warmup = intFlag('warmup-records', str(values, 'warmup-records'), 0) ?? 0
  if (warmup > 0 && warmup >= numRecords)
    throw new UsageError('perf: --warmup-records must be fewer than --num-records')
  const interval = intFlag('reporting-interval', str(values, 'reporting-interval'), 1) ?? 5000
  const keyDistribution = str(values, 'key-distribution') ?? 'none'
  if (!['none', 'range', 'random'].includes(keyDistribution))
    throw new UsageError('perf: --key-distribution is none, range or random')
  const keyRange = intFlag('record-key-range', str(values, 'record-key-range'), 1)
  if (keyDistribution !== 'none' && keyRange === undefined)
    throw new UsageError(`perf: --key-distribution ${keyDistribution} needs --record-key-range`)
  const random = rng(intFlag('random-seed', str(values, 'random-seed'), 0) ?? 0)
  const print = (line: string) => io.stdout.write(`${line}\n`)

  const settings = emptySettings()
  settings.producer.clientId = 'perf-producer-client' // Java's default for this tool
  const props: Array<[string, string]> = []
  for (const file of [str(values, 'producer.config'), str(values, 'command-config')])
    if (file) props.push(...readPropertiesFile(file))
  for (const flag of MULTI) props.push(...keyValues(flag, taken.get(flag) ?? []))
  const skipped = applyJavaProps(settings, props)
  if (skipped.length > 0)
    io.stderr.write(`isokafka perf: ignoring properties isokafka does not use: ${skipped.join(', ')}\n`)
  applyConnectionFlags(settings, values, io.env)
  const bootstrapServer = str(values, 'bootstrap-server')
  if (bootstrapServer) settings.bootstrap = bootstrapServer
  // transactions as Java's tool: on with any of the three; the id defaults to performance-producer-<uuid>, a commit
  // every --transaction-duration-ms (default 3000)
  const durationFlag = intFlag('transaction-duration-ms', str(values, 'transaction-duration-ms'), 1)
  const idFlag = str(values, 'transactional-id')
  if (idFlag) settings.producer.transactionalId = idFlag
  const transactional = durationFlag !== undefined || settings.producer.transactionalId !== undefined
  if (transactional) settings.producer.transactionalId ??= `performance-producer-${crypto.randomUUID()}`
  const transactionDurationMs = durationFlag ?? 3000
  if (values['print-metrics'])
    io.stderr.write('isokafka perf: --print-metrics is not available (no metrics registry); ignored\n')

  let payloads: Uint8Array[] = []
  if (payloadFile) {
    print(`Reading payloads from: ${path.resolve(payloadFile)}`)
    let size = 0
    try {
      size = statSync(payloadFile).size
    } catch {}
    if (size === 0) throw new UsageError('perf: File does not exist or empty file provided.')
    let delimiter: RegExp
    try {
      delimiter = new RegExp(str(values, 'payload-delimiter') ?? '\n') // a regular expression, as Java's Scanner takes it
    } catch (err) {
      throw new UsageError(`perf: --payload-delimiter: ${(err as Error).message}`)
    }
    const utf8 = new TextEncoder()
    payloads = readFileSync(payloadFile, 'utf8')
      .split(delimiter)
      .filter((p) => p.length > 0)
      .map((p) => utf8.encode(p))
    print(`Number of messages read: ${payloads.length}`)
    if (payloads.length === 0) throw new UsageError('perf: the payload file has no payloads')
  }
  const utf8 = new TextEncoder()
  // Random 'A'..'Z' as Java's, but cut from a pool walked in order rather than drawn byte by byte (which took a third
  // of the CPU time): no two records of a batch share bytes, so compression sees what Java's payloads give it. Records
  // are views of 1 MiB copies of the pool (a copy per record costs ~2 µs): a copy is never written again, so a record
  // that has to wait keeps its bytes.
  const size = recordSize ?? 0
  const arenaSize = Math.max(1024 * 1024, size)
  const pool = new Uint8Array(size === 0 ? 0 : 4 * arenaSize)
  for (let j = 0; j < pool.length; j++) pool[j] = 65 + random(26)
  let poolAt = 0
  let arena = new Uint8Array(0)
  let arenaAt = 0
  const payloadFor = (i: number): Uint8Array => {
    if (payloads.length > 0) return payloads[random(payloads.length)]!
    if (monotonic) return utf8.encode(String(i))
    if (arenaAt + size > arena.length) {
      if (poolAt + arenaSize > pool.length) poolAt = random(64) // wrap at a shifted start
      arena = pool.slice(poolAt, poolAt + arenaSize)
      poolAt += arenaSize
      arenaAt = 0
    }
    arenaAt += size
    return arena.subarray(arenaAt - size, arenaAt)
  }
  const keyFor = (i: number): Uint8Array | null =>
    keyDistribution === 'range'
      ? utf8.encode(String(i % keyRange!))
      : keyDistribution === 'random'
        ? utf8.encode(String(random(keyRange!)))
        : null

  const producer = openProducer(settings)
  if (transactional) await producer.initTransactions()
  let inTransaction = 0 // records in the open transaction
  let transactionStart = 0
  const failures = new Tally()
  if (warmup > 0)
    print(`Warmup first ${warmup} records. Steady state results will print after the complete test summary.`)
  const stats = new PerfStats(numRecords, false, interval, print)
  let steady: PerfStats | null = null
  const startMs = Date.now()
  let stopped = false
  const onSigint = () => {
    if (stopped) process.exit(130)
    stopped = true
  }
  process.on('SIGINT', onSigint)
  try {
    for (let i = 0; i < numRecords && !stopped; i++) {
      const value = payloadFor(i)
      const key = keyFor(i)
      if (transactional && inTransaction === 0) {
        producer.beginTransaction()
        transactionStart = Date.now()
      }
      const sendStart = Date.now()
      if (warmup > 0 && i === warmup) {
        steady = new PerfStats(numRecords - warmup, true, interval, print)
        stats.suppressPrinting()
      }
      const s = steady
      const bytes = value.length
      let more: boolean
      try {
        more = producer.produce({ topic, key, value }, (err) => {
          if (err) return failures.fail(err)
          const now = Date.now()
          stats.record(now - sendStart, bytes, now)
          s?.record(now - sendStart, bytes, now)
        })
      } catch (err) {
        failures.fail(err)
        if (
          (err as { code?: string }).code === 'PRODUCER_FATAL' ||
          (err as { code?: string }).code === 'PRODUCER_CLOSED'
        )
          break
        continue
      }
      if (!more) await producer.ready()
      inTransaction++
      if (transactional && sendStart - transactionStart >= transactionDurationMs) {
        await producer.commitTransaction()
        inTransaction = 0
      }
      if (throughput > 0) {
        // as Java's ThroughputThrottler: once ahead of T records/s, wait until the schedule catches up
        const elapsed = sendStart - startMs
        if (elapsed > 0 && (i * 1000) / elapsed > throughput) {
          const due = startMs + ((i + 1) * 1000) / throughput
          const wait = due - Date.now()
          if (wait >= 1) await sleep(wait)
        }
      }
    }
    if (transactional && inTransaction > 0) await producer.commitTransaction()
    await producer.close()
  } finally {
    process.off('SIGINT', onSigint)
  }
  stats.printTotal()
  steady?.printTotal()
  if (failures.failed > 0) {
    io.stderr.write(`isokafka perf: ${failures.failed} of ${numRecords} records failed\n`)
    for (const [code, { count, first }] of failures.errors)
      io.stderr.write(`  failed ${code}: ${count} (first: ${first})\n`)
    return 1
  }
  return 0
}
