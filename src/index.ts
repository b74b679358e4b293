export { createProducer } from './producer/producer.js'
export { kafkaBackend } from './producer/kafka-sender.js'
export { gatewayBackend } from './producer/gateway-backend.js'
export type { BackendFactory } from './producer/backend.js'
export type {
  Producer,
  ProducerRecord,
  RecordHeaders,
  HeaderValue,
  CloseOptions,
  TopicDescription,
} from './producer/producer.js'
export type { DeliveryCallback, RecordMetadata } from './producer/producer-batch.js'
export type { ProducerOptions, Acks } from './producer/options.js'
export type { TransactionOffset, GroupMetadata, TransactionState } from './producer/transactions.js'
export { defaultSerializer, jsonSerializer, stringSerializer, type Serializer } from './producer/serializers.js'
export type { PartitionerFunction, PartitionerOption, PartitionerRecord } from './producer/partitioners.js'
export { murmur2, murmur2Partition, toPositive } from './producer/murmur2.js'
export { gzip, type CompressionCodec, type CompressionOption } from './compression.js'
export { systemClock, type Clock } from './clock.js'
export type { ProducerHooks, BrokerRef, BatchEvent, RequestEvent } from './hooks.js'
export type { ProducerMetrics } from './producer/metrics.js'
export * from './errors.js'
export { ErrorCode } from './protocol/error-codes.js'
export { kafkaErrorInfo, type KafkaErrorInfo } from './protocol/error-messages.js'
export { crc32c } from './protocol/crc32c.js'
export { decodeRecordBatches, type DecodedBatch, type DecodedRecord } from './protocol/record-batch.js'
export type {
  Transport,
  SocketTransport,
  GatewayTransport,
  ByteStream,
  ByteStreamHandlers,
  SocketConnectOptions,
  SaslOptions,
  GatewayTopicMetadata,
  GatewayRecord,
  GatewayPartitionBatch,
  GatewayPartitionResult,
  Outbox,
  OutboxBatch,
} from './transport.js'
