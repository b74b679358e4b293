// The Confluent REST Proxy modes of fetchTransport ('rest-v3', 'rest-v2'): topic partitions from `GET .../partitions`,
// each batch as one produce request of JSON records (base64 key/value/headers, our partitioner's partition), answers
// mapped to Kafka error codes. Loaded by fetchTransport only in those modes (a dynamic import), so a bundle that talks
// to the isokafka gateway leaves this module out.
import { IsoKafkaError } from '../../src/errors.js'
import { RETRIABLE_HTTP } from './http-status.js'
import type { GatewayPartitionBatch, GatewayRecord, GatewayTopicMetadata } from '../../src/transport.js'
import { decodeWireRecords, fromWireRecord, splitJsonStream, toBase64, type WireResult } from '../gateway-wire/index.js'

/** What the REST modes use of the transport: its HTTP exchange and its HTTP error classes. */
export interface RestClient {
  http(
    method: 'GET' | 'POST',
    path: string,
    body: Uint8Array | string | null,
    contentType: string | undefined,
    timeoutMs: number,
    accept: string,
    signal?: AbortSignal,
  ): Promise<{ status: number; bytes: Uint8Array; headers: Headers }>
  httpError(status: number, text: string, what: string): IsoKafkaError
}

export interface RestProxy {
  partitions(topic: string, signal?: AbortSignal): Promise<GatewayTopicMetadata>
  /** Encodes the batch now (its records are valid only during the transport's produce call); the request runs later. */
  request(b: GatewayPartitionBatch): (timeoutMs: number) => Promise<WireResult>
}

