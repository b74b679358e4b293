import type { KafkaApi } from '../api.js'
import { ApiKey } from '../api.js'
import type { Reader, Writer } from '../codec.js'

/*
 * Metadata (key 3), versions 1–12 used here (Kafka 4.x serves 0–13), flexible from 9.
 *
 * Request:  topics [topic_id UUID (v10+), name STRING (NULLABLE v10+)] (null array = all topics),
 *           allow_auto_topic_creation BOOLEAN (v4+),
 *           include_cluster_authorized_operations BOOLEAN (v8–v10), include_topic_authorized_operations BOOLEAN (v8+),
 *           TAG_BUFFER (v9+)
 * Response: throttle_time_ms INT32 (v3+),
 *           brokers [node_id INT32, host STRING, port INT32, rack NULLABLE_STRING (v1+), TAG_BUFFER],
 *           cluster_id NULLABLE_STRING (v2+), controller_id INT32 (v1+),
 *           topics [error_code INT16, name STRING (NULLABLE v12+), topic_id UUID (v10+), is_internal BOOLEAN (v1+),
 *                   partitions [error_code INT16, partition_index INT32, leader_id INT32, leader_epoch INT32 (v7+),
 *                               replica_nodes [INT32], isr_nodes [INT32], offline_replicas [INT32] (v5+), TAG_BUFFER],
 *                   topic_authorized_operations INT32 (v8+), TAG_BUFFER],
 *           cluster_authorized_operations INT32 (v8–v10), TAG_BUFFER
 */
export interface MetadataRequest {
  /** null asks for every topic. */
  topics: string[] | null
  allowAutoTopicCreation: boolean
}
export interface MetadataBroker {
  nodeId: number
  host: string
  port: number
  rack: string | null
}
export interface MetadataPartition {
  errorCode: number
  partition: number
  leaderId: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
}
export interface MetadataTopic {
  errorCode: number
  name: string
  isInternal: boolean
  partitions: MetadataPartition[]
}
export interface MetadataResponse {
  brokers: MetadataBroker[]
  clusterId: string | null
  controllerId: number
  topics: MetadataTopic[]
}

const ZERO_UUID = new Uint8Array(16)

function int32Array(r: Reader, flexible: boolean): number[] {
  return r.array(flexible, (r) => r.int32())
}

export const Metadata: KafkaApi<MetadataRequest, MetadataResponse> = {
  name: 'Metadata',
  apiKey: ApiKey.Metadata,
  minVersion: 1,
  maxVersion: 12,
  flexibleFrom: 9,
  encode(w: Writer, v, req) {
    const flexible = v >= 9
    w.nullableArray(req.topics, flexible, (w, name) => {
      if (v >= 10) w.raw(ZERO_UUID)
      if (flexible) w.compactString(name)
      else w.string(name)
      if (flexible) w.emptyTags()
    })
    if (v >= 4) w.boolean(req.allowAutoTopicCreation)
    if (v >= 8 && v <= 10) w.boolean(false)
    if (v >= 8) w.boolean(false)
    if (flexible) w.emptyTags()
  },
  decode(r, v) {
    const flexible = v >= 9
    const str = () => (flexible ? r.compactString() : r.string())
    const nstr = () => (flexible ? r.compactNullableString() : r.nullableString())
    if (v >= 3) r.int32() // throttle
    const brokers = r.array(flexible, (r) => {
      const b = { nodeId: r.int32(), host: str(), port: r.int32(), rack: nstr() }
      if (flexible) r.skipTags()
      return b
    })
    const clusterId = v >= 2 ? nstr() : null
    const controllerId = r.int32()
    const topics = r.array(flexible, (r) => {
      const errorCode = r.int16()
      const name = (v >= 12 ? nstr() : str()) ?? ''
      if (v >= 10) r.raw(16)
      const isInternal = r.boolean()
      const partitions = r.array(flexible, (r) => {
        const p: MetadataPartition = {
          errorCode: r.int16(),
          partition: r.int32(),
          leaderId: r.int32(),
          leaderEpoch: v >= 7 ? r.int32() : -1,
          replicas: int32Array(r, flexible),
          isr: int32Array(r, flexible),
        }
        if (v >= 5) int32Array(r, flexible)
        if (flexible) r.skipTags()
        return p
      })
      if (v >= 8) r.int32()
      if (flexible) r.skipTags()
      return { errorCode, name, isInternal, partitions }
    })
    if (v >= 8 && v <= 10) r.int32()
    if (flexible) r.skipTags()
    return { brokers, clusterId, controllerId, topics }
  },
}
