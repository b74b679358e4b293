import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'

/*
 * AddOffsetsToTxn (key 25), versions 0–4, flexible from 3. Transactions v1 only: under KIP-890 v2 the
 * TxnOffsetCommit (v5+) adds the group's offsets partition itself.
 *
 * Request:  transactional_id STRING, producer_id INT64, producer_epoch INT16, group_id STRING, TAG_BUFFER (v3+)
 * Response: throttle_time_ms INT32, error_code INT16, TAG_BUFFER (v3+)
 *
 * v2 adds PRODUCER_FENCED, v4 TRANSACTION_ABORTABLE.
 */
export interface AddOffsetsToTxnRequest {
  transactionalId: string
  producerId: number
  producerEpoch: number
  groupId: string
}
export interface AddOffsetsToTxnResponse {
  errorCode: number
}

export const AddOffsetsToTxn: ServerKafkaApi<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> = {
  name: 'AddOffsetsToTxn',
  apiKey: ApiKey.AddOffsetsToTxn,
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  encode(w, v, req) {
    const f = v >= 3
    if (f)
      w.compactString(req.transactionalId)
        .int64(req.producerId)
        .int16(req.producerEpoch)
        .compactString(req.groupId)
        .emptyTags()
    else w.string(req.transactionalId).int64(req.producerId).int16(req.producerEpoch).string(req.groupId)
  },
  decode(r, v) {
    r.int32() // throttle
    const res = { errorCode: r.int16() }
    if (v >= 3) r.skipTags()
    return res
  },
  decodeRequest(r, v) {
    const f = v >= 3
    const req = {
      transactionalId: f ? r.compactString() : r.string(),
      producerId: r.int64(),
      producerEpoch: r.int16(),
      groupId: f ? r.compactString() : r.string(),
    }
    if (f) r.skipTags()
    return req
  },
  encodeResponse(w, v, res) {
    w.int32(0).int16(res.errorCode)
    if (v >= 3) w.emptyTags()
  },
}
