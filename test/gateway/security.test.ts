/// <reference types="node" />
// Authentication, authorization, Origin, per-connection limits and malformed input: each answered with an error
// frame (or HTTP status), while the connection (where it makes sense) and other clients keep working.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import WebSocket from 'ws'
import { createProducer } from '../../src/index.js'
import { websocket } from '../../adapters/websocket/index.js'
import { fetchTransport } from '../../adapters/fetch/index.js'
import {
  createGatewayToken,
  verifyGatewayToken,
  type ErrorFrame,
  type MetadataResponseFrame,
  type AckFrame,
} from '../../adapters/gateway/index.js'
import { decodeServerFrame, encodeFrame, type WireRecord } from '../../adapters/gateway-wire/index.js'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'
import { RawClient, SECRET, startGateway, token, type RunningGateway } from './helpers.js'

const bootstrap = inject('kafkaBootstrap')
const enc = new TextEncoder()

let topic: string
let other: string
let gw: RunningGateway
beforeAll(async () => {
  topic = uniqueTopic('gw-sec')
  other = uniqueTopic('gw-sec-other')
  await createTopic(bootstrap, topic, 3)
  await createTopic(bootstrap, other, 1)
  gw = await startGateway(bootstrap, { origins: ['https://good.example'], helloTimeoutMs: 1500 })
})
afterAll(async () => {
  await gw?.close()
})

const rec = (i: number, size = 10): WireRecord => [
  Date.now(),
  enc.encode(`k${i}`),
  new Uint8Array(size).fill(i & 0xff),
  [['i', enc.encode(String(i))]],
]
const isError = (f: { t: string }): f is ErrorFrame => f.t === 'error'

async function authed(tok?: string, url = gw.wsUrl): Promise<RawClient> {
  const c = await RawClient.open(url)
  const w = await c.hello(tok ?? (await token([topic])))
  expect(w.t).toBe('welcome')
  return c
}

describe('tokens', () => {
  it('createGatewayToken / verifyGatewayToken: HS256 JWT, expiry, rotation, tampering', async () => {
    const t = await createGatewayToken({ secret: 'k1', topics: ['a', 'b*'], expiresInSec: 60, subject: 'me' })
    expect(t.split('.')).toHaveLength(3)
    const ok = await verifyGatewayToken(t, ['k0', 'k1'])
    expect(ok).toMatchObject({ ok: true, claims: { sub: 'me', topics: ['a', 'b*'] } })
    expect(await verifyGatewayToken(t, 'k2')).toEqual({ ok: false, reason: 'bad-signature' })
    expect(await verifyGatewayToken(t, 'k1', { nowSec: Date.now() / 1000 + 61 })).toEqual({
      ok: false,
      reason: 'expired',
    })
    // a payload swapped under a valid signature
    const [h, , s] = t.split('.')
    const evil = Buffer.from(JSON.stringify({ topics: ['*'], exp: 9e9, sub: 'me' })).toString('base64url')
    expect(await verifyGatewayToken(`${h}.${evil}.${s}`, 'k1')).toEqual({ ok: false, reason: 'bad-signature' })
    // alg "none" is refused whatever the signature
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')
    expect(await verifyGatewayToken(`${none}.${t.split('.')[1]}.`, 'k1')).toEqual({ ok: false, reason: 'malformed' })
    expect(await verifyGatewayToken('garbage', 'k1')).toEqual({ ok: false, reason: 'malformed' })
    expect(await verifyGatewayToken(undefined, 'k1')).toEqual({ ok: false, reason: 'missing' })
  })
})

