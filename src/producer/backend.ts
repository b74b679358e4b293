import type { IsoKafkaError } from '../errors.js'
import type { Transport } from '../transport.js'
import type { RecordAccumulator } from './accumulator.js'
import type { ProducerMetrics } from './metrics.js'
import type { ResolvedOptions } from './options.js'
import type { TransactionManager } from './transactions.js'

// The seam between the producer (producer.ts, send-pipeline.ts) and what a transport brings to it: the cluster side
// (topic metadata) and a sender (kafka-sender.ts over a byte stream, gateway-backend.ts over a gateway).

/** What the producer needs from the cluster side, whatever the transport: topic metadata and a sender. */
export interface TopicInfo {
  partitionCount: number
  available: readonly number[]
  leaders?: readonly number[]
}
export interface ProducerBackend {
  topic(name: string): TopicInfo | undefined
  topicError(name: string): IsoKafkaError | null
  lastTopicErrorCode(name: string): number
  /** The cluster id from the last metadata answer (Kafka backends). */
  readonly clusterId?: string | null
  /** Fetch metadata now, joining a fetch under way (Kafka backends); rejects when no broker answers. */
  refresh?(): Promise<void>
  /** Drop a topic from the metadata kept and refreshed (after a description answered an error). */
  forgetTopic?(name: string): void
  onChange: () => void
  close(): void
}
/** Builds the cluster side for a transport (see SocketTransport.backend / GatewayTransport.backend). */
export type BackendFactory = (context: {
  transport: Transport
  accumulator: RecordAccumulator
  options: ResolvedOptions
  onFatal: (err: Error) => void
}) => {
  backend: ProducerBackend
  sender: Sender
  transactions?: TransactionManager
  /** producer.metrics(): the Kafka backend brings the collector (src/producer/metrics.ts), gateway backends do not. */
  metrics?: () => ProducerMetrics
}

export interface Sender {
  flushing: number
  memoryWaiters: number
  /** The last pass left batches waiting on an answer (a response, a connection) whose arrival runs another pass. */
  readonly saturated: boolean
  /** Set by the producer: called at the end of every pass. */
  onPass: () => void
  readonly fatalError: Error | null
  wake(): void
  stop(): void
  abortAll(err: Error): void
}
