import { InitProducerId, type InitProducerIdRequest, type InitProducerIdResponse } from '../../protocol/messages/init-producer-id.js'
import type { FakeApiHandler } from './context.js'

/**
 * InitProducerId: an idempotent producer (null transactional id) always gets a fresh producer id with epoch 0, as
 * Kafka's coordinator does. A transactional id keeps its producer id and gets the next epoch (fencing the previous
 * holder); transactions themselves are not modelled.
 */
export const initProducerIdHandler: FakeApiHandler<InitProducerIdRequest, InitProducerIdResponse> = {
  api: InitProducerId,
  handle(ctx, req) {
    const errorCode = ctx.faults.errorFor()
    if (errorCode) return { errorCode, producerId: -1, producerEpoch: -1 }
    const { producerId, producerEpoch } = ctx.cluster.initProducerId(req.transactionalId)
    return { errorCode: 0, producerId, producerEpoch }
  },
}