describe('gateway authentication (WebSocket)', () => {
  it('missing token → UNAUTHENTICATED error frame and close 4401', async () => {
    const c = await RawClient.open(gw.wsUrl)
    c.send({ t: 'hello', v: 1 })
    const f = await c.next(isError)
    expect(f).toMatchObject({ t: 'error', code: 'UNAUTHENTICATED', fatal: true, retriable: false })
    expect((await c.waitClosed()).code).toBe(4401)
  })

  it('no hello at all → closed after helloTimeoutMs with an error frame', async () => {
    const c = await RawClient.open(gw.wsUrl)
    const f = await c.next(isError, 5000)
    expect(f).toMatchObject({ code: 'UNAUTHENTICATED' })
    expect((await c.waitClosed()).code).toBe(4401)
  })

  it('a frame before hello → UNAUTHENTICATED', async () => {
    const c = await RawClient.open(gw.wsUrl)
    c.send({ t: 'metadata', id: 1, topics: [topic] })
    expect(await c.next(isError)).toMatchObject({ code: 'UNAUTHENTICATED', id: 1 })
    expect((await c.waitClosed()).code).toBe(4401)
  })

  it('expired token → TOKEN_EXPIRED', async () => {
    const c = await RawClient.open(gw.wsUrl)
    const expired = await token([topic], { nowSec: Math.floor(Date.now() / 1000) - 3600, expiresInSec: 60 })
    expect(await c.hello(expired)).toMatchObject({ t: 'error', code: 'TOKEN_EXPIRED', fatal: true })
    expect((await c.waitClosed()).code).toBe(4401)
  })

  it('forged token (other secret) and token in the subprotocol list / query string', async () => {
    const forged = await token([topic], { secret: 'not-the-secret' })
    const c = await RawClient.open(gw.wsUrl)
    expect(await c.hello(forged)).toMatchObject({ t: 'error', code: 'UNAUTHENTICATED' })
    expect((await c.next(() => true, 100).catch(() => null)) ?? null).toBeNull()
    // the same forged token presented at the upgrade: checked before upgrading, so no WebSocket at all (HTTP 401)
    await expect(
      RawClient.open(gw.wsUrl, { protocols: ['isokafka.v1', `isokafka.token.${forged}`] }),
    ).rejects.toMatchObject({ status: 401 })
    await expect(RawClient.open(`${gw.wsUrl}?token=${forged}`)).rejects.toMatchObject({ status: 401 })
    // a good token presented at the upgrade: welcome without a hello
    const good = await token([topic])
    const viaQuery = await RawClient.open(`${gw.wsUrl}?token=${good}`)
    expect(await viaQuery.next()).toMatchObject({ t: 'welcome', subject: 'tester' })
    expect(viaQuery.ws.protocol).toBe('isokafka.v1') // the token is never echoed as the selected subprotocol
    viaQuery.close()
  })

  it('a producer with a bad token fails its sends with AUTHENTICATION_FAILED (not a retry loop)', async () => {
    const forged = await token([topic], { secret: 'not-the-secret' })
    const producer = createProducer({
      transport: websocket({ url: gw.wsUrl, token: forged, WebSocket }),
      maxBlockMs: 10_000,
    })
    const t0 = Date.now()
    const err = await producer.send({ topic, value: 'x' }).then(
      () => null,
      (e) => e,
    )
    expect(err?.code).toBe('AUTHENTICATION_FAILED')
    expect(Date.now() - t0).toBeLessThan(5000)
    await producer.close()
  })
})

