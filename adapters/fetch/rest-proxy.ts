// The Confluent REST Proxy modes of fetchTransport ('rest-v3', 'rest-v2'): topic partitions from `GET .../partitions`,
// each batch as one produce request of JSON records (base64 key/value/headers, our partitioner's partition), answers
// mapped to Kafka error codes. Loaded by fetchTransport only in those modes (a dynamic import), so a bundle that talks
// to the isokafka gateway leaves this module out.
//
// Answers are untrusted: a 2xx answer that is not JSON of the expected shape (wrong types, too few or too many entries,
// an offset that is not an integer) is MALFORMED_RESPONSE, retriable, and acknowledges nothing.
import type { IsoKafkaError } from '../../src/errors.js'
import type { GatewayPartitionBatch, GatewayRecord, GatewayTopicMetadata } from '../../src/transport.js'
import type { WireResult } from '../gateway-wire/frames.js'
// (rest-json.js itself, not gateway-wire/index.ts: the JSON helpers load with this chunk, and only with it)
import { splitJsonStream, toBase64 } from '../gateway-wire/rest-json.js'

/**
 * What the REST modes use of the transport: its HTTP exchange, its errors, and the wire helpers it holds. They come
 * through here, not as imports of the modules that hold them: a module this lazy chunk imported would be one the
 * transport's bundle shares with it, and a bundler's glue between the two chunks (every shared name exported and
 * imported) cost the fetch bundle ~0.1 KiB gzipped.
 */
export interface RestClient {
  http(
    method: 'GET' | 'POST',
    path: string,
    body: Uint8Array | string | null,
    contentType: string | undefined,
    timeoutMs: number,
    accept: string,
    signal?: AbortSignal,
    minCap?: number,
  ): Promise<{ status: number; bytes: Uint8Array; headers: Headers }>
  httpError(status: number, text: string, what: string): IsoKafkaError
  /** MALFORMED_RESPONSE (retriable): a 2xx answer that is not the one asked for. */
  malformed(message: string): IsoKafkaError
  /** HTTP statuses after which trying again may help. */
  readonly retriableStatuses: ReadonlySet<number>
  /** Most partitions a topic may be said to have (gateway-wire's MAX_PARTITIONS). */
  readonly maxPartitions: number
  /** A batch's records, decoded. */
  records(b: GatewayPartitionBatch): GatewayRecord[]
}

export interface RestProxy {
  partitions(topic: string, signal?: AbortSignal): Promise<GatewayTopicMetadata>
  /** Encodes the batch now (its records are valid only during the transport's produce call); the request runs later. */
  request(b: GatewayPartitionBatch): (timeoutMs: number) => Promise<WireResult>
}

type Doc = Record<string, unknown> | null | undefined

/** JSON.parse, or undefined for text that is not JSON (or nests deeper than the engine parses). */
function parse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const isInt = Number.isSafeInteger
const is2xx = (status: number) => status >= 200 && status < 300
/** A proxy's message for an error, if it is a string (cut short). */
const said = (m: unknown, otherwise: string) => (typeof m === 'string' ? m.slice(0, 300) : otherwise)

/** A REST produce answer may take this many bytes per record, when that is more than maxResponseBytes. */
const ANSWER_BYTES_PER_RECORD = 1024

