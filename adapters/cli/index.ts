// The commands behind bin/isokafka.mjs that talk to Kafka (Node only, like isokafka/node): `produce` (kcat -P
// style), `perf` (Java's ProducerPerformance) and `topics` (list, describe, create). Each takes its argv and streams and returns an exit status:
// 0 done, 1 something failed (summed up on stderr), 2 bad flags (UsageError).
export { produceCommand, PRODUCE_HELP } from './produce.js'
export { perfCommand, PERF_HELP } from './perf.js'
export { topicsCommand, TOPICS_HELP } from './topics.js'
export { UsageError, processIo, type CliIo } from './args.js'
export { PerfStats, javaFixed } from './perf-stats.js'
