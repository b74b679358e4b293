/// <reference types="node" />
// Hostile clients, part 4: asking for more than is fair. Amplification (a REST v3 body of 1,000,000 `{}`, a frame of
// 100,000 empty records, a frame of 40,000 one-record batches, more records than a frame may carry), backpressure that
// counts header bytes, metadata floods, and REST edge cases (bad %-encoding, content types, v2 bodies, deep JSON).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopic, uniqueTopic } from '../../helpers/kafka-tools.js'
import {
  Accepted,
  FrameClient,
  assertHealthy,
  authed,
  expectNoLeaks,
  expectTopicHolds,
  finishChildren,
  httpRequest,
  kafkaBootstrap,
  mintToken,
  pack,
  produceFrame,
  rec,
  sleep,
  startChildGateway,
  uniqueId,
  type ChildGateway,
  type WireRecord,
} from './harness.js'
import { decode } from '@msgpack/msgpack'

const bootstrap = kafkaBootstrap()
const MAX_FRAME = 4 << 20
const MAX_RECORDS = 10_000 // the default maxRecordsPerFrame
const MAX_BATCHES = 256 // the default maxInFlightBatches
const METADATA_RATE = 100 // the default metadataTopicsPerSecond
const topic = uniqueTopic('hostile-amp')
const accepted = new Accepted()
let gw: ChildGateway
let token: string
let clusterId: string

beforeAll(async () => {
  await createTopic(bootstrap, topic, 1)
  gw = await startChildGateway({ limits: { maxFrameBytes: MAX_FRAME }, maxPendingBytes: 65536 })
  token = mintToken({ topics: [topic], sub: 'amp' })
  const res = await httpRequest(gw, 'GET', '/v3/clusters', { headers: { Authorization: `Bearer ${token}` } })
  expect(res.status, res.text).toBe(200)
  clusterId = JSON.parse(res.text).data[0].cluster_id
})
afterAll(() => finishChildren('amplification.test.ts', [['gateway', gw]]))

const auth = () => ({ Authorization: `Bearer ${token}` })
const v3Path = (t = topic, c = clusterId) => `/v3/clusters/${c}/topics/${t}/records`
const v3 = (body: string, headers: Record<string, string> = {}) =>
  httpRequest(gw, 'POST', v3Path(), {
    headers: { ...auth(), 'Content-Type': 'application/json', ...headers },
    body,
    timeoutMs: 60_000,
  })
const v2 = (body: string, type = 'application/vnd.kafka.json.v2+json', t = topic) =>
  httpRequest(gw, 'POST', `/topics/${t}`, {
    headers: { ...auth(), ...(type ? { 'Content-Type': type } : {}) },
    body,
    timeoutMs: 60_000,
  })
const emptyRecords = (n: number): WireRecord[] => {
  const r: WireRecord = [Date.now(), null, null, []]
  return Array.from({ length: n }, () => r)
}

// ---------------------------------------------------------------------------------------------------------------

