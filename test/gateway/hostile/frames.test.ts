/// <reference types="node" />
// Hostile clients, part 1: frames. Before authentication every first frame that is not a valid hello ends the
// connection (one fatal error frame, close 4401); after authentication malformed frames, MessagePack bombs and
// oversized frames get an error frame and the connection keeps working. The gateway is a child process.
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
  kafkaBootstrap,
  mintToken,
  pack,
  produceFrame,
  rec,
  sleep,
  startChildGateway,
  uniqueId,
  wsFrame,
  type ChildGateway,
} from './harness.js'

const bootstrap = kafkaBootstrap()
const MAX_FRAME = 64 * 1024
const HELLO_TIMEOUT_MS = 800
/** Above this ws closes the connection with 1009 (spec: maxFrameBytes + max(64 KiB, maxFrameBytes / 4)). */
const HARD_CAP = MAX_FRAME + Math.max(64 * 1024, MAX_FRAME / 4)
const topic = uniqueTopic('hostile-frames')
const accepted = new Accepted()
let gw: ChildGateway
let token: string

beforeAll(async () => {
  await createTopic(bootstrap, topic, 1)
  gw = await startChildGateway({ limits: { maxFrameBytes: MAX_FRAME }, helloTimeoutMs: HELLO_TIMEOUT_MS })
  token = mintToken({ topics: [topic], sub: 'frames' })
})
afterAll(() => finishChildren('frames.test.ts', [['gateway', gw]]))

const u8 = (...b: number[]) => Uint8Array.from(b)
const cat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts))
const repeat = (b: number[], n: number, tail: number[] = []) => {
  const out = new Uint8Array(b.length * n + tail.length)
  for (let i = 0; i < n; i++) out.set(b, i * b.length)
  out.set(tail, b.length * n)
  return out
}

/** `frame` encoded, with the encoded string '__BOMB__' replaced by raw `bomb` bytes. */
function frameWith(frame: unknown, bomb: Uint8Array): Uint8Array {
  const enc = Buffer.from(pack(frame))
  const mark = Buffer.from(pack('__BOMB__'))
  const at = enc.indexOf(mark)
  if (at < 0) throw new Error('no __BOMB__ in the frame')
  return cat(enc.subarray(0, at), bomb, enc.subarray(at + mark.length))
}
const produceWithBomb = (
  id: number,
  where: 'batches' | 'records' | 'topic' | 'value' | 'headers' | 'ts',
  bomb: Uint8Array,
) => {
  const record = [
    where === 'ts' ? '__BOMB__' : Date.now(),
    null,
    where === 'value' ? '__BOMB__' : null,
    where === 'headers' ? '__BOMB__' : [],
  ]
  const batch = {
    topic: where === 'topic' ? '__BOMB__' : topic,
    partition: 0,
    batchId: uniqueId('bomb'),
    records: where === 'records' ? '__BOMB__' : [record],
  }
  return frameWith(
    { t: 'produce', id, acks: -1, timeoutMs: 5000, batches: where === 'batches' ? '__BOMB__' : [batch] },
    bomb,
  )
}

const validBatch = () => ({ topic, batchId: uniqueId('refused'), records: [rec(`refused-${uniqueId()}`)] })

// ---------------------------------------------------------------------------------------------------------------

