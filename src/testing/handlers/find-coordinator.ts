import {
  FindCoordinator,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
} from '../../protocol/messages/find-coordinator.js'
import type { FakeApiHandler } from './context.js'

/** FindCoordinator: every key (group or transactional id) is coordinated by the cluster's coordinator broker. */
export const findCoordinatorHandler: FakeApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> = {
  api: FindCoordinator,
  handle(ctx, req) {
    const errorCode = ctx.faults.errorFor()
    const id = ctx.cluster.coordinatorId()
    const { host, port } = ctx.connection.listener.address(id)
    return {
      coordinators: req.keys.map((key) =>
        errorCode
          ? { key, nodeId: -1, host: '', port: -1, errorCode, errorMessage: 'injected by the fake cluster' }
          : { key, nodeId: id, host, port, errorCode: 0, errorMessage: null },
      ),
    }
  },
}