describe('amplification: more records or batches than one request may carry', () => {
  let c: FrameClient
  beforeAll(async () => {
    c = await authed(gw, token)
  })
  afterAll(() => c?.close())

  const expectLimitExceeded = async (id: number) => {
    const f = await c.answer(id, 15_000)
    expect(f.t, JSON.stringify({ t: f.t, code: f.code, results: f.results?.length })).toBe('error')
    expect(f.code).toBe('LIMIT_EXCEEDED')
    expect(f.retriable).toBe(false)
  }

  it('REST v3: a body of 1,000,000 `{}` records → 413 at once, nothing produced', async () => {
    const res = await v3('{}'.repeat(1_000_000))
    expect(res.status, res.text.slice(0, 200)).toBe(413)
    expect(res.ms).toBeLessThan(5000)
  })

  it(`REST v3: ${MAX_RECORDS + 1} records → 413, nothing produced`, async () => {
    const one = JSON.stringify({ value: { type: 'STRING', data: 'over-v3' } })
    const res = await v3(Array.from({ length: MAX_RECORDS + 1 }, () => one).join('\n'))
    expect(res.status, res.text.slice(0, 200)).toBe(413)
  })

  it(`REST v2: ${MAX_RECORDS + 1} records → 413, nothing produced`, async () => {
    const res = await v2(
      JSON.stringify({ records: Array.from({ length: MAX_RECORDS + 1 }, () => ({ value: 'over-v2' })) }),
    )
    expect(res.status, res.text.slice(0, 200)).toBe(413)
  })

  it(`POST /v1/produce: a frame of ${MAX_RECORDS + 1} records → 413 LIMIT_EXCEEDED, nothing produced`, async () => {
    const res = await httpRequest(gw, 'POST', '/v1/produce', {
      headers: { ...auth(), 'Content-Type': 'application/vnd.msgpack' },
      body: pack(produceFrame(1, [{ topic, batchId: uniqueId('http-over'), records: emptyRecords(MAX_RECORDS + 1) }])),
    })
    expect(res.status).toBe(413)
    expect((decode(res.body) as { code: string }).code).toBe('LIMIT_EXCEEDED')
  })

  it('WebSocket: one batch of 100,000 empty records → LIMIT_EXCEEDED, nothing produced', async () => {
    c.send(produceFrame(10, [{ topic, batchId: uniqueId('100k'), records: emptyRecords(100_000) }]))
    await expectLimitExceeded(10)
  })

  it('WebSocket: 40,000 one-record batches in one frame → LIMIT_EXCEEDED, nothing produced', async () => {
    const r = emptyRecords(1)
    c.send(
      produceFrame(
        11,
        Array.from({ length: 40_000 }, (_, i) => ({ topic, batchId: `b${i.toString(36)}`, records: r })),
      ),
    )
    await expectLimitExceeded(11)
  })

  it(`WebSocket: ${MAX_BATCHES + 1} batches in one frame on an idle connection → LIMIT_EXCEEDED`, async () => {
    c.send(
      produceFrame(
        12,
        Array.from({ length: MAX_BATCHES + 1 }, (_, i) => ({
          topic,
          batchId: uniqueId(`mb${i}`),
          records: [rec(`batches-${i}`)],
        })),
      ),
    )
    await expectLimitExceeded(12)
  })

  it(`WebSocket: ${MAX_RECORDS + 1} records over two batches → LIMIT_EXCEEDED`, async () => {
    c.send(
      produceFrame(13, [
        { topic, batchId: uniqueId('half1'), records: emptyRecords(5000) },
        { topic, batchId: uniqueId('half2'), records: emptyRecords(MAX_RECORDS + 1 - 5000) },
      ]),
    )
    await expectLimitExceeded(13)
  })

  it(`WebSocket: exactly ${MAX_RECORDS} records → acked (control)`, async () => {
    const values = Array.from({ length: MAX_RECORDS }, (_, i) => `max-${i}`)
    c.send(produceFrame(14, [{ topic, batchId: uniqueId('max'), records: values.map((v) => rec(v)) }]))
    const f = await c.answer(14, 30_000)
    expect(f.t, JSON.stringify({ code: f.code, message: f.message })).toBe('ack')
    expect(f.results[0].errorCode).toBe(0)
    accepted.add(topic, values)
  })

  it('REST v3: the answer for 500 records is one JSON line per record, in order (control)', async () => {
    const values = Array.from({ length: 500 }, (_, i) => `v3-stream-${i}`)
    const res = await v3(values.map((v) => JSON.stringify({ value: { type: 'STRING', data: v } })).join('\n'))
    expect(res.status, res.text.slice(0, 200)).toBe(200)
    const lines = res.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { error_code: number; offset: number })
    expect(lines).toHaveLength(500)
    expect(lines.every((l) => l.error_code === 200)).toBe(true)
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.offset).toBeGreaterThan(lines[i - 1]!.offset)
    accepted.add(topic, values)
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'amp'))
})

