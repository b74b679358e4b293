/// <reference types="node" />
// Backpressure against a slow Kafka, short-lived tokens refreshed mid-stream, flushOnPageHide with keepalive
// requests, and the client adapters staying runtime-free.
import path from 'node:path'
import { build } from 'esbuild'
import { describe, expect, inject, it } from 'vitest'
import WebSocket from 'ws'
import { createProducer, type RecordMetadata } from '../../src/index.js'
import type { SocketTransport } from '../../src/transport.js'
import { tcp } from '../../adapters/node-tcp/index.js'
import { websocket } from '../../adapters/websocket/index.js'
import { fetchTransport, flushOnPageHide, KEEPALIVE_BUDGET } from '../../adapters/fetch/index.js'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'
import { RawClient, expectExactlyOnce, makeRecords, startGateway, token } from './helpers.js'

const bootstrap = inject('kafkaBootstrap')
const root = path.resolve(import.meta.dirname, '../..')

/** A Kafka transport whose broker answers arrive `delayMs` late (a slow or overloaded cluster). */
function slowKafka(delayMs: number): SocketTransport {
  const inner = tcp({ bootstrap })
  return {
    ...inner,
    connect: (o, handlers) =>
      inner.connect(o, {
        onData: (chunk) => {
          const copy = chunk.slice()
          setTimeout(() => handlers.onData(copy), delayMs)
        },
        onClose: (err) => setTimeout(() => handlers.onClose(err), delayMs),
      }),
  }
}

