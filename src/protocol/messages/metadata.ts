import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'
import type { Reader, Writer } from '../codec.js'

/*
 * Metadata (key 3), versions 0–12 (the client uses 1–12; Kafka 4.x serves 0–13), flexible from 9.
 *
 * Request:  topics [topic_id UUID (v10+), name STRING (NULLABLE v10+)] (null array = all topics, v1+;
 *                  in v0 the array is not nullable and an empty one means all topics),
 *           allow_auto_topic_creation BOOLEAN (v4+; true before),
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
 *
 * Not modelled (written as zero/empty/"not requested", skipped when read): throttle time, topic ids, offline
 * replicas, authorized operations.
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
/** "Authorized operations were not requested." */
const OPERATIONS_NOT_REQUESTED = -2147483648

function int32Array(r: Reader, flexible: boolean): number[] {
  return r.array(flexible, (r) => r.int32())
}

export const Metadata: ServerKafkaApi<MetadataRequest, MetadataResponse> = {
  name: 'Metadata',
  apiKey: ApiKey.Metadata,
  minVersion: 1,
  maxVersion: 12,
  flexibleFrom: 9,
  encode(w: Writer, v, req) {
    const flexible = v >= 9
    const each = (w: Writer, name: string) => {
      if (v >= 10) w.raw(ZERO_UUID)
      if (flexible) w.compactString(name)
      else w.string(name)
      if (flexible) w.emptyTags()
    }
    if (v === 0) w.array(req.topics ?? [], false, each)
    else w.nullableArray(req.topics, flexible, each)
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
      const b = { nodeId: r.int32(), host: str(), port: r.int32(), rack: v >= 1 ? nstr() : null }
      if (flexible) r.skipTags()
      return b
    })
    const clusterId = v >= 2 ? nstr() : null
    const controllerId = v >= 1 ? r.int32() : -1
    const topics = r.array(flexible, (r) => {
      const errorCode = r.int16()
      const name = (v >= 12 ? nstr() : str()) ?? ''
      if (v >= 10) r.raw(16)
      const isInternal = v >= 1 ? r.boolean() : false
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
  decodeRequest(r, v) {
    const flexible = v >= 9
    const n = r.arrayLength(flexible)
    let topics: string[] | null = null
    if (n >= 0) {
      topics = []
      for (let i = 0; i < n; i++) {
        if (v >= 10) r.raw(16) // topic id: lookups by id are not modelled, the name is used
        const name = v >= 10 ? r.compactNullableString() : flexible ? r.compactString() : r.string()
        if (flexible) r.skipTags()
        topics.push(name ?? '')
      }
      if (v === 0 && topics.length === 0) topics = null
    }
    const allowAutoTopicCreation = v >= 4 ? r.boolean() : true
    if (v >= 8 && v <= 10) r.boolean()
    if (v >= 8) r.boolean()
    if (flexible) r.skipTags()
    return { topics, allowAutoTopicCreation }
  },
  encodeResponse(w, v, res) {
    const flexible = v >= 9
    const str = (s: string) => (flexible ? w.compactString(s) : w.string(s))
    const nstr = (s: string | null) => (flexible ? w.compactNullableString(s) : w.nullableString(s))
    const ints = (list: readonly number[]) => w.array(list, flexible, (w, n) => w.int32(n))
    if (v >= 3) w.int32(0) // throttle
    w.array(res.brokers, flexible, (w, b) => {
      w.int32(b.nodeId)
      str(b.host)
      w.int32(b.port)
      if (v >= 1) nstr(b.rack)
      if (flexible) w.emptyTags()
    })
    if (v >= 2) nstr(res.clusterId)
    if (v >= 1) w.int32(res.controllerId)
    w.array(res.topics, flexible, (w, t) => {
      w.int16(t.errorCode)
      if (v >= 12) nstr(t.name)
      else str(t.name)
      if (v >= 10) w.raw(ZERO_UUID)
      if (v >= 1) w.boolean(t.isInternal)
      w.array(t.partitions, flexible, (w, p) => {
        w.int16(p.errorCode).int32(p.partition).int32(p.leaderId)
        if (v >= 7) w.int32(p.leaderEpoch)
        ints(p.replicas)
        ints(p.isr)
        if (v >= 5) ints([])
        if (flexible) w.emptyTags()
      })
      if (v >= 8) w.int32(OPERATIONS_NOT_REQUESTED)
      if (flexible) w.emptyTags()
    })
    if (v >= 8 && v <= 10) w.int32(OPERATIONS_NOT_REQUESTED)
    if (flexible) w.emptyTags()
  },
}
