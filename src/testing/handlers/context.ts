import type { ServerKafkaApi } from '../../protocol/api.js'
import type { RequestHeader } from '../../protocol/framing.js'
import type { FakeCluster, FakeRequestInfo } from '../cluster.js'
import type { MatchedFaults, RequestScope } from '../faults.js'
import type { FakeServerConnection } from '../server-connection.js'

/** A handler's answer when the broker sends nothing back (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('no response')
export type HandlerResult<Res> = Res | typeof NO_RESPONSE

export interface HandlerContext {
  readonly cluster: FakeCluster
  readonly connection: FakeServerConnection
  /** Node id of the broker answering. */
  readonly broker: number
  readonly version: number
  readonly header: RequestHeader
  /** Faults that matched this request (the handler applies the injected error codes). */
  readonly faults: MatchedFaults
  /** Set by a handler to close the connection after its answer (or instead of one). */
  closeConnection: boolean
}

/** One API as the fake broker serves it: the message codec (declared once, in src/protocol/messages/) and the logic. */
export interface FakeApiHandler<Req, Res> {
  readonly api: ServerKafkaApi<Req, Res>
  /** What a request touches (topics, partitions), so faults can target it. */
  scope?(req: Req): RequestScope
  /** Extra facts for the cluster's request log. */
  describe?(req: Req): Partial<FakeRequestInfo>
  handle(ctx: HandlerContext, req: Req): HandlerResult<Res> | Promise<HandlerResult<Res>>
}
