import type { KafkaApi } from './api.js'
import { Reader, Writer } from './codec.js'
import { MalformedResponseError } from '../errors.js'

/*
 * Framing: every message is INT32 size + body.
 * Request header v1: api_key INT16, api_version INT16, correlation_id INT32, client_id NULLABLE_STRING
 * Request header v2: v1 + TAG_BUFFER (used from an API's first flexible version; client_id stays a classic string)
 * Response header v0: correlation_id INT32;  v1: correlation_id INT32, TAG_BUFFER
 */

export function encodeRequest<Req>(
  api: KafkaApi<Req, unknown>,
  version: number,
  correlationId: number,
  clientId: string | null,
  request: Req,
  sizeHint = 256,
): Uint8Array {
  const w = new Writer(sizeHint)
  w.int32(0) // size, patched below
  w.int16(api.apiKey).int16(version).int32(correlationId).nullableString(clientId)
  if (version >= api.flexibleFrom) w.emptyTags()
  api.encode(w, version, request)
  w.int32At(0, w.pos - 4)
  return w.finish()
}

/** Reads the response header of a frame (without its size prefix) and returns a reader positioned at the body. */
export function readResponseHeader(frame: Uint8Array, api: KafkaApi<unknown, unknown>, version: number): { correlationId: number; body: Reader } {
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
      if (size > this.maxFrameBytes) throw new MalformedResponseError(`response frame of ${size} bytes exceeds the limit`)
      if (end - p - 4 < size) break
      // copy: the frame outlives the chunk (the runtime may reuse it)
      out.push(data.slice(p + 4, p + 4 + size))
      p += 4 + size
    }
    return { out, consumed: p }
  }
}
