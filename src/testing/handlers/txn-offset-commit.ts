import { ErrorCode } from '../../protocol/error-codes.js'
import {
  TxnOffsetCommit,
  type TxnOffsetCommitRequest,
  type TxnOffsetCommitResponse,
} from '../../protocol/messages/txn-offset-commit.js'
import type { FakeApiHandler } from './context.js'

/**
 * TxnOffsetCommit (to the group coordinator): offsets kept with the transaction, applied to the group when it
 * commits. v1 transactions need AddOffsetsToTxn first; v5+ on a transaction.version 2 cluster adds the group itself.
 */
export const txnOffsetCommitHandler: FakeApiHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse> = {
  api: TxnOffsetCommit,
  scope: (req) => ({
    topics: req.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => p.partition) })),
  }),
  handle(ctx, req) {
    const { cluster } = ctx
    const txns = cluster.transactions
    let errorCode = ctx.faults.errorFor()
    if (!errorCode && ctx.broker !== cluster.coordinatorId()) errorCode = ErrorCode.NOT_COORDINATOR
    if (!errorCode) errorCode = txns.check(req.transactionalId, req.producerId, req.producerEpoch, ctx.version, 3)
    const txn = txns.get(req.transactionalId)
    if (!errorCode && !txn!.groups.has(req.groupId)) {
      if (ctx.version >= 5 && txns.transactionVersion >= 2) txns.addGroup(txn!, req.groupId)
      else errorCode = ErrorCode.INVALID_TXN_STATE
    }
    if (!errorCode) {
      let pending = txn!.pendingOffsets.get(req.groupId)
      if (!pending) txn!.pendingOffsets.set(req.groupId, (pending = new Map()))
      for (const t of req.topics) for (const p of t.partitions) pending.set(`${t.topic}:${p.partition}`, p.offset)
    }
    return {
      results: req.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
      })),
    }
  },
}
