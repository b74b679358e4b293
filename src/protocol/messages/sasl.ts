import type { ServerKafkaApi } from '../api.js'
import { ApiKey } from '../api.js'

/*
 * SaslHandshake (key 17), versions 0–1 (the client uses 1: the SASL exchange then goes in SaslAuthenticate requests).
 *   Request:  mechanism STRING
 *   Response: error_code INT16, mechanisms [STRING]
 *
 * SaslAuthenticate (key 36), versions 0–2, flexible from 2:
 *   Request:  auth_bytes BYTES, TAG_BUFFER (v2+)
 *   Response: error_code INT16, error_message NULLABLE_STRING, auth_bytes BYTES, session_lifetime_ms INT64 (v1+), TAG_BUFFER (v2+)
 */
export interface SaslHandshakeRequest {
  mechanism: string
}
export interface SaslHandshakeResponse {
  errorCode: number
  mechanisms: string[]
}

export const SaslHandshake: ServerKafkaApi<SaslHandshakeRequest, SaslHandshakeResponse> = {
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
  decodeRequest(r) {
    return { mechanism: r.string() }
  },
  encodeResponse(w, _v, res) {
    w.int16(res.errorCode).array(res.mechanisms, false, (w, m) => w.string(m))
  },
}

export interface SaslAuthenticateRequest {
  authBytes: Uint8Array
}
export interface SaslAuthenticateResponse {
  errorCode: number
  errorMessage: string | null
  authBytes: Uint8Array
  sessionLifetimeMs: number
}

export const SaslAuthenticate: ServerKafkaApi<SaslAuthenticateRequest, SaslAuthenticateResponse> = {
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
  decodeRequest(r, v) {
    const flexible = v >= 2
    const authBytes = (flexible ? r.compactNullableBytes() : r.nullableBytes()) ?? new Uint8Array(0)
    if (flexible) r.skipTags()
    return { authBytes }
  },
  encodeResponse(w, v, res) {
    const flexible = v >= 2
    w.int16(res.errorCode)
    if (flexible) w.compactNullableString(res.errorMessage).compactBytes(res.authBytes)
    else w.nullableString(res.errorMessage).bytes(res.authBytes)
    if (v >= 1) w.int64(res.sessionLifetimeMs)
    if (flexible) w.emptyTags()
  },
}
