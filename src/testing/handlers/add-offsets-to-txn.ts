import { ErrorCode } from '../../protocol/error-codes.js'
import {
  AddOffsetsToTxn,
  type AddOffsetsToTxnRequest,
  type AddOffsetsToTxnResponse,
} from '../../protocol/messages/add-offsets-to-txn.js'
import type { FakeApiHandler } from './context.js'

/** AddOffsetsToTxn (v1 transactions): the group's offsets become part of the open transaction. */
export const addOffsetsToTxnHandler: FakeApiHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> = {
  api: AddOffsetsToTxn,
  handle(ctx, req) {
    const { cluster } = ctx
    let errorCode = ctx.faults.errorFor()
    if (!errorCode && ctx.broker !== cluster.coordinatorId()) errorCode = ErrorCode.NOT_COORDINATOR
    if (!errorCode)
      errorCode = cluster.transactions.check(req.transactionalId, req.producerId, req.producerEpoch, ctx.version, 2)
    if (!errorCode) cluster.transactions.addGroup(cluster.transactions.get(req.transactionalId)!, req.groupId)
    return { errorCode }
  },
}
