import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'

/*
 * EndTxn (key 26), versions 0–5, flexible from 3.
 *
 * Request:  transactional_id STRING, producer_id INT64, producer_epoch INT16, committed BOOLEAN, TAG_BUFFER (v3+)
 * Response: throttle_time_ms INT32, error_code INT16, producer_id INT64 (v5+), producer_epoch INT16 (v5+),
 *           TAG_BUFFER (v3+)
 *
 * v5 is KIP-890 transactions v2: the coordinator bumps the epoch on every EndTxn and answers the producer id/epoch
 * the next transaction uses (a new producer id with epoch 0 when the epoch would overflow). A v1 producer stays at
 * v4 (its epoch does not move). Below v5 the response carries -1/-1.
 */
export interface EndTxnRequest {
  transactionalId: string
  producerId: number
  producerEpoch: number
  committed: boolean
}
export interface EndTxnResponse {
  errorCode: number
  producerId: number
  producerEpoch: number
}

export const EndTxn: ServerKafkaApi<EndTxnRequest, EndTxnResponse> = {
  name: 'EndTxn',
  apiKey: ApiKey.EndTxn,
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 3,
  encode(w, v, req) {
    const f = v >= 3
    if (f) w.compactString(req.transactionalId)
    else w.string(req.transactionalId)
    w.int64(req.producerId).int16(req.producerEpoch).boolean(req.committed)
    if (f) w.emptyTags()
  },
  decode(r, v) {
    r.int32() // throttle
    const res = { errorCode: r.int16(), producerId: v >= 5 ? r.int64() : -1, producerEpoch: v >= 5 ? r.int16() : -1 }
    if (v >= 3) r.skipTags()
    return res
  },
  decodeRequest(r, v) {
    const f = v >= 3
    const req = {
      transactionalId: f ? r.compactString() : r.string(),
      producerId: r.int64(),
      producerEpoch: r.int16(),
      committed: r.boolean(),
    }
    if (f) r.skipTags()
    return req
  },
  encodeResponse(w, v, res) {
    w.int32(0).int16(res.errorCode)
    if (v >= 5) w.int64(res.producerId).int16(res.producerEpoch)
    if (v >= 3) w.emptyTags()
  },
}
