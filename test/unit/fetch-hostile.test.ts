// fetchTransport (adapters/fetch) against a hostile or broken server: a local node:http server on 127.0.0.1 answers
// well (an isokafka gateway, a REST Proxy v3 or v2) until a test arms it to answer one request badly: a body far
// larger than the cap, a 2 GiB Content-Length, a body that trickles forever, junk, HTML, frames and JSON of the wrong
// shape, answers for requests or batches never asked. Each test checks the typed error (code, retriable), that no
// record was acknowledged, that the cap held (bytes the server managed to write, and that the client hung up), and
// that the producer acknowledges again once the server behaves.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { IsoKafkaError } from '../../src/index.js'
import { fetchTransport, type FetchTransportOptions } from '../../adapters/fetch/index.js'
import {
  HOSTILE_ERROR_MESSAGES,
  expectMalformed,
  rejection,
  stillWorks as stillWorksOn,
  strictProducer,
} from '../helpers/hostile-answers.js'
import {
  createFrameDecoder,
  encodeFrame,
  MAX_PARTITIONS,
  splitJsonStream,
  type AckFrame,
  type MetadataResponseFrame,
} from '../../adapters/gateway-wire/index.js'

type Mode = 'gateway' | 'rest-v3' | 'rest-v2'
const MODES: Mode[] = ['gateway', 'rest-v3', 'rest-v2']
const TOPIC = 't'
const CAP = 64 * 1024
const REQUEST_TIMEOUT_MS = 1500

/** What the server knows of the request it answers. */
interface Exchange {
  method: string
  path: string
  /** The well-behaved answer's document: a frame (gateway), the per-record answers (v3) or the JSON body (v2). */
  good: Record<string, unknown> | Array<Record<string, unknown>> | unknown[]
  /** gateway: the request frame's id and batch ids. */
  id?: number
  batchIds?: string[]
  /** The well-behaved answer's status, when not 200. */
  status?: number
}
type Handler = (ex: Exchange, res: http.ServerResponse) => void

/** One answered request, as the server saw it. */
interface Served {
  path: string
  hostile: boolean
  written: number
  /** Resolves when the response is over (ended, or the client hung up): whether the server finished writing it. */
  closed: Promise<{ finished: boolean; written: number }>
}

const decoder = createFrameDecoder(1 << 24)
let server: http.Server
let url = ''
let hostile: { match: (path: string) => boolean; handler: Handler } | null = null
const served: Served[] = []
const batchIdsSeen: string[] = []
let nextOffset = 0

function encodeGood(path: string, doc: Exchange['good']): string | Uint8Array {
  if (path.startsWith('/v1/')) return encodeFrame(doc as unknown as AckFrame)
  if (path.endsWith('/records')) return (doc as unknown[]).map((a) => JSON.stringify(a)).join('\n')
  return JSON.stringify(doc)
}

function contentType(path: string): string {
  return path.startsWith('/v1/') ? 'application/vnd.msgpack' : 'application/json'
}

