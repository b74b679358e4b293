import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'
import { readPartitionErrors, writePartitionErrors, type PartitionErrors } from './add-partitions-to-txn.js'

/*
 * TxnOffsetCommit (key 28), versions 0–5, flexible from 3. Sent to the group's coordinator.
 *
 * Request:  transactional_id STRING, group_id STRING, producer_id INT64, producer_epoch INT16,
 *           generation_id INT32 (v3+), member_id STRING (v3+), group_instance_id NULLABLE_STRING (v3+),
 *           topics [name STRING,
 *                   partitions [partition_index INT32, committed_offset INT64, committed_leader_epoch INT32 (v2+),
 *                               committed_metadata NULLABLE_STRING, TAG_BUFFER (v3+)],
 *                   TAG_BUFFER (v3+)],
 *           TAG_BUFFER (v3+)
 * Response: throttle_time_ms INT32,
 *           topics [name STRING, partitions [partition_index INT32, error_code INT16, TAG_BUFFER (v3+)], TAG_BUFFER (v3+)],
 *           TAG_BUFFER (v3+)
 *
 * v5 (KIP-890 transactions v2) also adds the group's offsets partition to the transaction, so a v2 producer sends no
 * AddOffsetsToTxn; a v1 producer must stay at v4.
 */
export interface TxnOffsetCommitPartition {
  partition: number
  offset: number
  leaderEpoch: number
  metadata: string | null
}
export interface TxnOffsetCommitRequest {
  transactionalId: string
  groupId: string
  producerId: number
  producerEpoch: number
  generationId: number
  memberId: string
  groupInstanceId: string | null
  topics: Array<{ topic: string; partitions: TxnOffsetCommitPartition[] }>
}
export interface TxnOffsetCommitResponse {
  results: PartitionErrors[]
}

export const TxnOffsetCommit: ServerKafkaApi<TxnOffsetCommitRequest, TxnOffsetCommitResponse> = {
  name: 'TxnOffsetCommit',
  apiKey: ApiKey.TxnOffsetCommit,
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 3,
  encode(w, v, req) {
    const f = v >= 3
    const str = (s: string) => (f ? w.compactString(s) : w.string(s))
    const nstr = (s: string | null) => (f ? w.compactNullableString(s) : w.nullableString(s))
    str(req.transactionalId)
    str(req.groupId)
    w.int64(req.producerId).int16(req.producerEpoch)
    if (v >= 3) w.int32(req.generationId).compactString(req.memberId).compactNullableString(req.groupInstanceId)
    w.array(req.topics, f, (w, t) => {
      str(t.topic)
      w.array(t.partitions, f, (w, p) => {
        w.int32(p.partition).int64(p.offset)
        if (v >= 2) w.int32(p.leaderEpoch)
        nstr(p.metadata)
        if (f) w.emptyTags()
      })
      if (f) w.emptyTags()
    })
    if (f) w.emptyTags()
  },
  decode(r, v) {
    const f = v >= 3
    return { results: readPartitionErrors(r, f) }
  },
  decodeRequest(r, v) {
    const f = v >= 3
    const str = () => (f ? r.compactString() : r.string())
    const nstr = () => (f ? r.compactNullableString() : r.nullableString())
    const transactionalId = str()
    const groupId = str()
    const producerId = r.int64()
    const producerEpoch = r.int16()
    const generationId = v >= 3 ? r.int32() : -1
    const memberId = v >= 3 ? r.compactString() : ''
    const groupInstanceId = v >= 3 ? r.compactNullableString() : null
    const topics = r.array(f, (r) => {
      const topic = str()
      const partitions = r.array(f, (r) => {
        const partition = r.int32()
        const offset = r.int64()
        const leaderEpoch = v >= 2 ? r.int32() : -1
        const metadata = nstr()
        if (f) r.skipTags()
        return { partition, offset, leaderEpoch, metadata }
      })
      if (f) r.skipTags()
      return { topic, partitions }
    })
    if (f) r.skipTags()
    return { transactionalId, groupId, producerId, producerEpoch, generationId, memberId, groupInstanceId, topics }
  },
  encodeResponse(w, v, res) {
    const f = v >= 3
    writePartitionErrors(w, f, res.results)
  },
}