export function restProxy(client: RestClient, mode: 'rest-v3' | 'rest-v2', configuredClusterId?: string): RestProxy {
  let clusterId: string | null = configuredClusterId ?? null

  async function v3ClusterId(signal?: AbortSignal): Promise<string> {
    if (clusterId) return clusterId
    const res = await client.http('GET', '/v3/clusters', null, undefined, 30_000, 'application/json', signal)
    const text = new TextDecoder().decode(res.bytes)
    if (res.status !== 200) throw client.httpError(res.status, text, 'GET /v3/clusters')
    const data = (parse(text) as Doc)?.data
    const id: unknown = Array.isArray(data) ? (data[0] as Doc)?.cluster_id : undefined
    if (typeof id !== 'string' || !id || id.length > 255) throw client.malformed('GET /v3/clusters listed no cluster')
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
    const doc = parse(text) as Doc
    const list = mode === 'rest-v3' ? doc?.data : doc
    if (!Array.isArray(list) || list.length > client.maxPartitions)
      throw client.malformed(`GET ${path} did not list partitions`)
    return { topic, partitions: list.length, errorCode: list.length > 0 ? 0 : 5 }
  }

  function v3Request(b: GatewayPartitionBatch): (timeoutMs: number) => Promise<WireResult> {
    const records = client.records(b)
    const lines: string[] = new Array(records.length)
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
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
    const minCap = b.count * ANSWER_BYTES_PER_RECORD
    return async (timeoutMs) => {
      const path = `/v3/clusters/${encodeURIComponent(await v3ClusterId())}/topics/${encodeURIComponent(b.topic)}/records`
      const res = await client.http(
        'POST',
        path,
        body,
        'application/json',
        timeoutMs,
        'application/json',
        undefined,
        minCap,
      )
      const text = new TextDecoder().decode(res.bytes)
      const refuse = (why: string) =>
        is2xx(res.status)
          ? client.malformed(`POST ${path}: ${why}`)
          : client.httpError(res.status, text, `POST ${path}`)
      if (res.status === 401) throw client.httpError(401, text, `POST ${path}`)
      let answers: Doc[]
      try {
        // at most one value per record is parsed
        answers = splitJsonStream(text, b.count) as Doc[]
      } catch {
        throw refuse('not a JSON answer per record')
      }
      if (answers.length !== b.count) {
        // one error for the whole request (auth, unknown topic, too large, rate limited, ...)
        const code = answers[0]?.error_code
        if (answers.length === 1 && isInt(code) && code !== 200)
          return {
            ...base,
            baseOffset: -1,
            errorCode: kafkaCodeForHttp(code as number, client.retriableStatuses),
            message: said(answers[0]!.message, `HTTP ${code}`),
          }
        throw refuse(`${answers.length} answers for ${b.count} records`)
      }
      const offsets: number[] = []
      for (const a of answers) {
        const code = a?.error_code
        const offset = a?.offset as number
        if (code === 200 && isInt(offset) && offset >= -1) offsets.push(offset)
        else if (isInt(code) && code !== 200)
          return {
            ...base,
            baseOffset: -1,
            errorCode: kafkaCodeForHttp(code as number, client.retriableStatuses),
            message: said(a!.message, `error ${code}`),
          }
        else throw refuse('an answer of the wrong shape')
      }
      return withOffsets(base, offsets)
    }
  }

  function v2Request(b: GatewayPartitionBatch): (timeoutMs: number) => Promise<WireResult> {
    const base = { topic: b.topic, partition: b.partition, batchId: b.batchId, logAppendTime: -1 }
    const minCap = b.count * ANSWER_BYTES_PER_RECORD
    const records = client.records(b)
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
        undefined,
        minCap,
      )
      const text = new TextDecoder().decode(res.bytes)
      const doc = parse(text) as Doc
      const list = doc?.offsets
      if (res.status !== 200 || !Array.isArray(list)) {
        if (is2xx(res.status)) throw client.malformed(`POST ${path}: no offsets`)
        if (res.status === 401 || client.retriableStatuses.has(res.status) || doc === undefined)
          throw client.httpError(res.status, text, `POST ${path}`)
        return {
          ...base,
          baseOffset: -1,
          errorCode: kafkaCodeForHttp(res.status, client.retriableStatuses),
          message: said(doc?.message, `HTTP ${res.status}`),
        }
      }
      if (list.length !== b.count) throw client.malformed(`POST ${path}: ${list.length} offsets for ${b.count} records`)
      const offsets: number[] = []
      for (const o of list as Doc[]) {
        const code = o?.error_code
        const offset = o?.offset as number
        if (code == null && isInt(offset) && offset >= -1) offsets.push(offset)
        // v2: 1 = non-retriable Kafka exception, 2 = retriable
        else if (isInt(code))
          return { ...base, baseOffset: -1, errorCode: code === 2 ? 7 : -1, message: said(o!.error, `error ${code}`) }
        else throw client.malformed(`POST ${path}: an offset of the wrong shape`)
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

/**
 * A REST error code (HTTP status or Confluent's 5-digit code) as the nearest Kafka error code; `retriable`: the HTTP
 * statuses after which trying again may help.
 */
function kafkaCodeForHttp(code: number, retriable: ReadonlySet<number>): number {
  const http = code >= 10000 ? Math.floor(code / 100) : code
  if (http === 404) return 3 // UNKNOWN_TOPIC_OR_PARTITION (retriable: it may be being created)
  if (http === 403) return 29 // TOPIC_AUTHORIZATION_FAILED
  if (http === 413) return 10 // MESSAGE_TOO_LARGE
  if (http === 400 || http === 422) return 87 // INVALID_RECORD
  if (retriable.has(http)) return 7 // REQUEST_TIMED_OUT: retriable
  return -1
}
