import type { KafkaApi } from '../api.js'
import { ApiKey } from '../api.js'

/*
 * Produce (key 0), versions 3–12 used here (Kafka 4.x serves 3–12/13; v13 addresses topics by id), flexible from 9.
 *
 * Request:  transactional_id NULLABLE_STRING, acks INT16, timeout_ms INT32,
 *           topic_data [name STRING, partition_data [index INT32, records RECORDS (nullable bytes), TAG_BUFFER], TAG_BUFFER],
 *           TAG_BUFFER (v9+)
 * Response: responses [name STRING,
 *                      partition_responses [index INT32, error_code INT16, base_offset INT64, log_append_time_ms INT64 (v2+),
 *                                           log_start_offset INT64 (v5+),
 *                                           record_errors [batch_index INT32, batch_index_error_message NULLABLE_STRING, TAG_BUFFER] (v8+),
 *                                           error_message NULLABLE_STRING (v8+), TAG_BUFFER (v9+; v10+ may carry current_leader)],
 *                      TAG_BUFFER],
 *           throttle_time_ms INT32, TAG_BUFFER (v9+; v10+ may carry node_endpoints)
 *
 * With acks=0 the broker sends no response at all.
 */
export interface ProducePartitionData {
  partition: number
  /** One or more encoded RecordBatch v2 (magic 2) byte sequences, concatenated. */
  records: Uint8Array
}
export interface ProduceTopicData {
  topic: string
  partitions: ProducePartitionData[]
}
export interface ProduceRequest {
  transactionalId: string | null
  acks: number
  timeoutMs: number
  topics: ProduceTopicData[]
}
export interface ProducePartitionResponse {
  partition: number
  errorCode: number
  baseOffset: number
  logAppendTimeMs: number
  logStartOffset: number
  recordErrors: Array<{ batchIndex: number; message: string | null }>
  errorMessage: string | null
}
export interface ProduceTopicResponse {
  topic: string
  partitions: ProducePartitionResponse[]
}
export interface ProduceResponse {
  topics: ProduceTopicResponse[]
  throttleTimeMs: number
}

export const Produce: KafkaApi<ProduceRequest, ProduceResponse> = {
  name: 'Produce',
  apiKey: ApiKey.Produce,
  minVersion: 3,
  maxVersion: 12,
  flexibleFrom: 9,
  encode(w, v, req) {
    const flexible = v >= 9
    if (flexible) w.compactNullableString(req.transactionalId)
    else w.nullableString(req.transactionalId)
    w.int16(req.acks).int32(req.timeoutMs)
    w.array(req.topics, flexible, (w, t) => {
      if (flexible) w.compactString(t.topic)
      else w.string(t.topic)
      w.array(t.partitions, flexible, (w, p) => {
        w.int32(p.partition)
        if (flexible) w.compactBytes(p.records)
        else w.bytes(p.records)
        if (flexible) w.emptyTags()
      })
      if (flexible) w.emptyTags()
    })
    if (flexible) w.emptyTags()
  },
  decode(r, v) {
    const flexible = v >= 9
    const topics = r.array(flexible, (r) => {
      const topic = flexible ? r.compactString() : r.string()
      const partitions = r.array(flexible, (r) => {
        const p: ProducePartitionResponse = {
          partition: r.int32(),
          errorCode: r.int16(),
          baseOffset: r.int64(),
          logAppendTimeMs: r.int64(),
          logStartOffset: v >= 5 ? r.int64() : -1,
          recordErrors: [],
          errorMessage: null,
        }
        if (v >= 8) {
          p.recordErrors = r.array(flexible, (r) => {
            const e = { batchIndex: r.int32(), message: flexible ? r.compactNullableString() : r.nullableString() }
            if (flexible) r.skipTags()
            return e
          })
          p.errorMessage = flexible ? r.compactNullableString() : r.nullableString()
        }
        if (flexible) r.skipTags()
        return p
      })
      if (flexible) r.skipTags()
      return { topic, partitions }
    })
    const throttleTimeMs = r.int32()
    if (flexible) r.skipTags()
    return { topics, throttleTimeMs }
  },
}
