import { ErrorCode } from '../../protocol/error-codes.js'
import {
  AddPartitionsToTxn,
  type AddPartitionsToTxnRequest,
  type AddPartitionsToTxnResponse,
} from '../../protocol/messages/add-partitions-to-txn.js'
import type { FakeApiHandler } from './context.js'

/** AddPartitionsToTxn (v1 transactions): the coordinator adds the partitions to the open transaction. */
export const addPartitionsToTxnHandler: FakeApiHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> = {
  api: AddPartitionsToTxn,
  scope: (req) => ({ topics: req.topics.map((t) => ({ topic: t.topic, partitions: t.partitions })) }),
  handle(ctx, req) {
    const { cluster } = ctx
    const txns = cluster.transactions
    let errorCode = ctx.faults.errorFor()
    if (!errorCode && ctx.broker !== cluster.coordinatorId()) errorCode = ErrorCode.NOT_COORDINATOR
    if (!errorCode) errorCode = txns.check(req.transactionalId, req.producerId, req.producerEpoch, ctx.version, 2)
    const txn = txns.get(req.transactionalId)
    const results = req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((partition) => {
        if (errorCode) return { partition, errorCode }
        const p = cluster.topic(t.topic)?.partitions[partition]
        if (!p) return { partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
        return { partition, errorCode: 0 }
      }),
    }))
    // all or nothing, as Kafka: one failed partition leaves the others OPERATION_NOT_ATTEMPTED
    const failed = results.some((t) => t.partitions.some((p) => p.errorCode !== 0))
    if (failed && !errorCode) {
      for (const t of results)
        for (const p of t.partitions) if (p.errorCode === 0) p.errorCode = ErrorCode.OPERATION_NOT_ATTEMPTED
    }
    if (!failed && txn) for (const t of req.topics) for (const p of t.partitions) txns.addPartition(txn, t.topic, p)
    return { results }
  },
}
