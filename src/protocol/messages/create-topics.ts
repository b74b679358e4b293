import type { ServerKafkaApi } from '../api.js'
import type { Reader, Writer } from '../codec.js'

/*
 * CreateTopics (key 19), versions 2–7 (Kafka 4.x serves 2–7), flexible from 5. Used by `isokafka topics create`
 * (adapters/cli), not by the producer.
 *
 * Request:  topics [name STRING, num_partitions INT32 (-1: the broker's default), replication_factor INT16 (-1: the
 *                   broker's default), assignments [partition_index INT32, broker_ids [INT32], TAG_BUFFER],
 *                   configs [name STRING, value NULLABLE_STRING, TAG_BUFFER], TAG_BUFFER],
 *           timeout_ms INT32, validate_only BOOLEAN, TAG_BUFFER (v5+)
 * Response: throttle_time_ms INT32,
 *           topics [name STRING, topic_id UUID (v7+), error_code INT16, error_message NULLABLE_STRING,
 *                   num_partitions INT32 (v5+), replication_factor INT16 (v5+),
 *                   configs NULLABLE [name STRING, value NULLABLE_STRING, read_only BOOLEAN, config_source INT8,
 *                                     is_sensitive BOOLEAN, TAG_BUFFER] (v5+),
 *                   TAG_BUFFER (tag 0: topic_config_error_code INT16)],
 *           TAG_BUFFER (v5+)
 * v6 may answer THROTTLING_QUOTA_EXCEEDED; v7 adds the topic id. Manual assignments are not modelled (always empty:
 * the broker places replicas); the topic id and the returned configs' flags are skipped when read.
 */
export interface CreateTopicsRequest {
  topics: Array<{
    name: string
    numPartitions: number
    replicationFactor: number
    configs: Array<[string, string | null]>
  }>
  timeoutMs: number
  validateOnly: boolean
}
export interface CreateTopicsResult {
  name: string
  errorCode: number
  errorMessage: string | null
  /** v5+: what the topic got (-1 before v5, or on an error). */
  numPartitions: number
  replicationFactor: number
}
export interface CreateTopicsResponse {
  topics: CreateTopicsResult[]
}

const ZERO_UUID = new Uint8Array(16)

export const CreateTopics: ServerKafkaApi<CreateTopicsRequest, CreateTopicsResponse> = {
  name: 'CreateTopics',
  apiKey: 19,
  minVersion: 2,
  maxVersion: 7,
  flexibleFrom: 5,
  encode(w: Writer, v, req) {
    const flexible = v >= 5
    const str = (s: string) => (flexible ? w.compactString(s) : w.string(s))
    w.array(req.topics, flexible, (w, t) => {
      str(t.name)
      w.int32(t.numPartitions).int16(t.replicationFactor)
      w.array([], flexible, () => {}) // assignments
      w.array(t.configs, flexible, (w, [name, value]) => {
        str(name)
        if (flexible) w.compactNullableString(value)
        else w.nullableString(value)
        if (flexible) w.emptyTags()
      })
      if (flexible) w.emptyTags()
    })
    w.int32(req.timeoutMs).boolean(req.validateOnly)
    if (flexible) w.emptyTags()
  },
  decode(r: Reader, v) {
    const flexible = v >= 5
    const str = () => (flexible ? r.compactString() : r.string())
    const nstr = () => (flexible ? r.compactNullableString() : r.nullableString())
    r.int32() // throttle
    const topics = r.array(flexible, (r) => {
      const name = str()
      if (v >= 7) r.raw(16)
      const result: CreateTopicsResult = {
        name,
        errorCode: r.int16(),
        errorMessage: nstr(),
        numPartitions: -1,
        replicationFactor: -1,
      }
      if (v >= 5) {
        result.numPartitions = r.int32()
        result.replicationFactor = r.int16()
        const n = r.arrayLength(true)
        for (let i = 0; i < n; i++) {
          r.compactString()
          r.compactNullableString()
          r.boolean()
          r.int8()
          r.boolean()
          r.skipTags()
        }
      }
      if (flexible) r.skipTags()
      return result
    })
    if (flexible) r.skipTags()
    return { topics }
  },
  decodeRequest(r, v) {
    const flexible = v >= 5
    const str = () => (flexible ? r.compactString() : r.string())
    const topics = r.array(flexible, (r) => {
      const name = str()
      const numPartitions = r.int32()
      const replicationFactor = r.int16()
      r.array(flexible, (r) => {
        r.int32()
        r.array(flexible, (r) => r.int32())
        if (flexible) r.skipTags()
      })
      const configs = r.array(flexible, (r): [string, string | null] => {
        const c: [string, string | null] = [str(), flexible ? r.compactNullableString() : r.nullableString()]
        if (flexible) r.skipTags()
        return c
      })
      if (flexible) r.skipTags()
      return { name, numPartitions, replicationFactor, configs }
    })
    const timeoutMs = r.int32()
    const validateOnly = r.boolean()
    if (flexible) r.skipTags()
    return { topics, timeoutMs, validateOnly }
  },
  encodeResponse(w, v, res) {
    const flexible = v >= 5
    w.int32(0)
    w.array(res.topics, flexible, (w, t) => {
      if (flexible) w.compactString(t.name)
      else w.string(t.name)
      if (v >= 7) w.raw(ZERO_UUID)
      w.int16(t.errorCode)
      if (flexible) w.compactNullableString(t.errorMessage)
      else w.nullableString(t.errorMessage)
      if (v >= 5) {
        w.int32(t.numPartitions).int16(t.replicationFactor)
        w.uvarint(0) // configs: null
      }
      if (flexible) w.emptyTags()
    })
    if (flexible) w.emptyTags()
  },
}
