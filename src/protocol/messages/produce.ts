import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'
import { Reader, Writer } from '../codec.js'

/*
 * Produce (key 0), versions 3–12 (Kafka 4.x serves 3–12/13; v13 addresses topics by id), flexible from 9.
 *
 * Request:  transactional_id NULLABLE_STRING, acks INT16, timeout_ms INT32,
 *           topic_data [name STRING, partition_data [index INT32, records RECORDS (nullable bytes), TAG_BUFFER], TAG_BUFFER],
 *           TAG_BUFFER (v9+)
 * Response: responses [name STRING,
 *                      partition_responses [index INT32, error_code INT16, base_offset INT64, log_append_time_ms INT64 (v2+),
 *                                           log_start_offset INT64 (v5+),
 *                                           record_errors [batch_index INT32, batch_index_error_message NULLABLE_STRING, TAG_BUFFER] (v8+),
 *                                           error_message NULLABLE_STRING (v8+),
 *                                           TAG_BUFFER (v9+; v10+ tag 0 = current_leader [leader_id INT32, leader_epoch INT32, TAG_BUFFER])],
 *                      TAG_BUFFER],
 *           throttle_time_ms INT32,
 *           TAG_BUFFER (v9+; v10+ tag 0 = node_endpoints [node_id INT32, host COMPACT_STRING, port INT32,
 *                                                         rack COMPACT_NULLABLE_STRING, TAG_BUFFER])
 *
 * A tagged field is: tag UVARINT, size UVARINT, then `size` bytes of the field. The v10+ tags (KIP-951) tell a client
 * that got NOT_LEADER_OR_FOLLOWER where the leader went; unknown tags are skipped.
 *
 * With acks=0 the broker sends no response at all.
 */
export interface ProducePartitionData {
  partition: number
  /** One or more encoded RecordBatch v2 (magic 2) byte sequences, concatenated (empty when the request had null). */
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
  /** v10+ tag 0: the new leader, sent with NOT_LEADER_OR_FOLLOWER. */
  currentLeader?: { leaderId: number; leaderEpoch: number }
}
export interface ProduceTopicResponse {
  topic: string
  partitions: ProducePartitionResponse[]
}
export interface ProduceNodeEndpoint {
  nodeId: number
  host: string
  port: number
  rack: string | null
}
export interface ProduceResponse {
  topics: ProduceTopicResponse[]
  throttleTimeMs: number
  /** v10+ tag 0: addresses of the leaders named in `currentLeader`. */
  nodeEndpoints?: ProduceNodeEndpoint[]
}

/** Reads a tag section, handing tag 0's bytes to `tag0` (when given) and skipping the rest. */
function readTags(r: Reader, tag0?: (r: Reader) => void): void {
  const count = r.uvarint()
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint()
    const bytes = r.raw(r.uvarint())
    if (tag === 0 && tag0) {
      const tr = new Reader(bytes)
      tag0(tr)
      tr.expectEnd('Produce response tagged field')
    }
  }
}

/** Writes a tag section holding only tag 0 (when `write` is given). */
function writeTag0(w: Writer, write: ((w: Writer) => void) | null): void {
  if (!write) {
    w.emptyTags()
    return
  }
  const field = new Writer(64)
  write(field)
  const bytes = field.finish()
  w.uvarint(1).uvarint(0).uvarint(bytes.length).raw(bytes)
}

export const Produce: ServerKafkaApi<ProduceRequest, ProduceResponse> = {
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
    const tagged = v >= 10
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
        if (tagged) {
          readTags(r, (t) => {
            p.currentLeader = { leaderId: t.int32(), leaderEpoch: t.int32() }
            t.skipTags()
          })
        } else if (flexible) r.skipTags()
        return p
      })
      if (flexible) r.skipTags()
      return { topic, partitions }
    })
    const throttleTimeMs = r.int32()
    const res: ProduceResponse = { topics, throttleTimeMs }
    if (tagged) {
      readTags(r, (t) => {
        res.nodeEndpoints = t.array(true, (t) => {
          const e = { nodeId: t.int32(), host: t.compactString(), port: t.int32(), rack: t.compactNullableString() }
          t.skipTags()
          return e
        })
      })
    } else if (flexible) r.skipTags()
    return res
  },
  decodeRequest(r, v) {
    const flexible = v >= 9
    const transactionalId = flexible ? r.compactNullableString() : r.nullableString()
    const acks = r.int16()
    const timeoutMs = r.int32()
    const topics = r.array(flexible, (r) => {
      const topic = flexible ? r.compactString() : r.string()
      const partitions = r.array(flexible, (r) => {
        const partition = r.int32()
        const records = (flexible ? r.compactNullableBytes() : r.nullableBytes()) ?? new Uint8Array(0)
        if (flexible) r.skipTags()
        return { partition, records }
      })
      if (flexible) r.skipTags()
      return { topic, partitions }
    })
    if (flexible) r.skipTags()
    return { transactionalId, acks, timeoutMs, topics }
  },
  encodeResponse(w, v, res) {
    const flexible = v >= 9
    const tagged = v >= 10
    const nstr = (s: string | null) => (flexible ? w.compactNullableString(s) : w.nullableString(s))
    w.array(res.topics, flexible, (w, t) => {
      if (flexible) w.compactString(t.topic)
      else w.string(t.topic)
      w.array(t.partitions, flexible, (w, p) => {
        w.int32(p.partition).int16(p.errorCode).int64(p.baseOffset).int64(p.logAppendTimeMs)
        if (v >= 5) w.int64(p.logStartOffset)
        if (v >= 8) {
          w.array(p.recordErrors, flexible, (w, e) => {
            w.int32(e.batchIndex)
            nstr(e.message)
            if (flexible) w.emptyTags()
          })
          nstr(p.errorMessage)
        }
        const leader = p.currentLeader
        if (tagged) writeTag0(w, leader ? (f) => f.int32(leader.leaderId).int32(leader.leaderEpoch).emptyTags() : null)
        else if (flexible) w.emptyTags()
      })
      if (flexible) w.emptyTags()
    })
    w.int32(res.throttleTimeMs)
    const endpoints = res.nodeEndpoints
    if (tagged) {
      writeTag0(
        w,
        endpoints && endpoints.length > 0
          ? (f) =>
              f.array(endpoints, true, (f, e) =>
                f.int32(e.nodeId).compactString(e.host).int32(e.port).compactNullableString(e.rack).emptyTags(),
              )
          : null,
      )
    } else if (flexible) w.emptyTags()
  },
}