/** The well-behaved answer to a request (and its records' offsets, taken now). */
function goodAnswer(method: string, path: string, body: Buffer): Exchange {
  if (path === '/v1/metadata' || path === '/v1/produce') {
    const f = decoder.decode(body) as {
      id: number
      topics?: string[]
      batches?: Array<{ topic: string; partition: number; batchId: string; records: unknown[] }>
    }
    if (path === '/v1/metadata') {
      const topics = f.topics!.map((topic) => ({ topic, partitions: 1, errorCode: 0 }))
      return { method, path, id: f.id, good: { t: 'metadata', id: f.id, topics } satisfies MetadataResponseFrame }
    }
    const batchIds = f.batches!.map((b) => b.batchId)
    batchIdsSeen.push(...batchIds)
    const results = f.batches!.map((b) => {
      const baseOffset = nextOffset
      nextOffset += b.records.length
      return { topic: b.topic, partition: b.partition, batchId: b.batchId, errorCode: 0, baseOffset, logAppendTime: -1 }
    })
    return { method, path, id: f.id, batchIds, good: { t: 'ack', id: f.id, results } satisfies AckFrame }
  }
  if (path === '/v3/clusters') return { method, path, good: { kind: 'KafkaClusterList', data: [{ cluster_id: 'c1' }] } }
  if (path === `/v3/clusters/c1/topics/${TOPIC}/partitions`)
    return { method, path, good: { kind: 'KafkaPartitionList', data: [{ partition_id: 0 }] } }
  if (path === `/topics/${TOPIC}/partitions`) return { method, path, good: [{ partition: 0, leader: 1 }] }
  if (path === `/v3/clusters/c1/topics/${TOPIC}/records`) {
    const records = splitJsonStream(body.toString())
    const good = records.map(() => ({ error_code: 200, cluster_id: 'c1', topic_name: TOPIC, offset: nextOffset++ }))
    return { method, path, good }
  }
  if (path === `/topics/${TOPIC}`) {
    const doc = JSON.parse(body.toString()) as { records: unknown[] }
    const offsets = doc.records.map(() => ({ partition: 0, offset: nextOffset++, error_code: null, error: null }))
    return { method, path, good: { key_schema_id: null, value_schema_id: null, offsets } }
  }
  return { method, path, good: { error_code: 404, message: 'no such path' }, status: 404 }
}

function track(res: http.ServerResponse, path: string, isHostile: boolean): Served {
  const s: Served = { path, hostile: isHostile, written: 0, closed: null as never }
  s.closed = new Promise((resolve) => {
    res.on('close', () => resolve({ finished: res.writableFinished, written: s.written }))
  })
  const write = res.write.bind(res) as (chunk: string | Uint8Array) => boolean
  res.write = ((chunk: string | Uint8Array) => {
    s.written += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length
    return write(chunk)
  }) as typeof res.write
  served.push(s)
  return s
}

/** Sends a document (or raw bytes/text) as the answer; `type` overrides the content type. */
function send(res: http.ServerResponse, body: string | Uint8Array, status = 200, type?: string): void {
  res.writeHead(status, {
    'Content-Type': type ?? 'application/octet-stream',
    'Content-Length': Buffer.byteLength(body),
  })
  res.write(body)
  res.end()
}

/** A body of `total` bytes of 'a' (no Content-Length: chunked), written as fast as the client reads it. */
function flood(res: http.ServerResponse, total = 64 << 20): void {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  let sent = 0
  const pump = (): void => {
    while (!res.destroyed && sent < total) {
      sent += chunk.length
      if (!res.write(chunk)) {
        res.once('drain', pump)
        return
      }
    }
    if (!res.destroyed) res.end()
  }
  pump()
}

/** Headers, then one byte every 50 ms for as long as the client listens. */
function trickle(res: http.ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'application/json' })
  const timer = setInterval(() => res.write('['), 50)
  res.on('close', () => clearInterval(timer))
}

/** Headers declaring a 2 GiB body, then nothing (the connection stays open until the client hangs up). */
function hugeDeclared(res: http.ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(2 ** 31) })
  res.flushHeaders()
}

const isProduce = (path: string) => path === '/v1/produce' || path.endsWith('/records') || path === `/topics/${TOPIC}`
const isMetadata = (path: string) => !isProduce(path)

/** The next request whose path matches is answered by `handler`; the ones after it are answered well again. */
function arm(handler: Handler, match: (path: string) => boolean = isProduce): void {
  hostile = { match, handler }
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!
      const ex = goodAnswer(req.method ?? 'GET', path, Buffer.concat(chunks))
      const h = hostile && hostile.match(path) ? hostile.handler : null
      if (h) hostile = null
      track(res, path, h !== null)
      if (h) return h(ex, res)
      send(res, encodeGood(path, ex.good), ex.status ?? 200, contentType(path))
    })
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const producers: Array<{ close(o?: { timeoutMs?: number }): Promise<void> }> = []
afterEach(async () => {
  hostile = null
  await Promise.all(producers.splice(0).map((p) => p.close({ timeoutMs: 200 }).catch(() => {})))
})

function transportFor(mode: Mode, extra: Partial<FetchTransportOptions> = {}) {
  return fetchTransport({ url, mode, clusterId: undefined, maxResponseBytes: CAP, ...extra })
}

