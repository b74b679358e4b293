import { ErrorCode } from '../../protocol/error-codes.js'
import {
  Produce,
  type ProduceNodeEndpoint,
  type ProducePartitionResponse,
  type ProduceRequest,
  type ProduceResponse,
} from '../../protocol/messages/produce.js'
import { BATCH_HEADER_SIZE, decodeRecordBatches, type DecodedBatch } from '../../protocol/record-batch.js'
import { NO_RESPONSE, type FakeApiHandler, type HandlerContext, type HandlerResult } from './context.js'

type Prepared =
  | { topic: string; partition: number; errorCode: number; errorMessage: string | null }
  | { topic: string; partition: number; errorCode: 0; batch: DecodedBatch }

function failed(topic: string, partition: number, errorCode: number, errorMessage: string | null = null): Prepared {
  return { topic, partition, errorCode, errorMessage }
}

/** Checks that do not need the records: topic, partition, leadership, injected errors. */
function precheck(ctx: HandlerContext, topic: string, partition: number): Prepared | null {
  const t = ctx.cluster.topic(topic)
  if (!t || partition < 0 || partition >= t.partitions.length)
    return failed(topic, partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  if (t.partitions[partition]!.leader !== ctx.broker) return failed(topic, partition, ErrorCode.NOT_LEADER_OR_FOLLOWER)
  const injected = ctx.faults.errorFor(topic, partition)
  if (injected) return failed(topic, partition, injected, 'injected by the fake cluster')
  return null
}

/** Decodes the partition's records: exactly one valid RecordBatch v2, within the topic's size limit. */
async function decode(
  ctx: HandlerContext,
  topic: string,
  partition: number,
  records: Uint8Array,
  transactionalId: string | null,
): Promise<Prepared> {
  const maxBytes = ctx.cluster.topic(topic)!.maxMessageBytes
  if (records.length > maxBytes) {
    return failed(
      topic,
      partition,
      ErrorCode.MESSAGE_TOO_LARGE,
      `${records.length} bytes exceed max.message.bytes ${maxBytes}`,
    )
  }
  if (records.length > 16 && records[16] !== 2) {
    // Produce v3+ carries RecordBatch v2 only (a client picks older formats only for brokers without Fetch v4+)
    return failed(topic, partition, ErrorCode.INVALID_RECORD, `record batch magic ${records[16]} is not 2`)
  }
  if (records.length >= BATCH_HEADER_SIZE) {
    const codecId = new DataView(records.buffer, records.byteOffset, records.byteLength).getInt16(21) & 0x07
    if (codecId !== 0 && !ctx.cluster.codecs.some((c) => c.id === codecId)) {
      return failed(
        topic,
        partition,
        ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
        `compression codec ${codecId} is not enabled`,
      )
    }
  }
  let batches: DecodedBatch[]
  try {
    batches = await decodeRecordBatches(records, ctx.cluster.codecs)
  } catch (err) {
    // bad CRC, bad lengths, undecodable records or compression: all CORRUPT_MESSAGE, as Kafka's validation says
    return failed(topic, partition, ErrorCode.CORRUPT_MESSAGE, err instanceof Error ? err.message : String(err))
  }
  if (batches.length !== 1) {
    return failed(
      topic,
      partition,
      ErrorCode.INVALID_RECORD,
      `a Produce request must carry exactly one record batch per partition, got ${batches.length}`,
    )
  }
  const batch = batches[0]!
  if ((batch.attributes & 0x20) !== 0)
    return failed(topic, partition, ErrorCode.INVALID_RECORD, 'a producer does not write control batches')
  if (((batch.attributes & 0x10) !== 0) !== (transactionalId !== null)) {
    return failed(
      topic,
      partition,
      ErrorCode.INVALID_RECORD,
      'a batch is transactional exactly when the request names a transactional id',
    )
  }
  if (batch.producerId >= 0 && batch.producerEpoch < ctx.cluster.minProducerEpoch(batch.producerId)) {
    return failed(
      topic,
      partition,
      ErrorCode.INVALID_PRODUCER_EPOCH,
      `producer ${batch.producerId} epoch ${batch.producerEpoch} is fenced`,
    )
  }
  return { topic, partition, errorCode: 0, batch }
}

/**
 * A transactional batch: its producer must hold the transactional id at this epoch, and the partition must be in the
 * transaction: added by AddPartitionsToTxn (v1), or added now by Produce v12+ on a transaction.version 2 cluster.
 */
function transactionError(
  ctx: HandlerContext,
  transactionalId: string,
  batch: DecodedBatch,
  topic: string,
  partition: number,
): number {
  const txns = ctx.cluster.transactions
  const txn = txns.get(transactionalId)
  if (!txn || txn.producerId !== batch.producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
  if (batch.producerEpoch < txn.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH
  if (txn.partitions.has(`${topic}:${partition}`)) return 0
  if (ctx.version >= 12 && txns.transactionVersion >= 2) {
    txns.addPartition(txn, topic, partition)
    return 0
  }
  return ErrorCode.INVALID_TXN_STATE
}

function errorResponse(p: {
  partition: number
  errorCode: number
  errorMessage: string | null
}): ProducePartitionResponse {
  return {
    partition: p.partition,
    errorCode: p.errorCode,
    baseOffset: -1,
    logAppendTimeMs: -1,
    logStartOffset: -1,
    recordErrors: [],
    errorMessage: p.errorMessage,
  }
}

/**
 * Produce: for each partition, check the topic, leadership (NOT_LEADER_OR_FOLLOWER, with the new leader in the v10+
 * tags), injected errors, then decode the batch (CRC → CORRUPT_MESSAGE, gzip through the cluster's codecs) and append
 * it under the idempotent-producer checks of FakePartition.append. Decoding is async; the appends happen together
 * afterwards, synchronously, so requests on other connections never interleave inside a partition.
 * acks=0: nothing is sent back; if anything failed the broker closes the connection (that is how a real broker tells
 * an acks=0 client).
 */
export const produceHandler: FakeApiHandler<ProduceRequest, ProduceResponse> = {
  api: Produce,
  scope: (req) => ({
    topics: req.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => p.partition) })),
  }),
  describe: (req) => ({
    batches: req.topics.flatMap((t) =>
      t.partitions.map((p) => {
        // read from the batch header without decoding (it may be corrupt): producerId @43, baseSequence @53, count @57
        const ok = p.records.length >= BATCH_HEADER_SIZE
        const view = new DataView(p.records.buffer, p.records.byteOffset, p.records.byteLength)
        return {
          topic: t.topic,
          partition: p.partition,
          producerId: ok ? view.getInt32(43) * 4294967296 + view.getUint32(47) : -1,
          baseSequence: ok ? view.getInt32(53) : -1,
          recordCount: ok ? view.getInt32(57) : 0,
        }
      }),
    ),
  }),
  async handle(ctx, req): Promise<HandlerResult<ProduceResponse>> {
    const { cluster } = ctx
    let requestError = 0
    let requestMessage: string | null = null
    if (req.acks !== 0 && req.acks !== 1 && req.acks !== -1) {
      requestError = ErrorCode.INVALID_REQUIRED_ACKS
    }
    const prepared: Prepared[][] = await Promise.all(
      req.topics.map((t) =>
        Promise.all(
          t.partitions.map(async (p) => {
            if (requestError) return failed(t.topic, p.partition, requestError, requestMessage)
            return (
              precheck(ctx, t.topic, p.partition) ?? decode(ctx, t.topic, p.partition, p.records, req.transactionalId)
            )
          }),
        ),
      ),
    )
    // appends: synchronous from here on
    const now = cluster.clock.now()
    const leaders = new Set<number>()
    let anyError = false
    const topics = prepared.map((list, ti) => ({
      topic: req.topics[ti]!.topic,
      partitions: list.map((p): ProducePartitionResponse => {
        // leadership may have moved (or the topic gone) while the batch was being decoded
        const result = 'batch' in p ? (precheck(ctx, p.topic, p.partition) ?? p) : p
        if (!('batch' in result)) {
          anyError = true
          const res = errorResponse(result)
          if (result.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) {
            const part = cluster.topic(p.topic)?.partitions[p.partition]
            if (part && part.leader >= 0 && cluster.isBrokerUp(part.leader)) {
              res.currentLeader = { leaderId: part.leader, leaderEpoch: part.leaderEpoch }
              leaders.add(part.leader)
            }
          }
          return res
        }
        const t = cluster.topic(p.topic)!
        const refused =
          req.transactionalId === null
            ? 0
            : transactionError(ctx, req.transactionalId, result.batch, p.topic, p.partition)
        if (refused) {
          anyError = true
          return errorResponse({ partition: p.partition, errorCode: refused, errorMessage: null })
        }
        const appended = t.partitions[p.partition]!.append(result.batch, now, t.timestampType)
        if (appended.errorCode === 0 && req.transactionalId !== null && !appended.duplicate) {
          const stored = t.partitions[p.partition]!.batches.at(-1)!
          stored.transaction = 'ongoing'
          cluster.transactions.get(req.transactionalId)!.batches.push(stored)
        }
        if (appended.errorCode !== 0) anyError = true
        return {
          partition: p.partition,
          errorCode: appended.errorCode,
          baseOffset: appended.baseOffset,
          logAppendTimeMs: appended.logAppendTimeMs,
          logStartOffset: appended.errorCode === 0 ? t.partitions[p.partition]!.logStartOffset : -1,
          recordErrors: [],
          errorMessage: appended.errorMessage,
        }
      }),
    }))
    if (req.acks === 0) {
      if (anyError) ctx.closeConnection = true
      return NO_RESPONSE
    }
    const nodeEndpoints: ProduceNodeEndpoint[] = [...leaders].map((nodeId) => ({
      nodeId,
      ...ctx.connection.listener.address(nodeId),
      rack: null,
    }))
    return { topics, throttleTimeMs: ctx.cluster.produceThrottleMs, nodeEndpoints }
  },
}
