import { ApiVersions, type ApiVersionsRequest, type ApiVersionsResponse } from '../../protocol/messages/api-versions.js'
import type { FakeApiHandler } from './context.js'

/** ApiVersions: the version ranges this broker serves (Kafka 4.x's, or the cluster's overrides) and transaction.version. */
export const apiVersionsHandler: FakeApiHandler<ApiVersionsRequest, ApiVersionsResponse> = {
  api: ApiVersions,
  handle(ctx) {
    const errorCode = ctx.faults.errorFor()
    return {
      errorCode,
      apiKeys: errorCode ? [] : ctx.cluster.advertisedVersions(),
      throttleTimeMs: 0,
      finalizedFeatures: new Map([['transaction.version', ctx.cluster.transactions.transactionVersion]]),
    }
  },
}
