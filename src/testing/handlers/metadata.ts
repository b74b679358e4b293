import { ErrorCode } from '../../protocol/error-codes.js'
import {
  Metadata,
  type MetadataRequest,
  type MetadataResponse,
  type MetadataTopic,
} from '../../protocol/messages/metadata.js'
import type { FakeApiHandler } from './context.js'

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/

/**
 * Metadata: live brokers (addresses as seen on the connection's listener), and per topic its partitions with leader,
 * leader epoch, replicas and in-sync replicas. An unknown topic is UNKNOWN_TOPIC_OR_PARTITION, unless the cluster
 * auto-creates topics and the client allows it: then it is created and this answer says LEADER_NOT_AVAILABLE (as a
 * real broker does while the new topic's leaders are elected). A partition whose leader is down or unset says
 * LEADER_NOT_AVAILABLE with leader -1.
 */
export const metadataHandler: FakeApiHandler<MetadataRequest, MetadataResponse> = {
  api: Metadata,
  scope: (req) => ({ topics: req.topics === null ? 'all' : req.topics.map((topic) => ({ topic })) }),
  handle(ctx, req) {
    const { cluster, connection } = ctx
    const names = req.topics ?? cluster.topicNames()
    const topics: MetadataTopic[] = names.map((name) => {
      const injected = ctx.faults.errorFor(name)
      if (injected) return { errorCode: injected, name, isInternal: false, partitions: [] }
      if (!LEGAL_TOPIC.test(name) || name === '.' || name === '..') {
        return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, name, isInternal: false, partitions: [] }
      }
      const topic = cluster.topic(name)
      if (!topic) {
        if (cluster.autoCreateTopics && req.allowAutoTopicCreation) {
          cluster.createTopic(name)
          return { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, name, isInternal: false, partitions: [] }
        }
        return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, isInternal: false, partitions: [] }
      }
      return {
        errorCode: 0,
        name,
        isInternal: false,
        partitions: topic.partitions.map((p) => {
          const online = p.leader >= 0 && cluster.isBrokerUp(p.leader)
          return {
            errorCode: online ? 0 : ErrorCode.LEADER_NOT_AVAILABLE,
            partition: p.index,
            leaderId: online ? p.leader : -1,
            leaderEpoch: p.leaderEpoch,
            replicas: [...p.replicas],
            isr: p.replicas.filter((id) => cluster.isBrokerUp(id)),
          }
        }),
      }
    })
    const brokers = cluster
      .liveBrokers()
      .map((nodeId) => ({ nodeId, ...connection.listener.address(nodeId), rack: null }))
    return { brokers, clusterId: cluster.clusterId, controllerId: brokers[0]?.nodeId ?? -1, topics }
  },
}
