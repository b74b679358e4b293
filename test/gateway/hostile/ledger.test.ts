/// <reference types="node" />
// Hostile clients, part 5: the batch ledger and the rate buckets. Batch-id keys must be unambiguous (a newline in
// `sub` vs in `batchId` must not make two batches collide), running batches are never evicted from the dedup memory
// (dedupEntries: 2), tokens without `sub` get their own dedup namespace and rate bucket, and a request larger than
// the bucket can ever hold is refused instead of overdrawing it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopic, uniqueTopic } from '../../helpers/kafka-tools.js'
import {
  Accepted,
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
  type FrameClient,
} from './harness.js'

const bootstrap = kafkaBootstrap()
const RATE = 1000
const topic = uniqueTopic('hostile-ledger')
const accepted = new Accepted()
/** dedupEntries: 2 */
let small: ChildGateway
/** recordsPerSecond: 1000 (default dedup memory) */
let slow: ChildGateway

beforeAll(async () => {
  await createTopic(bootstrap, topic, 1)
  ;[small, slow] = await Promise.all([
    startChildGateway({ dedupEntries: 2 }),
    startChildGateway({ limits: { recordsPerSecond: RATE } }),
  ])
})
afterAll(() =>
  finishChildren('ledger.test.ts', [
    ['dedupEntries 2', small],
    ['recordsPerSecond 1000', slow],
  ]),
)

let nextId = 1
/** Produce one batch and return its result (errorCode, baseOffset). */
async function produceOne(c: FrameClient, batchId: string, values: string[]) {
  const id = nextId++
  c.send(produceFrame(id, [{ topic, batchId, records: values.map((v) => rec(v)) }]))
  const f = await c.answer(id, 20_000)
  expect(f.t, JSON.stringify({ code: f.code, message: f.message })).toBe('ack')
  return f.results[0] as { errorCode: number; baseOffset: number; batchId: string }
}

// ---------------------------------------------------------------------------------------------------------------