export function restProxy(client: RestClient, mode: 'rest-v3' | 'rest-v2', configuredClusterId?: string): RestProxy {
  let clusterId: string | null = configuredClusterId ?? null

  async function v3ClusterId(signal?: AbortSignal): Promise<string> {
    if (clusterId) return clusterId
    const res = await client.http('GET', '/v3/clusters', null, undefined, 30_000, 'application/json', signal)
    const text = new TextDecoder().decode(res.bytes)
    if (res.status !== 200) throw client.httpError(res.status, text, 'GET /v3/clusters')
    const id = (JSON.parse(text) as { data?: Array<{ cluster_id?: string }> }).data?.[0]?.cluster_id
    if (!id) throw new IsoKafkaError('MALFORMED_RESPONSE', 'GET /v3/clusters listed no cluster', { retriable: true })
    clusterId = id
    return id
  }

  async function partitions(topic: string, signal?: AbortSignal): Promise<GatewayTopicMetadata> {
    const t = encodeURIComponent(topic)
    const path =
      mode === 'rest-v3'
        ? `/v3/clusters/${encodeURIComponent(await v3ClusterId(signal))}/topics/${t}/partitions`
        : `/topics/${t}/partitions`
    const accept = mode === 'rest-v3' ? 'application/json' : 'application/vnd.kafka.v2+json'
    const res = await client.http('GET', path, null, undefined, 30_000, accept, signal)
    const text = new TextDecoder().decode(res.bytes)
    if (res.status === 404) return { topic, partitions: 0, errorCode: 3 }
    if (res.status === 403) return { topic, partitions: 0, errorCode: 29 }
    if (res.status !== 200) throw client.httpError(res.status, text, `GET ${path}`)
    let list: unknown
    try {
      const doc = JSON.parse(text) as { data?: unknown }
      list = mode === 'rest-v3' ? doc.data : doc
    } catch {
      list = null
    }
    if (!Array.isArray(list))
      throw new IsoKafkaError('MALFORMED_RESPONSE', `GET ${path} did not list partitions`, { retriable: true })
    return { topic, partitions: list.length, errorCode: list.length > 0 ? 0 : 5 }
  }

  function v3Request(b: GatewayPartitionBatch): (timeoutMs: number) => Promise<WireResult> {
    const records = decodeWireRecords(b.records)
    const lines: string[] = new Array(records.length)
    for (let i = 0; i < records.length; i++) {
      const r: GatewayRecord = fromWireRecord(records[i]!)
      const rec: Record<string, unknown> = { partition_id: b.partition }
      if (r.headers.length > 0)
        rec.headers = r.headers.map(([name, value]) => ({ name, value: value === null ? null : toBase64(value) }))
      if (r.key !== null) rec.key = { type: 'BINARY', data: toBase64(r.key) }
      if (r.value !== null) rec.value = { type: 'BINARY', data: toBase64(r.value) }
      rec.timestamp = new Date(r.timestamp).toISOString()
      lines[i] = JSON.stringify(rec)
    }
    const body = lines.join('\n')
    const base = { topic: b.topic, partition: b.partition, batchId: b.batchId, logAppendTime: -1 }
    return async (timeoutMs) => {
      const path = `/v3/clusters/${encodeURIComponent(await v3ClusterId())}/topics/${encodeURIComponent(b.topic)}/records`
      const res = await client.http('POST', path, body, 'application/json', timeoutMs, 'application/json')
      const text = new TextDecoder().decode(res.bytes)
      if (res.status === 401) throw client.httpError(401, text, `POST ${path}`)
      let answers: Array<{ error_code?: number; offset?: number; message?: string }>
      try {
        answers = splitJsonStream(text) as typeof answers
      } catch {
        throw client.httpError(res.status, text, `POST ${path}`)
      }
      if (answers.length !== b.count) {
        // one error for the whole request (auth, unknown topic, too large, rate limited, ...)
        const code = answers[0]?.error_code ?? res.status
        if (answers.length === 1 && code !== 200)
          return {
            ...base,
            baseOffset: -1,
            errorCode: kafkaCodeForHttp(code),
            message: answers[0]!.message ?? `HTTP ${code}`,
          }
        throw client.httpError(res.status, text, `POST ${path} (${answers.length} answers for ${b.count} records)`)
      }
      const offsets: number[] = []
      for (const a of answers) {
        if (a.error_code !== 200 || typeof a.offset !== 'number') {
          return {
            ...base,
            baseOffset: -1,
            errorCode: kafkaCodeForHttp(a.error_code ?? res.status),
            message: a.message ?? `error ${a.error_code}`,
          }
        }
        offsets.push(a.offset)
      }
      return withOffsets(base, offsets)
    }
  }

  function v2Request(b: GatewayPartitionBatch): (timeoutMs: number) => Promise<WireResult> {
    const base = { topic: b.topic, partition: b.partition, batchId: b.batchId, logAppendTime: -1 }
    const records = decodeWireRecords(b.records).map(fromWireRecord)
    if (records.some((r) => r.headers.length > 0)) {
      const result: WireResult = {
        ...base,
        baseOffset: -1,
        errorCode: 87,
        message: 'REST Proxy v2 cannot carry record headers (use mode rest-v3 or gateway)',
      }
      return () => Promise.resolve(result)
    }
    const body = JSON.stringify({
      records: records.map((r) => ({
        key: r.key === null ? null : toBase64(r.key),
        value: r.value === null ? null : toBase64(r.value),
        partition: b.partition,
      })),
    })
    return async (timeoutMs) => {
      const path = `/topics/${encodeURIComponent(b.topic)}`
      const res = await client.http(
        'POST',
        path,
        body,
        'application/vnd.kafka.binary.v2+json',
        timeoutMs,
        'application/vnd.kafka.v2+json',
      )
      const text = new TextDecoder().decode(res.bytes)
      if (res.status === 401) throw client.httpError(401, text, `POST ${path}`)
      let doc: {
        offsets?: Array<{ offset?: number | null; error_code?: number | null; error?: string | null }>
        error_code?: number
        message?: string
      }
      try {
        doc = JSON.parse(text)
      } catch {
        throw client.httpError(res.status, text, `POST ${path}`)
      }
      if (res.status !== 200 || !Array.isArray(doc.offsets)) {
        if (RETRIABLE_HTTP.has(res.status)) throw client.httpError(res.status, text, `POST ${path}`)
        return {
          ...base,
          baseOffset: -1,
          errorCode: kafkaCodeForHttp(res.status),
          message: doc.message ?? `HTTP ${res.status}`,
        }
      }
      if (doc.offsets.length !== b.count)
        throw client.httpError(res.status, text, `POST ${path} (${doc.offsets.length} offsets for ${b.count} records)`)
      const offsets: number[] = []
      for (const o of doc.offsets) {
        if (o.error_code !== null && o.error_code !== undefined) {
          // v2: 1 = non-retriable Kafka exception, 2 = retriable
          return {
            ...base,
            baseOffset: -1,
            errorCode: o.error_code === 2 ? 7 : -1,
            message: o.error ?? `error ${o.error_code}`,
          }
        }
        offsets.push(o.offset as number)
      }
      return withOffsets(base, offsets)
    }
  }

  return { partitions, request: (b) => (mode === 'rest-v3' ? v3Request(b) : v2Request(b)) }
}

function withOffsets(base: Omit<WireResult, 'baseOffset' | 'errorCode'>, offsets: number[]): WireResult {
  let contiguous = true
  for (let i = 1; i < offsets.length; i++) if (offsets[i] !== offsets[0]! + i) contiguous = false
  return { ...base, errorCode: 0, baseOffset: offsets[0] ?? -1, ...(contiguous ? {} : { offsets }) }
}

/** A REST error code (HTTP status or Confluent's 5-digit code) as the nearest Kafka error code. */
function kafkaCodeForHttp(code: number): number {
  const http = code >= 10000 ? Math.floor(code / 100) : code
  if (http === 404) return 3 // UNKNOWN_TOPIC_OR_PARTITION (retriable: it may be being created)
  if (http === 403) return 29 // TOPIC_AUTHORIZATION_FAILED
  if (http === 413) return 10 // MESSAGE_TOO_LARGE
  if (http === 400 || http === 422) return 87 // INVALID_RECORD
  if (RETRIABLE_HTTP.has(http)) return 7 // REQUEST_TIMED_OUT: retriable
  return -1
}
