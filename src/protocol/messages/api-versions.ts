import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'
import { Reader, Writer } from '../codec.js'

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
 *                throttle_time_ms INT32 (v1+),
 *                TAG_BUFFER (v3+: tag 0 supported_features [name COMPACT_STRING, min_version INT16, max_version INT16, TAG_BUFFER],
 *                            tag 1 finalized_features_epoch INT64,
 *                            tag 2 finalized_features [name COMPACT_STRING, max_version_level INT16, min_version_level INT16, TAG_BUFFER],
 *                            tag 3 zk_migration_ready BOOLEAN)
 *
 * Only tag 2 is read: the finalized `transaction.version` (≥ 2: KIP-890 transactions) decides the transaction
 * protocol. The other tags are skipped.
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
  /** Finalized feature levels (tag 2, v3+): name → max version level. */
  finalizedFeatures?: Map<string, number>
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
    const res: ApiVersionsResponse = { errorCode, apiKeys, throttleTimeMs }
    if (flexible) {
      const count = r.uvarint()
      for (let i = 0; i < count; i++) {
        const tag = r.uvarint()
        const bytes = r.raw(r.uvarint())
        if (tag !== 2) continue
        const t = new Reader(bytes)
        res.finalizedFeatures = new Map(
          t.array(true, (t) => {
            const name = t.compactString()
            const maxLevel = t.int16()
            t.int16() // min level
            t.skipTags()
            return [name, maxLevel] as const
          }),
        )
      }
    }
    return res
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
    if (flexible) writeFeatures(w, res.finalizedFeatures)
  },
}

/** The response's tag section: tag 2 (finalized features) when there are any, else empty. */
function writeFeatures(w: Writer, features: Map<string, number> | undefined): void {
  if (!features || features.size === 0) {
    w.emptyTags()
    return
  }
  const f = new Writer(64)
  f.array([...features], true, (f, [name, level]) => f.compactString(name).int16(level).int16(1).emptyTags())
  const bytes = f.finish()
  w.uvarint(1).uvarint(2).uvarint(bytes.length).raw(bytes)
}
