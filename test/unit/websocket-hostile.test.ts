// The websocket transport (adapters/websocket) against a hostile or broken gateway: a local `ws` WebSocketServer on
// 127.0.0.1 speaks enough of the gateway protocol (hello → welcome, metadata, produce → ack) to answer well, until a
// test arms it to answer one request badly: an answer for another request id, for batches or topics never asked or
// twice, codes, offsets and partition counts that are not integers or far too large, an error frame with a numeric
// code, a message above maxResponseBytes, junk. Each test checks the typed error (code, retriable), that no record was
// acknowledged, and that the producer acknowledges again once the gateway behaves. The last part gives the gateway
// backend's metadata partition counts no transport checked (a custom transport).
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { gatewayBackend, type IsoKafkaError } from '../../src/index.js'
import type {
  GatewayPartitionBatch,
  GatewayPartitionResult,
  GatewayTopicMetadata,
  GatewayTransport,
} from '../../src/transport.js'
import { websocket, type WebSocketTransportOptions } from '../../adapters/websocket/index.js'
import {
  createFrameDecoder,
  encodeFrame,
  MAX_PARTITIONS,
  type AckFrame,
  type MetadataResponseFrame,
} from '../../adapters/gateway-wire/index.js'
import {
  HOSTILE_ERROR_MESSAGES,
  expectMalformed,
  rejection,
  stillWorks as stillWorksOn,
  strictProducer,
} from '../helpers/hostile-answers.js'

const TOPIC = 't'
const CAP = 64 * 1024
const REQUEST_TIMEOUT_MS = 1500

type Request = { t: 'metadata' | 'produce'; id: number; topics?: string[]; batches?: Array<{ batchId: string }> }
type Good = AckFrame | MetadataResponseFrame
/** Answers `req` (whose well-behaved answer is `good`, free to change) on `sock`. */
type Handler = (sock: WebSocket, good: Good & Record<string, unknown>, req: Request) => void

const decoder = createFrameDecoder(1 << 24)
let wss: WebSocketServer
let url = ''
let hostile: { t: Request['t']; handler: Handler } | null = null
/** Limits the next welcomes carry in place of the good ones (reset after each test). */
let welcomeOverride: Record<string, unknown> | null = null
let connections = 0
/** The close code of the connection that carried the last hostile answer, once it closed. */
let hostileClosed: Promise<number> = Promise.resolve(0)
const batchIdsSeen: string[] = []
let nextOffset = 0

function goodAnswer(req: Request): Good {
  if (req.t === 'metadata')
    return { t: 'metadata', id: req.id, topics: req.topics!.map((topic) => ({ topic, partitions: 1, errorCode: 0 })) }
  const results = (req.batches as Array<{ topic: string; partition: number; batchId: string; records: unknown[] }>).map(
    (b) => {
      batchIdsSeen.push(b.batchId)
      const baseOffset = nextOffset
      nextOffset += b.records.length
      return { topic: b.topic, partition: b.partition, batchId: b.batchId, errorCode: 0, baseOffset, logAppendTime: -1 }
    },
  )
  return { t: 'ack', id: req.id, results }
}

