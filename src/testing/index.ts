/**
 * isokafka/testing: an in-process fake Kafka cluster for tests, in every runtime (no node:* imports).
 *
 *   const cluster = new FakeCluster({ brokers: 3, topics: { orders: 6 } })
 *   const producer = createProducer({ transport: cluster.transport() })
 *   await producer.send({ topic: 'orders', key: 'k', value: 'v' })
 *   cluster.records('orders')   // what the broker stored
 *
 * In Node, `serveFakeCluster` (isokafka/testing/node) serves the same cluster on 127.0.0.1 ports.
 */
export {
  FakeCluster,
  DEFAULT_API_VERSIONS,
  IN_MEMORY_LISTENER,
  type FakeClusterOptions,
  type FakeTopicConfig,
  type FakeTopic,
  type FakeListener,
  type FakeRequestInfo,
} from './cluster.js'
export { FakeTransactions, type FakeTransaction } from './transactions.js'
export {
  FakePartition,
  lastSequenceOf,
  type FakeRecord,
  type FakeBatch,
  type TimestampType,
  type AppendResult,
} from './partition.js'
export {
  FaultRegistry,
  MatchedFaults,
  type Fault,
  type FaultAction,
  type FaultTarget,
  type CorruptMode,
} from './faults.js'
export { FakeServerConnection, type ConnectionIO } from './server-connection.js'
export type { FakeTransportOptions } from './transport.js'
export type { FakeSaslConfig, FakeSaslMechanism } from './handlers/sasl.js'
export { HANDLERS, NO_RESPONSE, type FakeApiHandler, type HandlerContext } from './handlers/index.js'
export { ApiKey } from '../protocol/api.js'
export { ErrorCode } from '../protocol/error-codes.js'
