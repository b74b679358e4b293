/// <reference types="node" />
// Hostile clients, part 3: connections. Floods of token-less sockets (per-address and global budgets, while a client
// with a valid token and another loopback address still get in), slow writers (slow-loris headers and bodies),
// clients that ignore or fake heartbeats, a client that never reads, and unparsable upgrade targets over raw TCP
// (these come last: the old gateway died on them).
import type net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createTopic, uniqueTopic } from '../../helpers/kafka-tools.js'
import {
  Accepted,
  FrameClient,
  assertHealthy,
  authed,
  expectNoLeaks,
  expectTopicHolds,
  expectUpgradeStatus,
  finishChildren,
  kafkaBootstrap,
  mintToken,
  pack,
  rawExchange,
  sleep,
  startChildGateway,
  statusOf,
  trickle,
  upgradeRequest,
  wsFrame,
  type ChildGateway,
} from './harness.js'

const bootstrap = kafkaBootstrap()
const HEARTBEAT_MS = 500
const HELLO_TIMEOUT_MS = 2000
const HTTP_TIMEOUT_MS = 1500
const PER_ADDRESS = 4
const UNAUTH_TOTAL = 6
const topic = uniqueTopic('hostile-floods')
const accepted = new Accepted()
let gw: ChildGateway
let token: string

beforeAll(async () => {
  await createTopic(bootstrap, topic, 1)
  gw = await startChildGateway({
    heartbeatMs: HEARTBEAT_MS,
    helloTimeoutMs: HELLO_TIMEOUT_MS,
    httpTimeoutMs: HTTP_TIMEOUT_MS,
    maxUnauthenticated: UNAUTH_TOTAL,
    maxUnauthenticatedPerAddress: PER_ADDRESS,
    maxBufferedBytes: 256 * 1024,
    limits: { metadataTopicsPerSecond: 10_000_000 },
  })
  token = mintToken({ topics: [topic], sub: 'floods' })
})
afterAll(() => finishChildren('floods.test.ts', [['gateway', gw]]))

// ---------------------------------------------------------------------------------------------------------------

