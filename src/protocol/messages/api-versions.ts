import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'

/*
 * ApiVersions (key 18), versions 0–4 (the client uses 0–3; v4 only changes how brokers fill the features tags),
 * flexible from 3. The response header is always v0 so that a client that sent too new a version can still read the
 * broker's list: a broker answers a version it does not know with error UNSUPPORTED_VERSION and its list in the v0
 * body layout, whatever version was asked for (Kafka's RequestContext uses v0 for that answer). So an
 * UNSUPPORTED_VERSION body is always read as v0.
 *
 * Request  v0–2: (empty)
 *          v3+:  client_software_name COMPACT_STRING, client_software_version COMPACT_STRING, TAG_BUFFER
 * Response:      error_code INT16,
 *                api_keys [api_key INT16, min_version INT16, max_version INT16, TAG_BUFFER(v3+)],
 *                throttle_time_ms INT32 (v1+), TAG_BUFFER (v3+: supported/finalized features, skipped; none written)
 */
export interface ApiVersionsRequest {
  clientSoftwareName: string
  clientSoftwareVersion: string
}
export interface ApiVersionRange {
  apiKey: number
  minVersion: number
  maxVersion: number
}
export interface ApiVersionsResponse {
  errorCode: number
  apiKeys: ApiVersionRange[]
  throttleTimeMs: number
}

const UNSUPPORTED_VERSION = 35

export const ApiVersions: ServerKafkaApi<ApiVersionsRequest, ApiVersionsResponse> = {
  name: 'ApiVersions',
  apiKey: ApiKey.ApiVersions,
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  responseHeaderAlwaysV0: true,
  encode(w, v, req) {
    if (v >= 3) {
      w.compactString(req.clientSoftwareName).compactString(req.clientSoftwareVersion).emptyTags()
    }
  },
  decode(r, requested) {
    const errorCode = r.int16()
    const v = errorCode === UNSUPPORTED_VERSION ? 0 : requested
    const flexible = v >= 3
    const apiKeys = r.array(flexible, (r) => {
      const range = { apiKey: r.int16(), minVersion: r.int16(), maxVersion: r.int16() }
      if (flexible) r.skipTags()
      return range
    })
    const throttleTimeMs = v >= 1 ? r.int32() : 0
    if (flexible) r.skipTags()
    return { errorCode, apiKeys, throttleTimeMs }
  },
  decodeRequest(r, v) {
    if (v < 3) return { clientSoftwareName: '', clientSoftwareVersion: '' }
    const req = { clientSoftwareName: r.compactString(), clientSoftwareVersion: r.compactString() }
    r.skipTags()
    return req
  },
  encodeResponse(w, v, res) {
    const flexible = v >= 3
    w.int16(res.errorCode)
    w.array(res.apiKeys, flexible, (w, k) => {
      w.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion)
      if (flexible) w.emptyTags()
    })
    if (v >= 1) w.int32(res.throttleTimeMs)
    if (flexible) w.emptyTags()
  },
}