describe('authorization, Origin, limits, malformed input', () => {
  it('forbidden topic → errorCode 29 in metadata and produce answers; the connection keeps working', async () => {
    const c = await authed()
    c.send({ t: 'metadata', id: 1, topics: [topic, other] })
    const md = (await c.next((f) => f.t === 'metadata')) as MetadataResponseFrame
    expect(md.topics).toEqual([
      { topic, partitions: 3, errorCode: 0 },
      expect.objectContaining({ topic: other, partitions: 0, errorCode: 29 }),
    ])
    c.send({
      t: 'produce',
      id: 2,
      acks: -1,
      timeoutMs: 10_000,
      batches: [
        { topic: other, partition: 0, batchId: 'forbidden-1', records: [rec(1)] },
        { topic, partition: 0, batchId: 'allowed-1', records: [rec(2)] },
      ],
    })
    const ack = (await c.next((f) => f.t === 'ack')) as AckFrame
    expect(ack.results.find((r) => r.batchId === 'forbidden-1')).toMatchObject({ errorCode: 29 })
    expect(ack.results.find((r) => r.batchId === 'allowed-1')).toMatchObject({ errorCode: 0, partition: 0 })
    c.close()
    // through the producer: the send fails fast with the Kafka error name
    const producer = createProducer({ transport: websocket({ url: gw.wsUrl, token: await token([topic]), WebSocket }) })
    const err = await producer.send({ topic: other, value: 'x' }).then(
      () => null,
      (e) => e,
    )
    expect(err?.code).toBe('TOPIC_AUTHORIZATION_FAILED')
    await expect(producer.send({ topic, value: 'ok' })).resolves.toMatchObject({ topic })
    await producer.close()
  })

  it('topic patterns: prefix* allows matching topics only', async () => {
    const c = await authed(await token([`${topic.slice(0, 12)}*`]))
    c.send({ t: 'metadata', id: 1, topics: [topic, other] })
    const md = (await c.next((f) => f.t === 'metadata')) as MetadataResponseFrame
    expect(md.topics.map((t) => t.errorCode)).toEqual([0, other.startsWith(topic.slice(0, 12)) ? 0 : 29])
    c.close()
  })

  it('Origin allow-list: WebSocket upgrade and HTTP from another origin get 403; the allowed origin works, with CORS', async () => {
    await expect(RawClient.open(gw.wsUrl, { origin: 'https://evil.example' })).rejects.toMatchObject({ status: 403 })
    const good = await RawClient.open(gw.wsUrl, { origin: 'https://good.example' })
    expect(await good.hello(await token([topic]))).toMatchObject({ t: 'welcome' })
    good.close()
    const tok = await token([topic])
    const bad = await fetch(`${gw.url}/topics/${topic}/partitions`, {
      headers: { Origin: 'https://evil.example', Authorization: `Bearer ${tok}` },
    })
    expect(bad.status).toBe(403)
    expect(bad.headers.get('access-control-allow-origin')).toBeNull()
    const pre = await fetch(`${gw.url}/v1/produce`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://good.example', 'Access-Control-Request-Method': 'POST' },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://good.example')
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/)
    const ok = await fetch(`${gw.url}/topics/${topic}/partitions`, {
      headers: { Origin: 'https://good.example', Authorization: `Bearer ${tok}` },
    })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://good.example')
  })

  it('HTTP: missing, forged and expired tokens → 401 with an error frame / JSON error', async () => {
    const frame = encodeFrame({ t: 'metadata', id: 5, topics: [topic] }) as Uint8Array<ArrayBuffer>
    const none = await fetch(`${gw.url}/v1/metadata`, { method: 'POST', body: frame })
    expect(none.status).toBe(401)
    expect(decodeServerFrame(new Uint8Array(await none.arrayBuffer()))).toMatchObject({
      t: 'error',
      code: 'UNAUTHENTICATED',
    })
    const forged = await fetch(`${gw.url}/v1/metadata?token=${await token([topic], { secret: 'x' })}`, {
      method: 'POST',
      body: frame,
    })
    expect(forged.status).toBe(401)
    const expired = await fetch(`${gw.url}/v3/clusters`, {
      headers: { Authorization: `Bearer ${await token([topic], { nowSec: 1000, expiresInSec: 1 })}` },
    })
    expect(expired.status).toBe(401)
    expect(await expired.json()).toMatchObject({ error_code: 401, message: expect.stringMatching(/expired/) })
    const forbidden = await fetch(`${gw.url}/topics/${other}`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${await token([topic])}`,
        'Content-Type': 'application/vnd.kafka.binary.v2+json',
      },
      body: JSON.stringify({ records: [{ value: 'eA==' }] }),
    })
    expect(forbidden.status).toBe(403)
  })

  it('frame too large → FRAME_TOO_LARGE with the request id; the connection keeps working', async () => {
    const small = await startGateway(bootstrap, { limits: { maxFrameBytes: 64 * 1024 } })
    try {
      const c = await authed(await token([topic]), small.wsUrl)
      c.send({
        t: 'produce',
        id: 7,
        acks: -1,
        timeoutMs: 10_000,
        batches: [{ topic, partition: 0, batchId: 'big', records: [rec(1, 100_000)] }],
      })
      expect(await c.next(isError)).toMatchObject({ code: 'FRAME_TOO_LARGE', id: 7, retriable: false })
      c.send({ t: 'metadata', id: 8, topics: [topic] })
      expect(await c.next((f) => f.t === 'metadata')).toMatchObject({ id: 8 })
      // the transport knows the limit from welcome and fails such a batch itself, without sending it, with the code
      // Kafka gives a batch above message.max.bytes (the record was within the producer's own maxRequestSize)
      const producer = createProducer({
        transport: websocket({ url: small.wsUrl, token: await token([topic]), WebSocket }),
        batchSize: 200_000,
      })
      const err = await producer.send({ topic, value: new Uint8Array(100_000) }).then(
        () => null,
        (e) => e,
      )
      expect(err?.code).toBe('MESSAGE_TOO_LARGE')
      expect(err?.retriable).toBe(false)
      await expect(producer.send({ topic, value: new Uint8Array(1000) })).resolves.toMatchObject({ topic })
      await producer.close()
      // HTTP: 413 — every time, even while the client is still uploading (the gateway reads and discards the body)
      const tok = await token([topic])
      const statuses = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const res = await fetch(`${small.url}/v1/produce?token=${tok}`, {
            method: 'POST',
            body: new Uint8Array(100_000 + Math.floor(Math.random() * 100_000)),
          })
          await res.arrayBuffer()
          return res.status
        }),
      )
      expect(statuses).toEqual(new Array(20).fill(413))
      // the fetch transport assumes 1 MiB; on 413 it splits a request of several batches instead of failing them
      const before = small.gateway.metrics().errors.FRAME_TOO_LARGE ?? 0
      const viaFetch = createProducer({
        transport: fetchTransport({ url: small.url, token: await token([topic]) }),
        batchSize: 40_000,
        lingerMs: 60_000,
      })
      const pending = Promise.all(
        Array.from({ length: 450 }, (_, i) =>
          viaFetch.send({ topic, partition: i % 3, value: new Uint8Array(200).fill(i & 0xff) }),
        ),
      )
      await viaFetch.flush() // all three ~32 KB batches ready at once: one ~96 KB request, above the 64 KiB limit
      const sent = await pending
      await viaFetch.close()
      expect(sent).toHaveLength(450)
      expect(small.gateway.metrics().errors.FRAME_TOO_LARGE).toBeGreaterThan(before) // it did hit the limit
      c.close()
    } finally {
      await small.close()
    }
  })

  it('rate limit → RATE_LIMITED with retryAfterMs while another client keeps producing; the transport waits and resends', async () => {
    const limited = await startGateway(bootstrap, { limits: { recordsPerSecond: 1000 } })
    try {
      const c = await authed(await token([topic]), limited.wsUrl)
      const records = Array.from({ length: 1000 }, (_, i) => rec(i))
      c.send({
        t: 'produce',
        id: 1,
        acks: -1,
        timeoutMs: 10_000,
        batches: [{ topic, partition: 1, batchId: 'r1', records }],
      })
      c.send({
        t: 'produce',
        id: 2,
        acks: -1,
        timeoutMs: 10_000,
        batches: [{ topic, partition: 1, batchId: 'r2', records }],
      })
      expect(await c.next((f) => f.t === 'ack')).toMatchObject({ id: 1, results: [{ errorCode: 0 }] })
      const limitedFrame = await c.next(isError)
      expect(limitedFrame).toMatchObject({ code: 'RATE_LIMITED', id: 2, retriable: true })
      expect((limitedFrame as ErrorFrame).retryAfterMs).toBeGreaterThan(0)
      // another client (own connection, own bucket) is not affected
      const other = createProducer({
        transport: websocket({ url: limited.wsUrl, token: await token([topic], { subject: 'b' }), WebSocket }),
      })
      await Promise.all(Array.from({ length: 500 }, (_, i) => other.send({ topic, value: `b${i}` })))
      await other.close()
      // a producer above the limit is slowed down, not failed: 3 × 1000 records at 1000/s take ≥ 1.5 s (a frame
      // may overdraw the bucket once; the next frames wait the deficit out)
      const p = createProducer({
        transport: websocket({ url: limited.wsUrl, token: await token([topic], { subject: 'c' }), WebSocket }),
      })
      await p.partitionsFor(topic)
      const t0 = Date.now()
      for (let round = 0; round < 3; round++) {
        const all = await Promise.all(
          Array.from({ length: 1000 }, (_, i) => p.send({ topic, value: `c${round}-${i}` })),
        )
        expect(all).toHaveLength(1000)
      }
      expect(Date.now() - t0).toBeGreaterThan(1500)
      await p.close()
      expect(limited.gateway.metrics().errors.RATE_LIMITED).toBeGreaterThan(0)
      c.close()
    } finally {
      await limited.close()
    }
  })

  it('too many batches in flight → TOO_MANY_IN_FLIGHT; more batches in one frame than the limit → LIMIT_EXCEEDED', async () => {
    const tight = await startGateway(bootstrap, { limits: { maxInFlightBatches: 2 } })
    try {
      const c = await authed(await token([topic]), tight.wsUrl)
      const batch = (id: string, p: number) => ({ topic, partition: p, batchId: id, records: [rec(1)] })
      // a frame of more batches than may ever be in flight: refused whole, whatever is in flight (even on a fresh connection)
      c.ws.send(
        encodeFrame({
          t: 'produce',
          id: 9,
          acks: -1,
          timeoutMs: 10_000,
          batches: [batch('x', 0), batch('y', 1), batch('z', 2)],
        }),
      )
      expect(await c.next(isError)).toMatchObject({ code: 'LIMIT_EXCEEDED', id: 9, retriable: false })
      // both frames arrive in one read: the second finds the first's batches still waiting for Kafka
      c.ws.send(
        encodeFrame({ t: 'produce', id: 1, acks: -1, timeoutMs: 10_000, batches: [batch('a', 0), batch('b', 1)] }),
      )
      c.ws.send(encodeFrame({ t: 'produce', id: 2, acks: -1, timeoutMs: 10_000, batches: [batch('d', 0)] }))
      expect(await c.next(isError)).toMatchObject({ code: 'TOO_MANY_IN_FLIGHT', id: 2, retriable: true })
      expect(await c.next((f) => f.t === 'ack')).toMatchObject({ id: 1 })
      c.close()
    } finally {
      await tight.close()
    }
  })

  it('malformed input → MALFORMED error frames, no crash; this and other connections keep working', async () => {
    const c = await authed()
    const bystander = await authed()
    c.send(new Uint8Array([0xc1, 0x00, 0xff])) // 0xc1 is never valid MessagePack
    expect(await c.next(isError)).toMatchObject({ code: 'MALFORMED' })
    c.ws.send('{"t":"hello"}') // a text frame
    expect(await c.next(isError)).toMatchObject({ code: 'MALFORMED' })
    c.send(encodeFrame([1, 2, 3] as never)) // MessagePack, but not a map
    expect(await c.next(isError)).toMatchObject({ code: 'MALFORMED' })
    c.send({
      t: 'produce',
      id: 3,
      acks: -1,
      timeoutMs: 1000,
      batches: [{ topic, partition: 0, batchId: 'x', records: [['not', 'a', 'record', 1]] }],
    } as never)
    expect(await c.next(isError)).toMatchObject({ code: 'MALFORMED', id: 3 })
    c.send({
      t: 'produce',
      id: 4,
      acks: -1,
      timeoutMs: 1000,
      batches: [{ topic: '../etc', partition: 0, batchId: 'y', records: [rec(1)] }],
    })
    expect(await c.next(isError)).toMatchObject({ code: 'MALFORMED', id: 4 })
    c.send({ t: 'subscribe', id: 5 } as never)
    expect(await c.next(isError)).toMatchObject({ code: 'UNSUPPORTED', id: 5 })
    // truncated frame: a map header promising more than there is
    c.send(new Uint8Array([0x82, 0xa1, 0x74]))
    expect(await c.next(isError)).toMatchObject({ code: 'MALFORMED' })
    // an allocation bomb: 20k nested array headers each declaring 100000 items (100 KB on the wire)
    const bomb = new Uint8Array(5 * 20_000)
    for (let i = 0; i < 20_000; i++) bomb.set([0xdd, 0x00, 0x01, 0x86, 0xa0], i * 5)
    const heapBefore = process.memoryUsage().heapUsed
    c.send(bomb)
    expect(await c.next(isError)).toMatchObject({ code: 'MALFORMED' })
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(200 << 20)
    for (const client of [c, bystander]) {
      client.send({ t: 'metadata', id: 9, topics: [topic] })
      expect(await client.next((f) => f.t === 'metadata')).toMatchObject({
        id: 9,
        topics: [{ topic, partitions: 3, errorCode: 0 }],
      })
    }
    // HTTP gateway mode: 400 with an error frame
    const res = await fetch(`${gw.url}/v1/produce?token=${await token([topic])}`, {
      method: 'POST',
      body: new Uint8Array([0xc1]),
    })
    expect(res.status).toBe(400)
    expect(decodeServerFrame(new Uint8Array(await res.arrayBuffer()))).toMatchObject({ code: 'MALFORMED' })
    const v3 = await fetch(`${gw.url}/v3/clusters`, { headers: { Authorization: `Bearer ${await token([topic])}` } })
    const clusterId = ((await v3.json()) as { data: Array<{ cluster_id: string }> }).data[0]!.cluster_id
    const bad = await fetch(`${gw.url}/v3/clusters/${clusterId}/topics/${topic}/records`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await token([topic])}`, 'Content-Type': 'application/json' },
      body: '{"value": {"type": "BINARY", "data": "%%%"}}',
    })
    expect(bad.status).toBe(400)
    const health = await fetch(`${gw.url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok' })
    const ready = await fetch(`${gw.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'ready', kafka: 'up' })
    const metrics = (await (await fetch(`${gw.url}/metrics?format=json`)).json()) as {
      errors: Record<string, number>
      connections: { current: number }
    }
    expect(metrics.errors.MALFORMED).toBeGreaterThanOrEqual(6)
    expect(metrics.connections.current).toBeGreaterThanOrEqual(2)
    c.close()
    bystander.close()
  })

  it('a resent batch id is written once and answered with the same offsets; reuse for other records is refused', async () => {
    const t = uniqueTopic('gw-dedup')
    await createTopic(bootstrap, t, 1)
    const c = await authed(await token([t]))
    const records = Array.from({ length: 50 }, (_, i) => rec(i))
    const frame = {
      t: 'produce' as const,
      acks: -1 as const,
      timeoutMs: 10_000,
      batches: [{ topic: t, partition: 0, batchId: 'same-id', records }],
    }
    c.send({ ...frame, id: 1 })
    c.send({ ...frame, id: 2 }) // while the first may still be running
    const a1 = (await c.next((f) => f.t === 'ack' && f.id === 1)) as AckFrame
    const a2 = (await c.next((f) => f.t === 'ack' && f.id === 2)) as AckFrame
    c.send({ ...frame, id: 3 }) // after it completed
    const a3 = (await c.next((f) => f.t === 'ack' && f.id === 3)) as AckFrame
    expect(a1.results[0]).toMatchObject({ errorCode: 0, baseOffset: 0 })
    expect(a2.results[0]!.baseOffset).toBe(0)
    expect(a3.results[0]!.baseOffset).toBe(0)
    // the same id from another subject is another batch
    const c2 = await authed(await token([t], { subject: 'someone-else' }))
    c2.send({ ...frame, id: 1 })
    expect(((await c2.next((f) => f.t === 'ack')) as AckFrame).results[0]).toMatchObject({
      errorCode: 0,
      baseOffset: 50,
    })
    c.send({ ...frame, id: 4, batches: [{ topic: t, partition: 0, batchId: 'same-id', records: records.slice(1) }] })
    expect(((await c.next((f) => f.t === 'ack' && f.id === 4)) as AckFrame).results[0]).toMatchObject({ errorCode: 42 })
    // HTTP gateway mode shares the dedup memory (same subject)
    const http = await fetch(`${gw.url}/v1/produce`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await token([t])}` },
      body: encodeFrame({ ...frame, id: 9 }) as Uint8Array<ArrayBuffer>,
    })
    expect((decodeServerFrame(new Uint8Array(await http.arrayBuffer())) as AckFrame).results[0]!.baseOffset).toBe(0)
    const read = await readAllWithKcat(bootstrap, t, 100, 30_000)
    expect(read.length).toBe(100)
    expect(gw.gateway.metrics().batches.deduplicated).toBeGreaterThanOrEqual(3)
    c.close()
    c2.close()
  })

  it('fetch transport surfaces HTTP auth failures as AUTHENTICATION_FAILED', async () => {
    const producer = createProducer({
      transport: fetchTransport({ url: gw.url, token: await token([topic], { secret: 'nope' }) }),
    })
    const err = await producer.send({ topic, value: 'x' }).then(
      () => null,
      (e) => e,
    )
    expect(err?.code).toBe('AUTHENTICATION_FAILED')
    await producer.close()
  })
})

void SECRET

describe('slow-loris HTTP clients', () => {
  it('a client trickling its headers or body is cut off at httpTimeoutMs while others keep producing', async () => {
    const net = await import('node:net')
    const slow = await startGateway(bootstrap, { httpTimeoutMs: 1500 })
    const { port } = new URL(slow.url)
    const trickle = (head: string, drip: string) =>
      new Promise<{ closedAfterMs: number; response: string }>((resolve) => {
        const started = Date.now()
        const socket = net.connect(Number(port), '127.0.0.1')
        let response = ''
        socket.on('data', (d) => (response += d.toString('latin1')))
        socket.on('error', () => {})
        socket.write(head)
        const timer = setInterval(() => socket.writable && socket.write(drip), 200)
        socket.on('close', () => {
          clearInterval(timer)
          resolve({ closedAfterMs: Date.now() - started, response })
        })
        setTimeout(() => socket.destroy(), 15_000) // bound: the assertion below fails if the server never closes
      })
    const topic = uniqueTopic('gw-loris')
    await createTopic(bootstrap, topic, 1)
    const auth = `Authorization: Bearer ${await token([topic])}\r\n`
    const [headers, body, normal] = await Promise.all([
      trickle('POST /v1/produce HTTP/1.1\r\nHost: x\r\n', 'X-a: b\r\n'),
      trickle(
        `POST /v1/produce HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/vnd.msgpack\r\nContent-Length: 100000\r\n\r\n`,
        'x',
      ),
      (async () => {
        const producer = createProducer({ transport: fetchTransport({ url: slow.url, token: await token([topic]) }) })
        const metas = await Promise.all(Array.from({ length: 50 }, (_, i) => producer.send({ topic, value: `v${i}` })))
        await producer.close()
        return metas.length
      })(),
    ])
    await slow.close()
    expect(normal).toBe(50)
    for (const r of [headers, body]) {
      expect(r.closedAfterMs).toBeLessThan(12_000)
      expect(r.closedAfterMs).toBeGreaterThanOrEqual(1000)
    }
    // cut off: a 408 or a plain close, never a request that was served
    for (const r of [headers, body]) expect(r.response === '' || /^HTTP\/1\.1 408/.test(r.response)).toBe(true)
  })
})