describe('pre-auth: the first frame that is not a valid hello ends the connection', () => {
  const expectFatal = async (c: FrameClient, codes: string[]) => {
    const f = await c.next((x) => x.t === 'error', 3000)
    expect(codes, JSON.stringify(f)).toContain(f.code)
    expect(f.fatal, JSON.stringify(f)).toBe(true)
    const closed = await c.waitClosed(3000)
    expect(closed.code).toBe(4401)
    expect(
      c.all.filter((x) => x.t === 'error'),
      'exactly one error frame',
    ).toHaveLength(1)
    expect(
      c.all.filter((x) => x.t !== 'error'),
      'nothing but the error frame',
    ).toEqual([])
  }
  const M = ['MALFORMED']
  const U = ['UNAUTHENTICATED']
  const rows: Array<[string, () => unknown, string[]]> = [
    ['junk bytes (0xc1 0xff)', () => u8(0xc1, 0xff), M],
    ['an empty binary frame', () => new Uint8Array(0), M],
    ['a text frame', () => 'hello', M],
    ['a text frame holding a JSON hello with a valid token', () => JSON.stringify({ t: 'hello', v: 1, token }), M],
    ['a MessagePack array', () => pack([1, 2, 3]), M],
    ['a MessagePack nil', () => u8(0xc0), M],
    ['a map without t', () => pack({ v: 1, token }), M],
    ['a map whose t is a number', () => pack({ t: 1, v: 1, token }), M],
    ['a depth bomb (12,000 nested arrays, 12 kB)', () => repeat([0x91], 12_000, [0xc0]), M],
    ['an array32 header declaring 4 billion items', () => u8(0xdd, 0xff, 0xff, 0xff, 0xff), M],
    ['a valid hello followed by trailing junk', () => cat(pack({ t: 'hello', v: 1, token }), u8(0xc1)), M],
    ['a metadata frame', () => pack({ t: 'metadata', id: 1, topics: [topic] }), U],
    ['a produce frame', () => pack(produceFrame(1, [validBatch()])), U],
    ['an unknown frame type', () => pack({ t: 'subscribe', id: 1 }), ['UNAUTHENTICATED', 'UNSUPPORTED', 'MALFORMED']],
    ['a hello without a token', () => pack({ t: 'hello', v: 1 }), U],
    [
      'a hello whose token is a number',
      () => pack({ t: 'hello', v: 1, token: 12345 }),
      ['UNAUTHENTICATED', 'MALFORMED'],
    ],
    [
      'a hello with a forged token',
      () => pack({ t: 'hello', v: 1, token: mintToken({ topics: ['*'] }, { secret: 'not-the-secret-0123456789' }) }),
      U,
    ],
    ['a hello with protocol version 2', () => pack({ t: 'hello', v: 2, token }), ['UNSUPPORTED']],
    ['a hello with version "1" (a string)', () => pack({ t: 'hello', v: '1', token }), ['UNSUPPORTED', 'MALFORMED']],
  ]
  it.each(rows)('%s → one fatal error frame, close 4401', async (_name, make, codes) => {
    const c = await FrameClient.open(gw)
    c.send(make())
    await expectFatal(c, codes)
  })

  it('an oversized frame before authentication (100 kB, above the 16 KiB pre-auth cap) → closed with 1009 before it is buffered whole, nothing answered', async () => {
    const c = await FrameClient.open(gw)
    c.send(cat(u8(0xc1), new Uint8Array(100_000)))
    expect((await c.waitClosed(3000)).code).toBe(1009)
    expect(c.all).toEqual([])
  })

  it('no hello within helloTimeoutMs → fatal UNAUTHENTICATED and close 4401', async () => {
    const c = await FrameClient.open(gw)
    const t0 = Date.now()
    const f = await c.next((x) => x.t === 'error', HELLO_TIMEOUT_MS + 3000)
    expect(f).toMatchObject({ code: 'UNAUTHENTICATED', fatal: true })
    expect((await c.waitClosed(2000)).code).toBe(4401)
    expect(Date.now() - t0).toBeLessThan(HELLO_TIMEOUT_MS + 2500)
  })

  it('junk, then a valid hello and a produce in the same burst: closed at the junk, the produce is never written', async () => {
    const c = await FrameClient.open(gw)
    c.send(u8(0xc1))
    c.send({ t: 'hello', v: 1, token })
    c.send(produceFrame(1, [validBatch()]))
    await expectFatal(c, ['MALFORMED'])
  })

  it('a produce before the hello, then a valid hello: closed, the produce is never written', async () => {
    const c = await FrameClient.open(gw)
    c.send(produceFrame(1, [validBatch()]))
    c.send({ t: 'hello', v: 1, token })
    await expectFatal(c, ['UNAUTHENTICATED'])
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'preauth'))
})

// ---------------------------------------------------------------------------------------------------------------

