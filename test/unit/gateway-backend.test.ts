// GatewayBackend (src/producer/gateway-backend.ts) against a scripted GatewayTransport and a fake clock: batch ids
// kept across resends, per-partition order, retries within deliveryTimeoutMs, metadata caching and refresh,
// maxInFlight, request timeouts, per-record offsets. No broker needed.
import { describe, expect, it } from 'vitest'
import {
  AuthenticationError,
  ConnectionError,
  createProducer,
  kafkaBackend,
  type RecordMetadata,
} from '../../src/index.js'
import type { GatewayPartitionResult, GatewayTransport, OutboxBatch } from '../../src/transport.js'
import { outboxLane } from '../../src/producer/outbox-lane.js'
import { gatewayRecordFormat, type GatewayRecordsBuilder } from '../../src/producer/gateway-records.js'
import { FakeClock, flushMicrotasks } from '../helpers/fake-clock.js'
import { MemoryOutbox, ScriptedTransport } from '../helpers/scripted-gateway.js'
import { decodeWireRecords } from '../../adapters/gateway-wire/index.js'

function setup(opts: Record<string, unknown> = {}) {
  const clock = new FakeClock()
  const transport = new ScriptedTransport(clock)
  const producer = createProducer({
    transport,
    clock,
    lingerMs: 5,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1000,
    ...opts,
  })
  return { clock, transport, producer }
}

const settle = <T>(p: Promise<T>) =>
  p.then(
    (v) => ({ ok: true as const, v }),
    (e: Error & { code?: string }) => ({ ok: false as const, e }),
  )

