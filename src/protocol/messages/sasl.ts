import type { KafkaApi } from '../api.js'
import { ApiKey } from '../api.js'

/*
 * SaslHandshake (key 17), version 1: request mechanism STRING; response error_code INT16, mechanisms [STRING].
 *
 * SaslAuthenticate (key 36), versions 0–2, flexible from 2:
 *   Request:  auth_bytes BYTES, TAG_BUFFER (v2+)
 *   Response: error_code INT16, error_message NULLABLE_STRING, auth_bytes BYTES, session_lifetime_ms INT64 (v1+), TAG_BUFFER (v2+)
 */
export interface SaslHandshakeResponse {
  errorCode: number
  mechanisms: string[]
}

export const SaslHandshake: KafkaApi<{ mechanism: string }, SaslHandshakeResponse> = {
  name: 'SaslHandshake',
  apiKey: ApiKey.SaslHandshake,
  minVersion: 1,
  maxVersion: 1,
  flexibleFrom: 99,
  encode(w, _v, req) {
    w.string(req.mechanism)
  },
  decode(r) {
    return { errorCode: r.int16(), mechanisms: r.array(false, (r) => r.string()) }
  },
}

export interface SaslAuthenticateResponse {
  errorCode: number
  errorMessage: string | null
  authBytes: Uint8Array
  sessionLifetimeMs: number
}

export const SaslAuthenticate: KafkaApi<{ authBytes: Uint8Array }, SaslAuthenticateResponse> = {
  name: 'SaslAuthenticate',
  apiKey: ApiKey.SaslAuthenticate,
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  encode(w, v, req) {
    if (v >= 2) w.compactBytes(req.authBytes).emptyTags()
    else w.bytes(req.authBytes)
  },
  decode(r, v) {
    const flexible = v >= 2
    const errorCode = r.int16()
    const errorMessage = flexible ? r.compactNullableString() : r.nullableString()
    const authBytes = (flexible ? r.compactNullableBytes() : r.nullableBytes()) ?? new Uint8Array(0)
    const sessionLifetimeMs = v >= 1 ? r.int64() : 0
    if (flexible) r.skipTags()
    return { errorCode, errorMessage, authBytes, sessionLifetimeMs }
  },
}