/** A producer whose sends fail at the first error (retries: 0), so a send's rejection is the transport's error. */
function producerFor(mode: Mode, extra: Partial<FetchTransportOptions> = {}, options: Record<string, unknown> = {}) {
  const producer = strictProducer(transportFor(mode, extra), REQUEST_TIMEOUT_MS, options)
  producers.push(producer)
  return producer
}

const stillWorks = (producer: ReturnType<typeof producerFor>) => stillWorksOn(producer, TOPIC)

const lastHostile = (): Served => {
  const s = served.filter((x) => x.hostile).at(-1)
  if (!s) throw new Error('no hostile answer was served')
  return s
}

/** Sends one record while the server is armed with `handler`; returns its error (it must not be acknowledged). */
async function failedSend(producer: ReturnType<typeof producerFor>, handler: Handler): Promise<IsoKafkaError> {
  // metadata first, answered well, so the armed answer meets the produce request
  await producer.partitionsFor(TOPIC)
  arm(handler)
  return rejection(producer.send({ topic: TOPIC, partition: 0, value: 'v' }))
}

describe.each(MODES)('fetchTransport %s mode against a hostile server', (mode) => {
  it('stops reading a body far larger than maxResponseBytes and hangs up (MALFORMED_RESPONSE, retriable)', async () => {
    const producer = producerFor(mode)
    const err = await failedSend(producer, (_ex, res) => flood(res))
    expectMalformed(err, /maxResponseBytes \(65536\)/)
    const { finished, written } = await lastHostile().closed
    // 64 MiB offered: the client read 64 KiB and hung up; what else was written sat in socket buffers
    expect(finished).toBe(false)
    expect(written).toBeLessThan(16 << 20)
    await stillWorks(producer)
  })

  it('refuses a well-formed answer larger than the cap (no Content-Length) instead of acknowledging it', async () => {
    const producer = producerFor(mode)
    const err = await failedSend(producer, (ex, res) => {
      const pad = 'x'.repeat(CAP)
      const g = ex.good as Record<string, unknown> & { results?: Array<Record<string, unknown>> }
      if (mode === 'gateway') g.results![0]!.message = pad
      else if (mode === 'rest-v3') (ex.good as Array<Record<string, unknown>>)[0]!.padding = pad
      else g.padding = pad
      // no Content-Length: only counting the bytes as they arrive finds it too large
      res.writeHead(200, { 'Content-Type': contentType(ex.path) })
      res.end(encodeGood(ex.path, ex.good))
    })
    expectMalformed(err, /maxResponseBytes/)
    await stillWorks(producer)
  })

  it('refuses a declared 2 GiB Content-Length at once, without waiting for the body', async () => {
    const producer = producerFor(mode)
    const started = Date.now()
    const err = await failedSend(producer, (_ex, res) => hugeDeclared(res))
    expectMalformed(err, /maxResponseBytes/)
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS)
    const { finished, written } = await lastHostile().closed
    expect(finished).toBe(false)
    expect(written).toBe(0)
    await stillWorks(producer)
  })

  it('without res.body (a fetch with no streams): Content-Length checked before arrayBuffer(), length after', async () => {
    // a fetch whose responses have no body stream, as some polyfills give
    const noStreams: typeof fetch = async (input, init) => {
      const r = await fetch(input, init)
      return { status: r.status, headers: r.headers, body: null, arrayBuffer: () => r.arrayBuffer() } as Response
    }
    const producer = producerFor(mode, { fetch: noStreams })
    const started = Date.now()
    const declared = await failedSend(producer, (_ex, res) => hugeDeclared(res))
    expectMalformed(declared, /maxResponseBytes/)
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS)
    expect((await lastHostile().closed).finished).toBe(false)
    // no Content-Length: the whole body is read, then refused for its length
    const chunked = await failedSend(producer, (_ex, res) => flood(res, 4 * CAP))
    expectMalformed(chunked, /maxResponseBytes/)
    await stillWorks(producer)
  })

  it('a body that trickles forever ends at the request timeout, and the connection is dropped', async () => {
    const producer = producerFor(mode)
    const started = Date.now()
    const err = await failedSend(producer, (_ex, res) => trickle(res))
    expect(err.code).toBe('REQUEST_TIMEOUT')
    expect(err.retriable).toBe(true)
    // the transport's own timer (not the producer's backstop a second later) ended it
    expect(err.message).toMatch(/no answer within 1500 ms/)
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 1500)
    const closed = await Promise.race([lastHostile().closed, new Promise((r) => setTimeout(() => r('open'), 1000))])
    expect(closed).toEqual({ finished: false, written: expect.any(Number) })
    await stillWorks(producer)
  })

  it('a 2xx with junk or an HTML page (wrong content type) is MALFORMED_RESPONSE, retriable, not HTTP_200', async () => {
    const producer = producerFor(mode)
    const html = await failedSend(producer, (_ex, res) =>
      send(res, '<html><body>Please log in to the Wi-Fi</body></html>', 200, 'text/html'),
    )
    expectMalformed(html)
    const junk = await failedSend(producer, (_ex, res) => send(res, new Uint8Array([0xc1, 0xff, 0x00, 0x13, 0x37])))
    expectMalformed(junk)
    await stillWorks(producer)
  })

  it('a refused answer is retried like a lost connection: the same records, then acknowledged once', async () => {
    const producer = producerFor(mode, {}, { retries: 5, retryBackoffMs: 10 })
    await producer.partitionsFor(TOPIC)
    const before = batchIdsSeen.length
    arm((_ex, res) => flood(res))
    const meta = await producer.send({ topic: TOPIC, partition: 0, value: 'retried' })
    expect(meta.offset).toBeGreaterThanOrEqual(0)
    if (mode === 'gateway') {
      // the gateway deduplicates on the batch id: the resend carried the same one
      const ids = batchIdsSeen.slice(before)
      expect(ids).toHaveLength(2)
      expect(ids[0]).toBe(ids[1])
    }
    expect(served.filter((s) => s.hostile && isProduce(s.path))).not.toHaveLength(0)
  })
})

