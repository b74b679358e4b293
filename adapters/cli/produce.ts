import { accessSync, constants, createReadStream } from 'node:fs'
import { kafkaErrorInfo, type Producer, type ProducerRecord } from '../../src/index.js'
import { UsageError, intFlag, keyValues, list, parseFlags, str, unescapeDelimiter, type CliIo } from './args.js'
import {
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  applyConnectionFlags,
  emptySettings,
  openProducer,
  parseAcks,
  parsePartitioner,
} from './client.js'
import { InputProblem, makeReader, type CliRecord, type InputFormat } from './input.js'
import { applyJavaProps } from './props.js'
import { Tally, startProgress, summaryLines } from './summary.js'

export const PRODUCE_HELP = `usage: isokafka produce -t TOPIC [flags] [FILE ...]

Produces records read from the FILEs (or stdin; '-' is stdin), like kcat -P. Prints a summary to stderr and exits
1 when any record failed, 2 on bad flags.

input:
  (default)                 one record per line; empty lines are skipped, as kcat does
  -D, --delimiter D         record delimiter instead of a newline (escapes: \\n \\r \\t \\0 \\\\ \\xHH)
  -k, -K, --key-delimiter D  split each record at the first D: key before, value after (no D: null key)
  --json                    one JSON object per line: {"key", "value", "headers", "partition", "timestamp", "topic"}
                            (also kcat -J's "payload" and "ts"; "keyBase64"/"valueBase64" for binary; docs/cli.md)
  --binary                  length-prefixed values: [int32 big-endian length][bytes] ..., length -1 = null
  --binary-kv               length-prefixed key and value per record: [len][key][len][value] ...

records:
  -t, --topic TOPIC         the topic (with --json, a record's "topic" is used when -t is not given)
  -H, --header NAME=VALUE   a header on every record (repeatable; NAME alone = null value)
  -p, --partition N         every record to partition N (default: the partitioner's choice)

producer:
  --partitioner P           murmur2 (default: murmur2 of the key, sticky without a key) | sticky (same) |
                            round-robin | sha256
  -z, --compression C       none | gzip | any other codec name this build of isokafka has (snappy, lz4, zstd)
  --compression-level N     zstd's level
  --acks A                  0 | 1 | all (default all)
  --linger MS               linger.ms (default 5)
  --batch-size BYTES        batch.size (default 16384)
  --auto-create             let brokers that allow it create a missing topic (default: a missing topic fails fast)
  -X, --property K=V        any Java producer property (max.request.size=..., enable.idempotence=false, ...);
                            transactional.id=ID makes the whole input one transaction (aborted if anything fails)
  -q, --quiet               print the summary only when something failed

${CONNECTION_HELP}

examples:
  isokafka produce -b localhost:9092 -t logs app.log
  isokafka produce -t orders -k : -H source=import -z gzip < orders.txt
  kcat -C -b old:9092 -t t -J -e | isokafka produce -b new:9092 -t t --json`

