import type { KafkaApi } from '../protocol/api.js'
import { kafkaErrorBasics } from '../protocol/error-codes.js'
import type { PartitionErrors } from '../protocol/messages/add-partitions-to-txn.js'
import { EndTxn } from '../protocol/messages/end-txn.js'
import { Produce } from '../protocol/messages/produce.js'
import { TxnOffsetCommit } from '../protocol/messages/txn-offset-commit.js'

// The transaction manager's types, how it classifies coordinator errors, and the API versions a v1 transactional
// producer keeps to (src/producer/transactions.ts has the state machine).

export type TransactionState =
  | 'uninitialized'
  | 'ready'
  | 'in-transaction'
  | 'committing'
  | 'aborting'
  | 'abortable-error'
  | 'fatal-error'

/** Offsets a transaction commits for a consumer group (Java's Map<TopicPartition, OffsetAndMetadata>). */
export interface TransactionOffset {
  topic: string
  partition: number
  /** The next offset the group is to read (last processed + 1). */
  offset: number
  metadata?: string | null
  leaderEpoch?: number
}
/** The consumer's group metadata (Java's ConsumerGroupMetadata); a group id alone skips the generation checks. */
export type GroupMetadata =
  | string
  | { groupId: string; generationId?: number; memberId?: string; groupInstanceId?: string | null }

/** What the transaction manager needs from the Kafka sender. */
export interface TransactionSender {
  readonly fatalError: Error | null
  /** A new producer id/epoch: sequences start again at 0 (nothing may be in flight). */
  setProducerIdAndEpoch(producerId: number, epoch: number): void
  /** Fails every batch not yet sent (retries of sent batches still resolve). */
  failUnsent(err: Error): void
  /** Makes the producer fatal (fenced). */
  fail(err: Error): void
  wake(): void
}

/** How a coordinator's error code is handled (Java's TransactionManager handlers). */
export type TxnErrorClass = 'coordinator' | 'retry' | 'fatal' | 'abortable'
const COORDINATOR_ERRORS = new Set([14, 15, 16, 52]) // load in progress, not available, not coordinator, coordinator fenced
/** Cluster/transactional-id authorization, unsupported version, epoch/fencing, id mapping, txn state, txn timeout. */
export const TXN_FATAL_ERRORS = new Set([31, 35, 47, 48, 49, 50, 53, 90])
/** A transactional producer's Produce errors that end it (the rest make the transaction abortable). */
export const TXN_PRODUCE_FATAL = new Set([31, 35, 47, 49, 53, 90])
const CONCURRENT_TRANSACTIONS = 51
const OPERATION_NOT_ATTEMPTED = 55

export function classifyTxnError(code: number): TxnErrorClass {
  if (COORDINATOR_ERRORS.has(code)) return 'coordinator'
  if (TXN_FATAL_ERRORS.has(code)) return 'fatal'
  if (code === CONCURRENT_TRANSACTIONS) return 'retry'
  return kafkaErrorBasics(code).retriable ? 'retry' : 'abortable'
}

/** The most telling error of a per-partition answer: 0 when all went in (OPERATION_NOT_ATTEMPTED only follows another). */
export function firstError(results: PartitionErrors[]): number {
  let code = 0
  for (const t of results)
    for (const p of t.partitions)
      if (p.errorCode !== 0 && (code === 0 || code === OPERATION_NOT_ATTEMPTED)) code = p.errorCode
  return code
}

/** An API limited to `max` (a v1 transactional producer stays below the KIP-890 versions). */
function upTo<Req, Res>(api: KafkaApi<Req, Res>, max: number): KafkaApi<Req, Res> {
  return { ...api, maxVersion: Math.min(api.maxVersion, max) }
}
export const PRODUCE_V1 = upTo(Produce, 11)
export const END_TXN_V1 = upTo(EndTxn, 4)
export const TXN_OFFSET_COMMIT_V1 = upTo(TxnOffsetCommit, 4)