describe('connection floods: token-less sockets have a budget, valid clients still get in', () => {
  const held: FrameClient[] = []
  const release = async () => {
    for (const c of held.splice(0)) c.close()
    await sleep(150)
  }
  /** Hold `n` token-less sockets from `localAddress` (each must open). */
  const hold = async (n: number, localAddress: string) => {
    for (let i = 0; i < n; i++) held.push(await FrameClient.open(gw, { localAddress }))
  }
  afterAll(release)

  it(`${PER_ADDRESS} token-less sockets from 127.0.0.1 open; the next one gets HTTP 503`, async () => {
    await release()
    await hold(PER_ADDRESS, '127.0.0.1')
    await expectUpgradeStatus(FrameClient.open(gw, { localAddress: '127.0.0.1' }), 503)
  })

  it('while 127.0.0.1 has used its budget, a client with a valid ?token= from 127.0.0.1 still connects (welcome, no hello)', async () => {
    await release()
    await hold(PER_ADDRESS, '127.0.0.1')
    const c = await FrameClient.open(gw, { localAddress: '127.0.0.1', token })
    expect((await c.next(() => true, 3000)).t).toBe('welcome')
    c.close()
  })

  it('…and so does one with the token as subprotocol', async () => {
    await release()
    await hold(PER_ADDRESS, '127.0.0.1')
    const c = await FrameClient.open(gw, { localAddress: '127.0.0.1', subprotocolToken: token })
    expect((await c.next(() => true, 3000)).t).toBe('welcome')
    c.close()
  })

  it('while 127.0.0.1 has used its budget, a token-less client from 127.0.0.2 still gets in and authenticates', async () => {
    await release()
    await hold(PER_ADDRESS, '127.0.0.1')
    const c = await FrameClient.open(gw, { localAddress: '127.0.0.2' })
    expect((await c.hello(token)).t).toBe('welcome')
    c.close()
  })

  it(`the global budget (${UNAUTH_TOTAL}) holds across addresses: 127.0.0.2 gets ${UNAUTH_TOTAL - PER_ADDRESS}, then 503 (and 127.0.0.3 too)`, async () => {
    await release()
    await hold(PER_ADDRESS, '127.0.0.1')
    await hold(UNAUTH_TOTAL - PER_ADDRESS, '127.0.0.2')
    await expectUpgradeStatus(FrameClient.open(gw, { localAddress: '127.0.0.2' }), 503)
    await expectUpgradeStatus(FrameClient.open(gw, { localAddress: '127.0.0.3' }), 503)
  })

  it('a forged ?token= while the budget is used up is refused at the upgrade (401 or 503), never opened', async () => {
    await release()
    await hold(PER_ADDRESS, '127.0.0.1')
    const forged = mintToken({ topics: ['*'] }, { secret: 'not-the-secret-0123456789' })
    let status = 0
    try {
      const c = await FrameClient.open(gw, { localAddress: '127.0.0.1', token: forged })
      c.close()
    } catch (err) {
      status = (err as { status?: number }).status ?? -1
    }
    expect([401, 503]).toContain(status)
  })

  it('token-less sockets that never say hello are closed at helloTimeoutMs, which frees the budget', async () => {
    await release()
    await hold(PER_ADDRESS, '127.0.0.1')
    const t0 = Date.now()
    await Promise.all(held.map((c) => c.waitClosed(HELLO_TIMEOUT_MS + 3000)))
    expect(Date.now() - t0).toBeLessThan(HELLO_TIMEOUT_MS + 2500)
    expect(held.every((c) => c.closed?.code === 4401)).toBe(true)
    await sleep(100)
    const c = await FrameClient.open(gw, { localAddress: '127.0.0.1' })
    expect((await c.hello(token)).t).toBe('welcome')
    c.close()
  })

  it('a burst of 100 token-less upgrades from one address: at most the budget opens, the rest get 503', async () => {
    await release()
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () => FrameClient.open(gw, { localAddress: '127.0.0.1' })),
    )
    const opened = results
      .filter((r): r is PromiseFulfilledResult<FrameClient> => r.status === 'fulfilled')
      .map((r) => r.value)
    held.push(...opened)
    const statuses = results
      .filter((r) => r.status === 'rejected')
      .map((r) => (r as PromiseRejectedResult).reason?.status ?? -1)
    expect(opened.length).toBeLessThanOrEqual(PER_ADDRESS)
    expect(
      statuses.every((s) => s === 503),
      JSON.stringify(statuses.slice(0, 10)),
    ).toBe(true)
    await release()
  })

  it('a well-behaved client still produces and gets acks', async () => {
    await release()
    await assertHealthy(gw, topic, accepted, 'floods')
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe('slow writers, fake heartbeats, and a client that never reads', () => {
  // The slow-loris and heartbeat cases run at the same time (each on connections of its own, each timed from its own
  // connect): they only wait for the gateway's timers, one after another they add up.
  const LORIS_BOUND_MS = HTTP_TIMEOUT_MS + 2000

  it.concurrent('slow-loris headers (one byte every 100 ms) are cut off by httpTimeoutMs', async ({ expect }) => {
    const parts = ['GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', ...'abcdefghijklmnopqrstuvwxyz'.repeat(4).split('')]
    const r = await trickle(gw, parts, 100, LORIS_BOUND_MS + 3000)
    expect(r.closedAfterMs, `still open after ${LORIS_BOUND_MS + 3000} ms`).not.toBeNull()
    expect(r.closedAfterMs!).toBeLessThan(LORIS_BOUND_MS)
  })

  it.concurrent('a slow-loris body on POST /v1/produce is cut off by httpTimeoutMs (408 or closed)', async ({
    expect,
  }) => {
    const head = `POST /v1/produce HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/vnd.msgpack\r\nContent-Length: 100000\r\n\r\n`
    const r = await trickle(gw, [head, ...Array.from({ length: 80 }, () => 'x'.repeat(10))], 100, LORIS_BOUND_MS + 3000)
    expect(r.closedAfterMs, `still open after ${LORIS_BOUND_MS + 3000} ms`).not.toBeNull()
    expect(r.closedAfterMs!).toBeLessThan(LORIS_BOUND_MS)
    const status = statusOf(r.text)
    if (status !== null) expect(status).toBe(408)
  })

  it.concurrent('a slow-loris WebSocket upgrade request is cut off by httpTimeoutMs', async ({ expect }) => {
    const req = upgradeRequest('/v1/ws').replace(/\r\n\r\n$/, '\r\n')
    const parts = [req.slice(0, 40), ...req.slice(40).split(''), ...Array.from({ length: 60 }, () => 'X')]
    const r = await trickle(gw, parts, 100, LORIS_BOUND_MS + 3000)
    expect(r.closedAfterMs).not.toBeNull()
    expect(r.closedAfterMs!).toBeLessThan(LORIS_BOUND_MS)
  })

  it.concurrent('40 slow-loris connections at once: all cut off, a well-behaved client produces meanwhile', async ({
    expect,
  }) => {
    const parts = ['GET /healthz HTTP/1.1\r\nHost: x\r\n', ...Array.from({ length: 60 }, (_, i) => `X-${i}: y\r\n`)]
    const lorises = Array.from({ length: 40 }, () => trickle(gw, parts, 100, LORIS_BOUND_MS + 3000))
    await sleep(300)
    await assertHealthy(gw, topic, accepted, 'loris')
    const done = await Promise.all(lorises)
    expect(done.filter((r) => r.closedAfterMs === null || r.closedAfterMs >= LORIS_BOUND_MS)).toEqual([])
  })

  const PONG_BOUND_MS = 3 * HEARTBEAT_MS + 1000

  it.concurrent('a raw-TCP WebSocket (valid ?token=) that never answers pings and trickles a frame is terminated within ~3 heartbeats', async ({
    expect,
  }) => {
    const header = wsFrame(0x2, new Uint8Array(0), { declaredLength: 1000 }).subarray(0, 8) // length header + mask only
    const parts = [
      upgradeRequest(`/v1/ws?token=${token}`),
      header,
      ...Array.from({ length: 100 }, () => Uint8Array.of(0x42)),
    ]
    const r = await trickle(gw, parts, 100, PONG_BOUND_MS + 4000)
    expect(statusOf(r.text)).toBe(101)
    expect(r.closedAfterMs, `still open after ${PONG_BOUND_MS + 4000} ms`).not.toBeNull()
    expect(r.closedAfterMs!).toBeLessThan(PONG_BOUND_MS + 300)
  })

  const openNoAutoPong = async () => {
    const c = await FrameClient.open(gw, { token, autoPong: false })
    expect((await c.next(() => true, 3000)).t).toBe('welcome')
    return c
  }

  it.concurrent('a client that sends unsolicited pongs (empty payload) every 100 ms but never answers the pings is terminated within ~3 heartbeats', async ({
    expect,
  }) => {
    const c = await openNoAutoPong()
    const t0 = Date.now()
    const timer = setInterval(() => c.ws.readyState === WebSocket.OPEN && c.ws.pong(), 100)
    try {
      await c.waitClosed(PONG_BOUND_MS + 3000)
    } finally {
      clearInterval(timer)
    }
    expect(Date.now() - t0).toBeLessThan(PONG_BOUND_MS)
  })

  it.concurrent('a client that never answers pings is terminated within ~3 heartbeats', async ({ expect }) => {
    const c = await openNoAutoPong()
    const t0 = Date.now()
    await c.waitClosed(PONG_BOUND_MS + 3000)
    expect(Date.now() - t0).toBeLessThan(PONG_BOUND_MS)
  })

  it.concurrent('a client answering pings stays connected for 4 heartbeats and still gets acks (control)', async ({
    expect,
  }) => {
    const c = await authed(gw, token)
    await sleep(4 * HEARTBEAT_MS)
    expect(c.closed).toBeNull()
    c.close()
    await assertHealthy(gw, topic, accepted, 'pongs')
  })

  it('a client that never reads (socket paused) while sending 100 kB requests: the gateway stops reading it, RSS stays bounded, and it is dropped', async () => {
    const reader = mintToken({ topics: ['fuzz-*'], sub: 'never-reads' })
    const c = await FrameClient.open(gw, { token: reader })
    await c.next((f) => f.t === 'welcome', 3000)
    const sock = (c.ws as unknown as { _socket: net.Socket })._socket
    sock.pause()
    // topics the token may not use: each answer repeats every name (answers at least as large as requests)
    const frame = pack({
      t: 'metadata',
      id: 1,
      topics: Array.from({ length: 500 }, (_, i) => `zz-${'q'.repeat(190)}-${i}`),
    })
    const rss0 = gw.rssMb()
    const HIGH = 4 << 20
    const LIMIT = 64 << 20
    let sent = 0
    let stalled = false
    let dropped = false
    while (sent < LIMIT) {
      if (c.ws.readyState !== WebSocket.OPEN) {
        dropped = true
        break
      }
      c.ws.send(frame)
      sent += frame.length
      if (c.ws.bufferedAmount > HIGH) {
        const t0 = Date.now()
        while (c.ws.bufferedAmount > HIGH && c.ws.readyState === WebSocket.OPEN && Date.now() - t0 < 1500)
          await sleep(25)
        if (c.ws.readyState !== WebSocket.OPEN) {
          dropped = true
          break
        }
        if (c.ws.bufferedAmount > HIGH) {
          stalled = true
          break
        }
      }
      if ((sent / frame.length) % 20 === 0) await sleep(0)
    }
    const grownMb = gw.rssPeakMb() - rss0
    expect(
      stalled || dropped,
      `the gateway kept reading: ${(sent / 1048576).toFixed(0)} MB sent, none of it answered being read`,
    ).toBe(true)
    expect(grownMb, `RSS grew by ${grownMb.toFixed(0)} MB`).toBeLessThan(150)
    // a queue that does not shrink for a heartbeat period gets the connection terminated
    await sleep(3 * HEARTBEAT_MS)
    sock.resume()
    await c.waitClosed(8000)
    c.close()
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'slow'))
})

// ---------------------------------------------------------------------------------------------------------------

describe('upgrade targets over raw TCP', () => {
  const exchange = async (text: string) => {
    const r = await rawExchange(gw, text, { timeoutMs: 3000, until: (t) => t.includes('\r\n\r\n') })
    return statusOf(r.text)
  }

  it('an unknown path → 404', async () => {
    expect(await exchange(upgradeRequest(`/v1/wsx?token=${token}`))).toBe(404)
  })

  it('an encoded slash after the path → 404', async () => {
    expect(await exchange(upgradeRequest('/v1/ws%2f..'))).toBe(404)
  })

  it.each([
    ['GET //a:99999/v1/ws (upgrade)', upgradeRequest('//a:99999/v1/ws')],
    ['GET http://[/v1/ws (upgrade)', upgradeRequest('http://[/v1/ws')],
    ['GET //a:99999/healthz (plain HTTP)', 'GET //a:99999/healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['GET http://[/healthz (plain HTTP)', 'GET http://[/healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
  ])('unparsable request target %s → HTTP 400 and the process stays up', async (_name, request) => {
    const status = await exchange(request)
    await sleep(100)
    gw.assertAlive()
    expect(status).toBe(400)
  })

  it('a well-behaved client still produces and gets acks', () => assertHealthy(gw, topic, accepted, 'targets'))
})

describe('Kafka and answers', () => {
  it('the topic holds exactly the accepted records', async () => {
    await expectTopicHolds(bootstrap, topic, accepted.get(topic))
  })
  it('no answer carried a broker address, a stack trace or a token', () => {
    expectNoLeaks()
    gw.assertAlive()
  })
})
