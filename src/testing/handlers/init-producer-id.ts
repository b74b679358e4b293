import { ErrorCode } from '../../protocol/error-codes.js'
import {
  InitProducerId,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
} from '../../protocol/messages/init-producer-id.js'
import type { FakeApiHandler } from './context.js'

/**
 * InitProducerId: an idempotent producer (null transactional id) always gets a fresh producer id with epoch 0, as
 * Kafka's coordinator does. A transactional id (only on the coordinator broker) keeps its producer id and gets the
 * next epoch, fencing the previous holder, whose open transaction is aborted.
 */
export const initProducerIdHandler: FakeApiHandler<InitProducerIdRequest, InitProducerIdResponse> = {
  api: InitProducerId,
  handle(ctx, req) {
    let errorCode = ctx.faults.errorFor()
    if (!errorCode && req.transactionalId !== null && ctx.broker !== ctx.cluster.coordinatorId())
      errorCode = ErrorCode.NOT_COORDINATOR
    if (errorCode) return { errorCode, producerId: -1, producerEpoch: -1 }
    const { producerId, producerEpoch } =
      req.transactionalId === null
        ? ctx.cluster.initProducerId(null)
        : ctx.cluster.transactions.init(req.transactionalId, req.transactionTimeoutMs)
    return { errorCode: 0, producerId, producerEpoch }
  },
}
