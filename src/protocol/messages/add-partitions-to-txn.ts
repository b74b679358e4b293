import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'
import type { Reader, Writer } from '../codec.js'

/*
 * AddPartitionsToTxn (key 24), versions 0–3 (the client versions: 4+ batch several transactions and are sent by
 * brokers to verify, and KIP-890 v2 clients add partitions implicitly through Produce v12), flexible from 3.
 *
 * Request:  transactional_id STRING, producer_id INT64, producer_epoch INT16,
 *           topics [name STRING, partitions [INT32], TAG_BUFFER (v3)], TAG_BUFFER (v3)
 * Response: throttle_time_ms INT32,
 *           results_by_topic [name STRING, results_by_partition [partition_index INT32, partition_error_code INT16,
 *                                                                TAG_BUFFER (v3)], TAG_BUFFER (v3)],
 *           TAG_BUFFER (v3)
 *
 * v2 adds the PRODUCER_FENCED error code.
 */
export interface TxnTopicPartitions {
  topic: string
  partitions: number[]
}
export interface AddPartitionsToTxnRequest {
  transactionalId: string
  producerId: number
  producerEpoch: number
  topics: TxnTopicPartitions[]
}
export interface PartitionErrors {
  topic: string
  partitions: Array<{ partition: number; errorCode: number }>
}
export interface AddPartitionsToTxnResponse {
  results: PartitionErrors[]
}

/**
 * `throttle_time_ms INT32, results [topic STRING, [partition INT32, error_code INT16, TAG_BUFFER], TAG_BUFFER],
 * TAG_BUFFER`: the answer of AddPartitionsToTxn v0–3 and TxnOffsetCommit (both flexible from v3), read once here.
 */
export function readPartitionErrors(r: Reader, f: boolean): PartitionErrors[] {
  r.int32() // throttle
  const results = r.array(f, (r) => {
    const topic = f ? r.compactString() : r.string()
    const partitions = r.array(f, (r) => {
      const p = { partition: r.int32(), errorCode: r.int16() }
      if (f) r.skipTags()
      return p
    })
    if (f) r.skipTags()
    return { topic, partitions }
  })
  if (f) r.skipTags()
  return results
}

export function writePartitionErrors(w: Writer, f: boolean, results: readonly PartitionErrors[]): void {
  w.int32(0)
  w.array(results, f, (w, t) => {
    if (f) w.compactString(t.topic)
    else w.string(t.topic)
    w.array(t.partitions, f, (w, p) => {
      w.int32(p.partition).int16(p.errorCode)
      if (f) w.emptyTags()
    })
    if (f) w.emptyTags()
  })
  if (f) w.emptyTags()
}

export const AddPartitionsToTxn: ServerKafkaApi<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> = {
  name: 'AddPartitionsToTxn',
  apiKey: ApiKey.AddPartitionsToTxn,
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  encode(w, v, req) {
    const f = v >= 3
    if (f) w.compactString(req.transactionalId)
    else w.string(req.transactionalId)
    w.int64(req.producerId).int16(req.producerEpoch)
    w.array(req.topics, f, (w, t) => {
      if (f) w.compactString(t.topic)
      else w.string(t.topic)
      w.array(t.partitions, f, (w, p) => w.int32(p))
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
    const transactionalId = f ? r.compactString() : r.string()
    const producerId = r.int64()
    const producerEpoch = r.int16()
    const topics = r.array(f, (r) => {
      const topic = f ? r.compactString() : r.string()
      const partitions = r.array(f, (r) => r.int32())
      if (f) r.skipTags()
      return { topic, partitions }
    })
    if (f) r.skipTags()
    return { transactionalId, producerId, producerEpoch, topics }
  },
  encodeResponse(w, v, res) {
    const f = v >= 3
    writePartitionErrors(w, f, res.results)
  },
}