describe('batch ledger: unambiguous keys, running batches never evicted, sub-less tokens apart', () => {
  it.each([
    { subA: 'a\nb', idA: 'c', subB: 'a', idB: 'b\nc' },
    { subA: 'x\n', idA: 'y', subB: 'x', idB: '\ny' },
    { subA: 'k\nv\n', idA: 'w', subB: 'k', idB: 'v\n\nw' },
  ])('sub $subA + batch $idA vs sub $subB + batch $idB: both batches are written', async ({ subA, idA, subB, idB }) => {
    const tag = uniqueId('nl')
    const a = await authed(slow, mintToken({ topics: [topic], sub: subA }))
    const b = await authed(slow, mintToken({ topics: [topic], sub: subB }))
    // the same suffix on both ids keeps the keys colliding under a `${sub}\n${batchId}` scheme
    const ra = await produceOne(a, `${idA}${tag}`, [`newline-A-${tag}`])
    const rb = await produceOne(b, `${idB}${tag}`, [`newline-B-${tag}`])
    a.close()
    b.close()
    expect(ra.errorCode).toBe(0)
    expect(rb.errorCode).toBe(0)
    expect(rb.baseOffset, 'the second batch was taken for the first one (same offset)').not.toBe(ra.baseOffset)
    accepted.add(topic, [`newline-A-${tag}`, `newline-B-${tag}`])
  })

  it('dedupEntries 2: a frame of 5 running batches resent at once on a new connection is written once, same offsets', async () => {
    const tok = mintToken({ topics: [topic], sub: 'resender' })
    const a = await authed(small, tok)
    const b = await authed(small, tok)
    const pad = 'p'.repeat(1000)
    const batches = Array.from({ length: 5 }, (_, i) => ({
      topic,
      batchId: uniqueId(`run${i}`),
      records: Array.from({ length: 200 }, (_, j) => rec(`running-${i}-${j}-${pad}`)),
    }))
    const frame = pack(produceFrame(1, batches))
    a.send(frame)
    b.send(frame)
    const [fa, fb] = await Promise.all([a.answer(1, 30_000), b.answer(1, 30_000)])
    a.close()
    b.close()
    expect(fa.t).toBe('ack')
    expect(fb.t).toBe('ack')
    for (let i = 0; i < 5; i++) {
      expect(fa.results[i].errorCode).toBe(0)
      expect(fb.results[i].errorCode).toBe(0)
      expect(fb.results[i].baseOffset, `batch ${i} was written twice`).toBe(fa.results[i].baseOffset)
    }
    accepted.add(
      topic,
      batches.flatMap((bt) => bt.records.map((r) => Buffer.from(r[2]!).toString('utf8'))),
    )
  })

  it('a batch id reused for other records → errorCode 42, nothing written', async () => {
    const c = await authed(slow, mintToken({ topics: [topic], sub: 'reuser' }))
    const id = uniqueId('reuse')
    const first = await produceOne(c, id, [`reuse-${id}`])
    expect(first.errorCode).toBe(0)
    accepted.add(topic, [`reuse-${id}`])
    const again = await produceOne(c, id, [`reuse-${id}-other`, `reuse-${id}-more`])
    expect(again.errorCode).toBe(42)
    c.close()
  })

  it('two tokens without sub, same batch id and shape: both batches are written (own dedup namespace)', async () => {
    const x = await authed(slow, mintToken({ topics: [topic], iat: Math.floor(Date.now() / 1000) - 1 }))
    const y = await authed(slow, mintToken({ topics: [topic, 'other-topic'] }))
    const id = uniqueId('nosub')
    const rx = await produceOne(x, id, [`nosub-x-${id}`])
    const ry = await produceOne(y, id, [`nosub-y-${id}`])
    x.close()
    y.close()
    expect(rx.errorCode).toBe(0)
    expect(ry.errorCode).toBe(0)
    expect(ry.baseOffset, "the second token's batch was taken for the first one's").not.toBe(rx.baseOffset)
    accepted.add(topic, [`nosub-x-${id}`, `nosub-y-${id}`])
  })

  it('the same sub-less token resending on a new connection is deduplicated (control)', async () => {
    const tok = mintToken({ topics: [topic] })
    const id = uniqueId('nosub-again')
    const a = await authed(slow, tok)
    const r1 = await produceOne(a, id, [`nosub-again-${id}`])
    a.close()
    const b = await authed(slow, tok)
    const r2 = await produceOne(b, id, [`nosub-again-${id}`])
    b.close()
    expect(r1.errorCode).toBe(0)
    expect(r2).toMatchObject({ errorCode: 0, baseOffset: r1.baseOffset })
    accepted.add(topic, [`nosub-again-${id}`])
  })

  it('a well-behaved client still produces and gets acks (both gateways)', async () => {
    await assertHealthy(small, topic, accepted, 'ledger-small')
    await assertHealthy(slow, topic, accepted, 'ledger-slow')
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe(`rate buckets (recordsPerSecond ${RATE}): refused, never overdrawn; sub-less tokens have their own`, () => {
  const values = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}`)

  it(`WebSocket: a frame of ${RATE * 5} records (more than the bucket can ever hold) → LIMIT_EXCEEDED; the next small frame passes`, async () => {
    const c = await authed(slow, mintToken({ topics: [topic], sub: 'overdraw-ws' }))
    c.send(
      produceFrame(1, [
        { topic, batchId: uniqueId('over'), records: values(RATE * 5, uniqueId('overdraw')).map((v) => rec(v)) },
      ]),
    )
    const f = await c.answer(1)
    expect(f, JSON.stringify({ t: f.t, code: f.code })).toMatchObject({
      t: 'error',
      code: 'LIMIT_EXCEEDED',
      retriable: false,
    })
    const small10 = values(10, uniqueId('after-overdraw'))
    c.send(produceFrame(2, [{ topic, batchId: uniqueId('small'), records: small10.map((v) => rec(v)) }]))
    const g = await c.answer(2)
    expect(g.t, `the bucket was overdrawn: ${JSON.stringify({ code: g.code, retryAfterMs: g.retryAfterMs })}`).toBe(
      'ack',
    )
    expect(g.results[0].errorCode).toBe(0)
    accepted.add(topic, small10)
    c.close()
  })

  it(`WebSocket: two frames of ${RATE * 0.6} records back to back → the second is RATE_LIMITED with retryAfterMs (control)`, async () => {
    const c = await authed(slow, mintToken({ topics: [topic], sub: 'rate-ws' }))
    const first = values(RATE * 0.6, uniqueId('r1'))
    c.send(produceFrame(1, [{ topic, batchId: uniqueId('r1'), records: first.map((v) => rec(v)) }]))
    c.send(
      produceFrame(2, [
        { topic, batchId: uniqueId('r2'), records: values(RATE * 0.6, uniqueId('r2')).map((v) => rec(v)) },
      ]),
    )
    const [a, b] = [await c.answer(1), await c.answer(2)]
    expect(a.t).toBe('ack')
    accepted.add(topic, first)
    expect(b).toMatchObject({ t: 'error', code: 'RATE_LIMITED', retriable: true })
    expect(b.retryAfterMs).toBeGreaterThan(0)
    c.close()
  })

  it(`REST v2: ${RATE * 1.5} records → 413 (never overdrawn); 10 records right after → 200`, async () => {
    const tok = mintToken({ topics: [topic], sub: 'overdraw-v2' })
    const post = (vals: string[]) =>
      httpRequest(slow, 'POST', `/topics/${topic}`, {
        headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/vnd.kafka.json.v2+json' },
        body: JSON.stringify({ records: vals.map((v) => ({ value: v })) }),
      })
    const big = await post(values(RATE * 1.5, uniqueId('v2big')))
    expect(big.status, big.text.slice(0, 200)).toBe(413)
    const ten = values(10, uniqueId('v2ten'))
    const res = await post(ten)
    expect(res.status, res.text.slice(0, 200)).toBe(200)
    // json embedding: the value written is the JSON text of the string
    accepted.add(
      topic,
      ten.map((v) => JSON.stringify(v)),
    )
  })

  it(`REST v3: ${RATE * 1.5} records → 413, nothing produced`, async () => {
    const tok = mintToken({ topics: [topic], sub: 'overdraw-v3' })
    const cl = await httpRequest(slow, 'GET', '/v3/clusters', { headers: { Authorization: `Bearer ${tok}` } })
    const cluster = JSON.parse(cl.text).data[0].cluster_id
    const body = values(RATE * 1.5, uniqueId('v3big'))
      .map((v) => JSON.stringify({ value: { type: 'STRING', data: v } }))
      .join('\n')
    const res = await httpRequest(slow, 'POST', `/v3/clusters/${cluster}/topics/${topic}/records`, {
      headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
      body,
    })
    expect(res.status, res.text.slice(0, 200)).toBe(413)
  })

  it('HTTP /v1/produce: two tokens without sub each get their own bucket; the same token again → 429 with Retry-After', async () => {
    const x = mintToken({ topics: [topic], iat: Math.floor(Date.now() / 1000) - 2 })
    const y = mintToken({ topics: [topic], iat: Math.floor(Date.now() / 1000) - 3 })
    const post = (tok: string, vals: string[]) =>
      httpRequest(slow, 'POST', '/v1/produce', {
        headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/vnd.msgpack' },
        body: pack(produceFrame(1, [{ topic, batchId: uniqueId('hb'), records: vals.map((v) => rec(v)) }])),
      })
    const vx = values(RATE, uniqueId('bucket-x'))
    const rx = await post(x, vx)
    expect(rx.status).toBe(200)
    accepted.add(topic, vx)
    const vy = values(RATE / 2, uniqueId('bucket-y'))
    const ry = await post(y, vy)
    expect(ry.status, "a sub-less token drew from another sub-less token's bucket").toBe(200)
    accepted.add(topic, vy)
    const again = await post(x, values(RATE / 2, uniqueId('bucket-x2')))
    expect(again.status).toBe(429)
    expect(Number(again.headers['retry-after'])).toBeGreaterThan(0)
  })

  it('a well-behaved client still produces and gets acks (both gateways)', async () => {
    await assertHealthy(slow, topic, accepted, 'bucket-slow')
    await assertHealthy(small, topic, accepted, 'bucket-small')
  })
})

describe('Kafka and answers', () => {
  it('the topic holds exactly the accepted records: no duplicate, no collision, nothing refused', async () => {
    await sleep(300)
    await expectTopicHolds(bootstrap, topic, accepted.get(topic))
  })
  it('no answer carried a broker address, a stack trace or a token', () => {
    expectNoLeaks()
    small.assertAlive()
    slow.assertAlive()
  })
})
