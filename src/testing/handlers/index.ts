import type { ServerKafkaApi } from '../../protocol/api.js'
import { apiVersionsHandler } from './api-versions.js'
import type { FakeApiHandler } from './context.js'
import { initProducerIdHandler } from './init-producer-id.js'
import { metadataHandler } from './metadata.js'
import { produceHandler } from './produce.js'
import { saslAuthenticateHandler, saslHandshakeHandler } from './sasl.js'
import { findCoordinatorHandler } from './find-coordinator.js'
import { addPartitionsToTxnHandler } from './add-partitions-to-txn.js'
import { addOffsetsToTxnHandler } from './add-offsets-to-txn.js'
import { endTxnHandler } from './end-txn.js'
import { txnOffsetCommitHandler } from './txn-offset-commit.js'

/** Every API the fake broker serves, by key. */
export const HANDLERS: ReadonlyMap<number, FakeApiHandler<any, any>> = new Map(
  [
    apiVersionsHandler,
    metadataHandler,
    initProducerIdHandler,
    produceHandler,
    saslHandshakeHandler,
    saslAuthenticateHandler,
    findCoordinatorHandler,
    addPartitionsToTxnHandler,
    addOffsetsToTxnHandler,
    endTxnHandler,
    txnOffsetCommitHandler,
  ].map((h) => [h.api.apiKey, h as FakeApiHandler<any, any>]),
)

export function serverApi(apiKey: number): ServerKafkaApi<unknown, unknown> | undefined {
  return HANDLERS.get(apiKey)?.api
}

export { NO_RESPONSE, type FakeApiHandler, type HandlerContext, type HandlerResult } from './context.js'