const FLAGS = {
  ...CONNECTION_FLAGS,
  topic: { type: 'string', short: 't' },
  'key-delimiter': { type: 'string', short: 'k' },
  delimiter: { type: 'string', short: 'D' },
  header: { type: 'string', short: 'H', multiple: true },
  partition: { type: 'string', short: 'p' },
  partitioner: { type: 'string' },
  compression: { type: 'string', short: 'z' },
  'compression-level': { type: 'string' },
  acks: { type: 'string' },
  linger: { type: 'string' },
  'batch-size': { type: 'string' },
  'auto-create': { type: 'boolean' },
  property: { type: 'string', short: 'X', multiple: true },
  json: { type: 'boolean' },
  binary: { type: 'boolean' },
  'binary-kv': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const

const utf8 = new TextEncoder()

/** Error codes after which no later record can succeed: stop reading. */
const STOPPING = new Set(['PRODUCER_FATAL', 'PRODUCER_CLOSED', 'AUTHENTICATION_FAILED'])

export async function produceCommand(io: CliIo): Promise<number> {
  // kcat spells the key delimiter -K
  const argv = io.argv.map((a) => (a === '-K' ? '-k' : a))
  const { values, positionals } = parseFlags(argv, FLAGS, 'produce')
  if (values.help) {
    io.stdout.write(`${PRODUCE_HELP}\n`)
    return 0
  }
  const formats = (['json', 'binary', 'binary-kv'] as const).filter((f) => values[f] === true)
  if (formats.length > 1) throw new UsageError('produce: pick one of --json, --binary, --binary-kv')
  const format = (formats[0] ?? 'lines') as InputFormat
  const topic = str(values, 'topic')
  if (!topic && format !== 'json') throw new UsageError('produce: -t/--topic is required')
  const keyDelimiterText = str(values, 'key-delimiter')
  if (keyDelimiterText !== undefined && format !== 'lines')
    throw new UsageError('produce: -k/--key-delimiter applies to line input only')
  const keyDelimiter = keyDelimiterText === undefined ? null : unescapeDelimiter('-k', keyDelimiterText)
  const delimiterText = str(values, 'delimiter')
  if (delimiterText !== undefined && format !== 'lines')
    throw new UsageError('produce: -D/--delimiter applies to line input only')
  const delimiter = unescapeDelimiter('-D', delimiterText ?? '\n')
  const headers: Array<[string, Uint8Array | null]> = list(values, 'header').map((h) => {
    const eq = h.indexOf('=')
    if (eq === 0) throw new UsageError(`produce: -H ${JSON.stringify(h)} has no header name`)
    return eq < 0 ? [h, null] : [h.slice(0, eq), utf8.encode(h.slice(eq + 1))]
  })
  const partition = intFlag('partition', str(values, 'partition'), 0)

  const settings = emptySettings()
  settings.producer.allowAutoTopicCreation = values['auto-create'] === true
  const skipped = applyJavaProps(settings, keyValues('-X', list(values, 'property')))
  if (skipped.length > 0)
    io.stderr.write(`isokafka produce: ignoring properties isokafka does not use: ${skipped.join(', ')}\n`)
  applyConnectionFlags(settings, values, io.env)
  const p = settings.producer
  if (values.acks !== undefined) p.acks = parseAcks(str(values, 'acks')!)
  if (values.linger !== undefined) p.lingerMs = intFlag('linger', str(values, 'linger'), 0)
  if (values['batch-size'] !== undefined) p.batchSize = intFlag('batch-size', str(values, 'batch-size'), 0)
  if (values.partitioner !== undefined) p.partitioner = parsePartitioner(str(values, 'partitioner')!)
  if (values.compression !== undefined) p.compression = str(values, 'compression') as typeof p.compression
  if (values['compression-level'] !== undefined) p.compressionLevel = Number(str(values, 'compression-level'))

  const files = positionals.length > 0 ? positionals : ['-']
  for (const f of files) {
    if (f === '-') continue
    try {
      accessSync(f, constants.R_OK)
    } catch (err) {
      throw new UsageError(
        `produce: cannot read ${f}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      )
    }
  }

  const producer = openProducer(settings)
  // with transactional.id, the whole input is one transaction: committed when every record made it, else aborted
  const transactional = settings.producer.transactionalId !== undefined
  let aborted = false
  const tally = new Tally()
  const started = performance.now()
  const stopProgress = startProgress(io.stderr, tally, started)
  let stop = false
  let interrupted = false
  let current: NodeJS.ReadableStream | null = null
  const onSigint = () => {
    if (interrupted) process.exit(130)
    stop = interrupted = true
    io.stderr.write('\nisokafka produce: interrupted; waiting for the records sent so far (Ctrl-C again to quit now)\n')
    // ends the read loop even while it waits for input that may never come (a terminal's stdin)
    ;(current as { destroy?: () => void } | null)?.destroy?.()
  }
  process.on('SIGINT', onSigint)

  const topicChecks = new Map<string, Promise<Error | null>>()
  const checkTopic = (t: string): Promise<Error | null> => {
    let check = topicChecks.get(t)
    if (!check) {
      check = describe(producer, t)
      topicChecks.set(t, check)
    }
    return check
  }

  try {
    // brokers that do not answer fail here, once, rather than each topic lookup waiting maxBlockMs
    await producer.describeCluster({ timeoutMs: Math.min(p.maxBlockMs ?? 60000, 15000) })
    if (transactional) {
      await producer.initTransactions()
      producer.beginTransaction()
    }
    if (topic) {
      const problem = await checkTopic(topic)
      if (problem) {
        tally.fail(problem)
        stop = true
      }
    }
    const send = (r: CliRecord, t: string): boolean => {
      const size = (r.key?.length ?? 0) + (r.value?.length ?? 0)
      const rec: ProducerRecord<Uint8Array | null, Uint8Array | null> = { topic: t, key: r.key, value: r.value }
      if (headers.length > 0 || (r.headers && r.headers.length > 0))
        rec.headers = r.headers ? [...headers, ...r.headers] : headers
      if (r.partition !== undefined) rec.partition = r.partition
      else if (partition !== undefined) rec.partition = partition
      if (r.timestamp !== undefined) rec.timestamp = r.timestamp
      try {
        const more = producer.produce(rec, (err) => (err ? tally.undelivered(err) : tally.delivered(size)))
        tally.handed()
        return more
      } catch (err) {
        tally.fail(err)
        if (STOPPING.has((err as { code?: string }).code ?? '')) stop = true
        return true
      }
    }
    for (const file of files) {
      if (stop) break
      const reader = makeReader(format, delimiter, keyDelimiter)
      const stream: NodeJS.ReadableStream =
        file === '-' ? io.stdin : createReadStream(file, { highWaterMark: 256 * 1024 })
      current = stream
      const drain = async () => {
        for (;;) {
          if (stop) return
          const r = reader.next()
          if (r === null) return
          if (r instanceof InputProblem) {
            tally.fail({ code: 'INVALID_INPUT', message: `${file === '-' ? 'stdin' : file}: ${r.message}` })
            continue
          }
          const t = topic ?? r.topic
          if (t === undefined) {
            tally.fail({ code: 'INVALID_INPUT', message: 'a JSON record has no "topic" and -t was not given' })
            continue
          }
          if (t !== topic) {
            const problem = await checkTopic(t)
            if (problem) {
              tally.fail(problem)
              continue
            }
          }
          if (!send(r, t)) await producer.ready()
        }
      }
      try {
        for await (const chunk of stream) {
          reader.push(typeof chunk === 'string' ? utf8.encode(chunk) : chunk)
          await drain()
          if (stop) break
        }
      } catch (err) {
        if (!stop) tally.fail({ code: 'INPUT_ERROR', message: `${file}: ${(err as Error).message}` })
      }
      reader.end()
      await drain()
    }
    await producer.flush()
    await tally.settled()
    if (transactional) {
      // an interrupted input is not all of it: abort
      if (tally.failed === 0 && !interrupted) await producer.commitTransaction()
      else {
        await producer.abortTransaction()
        aborted = true
      }
    }
  } catch (err) {
    tally.fail(err) // initTransactions, commit or abort failed
  } finally {
    await producer.close().catch((err) => tally.fail(err))
    await tally.settled()
    stopProgress()
    process.off('SIGINT', onSigint)
  }
  const seconds = (performance.now() - started) / 1000
  if (!values.quiet || tally.failed > 0) io.stderr.write(summaryLines('produce', tally, seconds))
  if (aborted)
    io.stderr.write(
      `  transaction aborted: none of the ${tally.acked} acknowledged records is visible to read_committed consumers\n`,
    )
  return tally.failed > 0 ? 1 : interrupted ? 130 : 0
}

/** null when the topic can take records; else why not (unknown topic with auto-creation off, no access, ...). */
async function describe(
  producer: Producer<Uint8Array | null, Uint8Array | null>,
  topic: string,
): Promise<Error | null> {
  try {
    const d = await producer.describeTopic(topic)
    if (d.errorCode === 0) return null
    const info = kafkaErrorInfo(d.errorCode)
    const hint = d.errorCode === 3 ? ' (it does not exist; --auto-create lets brokers that allow it create it)' : ''
    return Object.assign(new Error(`topic ${topic}: ${info.message}${hint}`), { code: info.name })
  } catch (err) {
    return err as Error
  }
}