describe('fetchTransport gateway mode: frames of the wrong shape', () => {
  it('the default maxResponseBytes is 4 MiB', async () => {
    const producer = producerFor('gateway', { maxResponseBytes: undefined })
    const err = await failedSend(producer, (_ex, res) => flood(res))
    expectMalformed(err, /maxResponseBytes \(4194304\)/)
    const { finished, written } = await lastHostile().closed
    expect(finished).toBe(false)
    expect(written).toBeLessThan((4 << 20) + (16 << 20))
    await stillWorks(producer)
  })

  type Ack = { t: string; id: number; results: Array<Record<string, unknown>> }
  const cases: Array<[string, (f: Ack, ex: Exchange) => void]> = [
    ['errorCode as a string', (f) => (f.results[0]!.errorCode = '0')],
    ['errorCode 0 with a baseOffset that is not an integer', (f) => (f.results[0]!.baseOffset = '12')],
    ['offsets that are not integers', (f) => (f.results[0]!.offsets = ['a'])],
    ['the answer to another request id', (f) => (f.id += 1000)],
    [
      'an extra result for a batch id never sent',
      (f) => f.results.push({ ...f.results[0]!, batchId: 'never-sent', errorCode: 0 }),
    ],
    [
      'two results for one batch (an error, then an ack)',
      (f) => f.results.unshift({ ...f.results[0]!, errorCode: 6, baseOffset: -1 }),
    ],
    ['a metadata frame instead of an ack', (f) => Object.assign(f, { t: 'metadata', topics: [] })],
  ]
  it.each(cases)('%s: MALFORMED_RESPONSE, nothing acknowledged', async (_name, mutate) => {
    const producer = producerFor('gateway')
    const err = await failedSend(producer, (ex, res) => {
      mutate(ex.good as unknown as Ack, ex)
      send(res, encodeFrame(ex.good as unknown as AckFrame), 200, 'application/vnd.msgpack')
    })
    expectMalformed(err, /not the answer asked for/)
    await stillWorks(producer)
  })

  it('an error frame whose code is not a string on a 200 is MALFORMED_RESPONSE, not an error with that code', async () => {
    const producer = producerFor('gateway')
    const err = await failedSend(producer, (ex, res) =>
      send(res, encodeFrame({ t: 'error', id: ex.id, code: 7 as never, message: 'x', retriable: false }), 200),
    )
    expectMalformed(err)
    await stillWorks(producer)
  })

  it.each(HOSTILE_ERROR_MESSAGES)(
    'an error frame whose message is %s: the typed error, its message a capped string',
    async (_n, m, text) => {
      const producer = producerFor('gateway')
      const frame = { t: 'error', id: 0, code: 'INTERNAL', message: m, retriable: true, retryAfterMs: { valueOf: 1 } }
      const err = await failedSend(producer, (ex, res) => send(res, encodeFrame({ ...frame, id: ex.id } as never), 500))
      expect([err.code, err.retriable, err.message]).toEqual(['INTERNAL', true, text])
      await stillWorks(producer)
    },
  )

  it('MessagePack nested past the decoder depth on a 200 is MALFORMED_RESPONSE', async () => {
    const producer = producerFor('gateway')
    const nested = new Uint8Array(1000).fill(0x91) // [[[[...
    const err = await failedSend(producer, (_ex, res) => send(res, nested, 200, 'application/vnd.msgpack'))
    expectMalformed(err)
    await stillWorks(producer)
  })

  type Meta = { t: string; id: number; topics: Array<Record<string, unknown>> }
  const metaCases: Array<[string, (f: Meta) => void]> = [
    [`more than MAX_PARTITIONS (${MAX_PARTITIONS}) partitions`, (f) => (f.topics[0]!.partitions = MAX_PARTITIONS + 1)],
    ['2^32 partitions', (f) => (f.topics[0]!.partitions = 2 ** 32)],
    ['a negative partition count', (f) => (f.topics[0]!.partitions = -1)],
    ['a partition count as a string', (f) => (f.topics[0]!.partitions = '3')],
    ['a fractional partition count', (f) => (f.topics[0]!.partitions = 1.5)],
    ['a topic never asked for', (f) => f.topics.push({ topic: 'other', partitions: 1, errorCode: 0 })],
    ['the answer to another request id', (f) => (f.id += 1000)],
  ]
  it.each(metaCases)('metadata with %s: MALFORMED_RESPONSE; the producer works afterwards', async (_name, mutate) => {
    const transport = transportFor('gateway')
    arm((ex, res) => {
      mutate(ex.good as unknown as Meta)
      send(res, encodeFrame(ex.good as unknown as MetadataResponseFrame), 200, 'application/vnd.msgpack')
    }, isMetadata)
    expectMalformed(await rejection(transport.metadata([TOPIC])), /not the answer asked for/)
    const producer = strictProducer(transport, REQUEST_TIMEOUT_MS)
    producers.push(producer)
    await stillWorks(producer)
  })
})