// ---------------------------------------------------------------------------------------------------------------

describe('backpressure counts what records carry in their headers', () => {
  it('maxPendingBytes 64 KiB, ~1.5 MB of records carried in headers → acked, and the gateway paused (pauses_total grows)', async () => {
    const before = (await gw.metric('isokafka_gateway_pauses_total')) ?? 0
    const c = await authed(gw, token)
    const big = new Uint8Array(15_000).fill(0x68)
    const values: string[] = []
    for (let f = 0; f < 5; f++) {
      const batchValues = Array.from({ length: 20 }, (_, i) => `hdr-${f}-${i}`)
      values.push(...batchValues)
      c.send(
        produceFrame(100 + f, [
          {
            topic,
            batchId: uniqueId('hdr'),
            records: batchValues.map((v) =>
              rec(v, {
                headers: [
                  ['blob', big],
                  ['blob2', big.subarray(0, 100)],
                ],
              }),
            ),
          },
        ]),
      )
    }
    for (let f = 0; f < 5; f++) {
      const a = await c.answer(100 + f, 30_000)
      expect(a.t).toBe('ack')
      expect(a.results[0].errorCode).toBe(0)
    }
    accepted.add(topic, values)
    c.close()
    const after = (await gw.metric('isokafka_gateway_pauses_total')) ?? 0
    expect(after, 'isokafka_gateway_pauses_total').toBeGreaterThan(before)
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'headers'))
})

// ---------------------------------------------------------------------------------------------------------------

describe(`metadata floods (metadataTopicsPerSecond ${METADATA_RATE})`, () => {
  const fuzzToken = (sub: string) => mintToken({ topics: ['fuzz-*'], sub })
  const names = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `fuzz-${tag}-${uniqueId('t')}-${i}`)

  it('WebSocket: 20 frames of 50 distinct topics back to back → RATE_LIMITED (retriable, retryAfterMs) after the budget', async () => {
    const c = await authed(gw, fuzzToken('flood-ws'))
    const t0 = Date.now()
    for (let i = 0; i < 20; i++) c.send({ t: 'metadata', id: 200 + i, topics: names(50, `ws${i}`) })
    const answers = []
    for (let i = 0; i < 20; i++) answers.push(await c.answer(200 + i, 15_000))
    const elapsed = (Date.now() - t0) / 1000
    const limited = answers.filter((a) => a.t === 'error')
    expect(limited.length, 'frames refused').toBeGreaterThan(0)
    for (const a of limited) expect(a).toMatchObject({ code: 'RATE_LIMITED', retriable: true })
    expect(limited.every((a) => a.retryAfterMs > 0)).toBe(true)
    const looked = answers.filter((a) => a.t === 'metadata').length * 50
    expect(looked).toBeLessThanOrEqual(METADATA_RATE + METADATA_RATE * elapsed + 50)
    c.close()
  })

  it('WebSocket: produce frames count as topic lookups too → RATE_LIMITED', async () => {
    const c = await authed(gw, fuzzToken('flood-produce'))
    c.send({ t: 'metadata', id: 1, topics: names(80, 'pre') })
    expect((await c.answer(1)).t).toBe('metadata')
    c.send(
      produceFrame(
        2,
        names(60, 'p').map((t) => ({ topic: t, batchId: uniqueId('fp'), records: [rec('fp')] })),
      ),
    )
    const f = await c.answer(2)
    expect(f, JSON.stringify({ t: f.t, code: f.code })).toMatchObject({
      t: 'error',
      code: 'RATE_LIMITED',
      retriable: true,
    })
    c.close()
  })

  // (the gateway may also cap lookups over all sessions together: these two tests first let such a budget refill, so
  // what they see is the per-connection / per-subject one)
  it('WebSocket: the budget is per connection, a fresh connection has its own', async () => {
    await sleep(1100)
    const tok = fuzzToken('flood-per-conn')
    const a = await authed(gw, tok)
    a.send({ t: 'metadata', id: 1, topics: names(90, 'a') })
    expect((await a.answer(1)).t).toBe('metadata')
    const b = await authed(gw, tok)
    b.send({ t: 'metadata', id: 1, topics: names(50, 'b') })
    expect((await b.answer(1)).t).toBe('metadata')
    a.close()
    b.close()
  })

  it('HTTP POST /v1/metadata: the budget is per subject → 429 with Retry-After', async () => {
    await sleep(1100)
    const tok = fuzzToken('flood-http')
    const post = (n: number, tag: string) =>
      httpRequest(gw, 'POST', '/v1/metadata', {
        headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/vnd.msgpack' },
        body: pack({ t: 'metadata', id: 1, topics: names(n, tag) }),
      })
    expect((await post(80, 'h1')).status).toBe(200)
    const second = await post(80, 'h2')
    expect(second.status).toBe(429)
    expect(Number(second.headers['retry-after'])).toBeGreaterThan(0)
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'metadata'))
})

