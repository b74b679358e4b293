import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createProducer, type RecordMetadata } from '../../src/index.js'
import { tcp } from '../../adapters/node-tcp/index.js'
import { readAllWithKcat } from '../helpers/kafka-tools.js'
import { kafkaScript, type KafkaScript } from '../helpers/kafka-script.js'

// A cluster of its own: this test kills and restarts the broker.
const NAME = 'vitest-restart'
let kafka: KafkaScript
let bootstrap: string

beforeAll(async () => {
  kafka = await kafkaScript()
  // A broker restarted after SIGKILL is refused registration (DUPLICATE_BROKER_REGISTRATION) until its old incarnation's
  // session expires: broker.session.timeout.ms, 9 s by default, which made the restart take ~15 s. A 4 s session
  // (heartbeats every 500 ms) brings it back in ~7 s; the producer still sees the same outage: connections dropped
  // with requests in flight, then a broker that refuses connections, then one that is back with the same logs.
  const overrides = ['broker.session.timeout.ms=4000', 'broker.heartbeat.interval.ms=500']
  bootstrap = (await kafka.startKafka({ name: NAME, nodes: 1, overrides })).bootstrap
})
afterAll(async () => {
  await kafka?.stopKafka({ name: NAME })
})

describe('broker stopped mid-stream and restarted', () => {
  it('every acknowledged record is present exactly once; order per partition kept', async () => {
    const topic = 'restart-test'
    await kafka.createTopic(bootstrap, topic, 3)
    const producer = createProducer({
      transport: tcp({ bootstrap }),
      acks: 'all',
      enableIdempotence: true,
      lingerMs: 2,
      requestTimeoutMs: 5000,
      deliveryTimeoutMs: 90_000,
    })
    const total = 40_000
    const outcomes: Array<RecordMetadata | Error | undefined> = new Array(total)
    const pending: Promise<void>[] = []
    // The kill and the restart run beside a paced send loop, so requests are in flight when the broker dies.
    let restartedAt = 0
    const outage = (async () => {
      await new Promise((r) => setTimeout(r, 400))
      await kafka.killNode(1, { name: NAME })
      await new Promise((r) => setTimeout(r, 2000))
      await kafka.restartNode(1, { name: NAME })
      restartedAt = Date.now()
    })()
    for (let i = 0; i < total; i++) {
      pending.push(
        producer.send({ topic, key: `key-${i % 97}`, value: `value-${i}` }).then(
          (m) => void (outcomes[i] = m),
          (e: Error) => void (outcomes[i] = e),
        ),
      )
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 2))
    }
    await outage
    await Promise.all(pending)
    await producer.close()
    expect(restartedAt).toBeGreaterThan(0)

    const acked = outcomes.filter((o): o is RecordMetadata => !!o && !(o instanceof Error))
    const failed = outcomes.filter((o): o is Error => o instanceof Error)
    // every send settled, and a failure (if any) is typed
    expect(acked.length + failed.length).toBe(total)
    for (const f of failed) expect(f).toHaveProperty('code')
    expect(acked.length).toBeGreaterThan(total * 0.9)

    const read = await readAllWithKcat(bootstrap, topic, acked.length, 60_000)
    const seen = new Map<string, number>()
    for (const r of read) {
      const v = new TextDecoder().decode(r.value!)
      seen.set(v, (seen.get(v) ?? 0) + 1)
    }
    const duplicates = [...seen.values()].filter((n) => n > 1).length
    expect(duplicates).toBe(0)
    let lost = 0
    outcomes.forEach((o, i) => {
      if (o && !(o instanceof Error) && seen.get(`value-${i}`) !== 1) lost++
    })
    expect(lost).toBe(0)
    // order per partition = send order (idempotent producer, no reordering across the outage)
    const byPartition = new Map<number, number[]>()
    for (const r of read) {
      const i = Number(new TextDecoder().decode(r.value!).slice(6))
      ;(byPartition.get(r.partition) ?? byPartition.set(r.partition, []).get(r.partition)!).push(i)
    }
    for (const seq of byPartition.values()) expect(seq).toEqual([...seq].sort((a, b) => a - b))
    console.log(`restart test: ${acked.length} acked, ${failed.length} failed, ${read.length} in Kafka, 0 duplicates`)
  })
})
