// The commands behind bin/isokafka.mjs that talk to Kafka (Node only, like isokafka/node): `produce` (kcat -P
// style), `perf` (Java's ProducerPerformance) and `topics` (list, describe, create). Each takes its argv and streams and returns an exit status:
// 0 done, 1 something failed (summed up on stderr), 2 bad flags (UsageError).
import { perfCommand } from './perf.js'
import { produceCommand } from './produce.js'
import { topicsCommand } from './topics.js'
import { UsageError, type CliIo } from './args.js'
export { produceCommand, PRODUCE_HELP } from './produce.js'
export { perfCommand, PERF_HELP } from './perf.js'
export { topicsCommand, TOPICS_HELP } from './topics.js'
export { UsageError, processIo, type CliIo } from './args.js'
export { PerfStats, javaFixed } from './perf-stats.js'

const COMMANDS = { produce: produceCommand, perf: perfCommand, topics: topicsCommand }

/**
 * Runs one command and turns what it throws into an exit status and a line on stderr: bad flags (UsageError) or an
 * option createProducer refuses (INVALID_CONFIG) are 2, anything else 1. The bin and the tests go through here.
 */
export async function runCommand(name: keyof typeof COMMANDS, io: CliIo): Promise<number> {
  try {
    return await COMMANDS[name](io)
  } catch (err) {
    const e = err as { code?: string; message?: string } | undefined
    if (err instanceof UsageError || e?.code === 'INVALID_CONFIG') {
      io.stderr.write(
        `isokafka ${name}: ${String(e?.message).replace(new RegExp(`^${name}: `), '')}\n(isokafka ${name} --help lists the flags)\n`,
      )
      return 2
    }
    io.stderr.write(`isokafka ${name}: ${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}\n`)
    return 1
  }
}