// ---------------------------------------------------------------------------------------------------------------

describe('REST edge cases', () => {
  it.each([
    ['REST v3 produce, topic', () => `/v3/clusters/${clusterId}/topics/%E0%A4%A/records`, 'POST'],
    ['REST v3 produce, cluster', () => `/v3/clusters/%zz/topics/${topic}/records`, 'POST'],
    ['REST v3 partitions', () => `/v3/clusters/${clusterId}/topics/%/partitions`, 'GET'],
    ['REST v3 cluster', () => '/v3/clusters/%E0%A4%A', 'GET'],
    ['REST v2 produce', () => '/topics/%zz', 'POST'],
    ['REST v2 partitions', () => '/topics/%C0%AF/partitions', 'GET'],
  ])('bad percent-encoding in the path of %s → 400', async (_name, makePath, method) => {
    const res = await httpRequest(gw, method, makePath(), {
      headers: {
        ...auth(),
        'Content-Type':
          method === 'POST' && makePath().startsWith('/topics')
            ? 'application/vnd.kafka.json.v2+json'
            : 'application/json',
      },
      ...(method === 'POST'
        ? {
            body: makePath().startsWith('/topics')
              ? '{"records":[{"value":1}]}'
              : '{"value":{"type":"STRING","data":"pct"}}',
          }
        : {}),
    })
    expect(res.status, res.text).toBe(400)
  })

  it.each([
    ['application/json', 415],
    ['', 415],
    ['application/vnd.kafka.avro.v2+json', 415],
    ['text/plain', 415],
  ])('REST v2 with Content-Type "%s" → %i', async (type, status) => {
    const res = await v2(JSON.stringify({ records: [{ value: 'ct' }] }), type)
    expect(res.status, res.text).toBe(status)
  })

  it('POST /v1/produce with a JSON body → 400', async () => {
    const res = await httpRequest(gw, 'POST', '/v1/produce', {
      headers: { ...auth(), 'Content-Type': 'application/json' },
      body: '{"t":"produce","id":1}',
    })
    expect(res.status).toBe(400)
  })

  it('GET /v1/produce → 405', async () => {
    const res = await httpRequest(gw, 'GET', '/v1/produce', { headers: auth() })
    expect(res.status).toBe(405)
  })

  it('a REST v2 body sent to the v3 endpoint → 400, nothing produced (no null record written)', async () => {
    const res = await v3(JSON.stringify({ records: [{ value: 'v2-at-v3' }] }))
    if (res.status === 200) accepted.add(topic, ['<null>']) // acknowledged: then it is in Kafka (keeps the read-back exact)
    expect(res.status, res.text).toBe(400)
  })

  it('REST v3 body that is a JSON array of records → 400', async () => {
    const res = await v3(JSON.stringify([{ value: { type: 'STRING', data: 'array' } }]))
    expect(res.status, res.text).toBe(400)
  })

  it('REST v3 truncated JSON → 400', async () => {
    const res = await v3('{"value": {"type": "STRING", "data": "trunc')
    expect(res.status, res.text).toBe(400)
  })

  // nesting is not forbidden by the spec: either answer is fine (an accepted record must then be in Kafka, as sent),
  // a 5xx or a crash (stack overflow) is not
  it('REST v3 JSON value nested 100,000 deep → 200 or 4xx (no 5xx), the process stays up', async () => {
    const data = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    const res = await v3(`{"value":{"type":"JSON","data":${data}}}`)
    if (res.status === 200) accepted.add(topic, [data])
    else expect(res.status, res.text.slice(0, 200)).toBeGreaterThanOrEqual(400)
    expect(res.status, res.text.slice(0, 200)).toBeLessThan(500)
    gw.assertAlive()
  })

  it('REST v2 embedded JSON nested 100,000 deep → 200 or 4xx (no 5xx), the process stays up', async () => {
    const data = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`
    const res = await v2(`{"records":[{"value":${data}}]}`)
    if (res.status === 200) accepted.add(topic, [data])
    else expect(res.status, res.text.slice(0, 200)).toBeGreaterThanOrEqual(400)
    expect(res.status, res.text.slice(0, 200)).toBeLessThan(500)
    gw.assertAlive()
  })

  it('REST v3 body over maxFrameBytes → 413', async () => {
    const res = await v3(JSON.stringify({ value: { type: 'STRING', data: 'x'.repeat(MAX_FRAME + 10) } }))
    expect(res.status).toBe(413)
  })

  it.each([
    ['an empty record list', JSON.stringify({ records: [] }), 'application/vnd.kafka.json.v2+json'],
    ['records not a list', JSON.stringify({ records: { value: 1 } }), 'application/vnd.kafka.json.v2+json'],
    [
      'a binary value that is not base64',
      JSON.stringify({ records: [{ value: '*not base64*' }] }),
      'application/vnd.kafka.binary.v2+json',
    ],
    ['a record that is not an object', JSON.stringify({ records: [1, 2] }), 'application/vnd.kafka.binary.v2+json'],
    ['a body that is not JSON', 'records=1', 'application/vnd.kafka.json.v2+json'],
    [
      'a partition out of range',
      JSON.stringify({ records: [{ value: 'p', partition: 7 }] }),
      'application/vnd.kafka.json.v2+json',
    ],
  ])('REST v2 with %s → 4xx, nothing produced', async (_name, body, type) => {
    const res = await v2(body, type)
    expect(res.status, res.text).toBeGreaterThanOrEqual(400)
    expect(res.status, res.text).toBeLessThan(500)
  })

  it.each([
    ['partition_id out of range', { partition_id: 7, value: { type: 'STRING', data: 'p' } }],
    ['key type AVRO', { key: { type: 'AVRO', data: 'x' }, value: { type: 'STRING', data: 'avro' } }],
    ['a garbage timestamp', { timestamp: 'yesterday-ish', value: { type: 'STRING', data: 'ts' } }],
    ['BINARY data that is not base64', { value: { type: 'BINARY', data: '%%%' } }],
    ['a header without a name', { headers: [{ value: 'AA==' }], value: { type: 'STRING', data: 'h' } }],
  ])('REST v3 record with %s → 400, nothing produced', async (_name, record) => {
    const res = await v3(JSON.stringify(record))
    expect(res.status, res.text).toBe(400)
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'rest'))
})

describe('Kafka and answers', () => {
  it('the topic holds exactly the accepted records (nothing refused reached Kafka)', async () => {
    await sleep(300)
    await expectTopicHolds(bootstrap, topic, accepted.get(topic))
  })
  it('no answer carried a broker address, a stack trace or a token', () => {
    expectNoLeaks()
    gw.assertAlive()
  })
})
