/// <reference types="node" />
// The WebSocket dies again and again mid-stream (the client's TCP connection is destroyed, as a network drop would):
// the transport reconnects and resends unanswered frames with the same batch ids; the gateway's deduplication makes
// each record land exactly once, and every acknowledged record is in Kafka where its ack said.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import WebSocket from 'ws'
import { createProducer, type RecordMetadata } from '../../src/index.js'
import { websocket } from '../../adapters/websocket/index.js'
import { fetchTransport } from '../../adapters/fetch/index.js'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'
import { expectExactlyOnce, makeRecords, startGateway, token, type RunningGateway } from './helpers.js'

const bootstrap = inject('kafkaBootstrap')

let gw: RunningGateway
beforeAll(async () => {
  gw = await startGateway(bootstrap)
})
afterAll(async () => {
  await gw?.close()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('reconnect mid-stream', () => {
  it('kills the socket every ~120 ms while 30k records flow: no duplicates, nothing acked lost', async () => {
    const topic = uniqueTopic('gw-chaos')
    await createTopic(bootstrap, topic, 4)
    const sockets: WebSocket[] = []
    class TrackedWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols)
        sockets.push(this)
      }
    }
    const records = makeRecords(30_000, 21)
    const producer = createProducer({
      transport: websocket({
        url: gw.wsUrl,
        token: await token([topic], { subject: 'chaos' }),
        WebSocket: TrackedWebSocket,
        reconnectBackoffMs: 10,
        reconnectBackoffMaxMs: 100,
      }),
      lingerMs: 2,
      batchSize: 8192,
    })
    await producer.partitionsFor(topic)
    const before = gw.gateway.metrics()
    let kills = 0
    let stop = false
    const chaos = (async () => {
      while (!stop) {
        await sleep(60 + Math.random() * 120)
        const s = sockets[sockets.length - 1]
        if (!stop && s && s.readyState === WebSocket.OPEN) {
          s.terminate()
          kills++
        }
      }
    })()
    const acks: Promise<RecordMetadata>[] = []
    for (let i = 0; i < records.length; i += 500) {
      for (const r of records.slice(i, i + 500))
        acks.push(
          producer.send({ topic, key: r.key ?? undefined, value: r.value, headers: r.headers, timestamp: r.timestamp }),
        )
      await sleep(15)
    }
    const settled = await Promise.allSettled(acks)
    stop = true
    await chaos
    await producer.close()
    const failed = settled.filter((s) => s.status === 'rejected')
    expect(failed.map((f) => String((f as PromiseRejectedResult).reason)).slice(0, 3)).toEqual([])
    const acked = settled.map((s) => (s as PromiseFulfilledResult<RecordMetadata>).value)
    expect(kills).toBeGreaterThanOrEqual(5)
    // a new connection after every kill but perhaps the last one: a kill that lands when nothing is left to send needs
    // no reconnect (seen once in CI: 10 kills, 10 connections). That nothing acked is lost is checked below.
    expect(sockets.length).toBeGreaterThanOrEqual(kills)

    const read = await readAllWithKcat(bootstrap, topic, records.length, 60_000)
    expect(expectExactlyOnce(records, read, acked, { timestamps: true })).toEqual([])
    const after = gw.gateway.metrics()
    console.log(
      `[reconnect] ${kills} kills, ${sockets.length} connections, ${after.batches.deduplicated - before.batches.deduplicated} batches deduplicated`,
    )
  })

  it('fetch transport: a gateway that drops answers (connection reset after producing) → resend deduplicated', async () => {
    const topic = uniqueTopic('gw-fetch-drop')
    await createTopic(bootstrap, topic, 2)
    // every third produce answer is lost: the request reached the gateway and was produced, the response never came
    let n = 0
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      if (String(input).endsWith('/v1/produce') && ++n % 3 === 0) {
        await res.arrayBuffer()
        throw new TypeError('fetch failed (simulated connection reset)')
      }
      return res
    }
    const records = makeRecords(4_000, 22)
    const producer = createProducer({
      // frames of 32 KiB: batches grow to 8 KiB at most, so the 4,000 records take a dozen requests or more
      transport: fetchTransport({
        url: gw.url,
        token: await token([topic], { subject: 'lossy' }),
        fetch: lossy,
        maxFrameBytes: 32 * 1024,
      }),
      batchSize: 4096,
      retryBackoffMs: 10,
    })
    const acked = await Promise.all(
      records.map((r) =>
        producer.send({ topic, key: r.key ?? undefined, value: r.value, headers: r.headers, timestamp: r.timestamp }),
      ),
    )
    await producer.close()
    expect(n).toBeGreaterThan(6)
    const read = await readAllWithKcat(bootstrap, topic, records.length, 60_000)
    expect(expectExactlyOnce(records, read, acked, { timestamps: true })).toEqual([])
  })
})
