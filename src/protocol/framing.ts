import type { KafkaApi } from './api.js'
import { Reader, Writer } from './codec.js'
import { MalformedResponseError } from '../errors.js'

/*
 * Framing: every message is INT32 size + body.
 * Request header v1: api_key INT16, api_version INT16, correlation_id INT32, client_id NULLABLE_STRING
 * Request header v2: v1 + TAG_BUFFER (used from an API's first flexible version; client_id stays a classic string)
 * Response header v0: correlation_id INT32;  v1: correlation_id INT32, TAG_BUFFER
 *   (v1 from an API's first flexible version, except ApiVersions, whose responses always use v0)
 *
 * The client writes requests and reads responses; the fake cluster (src/testing/) reads requests and writes responses
 * with the same functions' counterparts below.
 */

/** INT32 size (0 here: the caller patches it), the request header for `version`, then the body. */
function writeRequest<Req>(
  w: Writer,
  api: KafkaApi<Req, unknown>,
  version: number,
  correlationId: number,
  clientId: string | null,
  request: Req,
): void {
  w.int32(0)
  w.int16(api.apiKey).int16(version).int32(correlationId).nullableString(clientId)
  if (version >= api.flexibleFrom) w.emptyTags()
  api.encode(w, version, request)
}

export function encodeRequest<Req>(
  api: KafkaApi<Req, unknown>,
  version: number,
  correlationId: number,
  clientId: string | null,
  request: Req,
  sizeHint = 256,
): Uint8Array {
  const w = new Writer(sizeHint)
  writeRequest(w, api, version, correlationId, clientId, request)
  w.int32At(0, w.pos - 4)
  return w.finish()
}

/**
 * The same frame as encodeRequest, as chunks: byte arrays of at least `shareFrom` bytes in the request (the record
 * batches of a Produce request) are referenced, not copied, so they must stay unchanged until the chunks are written.
 * `sizeHint` sizes the buffer for the frame's own bytes only.
 */
export function encodeRequestChunks<Req>(
  api: KafkaApi<Req, unknown>,
  version: number,
  correlationId: number,
  clientId: string | null,
  request: Req,
  sizeHint: number,
  shareFrom: number,
): Uint8Array[] {
  const w = new Writer(sizeHint)
  w.shareFrom = shareFrom
  writeRequest(w, api, version, correlationId, clientId, request)
  // the size goes into the first chunk: the writer's buffer may have moved since that chunk was cut
  const { chunks, length } = w.finishChunks()
  const first = chunks[0]!
  new DataView(first.buffer, first.byteOffset, 4).setInt32(0, length - 4)
  return chunks
}

/** Reads the response header of a frame (without its size prefix) and returns a reader positioned at the body. */
export function readResponseHeader(
  frame: Uint8Array,
  api: KafkaApi<unknown, unknown>,
  version: number,
): { correlationId: number; body: Reader } {
  const r = new Reader(frame)
  const correlationId = r.int32()
  if (version >= api.flexibleFrom && !api.responseHeaderAlwaysV0) r.skipTags()
  return { correlationId, body: r }
}

export function decodeResponse<Res>(api: KafkaApi<unknown, Res>, version: number, body: Reader): Res {
  try {
    const res = api.decode(body, version)
    body.expectEnd(`${api.name} v${version} response`)
    return res
  } catch (err) {
    if (err instanceof MalformedResponseError) throw err
    throw new MalformedResponseError(`could not decode ${api.name} v${version} response`, { cause: err })
  }
}

/**
 * Splits a byte stream into frames. Chunks are appended; complete frames (without the size prefix) are returned.
 * Guards against absurd sizes so a garbled stream cannot make us allocate gigabytes.
 */
export class FrameDecoder {
  private buf = new Uint8Array(0)
  private len = 0
  constructor(private readonly maxFrameBytes = 256 * 1024 * 1024) {}

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.len === 0 && chunk.length >= 4) {
      // fast path: the chunk holds whole frames only
      const frames = this.scan(chunk, chunk.length)
      if (frames.consumed === chunk.length) return frames.out
      this.append(chunk.subarray(frames.consumed))
      return frames.out
    }
    this.append(chunk)
    const { out, consumed } = this.scan(this.buf, this.len)
    if (consumed > 0) {
      this.buf.copyWithin(0, consumed, this.len)
      this.len -= consumed
    }
    return out
  }

  private append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + chunk.length, 4096))
      next.set(this.buf.subarray(0, this.len))
      this.buf = next
    }
    this.buf.set(chunk, this.len)
    this.len += chunk.length
  }

  private scan(data: Uint8Array, end: number): { out: Uint8Array[]; consumed: number } {
    const out: Uint8Array[] = []
    let p = 0
    while (end - p >= 4) {
      const size = ((data[p]! << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!) >>> 0
      if (size > this.maxFrameBytes)
        throw new MalformedResponseError(`response frame of ${size} bytes exceeds the limit`)
      if (end - p - 4 < size) break
      // copy: the frame outlives the chunk (the runtime may reuse it)
      out.push(data.slice(p + 4, p + 4 + size))
      p += 4 + size
    }
    return { out, consumed: p }
  }
}

// ---- broker side (the fake cluster) ----

export interface RequestHeader {
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
}

/**
 * Reads the request header of a frame (without its size prefix) and returns a reader positioned at the body.
 * `lookup` names the API of a key, to know whether this version uses header v2 (tagged fields); for a key it does not
 * know, `api` is undefined and the header's tags are left unread.
 */
export function readRequestHeader(
  frame: Uint8Array,
  lookup: (apiKey: number) => KafkaApi<unknown, unknown> | undefined,
): { header: RequestHeader; api: KafkaApi<unknown, unknown> | undefined; body: Reader } {
  const r = new Reader(frame)
  const apiKey = r.int16()
  const apiVersion = r.int16()
  const correlationId = r.int32()
  const clientId = r.nullableString()
  const api = lookup(apiKey)
  if (api && apiVersion >= api.flexibleFrom) r.skipTags()
  return { header: { apiKey, apiVersion, correlationId, clientId }, api, body: r }
}

/** Decodes a request body with the API's `decodeRequest`; the body must be consumed exactly. */
export function decodeRequestBody<Req>(api: KafkaApi<Req, unknown>, version: number, body: Reader): Req {
  if (!api.decodeRequest) throw new MalformedResponseError(`${api.name} has no request decoder`)
  try {
    const req = api.decodeRequest(body, version)
    body.expectEnd(`${api.name} v${version} request`)
    return req
  } catch (err) {
    if (err instanceof MalformedResponseError) throw err
    throw new MalformedResponseError(`could not decode ${api.name} v${version} request`, { cause: err })
  }
}

/** A whole response frame: size, response header (v0 or v1 as the API and version say), body. */
export function encodeResponseFrame<Res>(
  api: KafkaApi<unknown, Res>,
  version: number,
  correlationId: number,
  response: Res,
  sizeHint = 256,
): Uint8Array {
  if (!api.encodeResponse) throw new Error(`${api.name} has no response encoder`)
  const w = new Writer(sizeHint)
  w.int32(0) // size, patched below
  w.int32(correlationId)
  if (version >= api.flexibleFrom && !api.responseHeaderAlwaysV0) w.emptyTags()
  api.encodeResponse(w, version, response)
  w.int32At(0, w.pos - 4)
  return w.finish()
}
