// The commands behind bin/isokafka.mjs that produce to Kafka (Node only, like isokafka/node): `produce` (kcat -P
// style) and `perf` (Java's ProducerPerformance). Each takes its argv and streams and returns an exit status:
// 0 done, 1 something failed (summed up on stderr), 2 bad flags (UsageError).
export { produceCommand, PRODUCE_HELP } from './produce.js'
export { perfCommand, PERF_HELP } from './perf.js'
export { UsageError, processIo, type CliIo } from './args.js'
export { PerfStats, javaFixed } from './perf-stats.js'
