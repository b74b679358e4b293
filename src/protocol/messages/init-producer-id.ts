import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'

/*
 * InitProducerId (key 22), versions 0–4 (Kafka 4.x serves 0–5), flexible from 2.
 *
 * Request:  transactional_id NULLABLE_STRING, transaction_timeout_ms INT32,
 *           producer_id INT64 (v3+), producer_epoch INT16 (v3+), TAG_BUFFER (v2+)
 * Response: throttle_time_ms INT32, error_code INT16, producer_id INT64, producer_epoch INT16, TAG_BUFFER (v2+)
 *
 * An idempotent (non-transactional) producer sends a null transactional id and producer id/epoch -1/-1.
 */
export interface InitProducerIdRequest {
  transactionalId: string | null
  transactionTimeoutMs: number
  producerId: number
  producerEpoch: number
}
export interface InitProducerIdResponse {
  errorCode: number
  producerId: number
  producerEpoch: number
}

export const InitProducerId: ServerKafkaApi<InitProducerIdRequest, InitProducerIdResponse> = {
  name: 'InitProducerId',
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 2,
  encode(w, v, req) {
    const flexible = v >= 2
    if (flexible) w.compactNullableString(req.transactionalId)
    else w.nullableString(req.transactionalId)
    w.int32(req.transactionTimeoutMs)
    if (v >= 3) w.int64(req.producerId).int16(req.producerEpoch)
    if (flexible) w.emptyTags()
  },
  decode(r, v) {
    r.int32() // throttle
    const res = { errorCode: r.int16(), producerId: r.int64(), producerEpoch: r.int16() }
    if (v >= 2) r.skipTags()
    return res
  },
  decodeRequest(r, v) {
    const flexible = v >= 2
    const transactionalId = flexible ? r.compactNullableString() : r.nullableString()
    const transactionTimeoutMs = r.int32()
    const producerId = v >= 3 ? r.int64() : -1
    const producerEpoch = v >= 3 ? r.int16() : -1
    if (flexible) r.skipTags()
    return { transactionalId, transactionTimeoutMs, producerId, producerEpoch }
  },
  encodeResponse(w, v, res) {
    w.int32(0).int16(res.errorCode).int64(res.producerId).int16(res.producerEpoch)
    if (v >= 2) w.emptyTags()
  },
}
