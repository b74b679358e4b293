/// <reference types="node" />
// The gateway itself is restarted (graceful close, then a new process-equivalent on the same port) while a WebSocket
// client streams records. The old gateway acks what it already produced before closing; the client reconnects to the
// new one and resends only what was never acknowledged. Kafka must hold every record exactly once.
import { describe, expect, inject, it } from 'vitest'
import WebSocket from 'ws'
import { createProducer, type RecordMetadata } from '../../src/index.js'
import { websocket } from '../../adapters/websocket/index.js'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'
import { expectExactlyOnce, makeRecords, startGateway, token } from './helpers.js'

const bootstrap = inject('kafkaBootstrap')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('gateway restarted mid-stream under a WebSocket client', () => {
  it('nothing acknowledged is lost and nothing is written twice', async () => {
    const topic = uniqueTopic('gw-restart')
    await createTopic(bootstrap, topic, 4)
    let gw = await startGateway(bootstrap)
    const port = Number(new URL(gw.url).port)
    const records = makeRecords(30_000, 31)
    const producer = createProducer({
      transport: websocket({
        url: gw.wsUrl,
        token: await token([topic], { subject: 'restart' }),
        WebSocket,
        reconnectBackoffMs: 20,
        reconnectBackoffMaxMs: 200,
      }),
      lingerMs: 2,
      batchSize: 8192,
    })
    await producer.partitionsFor(topic)

    const acks: Promise<RecordMetadata>[] = []
    let ackedBeforeRestart = 0
    const restarts: number[] = []
    const inFlightAtRestart: number[] = []
    let ackedSoFar = 0
    const restarter = (async () => {
      for (let k = 0; k < 2; k++) {
        await sleep(400)
        // restart at a moment when records are outstanding (sent, not yet acknowledged)
        for (let w = 0; w < 2000 && acks.length - ackedSoFar === 0; w++) await sleep(1)
        ackedBeforeRestart = ackedSoFar
        inFlightAtRestart.push(acks.length - ackedSoFar)
        const t = Date.now()
        await gw.close() // graceful: stop reading, produce and ack what is in flight, close sockets
        gw = await startGateway(bootstrap, {}, port)
        restarts.push(Date.now() - t)
      }
    })()
    for (let i = 0; i < records.length; i += 300) {
      for (const r of records.slice(i, i + 300)) {
        const ack = producer.send({
          topic,
          key: r.key ?? undefined,
          value: r.value,
          headers: r.headers,
          timestamp: r.timestamp,
        })
        ack.then(
          () => ackedSoFar++,
          () => {},
        )
        acks.push(ack)
      }
      await sleep(10)
    }
    await restarter
    const settled = await Promise.allSettled(acks)
    await producer.close()
    await gw.close()
    const failed = settled.filter((s) => s.status === 'rejected')
    expect(failed.map((f) => String((f as PromiseRejectedResult).reason)).slice(0, 3)).toEqual([])
    expect(restarts).toHaveLength(2)
    expect(ackedBeforeRestart).toBeGreaterThan(0)
    expect(ackedBeforeRestart).toBeLessThan(records.length)
    // records were outstanding (sent, not yet acknowledged) at each restart
    expect(Math.min(...inFlightAtRestart)).toBeGreaterThan(0)
    const acked = settled.map((s) => (s as PromiseFulfilledResult<RecordMetadata>).value)
    const read = await readAllWithKcat(bootstrap, topic, records.length, 60_000)
    expect(expectExactlyOnce(records, read, acked, { timestamps: true })).toEqual([])
    console.log(
      `[gateway restart] 2 restarts (${restarts.join(', ')} ms) with ${inFlightAtRestart.join(', ')} records outstanding, ${records.length} records exactly once`,
    )
  })
})