describe('fetchTransport REST modes: JSON of the wrong shape', () => {
  const v3: Array<[string, Handler]> = [
    ['error_code as a string', (ex, res) => sendV3(res, ex, (a) => (a.error_code = '200'))],
    ['an offset as a string', (ex, res) => sendV3(res, ex, (a) => (a.offset = '5'))],
    ['a number instead of an answer object', (_ex, res) => send(res, '[1]', 200, 'application/json')],
    ['no answer for the record', (_ex, res) => send(res, '', 200, 'application/json')],
    ['more answers than records', (ex, res) => sendV3(res, ex, (a, all) => all.push({ ...a }))],
    ['JSON nested 30,000 deep', (_ex, res) => send(res, deep(30_000), 200, 'application/json')],
    ['a truncated answer', (_ex, res) => send(res, '{"error_code":200,"offset":', 200, 'application/json')],
  ]
  it.each(v3)('rest-v3 produce answer with %s: MALFORMED_RESPONSE, not acknowledged', async (_name, handler) => {
    const producer = producerFor('rest-v3')
    expectMalformed(await failedSend(producer, handler))
    await stillWorks(producer)
  })

  const v2: Array<[string, Handler]> = [
    ['null', (_ex, res) => send(res, 'null', 200, 'application/json')],
    ['{} (no offsets)', (_ex, res) => send(res, '{}', 200, 'application/json')],
    ['an offset as a string', (ex, res) => sendV2(res, ex, (o) => (o!.offset = '5'))],
    ['a null entry in offsets', (ex, res) => sendV2(res, ex, (_o, all) => (all[0] = null))],
    ['error_code as a string', (ex, res) => sendV2(res, ex, (o) => (o!.error_code = '2'))],
    ['more offsets than records', (ex, res) => sendV2(res, ex, (o, all) => all.push({ ...o! }))],
    ['JSON nested 30,000 deep', (_ex, res) => send(res, `{"offsets":${deep(30_000)}}`, 200, 'application/json')],
  ]
  it.each(v2)('rest-v2 produce answer with %s: MALFORMED_RESPONSE, not acknowledged', async (_name, handler) => {
    const producer = producerFor('rest-v2')
    expectMalformed(await failedSend(producer, handler))
    await stillWorks(producer)
  })

  const clusters: Array<[string, string]> = [
    ['null', 'null'],
    ['a cluster id that is a number', '{"data":[{"cluster_id":5}]}'],
    ['data that is not a list', '{"data":{"cluster_id":"c1"}}'],
  ]
  it.each(clusters)('rest-v3 GET /v3/clusters answering %s: MALFORMED_RESPONSE', async (_name, body) => {
    const transport = transportFor('rest-v3')
    arm(
      (_ex, res) => send(res, body, 200, 'application/json'),
      (p) => p === '/v3/clusters',
    )
    expectMalformed(await rejection(transport.metadata([TOPIC])))
    const producer = strictProducer(transport, REQUEST_TIMEOUT_MS)
    producers.push(producer)
    await stillWorks(producer)
  })

  it.each(['rest-v3', 'rest-v2'] as const)(
    '%s partitions listing more than MAX_PARTITIONS: MALFORMED_RESPONSE',
    async (mode) => {
      const transport = transportFor(mode, { maxResponseBytes: 4 << 20 })
      const list = Array.from({ length: MAX_PARTITIONS + 1 }, () => ({}))
      arm(
        (_ex, res) => send(res, JSON.stringify(mode === 'rest-v3' ? { data: list } : list), 200, 'application/json'),
        (p) => p.endsWith('/partitions'),
      )
      expectMalformed(await rejection(transport.metadata([TOPIC])))
      const producer = strictProducer(transport, REQUEST_TIMEOUT_MS)
      producers.push(producer)
      await stillWorks(producer)
    },
  )

  it('a REST produce answer may take 1 KiB per record above maxResponseBytes (legitimate large answers pass)', async () => {
    // records sent together within lingerMs travel as one batch, so as one request
    const producer = producerFor('rest-v3', { maxResponseBytes: 1024 }, { lingerMs: 50 })
    await producer.partitionsFor(TOPIC)
    // 200 records in one batch: a real v3 answer of ~100 bytes each is far above the 1 KiB cap, within 200 KiB
    const sends = Array.from({ length: 200 }, (_, i) => producer.send({ topic: TOPIC, partition: 0, value: `r${i}` }))
    const metas = await Promise.all(sends)
    expect(metas).toHaveLength(200)
  })
})

function sendV3(
  res: http.ServerResponse,
  ex: Exchange,
  mutate: (a: Record<string, unknown>, all: Array<Record<string, unknown>>) => void,
): void {
  const all = ex.good as Array<Record<string, unknown>>
  mutate(all[0]!, all)
  send(res, encodeGood(ex.path, all), 200, 'application/json')
}

function sendV2(
  res: http.ServerResponse,
  ex: Exchange,
  mutate: (o: Record<string, unknown> | null, all: Array<Record<string, unknown> | null>) => void,
): void {
  const doc = ex.good as { offsets: Array<Record<string, unknown> | null> }
  mutate(doc.offsets[0]!, doc.offsets)
  send(res, JSON.stringify(doc), 200, 'application/json')
}

function deep(n: number): string {
  return `${'['.repeat(n)}${']'.repeat(n)}`
}