beforeAll(async () => {
  wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols) => (protocols.has('isokafka.v1') ? 'isokafka.v1' : false),
  })
  wss.on('connection', (sock) => {
    connections++
    sock.on('message', (data: Buffer) => {
      const req = decoder.decode(new Uint8Array(data)) as Request | { t: 'hello' }
      if (req.t === 'hello') {
        const good = { maxFrameBytes: 1 << 20, maxInFlightBatches: 256, recordsPerSecond: 0, maxRecordsPerFrame: 1e4 }
        const limits = { ...good, ...welcomeOverride } as typeof good
        sock.send(encodeFrame({ t: 'welcome', v: 1, session: 's', subject: null, expiresAt: 2e12, limits }))
        return
      }
      const good = goodAnswer(req)
      const h = hostile?.t === req.t ? hostile.handler : null
      if (h) {
        hostile = null
        hostileClosed = new Promise((resolve) => sock.once('close', resolve))
        h(sock, good as Good & Record<string, unknown>, req)
      } else sock.send(encodeFrame(good))
    })
  })
  await new Promise<void>((resolve) => wss.once('listening', resolve))
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/ws`
})

afterAll(async () => {
  for (const c of wss.clients) c.terminate()
  await new Promise<void>((resolve) => wss.close(() => resolve()))
})

const producers: Array<{ close(o?: { timeoutMs?: number }): Promise<void> }> = []
afterEach(async () => {
  hostile = null
  welcomeOverride = null
  await Promise.all(producers.splice(0).map((p) => p.close({ timeoutMs: 200 }).catch(() => {})))
})

/** A browser's WebSocket as far as size goes: no maxPayload (the ws package's default, 100 MiB, applies). */
class NoMaxPayload extends WebSocket {
  constructor(address: string, protocols?: string | string[]) {
    super(address, protocols)
  }
}

function transportFor(extra: Partial<WebSocketTransportOptions> = {}) {
  return websocket({ url, token: 'token', WebSocket, reconnectBackoffMs: 10, maxResponseBytes: CAP, ...extra })
}

/** A producer whose sends fail at the first error (retries: 0), so a send's rejection is the transport's error. */
function producerFor(extra: Partial<WebSocketTransportOptions> = {}, options: Record<string, unknown> = {}) {
  return producerOn(transportFor(extra), options)
}

function producerOn(transport: GatewayTransport, options: Record<string, unknown> = {}) {
  const producer = strictProducer(transport, REQUEST_TIMEOUT_MS, options)
  producers.push(producer)
  return producer
}

const stillWorks = (producer: ReturnType<typeof producerOn>) => stillWorksOn(producer, TOPIC)

/** Sends one record while the gateway is armed with `handler`; returns its error (it must not be acknowledged). */
async function failedSend(producer: ReturnType<typeof producerOn>, handler: Handler): Promise<IsoKafkaError> {
  // metadata first, answered well, so the armed answer meets the produce request
  await producer.partitionsFor(TOPIC)
  hostile = { t: 'produce', handler }
  return rejection(producer.send({ topic: TOPIC, partition: 0, value: 'v' }))
}

const sendFrame =
  (frame: unknown): Handler =>
  (sock) =>
    sock.send(encodeFrame(frame as AckFrame))

describe('websocket transport: acks of the wrong shape', () => {
  type Ack = { t: string; id: number; results: Array<Record<string, unknown>> }
  const cases: Array<[string, (f: Ack) => void]> = [
    ['the answer to a request id never used', (f) => (f.id += 1000)],
    [
      'an extra result for a batch id never sent',
      (f) => f.results.push({ ...f.results[0]!, batchId: 'never-sent', errorCode: 0 }),
    ],
    [
      'two results for one batch (an error, then an ack)',
      (f) => f.results.unshift({ ...f.results[0]!, errorCode: 6, baseOffset: -1 }),
    ],
    ['errorCode as a string', (f) => (f.results[0]!.errorCode = '0')],
    ['errorCode 0 with a baseOffset that is a string', (f) => (f.results[0]!.baseOffset = '12')],
    ['errorCode 0 with a fractional baseOffset', (f) => (f.results[0]!.baseOffset = 1.5)],
    ['offsets that are not integers', (f) => (f.results[0]!.offsets = ['a'])],
    ['a metadata frame where the ack is expected', (f) => Object.assign(f, { t: 'metadata', topics: [] })],
  ]
  it.each(cases)('%s: MALFORMED_RESPONSE, nothing acknowledged, a new connection', async (_name, mutate) => {
    const producer = producerFor()
    const err = await failedSend(producer, (sock, good) => {
      mutate(good as unknown as Ack)
      sock.send(encodeFrame(good))
    })
    expectMalformed(err, /the gateway sent a frame not asked for/)
    expect(await hostileClosed).toBe(4002) // the client dropped the connection that broke the protocol
    const before = connections
    await stillWorks(producer)
    expect(connections).toBe(before + 1) // on a new one
  })

  it('an error frame whose code is not a string: MALFORMED_RESPONSE, not an error with that code', async () => {
    const producer = producerFor()
    const err = await failedSend(producer, (sock, good) =>
      sendFrame({ t: 'error', id: good.id, code: 7, message: 'x', retriable: false })(sock, good, null as never),
    )
    expectMalformed(err)
    await stillWorks(producer)
  })

  it.each(HOSTILE_ERROR_MESSAGES)(
    'an error frame whose message is %s: the typed error, its message a capped string',
    async (_n, m, text) => {
      const producer = producerFor()
      const err = await failedSend(producer, (sock, good) =>
        sendFrame({ t: 'error', id: good.id, code: 'INTERNAL', message: m, retriable: true })(
          sock,
          good,
          null as never,
        ),
      )
      expect([err.code, err.retriable, err.message]).toEqual(['INTERNAL', true, text])
      await stillWorks(producer)
    },
  )

  /** Every produce answered RATE_LIMITED with this retryAfterMs. */
  const rateLimited = (retryAfterMs: number): typeof hostile => ({
    t: 'produce',
    handler: (sock, good) =>
      sock.send(
        encodeFrame({ t: 'error', id: good.id, code: 'RATE_LIMITED', message: 'slow', retriable: true, retryAfterMs }),
      ),
  })

  it.each([['Infinity', Number.POSITIVE_INFINITY]])(
    'RATE_LIMITED with retryAfterMs %s: resent after the default wait, not never',
    async (_n, retryAfterMs) => {
      const producer = producerFor()
      await producer.partitionsFor(TOPIC)
      hostile = rateLimited(retryAfterMs)
      const started = Date.now()
      expect((await producer.send({ topic: TOPIC, partition: 0, value: 'v' })).offset).toBeGreaterThanOrEqual(0)
      expect(Date.now() - started).toBeLessThan(1000)
    },
  )

  it('RATE_LIMITED with retryAfterMs 1e10 waits 30 s at most (then the request timeout ends it), no timer spin', async () => {
    // unclamped, 1e10 ms overflows setTimeout (fires at once, again and again): Date.now() is read in a loop
    const producer = producerFor()
    await producer.partitionsFor(TOPIC)
    hostile = rateLimited(1e10)
    const now = vi.spyOn(Date, 'now')
    try {
      const err = await rejection(producer.send({ topic: TOPIC, partition: 0, value: 'v' }))
      expect(err.code).toBe('REQUEST_TIMEOUT')
      expect(now.mock.calls.length).toBeLessThan(200)
    } finally {
      now.mockRestore()
    }
    await stillWorks(producer)
  })

  it('junk bytes: MALFORMED_RESPONSE for the request in flight (was: resent and acknowledged), a new connection', async () => {
    const producer = producerFor()
    const err = await failedSend(producer, (sock) => sock.send(new Uint8Array([0xc1, 0xff, 0x00, 0x13, 0x37])))
    expectMalformed(err, /not asked for/)
    expect(await hostileClosed).toBe(4002)
    await stillWorks(producer)
  })

  it('MessagePack nested past the decoder depth: MALFORMED_RESPONSE', async () => {
    const producer = producerFor()
    const err = await failedSend(producer, (sock) => sock.send(new Uint8Array(1000).fill(0x91)))
    expectMalformed(err)
    await stillWorks(producer)
  })

  it('a refused ack is retried like a lost connection: the same batch id, then acknowledged once', async () => {
    const producer = producerFor({}, { retries: 5, retryBackoffMs: 10 })
    await producer.partitionsFor(TOPIC)
    const before = batchIdsSeen.length
    hostile = {
      t: 'produce',
      handler: (sock, good) => {
        ;(good as AckFrame).results[0]!.baseOffset = '5' as never
        sock.send(encodeFrame(good))
      },
    }
    const meta = await producer.send({ topic: TOPIC, partition: 0, value: 'retried' })
    expect(meta.offset).toBeGreaterThanOrEqual(0)
    const ids = batchIdsSeen.slice(before)
    expect(ids).toHaveLength(2) // the refused answer's batch, then its resend: the gateway deduplicates on the id
    expect(ids[0]).toBe(ids[1])
  })

  it('an answer that comes after its request timed out is dropped, not taken for a protocol violation', async () => {
    const producer = producerFor({}, { requestTimeoutMs: 300 })
    await producer.partitionsFor(TOPIC)
    const before = connections
    let late: Promise<void> = Promise.resolve()
    hostile = {
      t: 'produce',
      handler: (sock, good) => {
        late = new Promise((resolve) =>
          setTimeout(() => {
            sock.send(encodeFrame(good))
            setTimeout(resolve, 50)
          }, 400),
        )
      },
    }
    const err = await rejection(producer.send({ topic: TOPIC, partition: 0, value: 'slow' }))
    expect(err.code).toBe('REQUEST_TIMEOUT')
    await late
    await stillWorks(producer)
    expect(connections).toBe(before) // the same connection: nothing was dropped
  })
})

describe('websocket transport: welcome limits out of range', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['maxFrameBytes 0', { maxFrameBytes: 0 }],
    ['maxFrameBytes -1', { maxFrameBytes: -1 }],
    ['maxFrameBytes 10', { maxFrameBytes: 10 }],
    ['maxInFlightBatches 0', { maxInFlightBatches: 0 }],
    ['maxInFlightBatches 0.5', { maxInFlightBatches: 0.5 }],
    ['maxRecordsPerFrame 0', { maxRecordsPerFrame: 0 }],
    ['maxRecordsPerFrame -5', { maxRecordsPerFrame: -5 }],
    [
      'maxFrameBytes as a string, NaN and 2^53',
      { maxFrameBytes: '10', maxInFlightBatches: 2 ** 53, maxRecordsPerFrame: Number.NaN },
    ],
  ]
  it.each(cases)('%s: ignored (the defaults apply), records acknowledged', async (_n, limits) => {
    welcomeOverride = limits
    const producer = producerFor()
    expect((await producer.send({ topic: TOPIC, partition: 0, value: 'v' })).offset).toBeGreaterThanOrEqual(0)
  })
})

describe('websocket transport: messages above maxResponseBytes', () => {
  /** A well-formed ack padded (an unknown field) past the cap: without the cap, the record would be acknowledged. */
  const padded =
    (bytes: number): Handler =>
    (sock, good) => {
      good.pad = new Uint8Array(bytes)
      sock.send(encodeFrame(good))
    }

  it('the ws package stops reading at maxResponseBytes (its maxPayload): MALFORMED_RESPONSE, not acknowledged', async () => {
    const producer = producerFor()
    const err = await failedSend(producer, padded(4 * CAP))
    expectMalformed(err, /maxResponseBytes \(65536\)/)
    expect(await hostileClosed).toBe(1009) // ws refused the message itself (1009: too big), not after reading it
    await stillWorks(producer)
  })

  it('a WebSocket without maxPayload (as in browsers): the size is checked before decoding', async () => {
    const producer = producerFor({ WebSocket: NoMaxPayload })
    const err = await failedSend(producer, padded(4 * CAP))
    expectMalformed(err, /maxResponseBytes \(65536\)/)
    expect(await hostileClosed).toBe(4002)
    await stillWorks(producer)
  })

  it('the default maxResponseBytes is 4 MiB; smaller answers pass', async () => {
    const producer = producerFor({ maxResponseBytes: undefined, WebSocket: NoMaxPayload })
    await producer.partitionsFor(TOPIC)
    hostile = { t: 'produce', handler: padded(2 << 20) }
    expect((await producer.send({ topic: TOPIC, partition: 0, value: 'big answer' })).offset).toBeGreaterThanOrEqual(0)
    const err = await failedSend(producer, padded(4 << 20))
    expectMalformed(err, /maxResponseBytes \(4194304\)/)
    await stillWorks(producer)
  })
})

describe('websocket transport: metadata of the wrong shape', () => {
  type Meta = { t: string; id: number; topics: Array<Record<string, unknown>> }
  const cases: Array<[string, (f: Meta) => void]> = [
    ['2^32 partitions', (f) => (f.topics[0]!.partitions = 2 ** 32)],
    ['1e9 partitions', (f) => (f.topics[0]!.partitions = 1e9)],
    [`MAX_PARTITIONS + 1 (${MAX_PARTITIONS + 1}) partitions`, (f) => (f.topics[0]!.partitions = MAX_PARTITIONS + 1)],
    ['-1 partitions', (f) => (f.topics[0]!.partitions = -1)],
    ['a partition count as a string', (f) => (f.topics[0]!.partitions = '3')],
    ['a fractional partition count', (f) => (f.topics[0]!.partitions = 1.5)],
    ['errorCode as a string', (f) => (f.topics[0]!.errorCode = '0')],
    ['a topic never asked for', (f) => f.topics.push({ topic: 'other', partitions: 1, errorCode: 0 })],
    ['the answer to a request id never used', (f) => (f.id += 1000)],
    ['an ack frame where metadata is expected', (f) => Object.assign(f, { t: 'ack', results: [] })],
  ]
  it.each(cases)('%s: MALFORMED_RESPONSE; the producer works afterwards', async (_name, mutate) => {
    const transport = transportFor()
    hostile = {
      t: 'metadata',
      handler: (sock, good) => {
        mutate(good as unknown as Meta)
        sock.send(encodeFrame(good))
      },
    }
    expectMalformed(await rejection(transport.metadata([TOPIC])), /not asked for/)
    await stillWorks(producerOn(transport))
  })
})

/** A custom transport: partition counts as it says, no check of its own; acks every batch. */
class CountsTransport implements GatewayTransport {
  readonly kind = 'gateway' as const
  readonly backend = gatewayBackend
  metadataCalls = 0
  constructor(public partitions: unknown) {}
  async metadata(topics: string[]): Promise<GatewayTopicMetadata[]> {
    this.metadataCalls++
    return topics.map((topic) => ({ topic, partitions: this.partitions as number, errorCode: 0 }))
  }
  async produce(batches: GatewayPartitionBatch[]): Promise<GatewayPartitionResult[]> {
    return batches.map((b) => ({ ...b, errorCode: 0, baseOffset: 0, logAppendTime: -1 }))
  }
  async close(): Promise<void> {}
}

describe('gateway metadata from any transport (a custom one, unchecked): partition counts', () => {
  const counts: Array<[string, unknown]> = [
    ['2^32', 2 ** 32],
    ['1e9', 1e9],
    ['MAX_PARTITIONS + 1', MAX_PARTITIONS + 1],
    ['Infinity', Number.POSITIVE_INFINITY],
    ["'3' (a string)", '3'],
    ['1.5', 1.5],
  ]
  it.each(counts)(
    '%s: sends fail fast with MALFORMED_RESPONSE, nothing sized by it; then it recovers',
    async (_n, count) => {
      const transport = new CountsTransport(count)
      const producer = producerOn(transport, { retryBackoffMs: 10, maxBlockMs: 3000 })
      const started = Date.now()
      const heap = process.memoryUsage().heapUsed
      const err = await rejection(producer.send({ topic: TOPIC, value: 'v' }))
      expectMalformed(err, /partitions/)
      expect(Date.now() - started).toBeLessThan(1000) // not maxBlockMs: the answer was refused, not waited out
      expect(process.memoryUsage().heapUsed - heap).toBeLessThan(64 << 20)
      transport.partitions = 2
      const calls = transport.metadataCalls
      await expect.poll(() => transport.metadataCalls, { timeout: 2000 }).toBeGreaterThan(calls)
      expect(await producer.partitionsFor(TOPIC)).toBe(2)
      expect((await producer.send({ topic: TOPIC, value: 'after' })).partition).toBeLessThan(2)
    },
  )

  it('MAX_PARTITIONS partitions are a topic like any other', async () => {
    const producer = producerOn(new CountsTransport(MAX_PARTITIONS))
    expect(await producer.partitionsFor(TOPIC)).toBe(MAX_PARTITIONS)
    expect((await producer.send({ topic: TOPIC, partition: MAX_PARTITIONS - 1, value: 'v' })).partition).toBe(
      MAX_PARTITIONS - 1,
    )
  })
})
