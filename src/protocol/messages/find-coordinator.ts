import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'

/*
 * FindCoordinator (key 10), versions 1–6, flexible from 3.
 *
 * Request  v1–3: key STRING, key_type INT8, TAG_BUFFER (v3)
 *          v4+:  key_type INT8, coordinator_keys [STRING], TAG_BUFFER
 * Response v1–3: throttle_time_ms INT32, error_code INT16, error_message NULLABLE_STRING, node_id INT32, host STRING,
 *                port INT32, TAG_BUFFER (v3)
 *          v4+:  throttle_time_ms INT32,
 *                coordinators [key STRING, node_id INT32, host STRING, port INT32, error_code INT16,
 *                              error_message NULLABLE_STRING, TAG_BUFFER],
 *                TAG_BUFFER
 *
 * key_type: 0 group, 1 transaction (2 share, v6+). v5 only adds the TRANSACTION_ABORTABLE error code, v6 share
 * groups. Both layouts are read into one list of coordinators (v1–3 answer for the single key asked).
 */
export const CoordinatorType = { Group: 0, Transaction: 1 } as const

export interface FindCoordinatorRequest {
  keyType: number
  keys: string[]
}
export interface Coordinator {
  key: string
  nodeId: number
  host: string
  port: number
  errorCode: number
  errorMessage: string | null
}
export interface FindCoordinatorResponse {
  coordinators: Coordinator[]
}

export const FindCoordinator: ServerKafkaApi<FindCoordinatorRequest, FindCoordinatorResponse> = {
  name: 'FindCoordinator',
  apiKey: ApiKey.FindCoordinator,
  minVersion: 1,
  maxVersion: 6,
  flexibleFrom: 3,
  encode(w, v, req) {
    const flexible = v >= 3
    if (v >= 4) {
      w.int8(req.keyType)
      w.array(req.keys, true, (w, k) => w.compactString(k))
    } else {
      if (flexible) w.compactString(req.keys[0]!)
      else w.string(req.keys[0]!)
      w.int8(req.keyType)
    }
    if (flexible) w.emptyTags()
  },
  decode(r, v) {
    const flexible = v >= 3
    r.int32() // throttle
    if (v >= 4) {
      const coordinators = r.array(true, (r) => {
        const c = {
          key: r.compactString(),
          nodeId: r.int32(),
          host: r.compactString(),
          port: r.int32(),
          errorCode: r.int16(),
          errorMessage: r.compactNullableString(),
        }
        r.skipTags()
        return c
      })
      r.skipTags()
      return { coordinators }
    }
    const errorCode = r.int16()
    const errorMessage = flexible ? r.compactNullableString() : r.nullableString()
    const nodeId = r.int32()
    const host = flexible ? r.compactString() : r.string()
    const port = r.int32()
    if (flexible) r.skipTags()
    return { coordinators: [{ key: '', nodeId, host, port, errorCode, errorMessage }] }
  },
  decodeRequest(r, v) {
    const flexible = v >= 3
    let req: FindCoordinatorRequest
    if (v >= 4) req = { keyType: r.int8(), keys: r.array(true, (r) => r.compactString()) }
    else {
      const key = flexible ? r.compactString() : r.string()
      req = { keyType: r.int8(), keys: [key] }
    }
    if (flexible) r.skipTags()
    return req
  },
  encodeResponse(w, v, res) {
    const flexible = v >= 3
    w.int32(0)
    if (v >= 4) {
      w.array(res.coordinators, true, (w, c) => {
        w.compactString(c.key)
          .int32(c.nodeId)
          .compactString(c.host)
          .int32(c.port)
          .int16(c.errorCode)
          .compactNullableString(c.errorMessage)
          .emptyTags()
      })
      w.emptyTags()
      return
    }
    const c = res.coordinators[0]!
    w.int16(c.errorCode)
    if (flexible) w.compactNullableString(c.errorMessage).int32(c.nodeId).compactString(c.host)
    else w.nullableString(c.errorMessage).int32(c.nodeId).string(c.host)
    w.int32(c.port)
    if (flexible) w.emptyTags()
  },
}