describe('GatewayBackend', () => {
  it('ships a batch after lingerMs with records decoded from the batch, and resolves baseOffset + i', async () => {
    const { clock, transport, producer } = setup()
    const sends = ['a', 'b', 'c'].map((v) =>
      producer.send({ topic: 't', partition: 1, value: v, key: 'k', headers: { h: 'x' }, timestamp: 1234 }),
    )
    await clock.advance(0)
    expect(transport.calls).toHaveLength(0) // lingering
    await clock.advance(5)
    expect(transport.calls).toHaveLength(1)
    expect(transport.calls[0]!.batches).toEqual([
      { topic: 't', partition: 1, batchId: expect.any(String), values: ['a', 'b', 'c'] },
    ])
    const metas = await Promise.all(sends)
    expect(metas.map((m) => [m.partition, m.offset, m.timestamp])).toEqual([
      [1, 0, 1234],
      [1, 1, 1234],
      [1, 2, 1234],
    ])
  })

  it('a retriable error resends the same batch id after backoff; the next batch of that partition waits for it', async () => {
    const { clock, transport, producer } = setup({ batchSize: 64 })
    transport.answers.push((b) =>
      b.map(
        (x) =>
          ({ ...x, records: undefined, errorCode: 6, baseOffset: -1, logAppendTime: -1 }) as GatewayPartitionResult,
      ),
    )
    const sends = Array.from({ length: 6 }, (_, i) => producer.send({ topic: 't', partition: 0, value: `v${i}` }))
    await clock.advance(10)
    expect(transport.calls).toHaveLength(1)
    const firstId = transport.calls[0]!.batches[0]!.batchId
    await clock.advance(50)
    expect(transport.calls).toHaveLength(1) // backoff; and nothing newer for partition 0 meanwhile
    await clock.advance(2000)
    const ids = transport.calls.map((c) => c.batches[0]!.batchId)
    expect(ids[1]).toBe(firstId)
    expect(new Set(ids.slice(1)).size).toBe(ids.length - 1) // later batches got new ids
    const values = transport.calls.slice(1).flatMap((c) => c.batches.flatMap((b) => b.values))
    expect(values).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']) // order kept
    const metas = await Promise.all(sends)
    expect(metas.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('one batch per partition in flight; several partitions share a request', async () => {
    // one record per batch (a record is ~26 bytes as gateway MessagePack)
    const { clock, transport, producer } = setup({ batchSize: 30 })
    transport.latency = 20
    const sends: Promise<RecordMetadata>[] = []
    for (let i = 0; i < 9; i++) sends.push(producer.send({ topic: 't', partition: i % 3, value: `value-${i}` }))
    await clock.advance(6)
    expect(transport.calls).toHaveLength(1)
    expect(transport.calls[0]!.batches.map((b) => b.partition).sort()).toEqual([0, 1, 2])
    await clock.advance(500)
    for (const c of transport.calls) expect(new Set(c.batches.map((b) => b.partition)).size).toBe(c.batches.length)
    await Promise.all(sends)
    expect(transport.calls.length).toBeGreaterThanOrEqual(3)
    expect(transport.overlaps).toBe(0)
  })

  it('at most maxInFlightRequestsPerConnection produce calls at once', async () => {
    const { clock, transport, producer } = setup({
      batchSize: 64,
      maxInFlightRequestsPerConnection: 2,
      maxRequestSize: 200,
    })
    transport.partitions.set('t', 12)
    transport.latency = 50
    const sends = Array.from({ length: 60 }, (_, i) =>
      producer.send({ topic: 't', partition: i % 12, value: `value-${i}` }),
    )
    await clock.advance(2000)
    await Promise.all(sends)
    expect(transport.maxInFlightSeen).toBe(2)
    expect(transport.overlaps).toBe(0)
  })

  it('a non-retriable error fails that batch only', async () => {
    const { clock, transport, producer } = setup()
    transport.answers.push((b) =>
      b.map((x) =>
        x.partition === 0
          ? {
              topic: x.topic,
              partition: 0,
              batchId: x.batchId,
              errorCode: 29,
              baseOffset: -1,
              logAppendTime: -1,
              message: 'nope',
            }
          : transport.ok([x])[0]!,
      ),
    )
    const bad = settle(producer.send({ topic: 't', partition: 0, value: 'x' }))
    const good = settle(producer.send({ topic: 't', partition: 1, value: 'y' }))
    await clock.advance(10)
    expect(await bad).toMatchObject({ ok: false, e: { code: 'TOPIC_AUTHORIZATION_FAILED' } })
    expect(await good).toMatchObject({ ok: true })
  })

  it('retriable transport errors retry until deliveryTimeoutMs, then DELIVERY_TIMEOUT', async () => {
    const { clock, transport, producer } = setup({ deliveryTimeoutMs: 3000, requestTimeoutMs: 1000 })
    for (let i = 0; i < 100; i++) transport.answers.push(() => new ConnectionError('down'))
    const r = settle(producer.send({ topic: 't', partition: 0, value: 'x' }))
    await clock.advance(4000)
    expect(await r).toMatchObject({ ok: false, e: { code: 'DELIVERY_TIMEOUT' } })
    expect(transport.calls.length).toBeGreaterThan(3)
    expect(new Set(transport.calls.map((c) => c.batches[0]!.batchId)).size).toBe(1)
  })

  it('a transport that never answers: the request times out and the batch is resent with the same id', async () => {
    const { clock, transport, producer } = setup({ requestTimeoutMs: 1000 })
    transport.answers.push(() => 'hang')
    const r = producer.send({ topic: 't', partition: 2, value: 'x' })
    await clock.advance(5000)
    expect(transport.calls).toHaveLength(2)
    expect(transport.calls[1]!.batches[0]!.batchId).toBe(transport.calls[0]!.batches[0]!.batchId)
    expect(transport.calls[1]!.at - transport.calls[0]!.at).toBeGreaterThanOrEqual(1000)
    await expect(r).resolves.toMatchObject({ offset: 0 })
  })

  // Workers drops the timers of a request once it is over; a producer kept in module scope lives on into the next one
  it('a request whose timeout timer died: the next pass gives up on it and resends (same batch id)', async () => {
    const { clock, transport, producer } = setup({ requestTimeoutMs: 1000 })
    transport.answers.push(() => 'hang')
    const first = settle(producer.send({ topic: 't', partition: 2, value: 'x' }))
    await clock.advance(10) // linger: the request is out, and hangs
    expect(transport.calls).toHaveLength(1)
    clock.dropTimers() // the request ended: its timers will never fire
    await clock.advance(5000)
    const second = settle(producer.send({ topic: 't', partition: 2, value: 'y' })) // the next request
    await clock.advance(1500) // the resend waits out retryBackoffMs (and a 1 s guard would have fired by now)
    expect(transport.calls.length).toBeGreaterThanOrEqual(2)
    expect(transport.calls[1]!.batches[0]!.batchId).toBe(transport.calls[0]!.batches[0]!.batchId)
    expect(await first).toMatchObject({ ok: true, v: { offset: 0 } })
    expect(await second).toMatchObject({ ok: true, v: { offset: 1 } })
  })

  it('a metadata request whose timeout timer died does not keep a new topic unknown', async () => {
    const { clock, transport, producer } = setup({ requestTimeoutMs: 1000 })
    transport.partitions.set('u', 1)
    transport.metadataHangs = 1
    const first = settle(producer.send({ topic: 'u', value: 'x' }))
    await clock.advance(10)
    expect(transport.metadataCalls).toBe(1)
    clock.dropTimers()
    await clock.advance(5000)
    const second = settle(producer.send({ topic: 'u', value: 'y' }))
    await clock.advance(500)
    expect(transport.metadataCalls).toBeGreaterThanOrEqual(2)
    expect(await second).toMatchObject({ ok: true })
    expect(await first).toMatchObject({ ok: true })
  })

  it('uses per-record offsets when the gateway lists them', async () => {
    const { clock, transport, producer } = setup()
    transport.answers.push((b) =>
      b.map((x) => ({
        topic: x.topic,
        partition: x.partition,
        batchId: x.batchId,
        errorCode: 0,
        baseOffset: 10,
        logAppendTime: 777,
        offsets: [10, 12, 15],
      })),
    )
    const sends = ['a', 'b', 'c'].map((v) => producer.send({ topic: 't', partition: 0, value: v }))
    await clock.advance(10)
    expect((await Promise.all(sends)).map((m) => [m.offset, m.timestamp])).toEqual([
      [10, 777],
      [12, 777],
      [15, 777],
    ])
  })

  it('metadata: cached, refreshed after metadataMaxAgeMs and after a NOT_LEADER answer; unknown topics are polled', async () => {
    const { clock, transport, producer } = setup({ metadataMaxAgeMs: 10_000, maxBlockMs: 1000 })
    await Promise.all([producer.send({ topic: 't', value: 'a' }), clock.advance(10)])
    const after1 = transport.metadataCalls
    expect(after1).toBe(1)
    await Promise.all([producer.send({ topic: 't', value: 'b' }), clock.advance(10)])
    expect(transport.metadataCalls).toBe(1) // cached
    await clock.advance(10_000)
    await Promise.all([producer.send({ topic: 't', value: 'c' }), clock.advance(200)])
    expect(transport.metadataCalls).toBe(2) // stale → refreshed
    transport.partitions.set('t', 5)
    transport.answers.push((b) =>
      b.map((x) => ({
        topic: x.topic,
        partition: x.partition,
        batchId: x.batchId,
        errorCode: 6,
        baseOffset: -1,
        logAppendTime: -1,
      })),
    )
    const d = producer.send({ topic: 't', partition: 0, value: 'd' })
    await clock.advance(2000)
    await d
    expect(transport.metadataCalls).toBe(3)
    await expect(producer.partitionsFor('t')).resolves.toBe(5)
    // a topic that does not exist: polled until maxBlockMs, then MAX_BLOCK_TIMEOUT naming the error
    const missing = settle(producer.send({ topic: 'nope', value: 'x' }))
    await clock.advance(1500)
    expect(await missing).toMatchObject({ ok: false, e: { code: 'MAX_BLOCK_TIMEOUT' } })
    expect(transport.metadataCalls).toBeGreaterThan(5)
  })

  it('a non-retriable metadata failure (bad token) fails sends fast instead of waiting maxBlockMs', async () => {
    const { clock, transport, producer } = setup({ maxBlockMs: 60_000 })
    transport.metadataError = new AuthenticationError('gateway: the token signature is not valid')
    const r = settle(producer.send({ topic: 't', value: 'x' }))
    await clock.advance(50)
    expect(await r).toMatchObject({ ok: false, e: { code: 'AUTHENTICATION_FAILED' } })
  })

  it('flush() ships lingering batches at once; close() waits for acks and closes the transport', async () => {
    const { clock, transport, producer } = setup({ lingerMs: 60_000 })
    const s = producer.send({ topic: 't', partition: 0, value: 'x' })
    await clock.advance(1)
    expect(transport.calls).toHaveLength(0)
    const flushed = producer.flush()
    await flushMicrotasks()
    await clock.advance(0)
    await flushed
    expect(transport.calls).toHaveLength(1)
    await s
    let closed = false
    transport.close = async () => {
      closed = true
    }
    await producer.close()
    await flushMicrotasks()
    expect(closed).toBe(true)
  })
})

/** A stored batch as an earlier page left it: records encoded by a producer of its own. */
function leftover(batchId: string, values: string[], topic = 't', partition = 0): OutboxBatch {
  const b = gatewayRecordFormat.builder(256) as GatewayRecordsBuilder
  const enc = new TextEncoder()
  for (const v of values) b.append({ timestamp: 1000, key: null, value: enc.encode(v), headers: [] })
  return { batchId, topic, partition, count: values.length, records: b.seal().slice() }
}

describe('GatewayBackend with an outbox', () => {
  it('stores a batch before it ships, removes it after the ack, and ships nothing before open() settled', async () => {
    const clock = new FakeClock()
    const transport = new ScriptedTransport(clock)
    const outbox = new MemoryOutbox()
    let opened!: () => void
    const gate = new Promise<void>((r) => (opened = r))
    const open = outbox.open.bind(outbox)
    outbox.open = async () => {
      await gate
      return open()
    }
    const producer = createProducer({ transport, clock, lingerMs: 5, outbox })
    const sends = ['a', 'b'].map((v) => producer.send({ topic: 't', partition: 0, value: v }))
    await clock.advance(50)
    expect(transport.calls).toHaveLength(0) // the outbox is not open yet
    opened()
    await clock.advance(1)
    expect(transport.calls).toHaveLength(1)
    const id = transport.calls[0]!.batches[0]!.batchId
    expect(outbox.log.slice(0, 2)).toEqual(['open', `put ${id}`])
    await Promise.all(sends)
    await flushMicrotasks()
    expect(outbox.log).toContain(`remove ${id}`)
    expect(outbox.stored.size).toBe(0)
    // the stored bytes are the frame's records: they decode to the sends' values
    await producer.close()
    expect(outbox.log.at(-1)).toBe('close')
  })

  it('resends batches left by an earlier page with their original ids, and removes them once acknowledged', async () => {
    const clock = new FakeClock()
    const transport = new ScriptedTransport(clock)
    const outbox = new MemoryOutbox()
    outbox.leftovers = [leftover('old-1', ['x', 'y']), leftover('old-2', ['z'], 't', 1)]
    const producer = createProducer({ transport, clock, lingerMs: 5, outbox })
    await clock.advance(1)
    const shipped = transport.calls.flatMap((c) => c.batches)
    expect(shipped.map((b) => [b.batchId, b.partition, b.values])).toEqual([
      ['old-1', 0, ['x', 'y']],
      ['old-2', 1, ['z']],
    ])
    await clock.advance(20)
    expect(outbox.stored.size).toBe(0)
    expect(outbox.log.filter((l) => l.startsWith('put'))).toEqual([]) // already stored: not put again
    await producer.close()
  })

  it('keeps retrying a leftover through retriable errors; one refused for good is removed and reported', async () => {
    const clock = new FakeClock()
    const transport = new ScriptedTransport(clock)
    const outbox = new MemoryOutbox()
    outbox.leftovers = [leftover('old-1', ['x']), leftover('old-2', ['y'], 'forbidden')]
    // the first two attempts of each fail with a retriable error; then old-2's topic is refused for good
    const attempts = new Map<string, number>()
    for (let i = 0; i < 20; i++) {
      transport.answers.push((batches) => {
        const failing = batches.some(
          (b) => attempts.set(b.batchId, (attempts.get(b.batchId) ?? 0) + 1).get(b.batchId)! <= 2,
        )
        if (failing) return new ConnectionError('down')
        return batches.map((b) =>
          b.topic === 'forbidden'
            ? {
                topic: b.topic,
                partition: b.partition,
                batchId: b.batchId,
                errorCode: 29,
                baseOffset: -1,
                logAppendTime: -1,
              }
            : transport.ok([b])[0]!,
        )
      })
    }
    const producer = createProducer({ transport, clock, lingerMs: 5, retryBackoffMs: 100, outbox })
    await clock.advance(5_000)
    expect(attempts.get('old-1')).toBeGreaterThanOrEqual(3)
    expect(attempts.get('old-2')).toBeGreaterThanOrEqual(3)
    expect(outbox.stored.size).toBe(0)
    expect(outbox.failures).toEqual([['old-2', 'TOPIC_AUTHORIZATION_FAILED']])
    await producer.close()
  })

  it('a stored batch past its delivery timeout rejects its sends but stays stored, and is resent until acknowledged', async () => {
    const clock = new FakeClock()
    const transport = new ScriptedTransport(clock)
    const outbox = new MemoryOutbox()
    for (let i = 0; i < 40; i++) transport.answers.push(() => new ConnectionError('offline'))
    const producer = createProducer({
      transport,
      clock,
      lingerMs: 5,
      retryBackoffMs: 100,
      retryBackoffMaxMs: 1000,
      requestTimeoutMs: 1000,
      deliveryTimeoutMs: 3000,
      outbox,
    })
    const sent = settle(producer.send({ topic: 't', partition: 0, value: 'kept' }))
    await clock.advance(4_000)
    const r = await sent
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.e.code).toBe('DELIVERY_TIMEOUT')
    const id = transport.calls[0]!.batches[0]!.batchId
    expect(outbox.stored.has(id)).toBe(true)
    transport.answers.length = 0 // the network is back
    await clock.advance(40_000)
    const last = transport.calls.at(-1)!.batches[0]!
    expect([last.batchId, last.values]).toEqual([id, ['kept']])
    expect(outbox.stored.size).toBe(0)
    await producer.close()
  })

  it('a forced close leaves what was stored in the outbox for the next page', async () => {
    const clock = new FakeClock()
    const transport = new ScriptedTransport(clock)
    const outbox = new MemoryOutbox()
    transport.answers.push(() => 'hang')
    const producer = createProducer({ transport, clock, lingerMs: 5, outbox })
    const sent = settle(producer.send({ topic: 't', partition: 0, value: 'pending' }))
    await clock.advance(10)
    const closing = producer.close({ timeoutMs: 100 })
    await clock.advance(200)
    await closing
    expect((await sent).ok).toBe(false)
    expect([...outbox.stored.keys()]).toEqual([transport.calls[0]!.batches[0]!.batchId])
  })

  it('a forced close keeps a leftover that was in flight; an open() or a put that never settles holds batches back 5 s at most', async () => {
    const clock = new FakeClock()
    const transport = new ScriptedTransport(clock)
    const outbox = new MemoryOutbox()
    outbox.leftovers = [leftover('old-1', ['x'])]
    transport.answers.push(() => 'hang')
    const producer = createProducer({ transport, clock, lingerMs: 5, outbox })
    await clock.advance(1)
    expect(transport.calls.map((c) => c.batches[0]!.batchId)).toEqual(['old-1'])
    const closing = producer.close({ timeoutMs: 50 })
    await clock.advance(100)
    await closing
    expect([...outbox.stored.keys()]).toEqual(['old-1'])
    expect(outbox.failures).toEqual([])

    const t3 = new ScriptedTransport(clock)
    const neverOpens = new MemoryOutbox()
    neverOpens.open = () => new Promise(() => {})
    const p3 = createProducer({ transport: t3, clock, lingerMs: 5, outbox: neverOpens })
    const sent3 = p3.send({ topic: 't', partition: 0, value: 'v' })
    await clock.advance(4_900)
    expect(t3.calls).toHaveLength(0)
    await clock.advance(200)
    expect(t3.calls).toHaveLength(1) // open() never settled: after 5 s the batch goes all the same
    expect((await sent3).offset).toBe(0)
    await p3.close()

    const t2 = new ScriptedTransport(clock)
    const stuck = new MemoryOutbox()
    stuck.put = () => new Promise(() => {}) // a blocked IndexedDB
    const p2 = createProducer({ transport: t2, clock, lingerMs: 5, outbox: stuck })
    const sent = p2.send({ topic: 't', partition: 0, value: 'v' })
    await clock.advance(4_000)
    expect(t2.calls).toHaveLength(0)
    await clock.advance(1_100)
    expect(t2.calls).toHaveLength(1)
    expect((await sent).offset).toBe(0)
    await p2.close()
  })

  it('stores batches queued behind one in flight as soon as they are complete (within lingerMs), and ships each after its put', async () => {
    const clock = new FakeClock()
    const transport = new ScriptedTransport(clock)
    const outbox = new MemoryOutbox()
    transport.answers.push(() => 'hang') // the first request never gets an answer: the partition stays busy
    const producer = createProducer({ transport, clock, lingerMs: 5, batchSize: 30, requestTimeoutMs: 60_000, outbox })
    void settle(producer.send({ topic: 't', partition: 0, value: 'first' }))
    await clock.advance(6)
    expect(transport.calls).toHaveLength(1)
    // one record per batch (batchSize 30): three batches queue behind the one in flight
    for (const v of ['a', 'b', 'c']) void settle(producer.send({ topic: 't', partition: 0, value: v }))
    await clock.advance(1)
    expect(outbox.stored.size).toBe(3) // a, b full at once; c (still open) waits for its linger
    await clock.advance(5)
    expect(outbox.stored.size).toBe(4)
    expect(transport.calls).toHaveLength(1) // stored, not shipped: the partition's batch is still in flight
    const values = [...outbox.stored.values()].map((b) =>
      decodeWireRecords(b.records).map((r) => new TextDecoder().decode(r[2]!)),
    )
    expect(values).toEqual([['first'], ['a'], ['b'], ['c']])
    const closing = producer.close({ timeoutMs: 10 })
    await clock.advance(20)
    await closing
  })

  it('refuses an outbox with a Kafka transport, and an outbox without its lane', () => {
    const clock = new FakeClock()
    const outbox = new MemoryOutbox()
    const socket = {
      kind: 'socket' as const,
      backend: kafkaBackend,
      bootstrap: ['127.0.0.1:1'],
      connect: () => Promise.reject(new Error('unused')),
    }
    expect(() => createProducer({ transport: socket, clock, outbox })).toThrow(/gateway transport/)
    const noLane = {
      open: outbox.open,
      put: outbox.put,
      remove: outbox.remove,
      reclaim: outbox.reclaim,
      close: outbox.close,
    }
    expect(() => createProducer({ transport: new ScriptedTransport(clock), clock, outbox: noLane as never })).toThrow(
      /lane: outboxLane/,
    )
  })
})