describe('flow control and page lifecycle', () => {
  it('when Kafka is slow the gateway stops reading from sockets instead of buffering without bound', async () => {
    const topic = uniqueTopic('gw-bp')
    await createTopic(bootstrap, topic, 6)
    const maxPendingBytes = 64 * 1024
    // frames of at most 256 KiB: what a connection may have read when reading stops is one frame (and a quarter)
    const maxFrameBytes = 256 * 1024
    const gw = await startGateway(bootstrap, { transport: slowKafka(150), maxPendingBytes, limits: { maxFrameBytes } })
    try {
      const records = makeRecords(20_000, 31, { headers: false })
      const producers = [0, 1].map(async (k) => {
        const p = createProducer({
          transport: websocket({ url: gw.wsUrl, token: await token([topic], { subject: `bp${k}` }), WebSocket }),
          batchSize: 16384,
        })
        return p
      })
      let maxPending = 0
      const sampler = setInterval(() => (maxPending = Math.max(maxPending, gw.gateway.metrics().pendingBytes)), 5)
      const [a, b] = await Promise.all(producers)
      const half = records.length / 2
      const acked: RecordMetadata[] = await Promise.all(
        records.map((r, i) => (i < half ? a! : b!).send({ topic, key: r.key ?? undefined, value: r.value })),
      )
      clearInterval(sampler)
      await Promise.all([a!.close(), b!.close()])
      const m = gw.gateway.metrics()
      console.log(
        `[backpressure] ${m.pauses} pauses, max ${maxPending} bytes waiting for Kafka (limit ${maxPendingBytes})`,
      )
      expect(m.pauses).toBeGreaterThan(0)
      expect(m.pendingBytes).toBe(0)
      expect(m.paused).toBe(false)
      // bounded: the limit plus what was already read when reading stopped (a frame or so per connection)
      expect(maxPending).toBeLessThan(maxPendingBytes + 2 * 1.25 * maxFrameBytes)
      expect(maxPending).toBeLessThan(1024 * 1024) // of ~2 MB sent
      const read = await readAllWithKcat(bootstrap, topic, records.length, 60_000)
      expect(expectExactlyOnce(records, read, acked, { headers: false })).toEqual([])
    } finally {
      await gw.close()
    }
  })

  it('close() stops reading, lets in-flight batches be acknowledged, then closes the sockets (1001)', async () => {
    const topic = uniqueTopic('gw-close')
    await createTopic(bootstrap, topic, 1)
    const gw = await startGateway(bootstrap, { transport: slowKafka(300) })
    const c = await RawClient.open(gw.wsUrl)
    expect(await c.hello(await token([topic]))).toMatchObject({ t: 'welcome' })
    c.send({ t: 'metadata', id: 1, topics: [topic] })
    await c.next((f) => f.t === 'metadata')
    c.send({
      t: 'produce',
      id: 2,
      acks: -1,
      timeoutMs: 10_000,
      batches: [{ topic, partition: 0, batchId: 'last', records: [[Date.now(), null, new Uint8Array([1, 2, 3]), []]] }],
    })
    await new Promise((r) => setTimeout(r, 50)) // the batch is now waiting for (slow) Kafka
    await gw.close()
    expect(await c.next((f) => f.t === 'ack')).toMatchObject({ id: 2, results: [{ errorCode: 0, baseOffset: 0 }] })
    expect((await c.waitClosed()).code).toBe(1001)
    expect((await readAllWithKcat(bootstrap, topic, 1, 30_000)).length).toBe(1)
  })

  it('short-lived tokens from a token function are refreshed mid-stream (no failed sends)', async () => {
    const topic = uniqueTopic('gw-refresh')
    await createTopic(bootstrap, topic, 2)
    const gw = await startGateway(bootstrap)
    try {
      let minted = 0
      const provider = async () => {
        minted++
        return token([topic], { expiresInSec: 1, subject: 'refresh' })
      }
      const producer = createProducer({ transport: websocket({ url: gw.wsUrl, token: provider, WebSocket }) })
      const acks: Promise<RecordMetadata>[] = []
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 200; i++) acks.push(producer.send({ topic, value: `r${round}-${i}` }))
        await new Promise((r) => setTimeout(r, 600))
      }
      const settled = await Promise.allSettled(acks)
      await producer.close()
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([])
      expect(minted).toBeGreaterThanOrEqual(2)
      expect((await readAllWithKcat(bootstrap, topic, 1000, 30_000)).length).toBe(1000)
    } finally {
      await gw.close()
    }
  })

  it('flushOnPageHide: on visibilitychange → hidden, lingering records go out as keepalive requests of ≤ 64 KiB', async () => {
    const topic = uniqueTopic('gw-pagehide')
    await createTopic(bootstrap, topic, 6)
    const gw = await startGateway(bootstrap)
    try {
      // a page: window and document event targets, and a visibility state
      const win = new EventTarget()
      const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' })
      const seen: Array<{ keepalive: boolean; bytes: number }> = []
      const spy: typeof fetch = (input, init) => {
        if (String(input).endsWith('/v1/produce'))
          seen.push({ keepalive: init?.keepalive === true, bytes: (init?.body as Uint8Array).length })
        return fetch(input, init)
      }
      const producer = createProducer({
        transport: fetchTransport({ url: gw.url, token: await token([topic]), fetch: spy }),
        lingerMs: 60_000,
        batchSize: 64 * 1024,
      })
      await producer.partitionsFor(topic)
      const stop = flushOnPageHide(producer, { window: win, document: doc })
      const records = makeRecords(1500, 33) // ~75 KB: no batch fills up, but more than one keepalive request
      const acks = records.map((r) =>
        producer.send({ topic, key: r.key ?? undefined, value: r.value, headers: r.headers, timestamp: r.timestamp }),
      )
      await new Promise((r) => setTimeout(r, 100))
      expect(seen).toHaveLength(0) // lingering
      doc.visibilityState = 'hidden'
      doc.dispatchEvent(new Event('visibilitychange'))
      const acked = await Promise.all(acks)
      expect(seen.length).toBeGreaterThan(1)
      expect(seen.some((s) => s.keepalive)).toBe(true)
      for (const s of seen) if (s.keepalive) expect(s.bytes).toBeLessThanOrEqual(KEEPALIVE_BUDGET)
      // visible again: normal requests
      doc.visibilityState = 'visible'
      doc.dispatchEvent(new Event('visibilitychange'))
      win.dispatchEvent(new Event('pageshow'))
      seen.length = 0
      await Promise.all([producer.send({ topic, value: 'after' }), producer.flush()])
      expect(seen.every((s) => !s.keepalive)).toBe(true)
      stop()
      await producer.close()
      const read = await readAllWithKcat(bootstrap, topic, records.length + 1, 30_000)
      expect(read.length).toBe(records.length + 1)
      expect(
        expectExactlyOnce(
          records,
          read.filter((r) => r.value === null || new TextDecoder().decode(r.value) !== 'after'),
          acked,
          { timestamps: true },
        ),
      ).toEqual([])
    } finally {
      await gw.close()
    }
  })

  it('the client adapters (websocket, fetch) are runtime-free: they bundle for "neutral" with only @msgpack/msgpack external', async () => {
    for (const entry of ['adapters/websocket/index.ts', 'adapters/fetch/index.ts', 'adapters/gateway/token.ts']) {
      const result = await build({
        entryPoints: [path.join(root, entry)],
        bundle: true,
        platform: 'neutral',
        format: 'esm',
        write: false,
        logLevel: 'silent',
        metafile: true,
        external: ['@msgpack/msgpack'],
      })
      const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path))
      expect(
        imports.filter((p) => p !== '@msgpack/msgpack'),
        entry,
      ).toEqual([])
      const text = result.outputFiles[0]!.text
      expect(text, entry).not.toMatch(/["']node:|\bBuffer\b|\bprocess\./)
    }
  })
})