describe('after authentication: malformed frames and MessagePack bombs get an error frame, the connection lives on', () => {
  let c: FrameClient
  let probe = 1000
  beforeAll(async () => {
    c = await authed(gw, token)
  })
  afterAll(() => c?.close())

  /** Send `bytes`; expect an error frame with `code` (and `id` if given); then the connection still answers. */
  const expectRefused = async (bytes: unknown, code: string | string[], id?: number) => {
    c.send(bytes)
    const f = await c.next((x) => x.t === 'error', 5000)
    expect(Array.isArray(code) ? code : [code], JSON.stringify(f)).toContain(f.code)
    expect(f.fatal, JSON.stringify(f)).not.toBe(true)
    if (id !== undefined) expect(f.id).toBe(id)
    const pid = ++probe
    c.send({ t: 'metadata', id: pid, topics: [topic] })
    const answer = await c.answer(pid, 5000)
    expect(answer.t, JSON.stringify(answer)).toBe('metadata')
    expect(c.closed).toBeNull()
  }

  const bombs: Array<[string, () => Uint8Array, number | undefined]> = [
    ['array32 header declaring 4 billion items', () => u8(0xdd, 0xff, 0xff, 0xff, 0xff), undefined],
    ['map32 header declaring 4 billion entries', () => u8(0xdf, 0xff, 0xff, 0xff, 0xff), undefined],
    ['ten nested array16 headers, each declaring 65,535 items', () => repeat([0xdc, 0xff, 0xff], 10), undefined],
    [
      'produce whose batches is an array32 of 4 billion',
      () => produceWithBomb(5, 'batches', u8(0xdd, 0xff, 0xff, 0xff, 0xff)),
      5,
    ],
    [
      'produce whose records is an array32 of 2 billion',
      () => produceWithBomb(6, 'records', u8(0xdd, 0x7f, 0xff, 0xff, 0xff)),
      6,
    ],
    [
      'str32 topic whose length runs past the end',
      () => produceWithBomb(7, 'topic', u8(0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61, 0x62)),
      7,
    ],
    [
      'bin32 value whose length runs past the end',
      () => produceWithBomb(8, 'value', u8(0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00)),
      8,
    ],
    [
      'ext32 whose length runs past the end',
      () => produceWithBomb(9, 'value', u8(0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01)),
      9,
    ],
    ['map16 header declaring 65,535 headers entries', () => produceWithBomb(10, 'headers', u8(0xde, 0xff, 0xff)), 10],
    ['depth bomb: 60,000 nested arrays', () => repeat([0x91], 60_000, [0xc0]), undefined],
    ['depth bomb: 20,000 nested maps', () => repeat([0x81, 0xa1, 0x61], 20_000, [0xc0]), undefined],
    [
      'depth bomb inside the record headers (20,000 deep)',
      () => produceWithBomb(11, 'headers', repeat([0x91], 20_000, [0xc0])),
      11,
    ],
    [
      'a map of 10,000 integer keys',
      () => cat(u8(0xde, 0x27, 0x10), repeat([0xcd, 0x01, 0x02, 0xc0], 10_000)),
      undefined,
    ],
    ['a timestamp extension as the record timestamp', () => produceWithBomb(12, 'ts', u8(0xd6, 0xff, 0, 0, 0, 0)), 12],
    [
      'the reserved byte 0xc1 inside a frame',
      () => frameWith({ t: 'metadata', id: 13, topics: '__BOMB__' }, u8(0xc1)),
      13,
    ],
  ]
  it.each(bombs)('bomb: %s → MALFORMED', (_n, make, id) => expectRefused(make(), 'MALFORMED', id))

  const malformed: Array<{ name: string; code: string; id: number | undefined; make: () => unknown }> = [
    { name: 'junk bytes', code: 'MALFORMED', id: undefined, make: () => u8(0xc1, 0xc1, 0xc1) },
    { name: 'an empty binary frame', code: 'MALFORMED', id: undefined, make: () => new Uint8Array(0) },
    { name: 'a text frame', code: 'MALFORMED', id: undefined, make: () => 'not binary' },
    { name: 'a MessagePack array', code: 'MALFORMED', id: undefined, make: () => pack([1, 2]) },
    { name: 'a MessagePack nil', code: 'MALFORMED', id: undefined, make: () => u8(0xc0) },
    { name: 'a map without t', code: 'MALFORMED', id: undefined, make: () => pack({ id: 20 }) },
    { name: 'a map whose t is a number', code: 'MALFORMED', id: undefined, make: () => pack({ t: 5, id: 21 }) },
    {
      name: 'a valid frame with a trailing byte',
      code: 'MALFORMED',
      id: undefined,
      make: () => cat(pack({ t: 'metadata', id: 22, topics: [topic] }), u8(0xc0)),
    },
    {
      name: 'a truncated produce frame',
      code: 'MALFORMED',
      id: undefined,
      make: () => pack(produceFrame(23, [validBatch()])).subarray(0, 30),
    },
    { name: 'an unknown frame type', code: 'UNSUPPORTED', id: 24, make: () => pack({ t: 'subscribe', id: 24 }) },
    {
      name: 'produce without an id',
      code: 'MALFORMED',
      id: undefined,
      make: () => pack({ ...produceFrame(0, [validBatch()]), id: undefined }),
    },
    {
      name: 'produce whose id is a string',
      code: 'MALFORMED',
      id: undefined,
      make: () => pack({ ...produceFrame(0, [validBatch()]), id: '25' }),
    },
    {
      name: 'produce whose id is NaN',
      code: 'MALFORMED',
      id: undefined,
      make: () => pack({ ...produceFrame(0, [validBatch()]), id: NaN }),
    },
    { name: 'produce with an empty batch list', code: 'MALFORMED', id: 26, make: () => pack(produceFrame(26, [])) },
    {
      name: 'produce with a batch without records',
      code: 'MALFORMED',
      id: 27,
      make: () => pack(produceFrame(27, [{ topic, batchId: uniqueId(), records: [] }])),
    },
    {
      name: 'a record whose key is a string',
      code: 'MALFORMED',
      id: 28,
      make: () =>
        pack(produceFrame(28, [{ topic, batchId: uniqueId(), records: [[Date.now(), 'k' as never, null, []]] }])),
    },
    {
      name: 'a record of 3 fields',
      code: 'MALFORMED',
      id: 29,
      make: () =>
        pack(produceFrame(29, [{ topic, batchId: uniqueId(), records: [[Date.now(), null, null] as never] }])),
    },
    {
      name: 'a negative record timestamp',
      code: 'MALFORMED',
      id: 30,
      make: () => pack(produceFrame(30, [{ topic, batchId: uniqueId(), records: [rec('x', { ts: -5 })] }])),
    },
    {
      name: 'a header that is not a [name, value] pair',
      code: 'MALFORMED',
      id: 31,
      make: () =>
        pack(produceFrame(31, [{ topic, batchId: uniqueId(), records: [rec('x', { headers: [['only'] as never] })] }])),
    },
    {
      name: 'the same batch id twice in one frame',
      code: 'MALFORMED',
      id: 32,
      make: () => {
        const b = validBatch()
        return pack(produceFrame(32, [b, { ...b }]))
      },
    },
    {
      name: 'a 129-character batch id',
      code: 'MALFORMED',
      id: 33,
      make: () => pack(produceFrame(33, [{ ...validBatch(), batchId: 'b'.repeat(129) }])),
    },
    {
      name: 'an empty batch id',
      code: 'MALFORMED',
      id: 34,
      make: () => pack(produceFrame(34, [{ ...validBatch(), batchId: '' }])),
    },
    {
      name: 'partition -1',
      code: 'MALFORMED',
      id: 35,
      make: () => pack(produceFrame(35, [{ ...validBatch(), partition: -1 }])),
    },
    {
      name: 'partition 0.5',
      code: 'MALFORMED',
      id: 36,
      make: () => pack(produceFrame(36, [{ ...validBatch(), partition: 0.5 }])),
    },
    { name: 'acks 2', code: 'MALFORMED', id: 37, make: () => pack(produceFrame(37, [validBatch()], { acks: 2 })) },
    {
      name: 'metadata whose topics is a string',
      code: 'MALFORMED',
      id: 38,
      make: () => pack({ t: 'metadata', id: 38, topics: topic }),
    },
    {
      name: 'metadata with an empty topic name',
      code: 'MALFORMED',
      id: 39,
      make: () => pack({ t: 'metadata', id: 39, topics: [''] }),
    },
  ]
  it.each(malformed)('$name → $code', ({ make, code, id }) => expectRefused(make(), code, id))

  it('a frame with a __proto__ key pollutes nothing: refused or answered normally, and the connection keeps working', async () => {
    const frame = JSON.parse(
      `{"t":"metadata","id":40,"topics":["${topic}"],"__proto__":{"t":"produce","polluted":true}}`,
    )
    c.send(pack(frame))
    const f = await c.next((x) => x.id === 40 || x.t === 'error', 5000)
    expect(f.t === 'metadata' || (f.t === 'error' && f.code === 'MALFORMED'), JSON.stringify(f)).toBe(true)
    c.send({ t: 'metadata', id: 41, topics: [topic] })
    expect((await c.answer(41)).t).toBe('metadata')
  })

  it('a 100 kB frame with t and id first → FRAME_TOO_LARGE carrying its id', async () => {
    await expectRefused(pack({ t: 'produce', id: 50, pad: 'x'.repeat(100_000) }), 'FRAME_TOO_LARGE', 50)
  })

  it('a 100 kB frame whose id is not among the leading entries → FRAME_TOO_LARGE', async () => {
    await expectRefused(pack({ pad: 'x'.repeat(100_000), t: 'produce', id: 51 }), 'FRAME_TOO_LARGE')
  })

  it('a frame just under the hard cap (maxFrameBytes + max(64 KiB, maxFrameBytes/4)) → FRAME_TOO_LARGE with its id, the connection lives on', async () => {
    const own = await authed(gw, token) // its own connection: a gateway closing it must not take the shared one along
    try {
      const frame = pack({ t: 'produce', id: 52, pad: 'x'.repeat(HARD_CAP - 64) })
      expect(frame.length).toBeGreaterThan(MAX_FRAME)
      expect(frame.length).toBeLessThanOrEqual(HARD_CAP)
      own.send(frame)
      const f = await own.next((x) => x.t === 'error', 5000)
      expect(f).toMatchObject({ code: 'FRAME_TOO_LARGE', id: 52 })
      own.send({ t: 'metadata', id: 53, topics: [topic] })
      expect((await own.answer(53, 5000)).t).toBe('metadata')
    } finally {
      own.close()
    }
  })

  it('2,000 junk frames in a burst → 2,000 MALFORMED answers, then the connection still works', async () => {
    const before = c.all.length
    for (let i = 0; i < 2000; i++) c.send(u8(0xc1, i & 0xff))
    c.send({ t: 'metadata', id: 60, topics: [topic] })
    expect((await c.answer(60, 15_000)).t).toBe('metadata')
    const answers = c.all.slice(before).filter((f) => f.t === 'error')
    expect(answers).toHaveLength(2000)
    expect(answers.every((f) => f.code === 'MALFORMED' && f.fatal !== true)).toBe(true)
    c.frames.length = 0
  })

  it('20,000 two-byte junk frames in one TCP write (160 kB) are answered without stalling the gateway for 1 s', async () => {
    const before = gw.lag().worstMs
    expect(before, 'a stall over 1 s happened before this test').toBeLessThan(1000)
    const n = 20_000
    const burst = Buffer.concat(Array.from({ length: n }, (_, i) => wsFrame(0x2, u8(0xc1, i & 0xff))))
    const seen = c.all.length
    const t0 = Date.now()
    ;(c.ws as unknown as { _socket: { write(b: Uint8Array): void } })._socket.write(burst)
    c.send({ t: 'metadata', id: 62, topics: [topic] })
    expect((await c.answer(62, 30_000)).t).toBe('metadata')
    const took = Date.now() - t0
    expect(c.all.slice(seen).filter((f) => f.t === 'error' && f.code === 'MALFORMED')).toHaveLength(n)
    c.frames.length = 0
    await sleep(200)
    const worst = gw.lag().worstMs
    expect(
      worst,
      `worst /healthz latency during the burst: ${worst} ms (the burst took ${took} ms to answer)`,
    ).toBeLessThan(1000)
  })

  it('a frame one byte over the hard cap closes that connection only (1009)', async () => {
    const big = await authed(gw, token)
    big.send(new Uint8Array(HARD_CAP + 1))
    const closed = await big.waitClosed(5000)
    expect(closed.code).toBe(1009)
    c.send({ t: 'metadata', id: 61, topics: [topic] })
    expect((await c.answer(61)).t).toBe('metadata')
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'frames'))
})

describe('Kafka and answers', () => {
  it('the topic holds exactly the accepted records (no refused frame reached Kafka)', async () => {
    await sleep(200)
    await expectTopicHolds(bootstrap, topic, accepted.get(topic))
  })
  it('no answer carried a broker address, a stack trace or a token', () => {
    expectNoLeaks()
    gw.assertAlive()
  })
})
