import { ErrorCode } from '../../protocol/error-codes.js'
import { EndTxn, type EndTxnRequest, type EndTxnResponse } from '../../protocol/messages/end-txn.js'
import type { FakeApiHandler } from './context.js'

/**
 * EndTxn: commits or aborts the open transaction (its batches and offsets). v5 on a transaction.version 2 cluster
 * bumps the epoch and answers the new one; below v5 the epoch stays.
 */
export const endTxnHandler: FakeApiHandler<EndTxnRequest, EndTxnResponse> = {
  api: EndTxn,
  handle(ctx, req) {
    const { cluster } = ctx
    const txns = cluster.transactions
    let errorCode = ctx.faults.errorFor()
    if (!errorCode && ctx.broker !== cluster.coordinatorId()) errorCode = ErrorCode.NOT_COORDINATOR
    if (!errorCode) errorCode = txns.check(req.transactionalId, req.producerId, req.producerEpoch, ctx.version, 2)
    const txn = txns.get(req.transactionalId)
    if (!errorCode && txn!.state !== 'ongoing') errorCode = ErrorCode.INVALID_TXN_STATE
    if (errorCode) return { errorCode, producerId: -1, producerEpoch: -1 }
    const v2 = ctx.version >= 5 && txns.transactionVersion >= 2
    txns.end(txn!, req.committed, v2)
    return { errorCode: 0, producerId: v2 ? txn!.producerId : -1, producerEpoch: v2 ? txn!.producerEpoch : -1 }
  },
}
