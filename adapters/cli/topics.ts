import { kafkaErrorInfo, systemClock } from '../../src/index.js'
import { BrokerConnection } from '../../src/client/connection.js'
import { parseBootstrap, parseHostPort } from '../../src/client/cluster.js'
import { CreateTopics } from '../../src/protocol/messages/create-topics.js'
import { Metadata, type MetadataTopic } from '../../src/protocol/messages/metadata.js'
import { UsageError, intFlag, keyValues, list, parseFlags, sleep, str, type CliIo } from './args.js'
import { CONNECTION_FLAGS, CONNECTION_HELP, applyConnectionFlags, emptySettings, transportFor } from './client.js'

export const TOPICS_HELP = `usage: isokafka topics list [flags]
       isokafka topics describe [TOPIC ...] [flags]
       isokafka topics create TOPIC [TOPIC ...] [--partitions N] [--replication-factor R] [--config K=V ...] [flags]

  list                      topic names, one a line (internal topics with --internal)
  describe                  partitions, leaders, replicas and in-sync replicas (every topic when none is named);
                            exit 1 when a named topic does not exist
  create                    CreateTopics, then waits (up to --timeout) until every partition has a leader
    --partitions N            default: the broker's num.partitions
    --replication-factor R    default: the broker's default.replication.factor
    --config K=V              topic config, repeatable (cleanup.policy=compact, retention.ms=...)
    --if-not-exists           an existing topic is not an error
    --validate-only           ask the controller whether it would create them; create nothing
  --timeout MS              default 30000

${CONNECTION_HELP}`

const FLAGS = {
  ...CONNECTION_FLAGS,
  partitions: { type: 'string' },
  'replication-factor': { type: 'string' },
  config: { type: 'string', multiple: true },
  'if-not-exists': { type: 'boolean' },
  'validate-only': { type: 'boolean' },
  internal: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

const TOPIC_ALREADY_EXISTS = 36

/** One connection to the first bootstrap broker that answers: enough for metadata and CreateTopics (KRaft brokers forward it to the controller). */
async function connect(
  io: CliIo,
  values: Parameters<typeof applyConnectionFlags>[1],
  timeoutMs: number,
): Promise<BrokerConnection> {
  const settings = emptySettings()
  applyConnectionFlags(settings, values, io.env)
  const transport = transportFor(settings)
  const options = {
    clientId: settings.producer.clientId ?? 'isokafka',
    requestTimeoutMs: timeoutMs,
    connectTimeoutMs: 10000,
    clock: systemClock,
  }
  let last: unknown
  for (const address of parseBootstrap(settings.bootstrap, 'topics')) {
    const [host, port] = parseHostPort(address)
    const conn = new BrokerConnection(host, port, transport, options)
    try {
      await conn.connect()
      return conn
    } catch (err) {
      last = err
    }
  }
  throw last
}

function describeLines(t: MetadataTopic): string[] {
  const partitions = [...t.partitions].sort((a, b) => a.partition - b.partition)
  const rf = partitions[0]?.replicas.length ?? 0
  return [
    `Topic: ${t.name}\tPartitionCount: ${partitions.length}\tReplicationFactor: ${rf}${t.isInternal ? '\tInternal: true' : ''}`,
    ...partitions.map(
      (p) =>
        `\tTopic: ${t.name}\tPartition: ${p.partition}\tLeader: ${p.leaderId < 0 ? 'none' : p.leaderId}\tReplicas: ${p.replicas.join(',')}\tIsr: ${p.isr.join(',')}` +
        (p.errorCode !== 0 ? `\tError: ${kafkaErrorInfo(p.errorCode).name}` : ''),
    ),
  ]
}

export async function topicsCommand(io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(io.argv, FLAGS, 'topics')
  const [action, ...names] = positionals
  if (values.help || action === undefined) {
    io.stdout.write(`${TOPICS_HELP}\n`)
    return values.help ? 0 : 2
  }
  if (!['list', 'describe', 'create'].includes(action))
    throw new UsageError(`topics: unknown action ${JSON.stringify(action)} (list, describe or create)`)
  const timeoutMs = intFlag('timeout', str(values, 'timeout'), 1) ?? 30000
  const partitions = intFlag('partitions', str(values, 'partitions'), 1)
  const replicationFactor = intFlag('replication-factor', str(values, 'replication-factor'), 1)
  const configs = keyValues('--config', list(values, 'config'))
  if (action === 'create' && names.length === 0) throw new UsageError('topics create: name at least one topic')
  const out = (line: string) => io.stdout.write(`${line}\n`)
  const err = (line: string) => io.stderr.write(`isokafka topics: ${line}\n`)

  const conn = await connect(io, values, timeoutMs)
  try {
    const metadata = (topics: string[] | null) =>
      conn.request(Metadata, { topics, allowAutoTopicCreation: false }, { timeoutMs })
    if (action === 'list') {
      const res = await metadata(null)
      for (const t of res.topics
        .filter((t) => values.internal || !t.isInternal)
        .map((t) => t.name)
        .sort())
        out(t)
      return 0
    }
    if (action === 'describe') {
      const res = await metadata(names.length > 0 ? names : null)
      let status = 0
      for (const t of [...res.topics].sort((a, b) => a.name.localeCompare(b.name))) {
        if (t.errorCode !== 0) {
          err(`${t.name}: ${kafkaErrorInfo(t.errorCode).name} (${kafkaErrorInfo(t.errorCode).message})`)
          status = 1
          continue
        }
        if (!values.internal && t.isInternal && names.length === 0) continue
        for (const line of describeLines(t)) out(line)
      }
      return status
    }
    // create
    const validateOnly = values['validate-only'] === true
    const res = await conn.request(
      CreateTopics,
      {
        topics: names.map((name) => ({
          name,
          numPartitions: partitions ?? -1,
          replicationFactor: replicationFactor ?? -1,
          configs,
        })),
        timeoutMs,
        validateOnly,
      },
      { timeoutMs: timeoutMs + 5000 },
    )
    let status = 0
    const created: string[] = []
    for (const t of res.topics) {
      if (t.errorCode === 0) {
        created.push(t.name)
        out(
          `${validateOnly ? 'Would create' : 'Created'} topic ${t.name}${t.numPartitions > 0 ? ` (${t.numPartitions} partitions, replication factor ${t.replicationFactor})` : ''}.`,
        )
      } else if (t.errorCode === TOPIC_ALREADY_EXISTS && values['if-not-exists']) {
        out(`Topic ${t.name} already exists.`)
      } else {
        const info = kafkaErrorInfo(t.errorCode)
        err(`${t.name}: ${info.name}: ${t.errorMessage ?? info.message}`)
        status = 1
      }
    }
    if (!validateOnly && created.length > 0) {
      // the controller has the topic; wait until the broker we ask serves it with a leader for every partition, so a
      // produce right after does not meet UNKNOWN_TOPIC_OR_PARTITION
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const m = await metadata(created)
        const ready = m.topics.every(
          (t) => t.errorCode === 0 && t.partitions.length > 0 && t.partitions.every((p) => p.leaderId >= 0),
        )
        if (ready) break
        if (Date.now() >= deadline) {
          err(`created, but not every partition had a leader within ${timeoutMs} ms`)
          return 1
        }
        await sleep(50)
      }
    }
    return status
  } finally {
    conn.close()
  }
}
