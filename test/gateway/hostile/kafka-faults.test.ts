/// <reference types="node" />
// Kafka slow or down while the gateway is under attack. The Kafka side is isokafka's fake cluster (FakeCluster +
// serveFakeCluster, from the BUILT dist/testing.js and dist/testing-node.js) on a real TCP port in a child process of
// its own (./fake-kafka-child.mjs), steered over stdin: Produce responses delayed, the cluster stopped and started.
// The gateway is a child process too (./harness.ts).
//
//   npx vitest run -c vitest.gateway.config.ts test/gateway/hostile/kafka-faults.test.ts
//   (ISOKAFKA_TESTING_DIR=<dir with testing.js, testing-node.js> when dist/ is not built; no real broker is used)
//
// Cases:
// - Kafka slow (Produce held 3 s) under a flood, maxPendingBytes 256 KiB, heartbeatMs 500: the gateway pauses
//   reading (isokafka_gateway_backpressure_paused 1, isokafka_gateway_pauses_total > 0), its pending bytes and RSS stay
//   bounded, nobody is dropped for a missing pong while paused, and once Kafka is fast again every batch is acked and
//   the cluster holds exactly those records.
// - Kafka down: answers come with error codes, /readyz 503 while /healthz stays 200, no answer (ack messages, error
//   frames, /v1/produce, REST v3/v2 bodies) names the broker's host:port, carries a stack or "ECONNREFUSED"; when Kafka
//   is back the gateway is ready and produces again.
// - Under attack while Kafka is slow: junk and oversized frames from other connections do not delay a well-behaved
//   client's acks beyond Kafka's own delay + 1 s.
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { decode } from '@msgpack/msgpack'
import {
  FrameClient,
  authed,
  finishChildren,
  httpRequest,
  knownTokens,
  metricValue,
  mintToken,
  pack,
  produceFrame,
  sleep,
  startChildGateway,
  stringsOf,
  type ChildGateway,
  type Frame,
  type WireRecord,
} from './harness.js'
import { FrameFactory, brokerNames, leakIn, recipeArb, type FuzzFrame } from './fuzz-frames.js'

const FILE = 'kafka-faults.test.ts'
const CLUSTER_ID = 'fake-gateway-cluster'
const TOPICS = { slow: 3, down: 2, attack: 1 }

// ---------------------------------------------------------------------------------------------------------------
// the fake cluster child

interface FakeKafka {
  bootstrap: string
  pid: number
  cmd(line: string): Promise<Record<string, any>>
  stop(): Promise<void>
}

async function startFakeKafka(config: Record<string, unknown>): Promise<FakeKafka> {
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(import.meta.dirname, 'fake-kafka-child.mjs'), JSON.stringify(config)],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  let err = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)))
  const lines = createInterface({ input: child.stdout! })
  const queue: Array<(v: Record<string, any>) => void> = []
  let ready: ((v: Record<string, any>) => void) | null = null
  lines.on('line', (line) => {
    let v: Record<string, any>
    try {
      v = JSON.parse(line)
    } catch {
      return
    }
    if (v.event === 'ready' && ready) ready(v)
    else queue.shift()?.(v)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const hello = await Promise.race([
    new Promise<Record<string, any>>((resolve) => (ready = resolve)),
    exited.then(() => Promise.reject(new Error(`the fake Kafka child exited: ${err}`))),
    sleep(20_000).then(() => Promise.reject(new Error(`the fake Kafka child did not start: ${err}`))),
  ])
  let chain = Promise.resolve()
  const fake: FakeKafka = {
    bootstrap: hello.bootstrap,
    pid: child.pid!,
    cmd(line) {
      const p = chain.then(() =>
        Promise.race([
          new Promise<Record<string, any>>((resolve) => {
            queue.push(resolve)
            child.stdin!.write(`${line}\n`)
          }),
          exited.then(() => Promise.reject(new Error(`the fake Kafka child exited: ${err}`))),
          sleep(10_000).then(() => Promise.reject(new Error(`the fake Kafka child did not answer ${line}`))),
        ]),
      )
      chain = p.then(
        () => undefined,
        () => undefined,
      )
      return p.then((v) => {
        if (!v.ok) throw new Error(`fake Kafka: ${line}: ${v.error}`)
        return v
      })
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.stdin!.end()
      const t = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(t)
    },
  }
  return fake
}

// ---------------------------------------------------------------------------------------------------------------

let fake: FakeKafka | undefined
let gwSlow: ChildGateway | undefined
let gwDown: ChildGateway | undefined
let gwNever: ChildGateway | undefined
const MAX_PENDING = 256 << 10
const HEARTBEAT_MS = 500
const SLOW_FRAME_BYTES = 256 << 10

beforeAll(async () => {
  fake = await startFakeKafka({ brokers: 1, topics: TOPICS, clusterId: CLUSTER_ID })
  gwSlow = await startChildGateway({
    bootstrap: fake.bootstrap,
    maxPendingBytes: MAX_PENDING,
    heartbeatMs: HEARTBEAT_MS,
    limits: { maxFrameBytes: SLOW_FRAME_BYTES },
  })
})

afterAll(async () => {
  try {
    const more: Array<[string, ChildGateway]> = []
    if (gwDown) more.push(['kafka-down', gwDown])
    if (gwNever) more.push(['kafka-never', gwNever])
    await finishChildren(FILE, [['kafka-slow', gwSlow], ...more])
  } finally {
    await fake?.stop()
  }
})

/** `paused`: isokafka_gateway_backpressure_paused (or the old JSON metrics' `paused`). */
async function pressure(
  gw: ChildGateway,
): Promise<{ paused: number | undefined; pauses: number | undefined; pending: number | undefined }> {
  const text = await gw.metrics()
  let paused = metricValue(text, 'isokafka_gateway_backpressure_paused')
  if (paused === undefined && text.trimStart().startsWith('{')) {
    try {
      paused = JSON.parse(text).paused ? 1 : 0
    } catch {
      /* neither format */
    }
  }
  return {
    paused,
    pauses: metricValue(text, 'isokafka_gateway_pauses_total'),
    pending: metricValue(text, 'isokafka_gateway_pending_bytes'),
  }
}

const utf8 = new TextEncoder()
const rec = (value: string): WireRecord => [Date.now(), null, utf8.encode(value), []]

describe('Kafka slow or down', () => {
  it('Kafka slow under a flood: the gateway pauses reading, stays bounded, drops nobody for a pong, acks everything later', async () => {
    const gw = gwSlow!
    const f = fake!
    const token = mintToken({ topics: ['slow'], sub: 'slow-flood' })
    // warm up (metadata, producer id) while Kafka is fast
    const warm = await authed(gw, token)
    warm.send(produceFrame(1, [{ topic: 'slow', batchId: `slow-warm-${Date.now()}`, records: [rec('slow-warm')] }]))
    const warmAck = await warm.answer(1, 15_000)
    expect(warmAck.results?.[0]?.errorCode, JSON.stringify(warmAck)).toBe(0)
    const expected = ['slow-warm']

    const CLIENTS = 4
    const FRAMES_EACH = 20
    const WINDOW = 16
    const RECORDS = 16
    const PAD = 'x'.repeat(4000) // 16 records × 4 KB: 64 KiB of record bytes per frame
    const clients = [warm, ...(await Promise.all(Array.from({ length: CLIENTS - 1 }, () => authed(gw, token))))]
    const idle = await Promise.all([authed(gw, token), authed(gw, mintToken({ topics: ['slow'], sub: 'slow-idle' }))])
    const t0 = Date.now()

    await f.cmd('delay-produce 3000')
    const acks: Frame[] = []
    const flood = clients.map(async (c, ci) => {
      let sent = 0
      let answered = 0
      while (answered < FRAMES_EACH) {
        while (sent < FRAMES_EACH && sent - answered < WINDOW) {
          sent++
          const values = Array.from({ length: RECORDS }, (_, r) => `slow-${ci}-${sent}-${r}`)
          expected.push(...values)
          c.send(
            produceFrame(
              100 + sent,
              [
                {
                  topic: 'slow',
                  partition: (ci + sent) % 3,
                  batchId: `slow-${t0}-${ci}-${sent}`,
                  records: values.map((v) => rec(`${v}|${PAD}`)),
                },
              ],
              { timeoutMs: 60_000 },
            ),
          )
        }
        const a = await c.next(() => true, 45_000)
        answered++
        acks.push(a)
      }
    })
    // watch the gateway while Kafka is slow
    const seen = { paused: 0, pauses: 0, pendingPeak: 0, pausedAt: 0, pausedSamples: 0, samples: 0, longestPauseMs: 0 }
    const timeline: string[] = []
    let streakFrom = 0
    let watching = true
    const watcher = (async () => {
      while (watching) {
        const p = await pressure(gw).catch(() => null)
        if (p) {
          timeline.push(`${Date.now() - t0}:${p.paused}/${p.pauses}/${Math.round((p.pending ?? 0) / 1024)}`)
          if (p.paused === 1) {
            if (!streakFrom) streakFrom = Date.now()
            seen.longestPauseMs = Math.max(seen.longestPauseMs, Date.now() - streakFrom)
          } else streakFrom = 0
          seen.samples++
          if (p.paused === 1) {
            seen.pausedSamples++
            if (!seen.pausedAt) seen.pausedAt = Date.now()
          }
          seen.paused = Math.max(seen.paused, p.paused ?? 0)
          seen.pauses = Math.max(seen.pauses, p.pauses ?? 0)
          seen.pendingPeak = Math.max(seen.pendingPeak, p.pending ?? 0)
        }
        await sleep(50)
      }
    })()
    // stay slow until the gateway has been paused for 4 heartbeat periods (at most 8 s in all), then speed up
    const slowUntil = t0 + 8000
    while (Date.now() < slowUntil && seen.longestPauseMs < 4 * HEARTBEAT_MS) await sleep(50)
    await f.cmd('delay-produce 0')
    const spedUpAt = Date.now()
    await Promise.all(flood)
    const allAckedAt = Date.now()
    watching = false
    await watcher

    const closed = [...clients, ...idle]
      .map((c, i) => (c.closed ? `connection ${i}: closed ${c.closed.code} ${c.closed.reason}` : null))
      .filter(Boolean)
    const bad = acks.filter((a) => a.t !== 'ack' || !a.results?.every((r: Frame) => r.errorCode === 0))
    const stored = await f.cmd('values slow')
    const storedValues = (stored.values as Array<string | null>).map((v) => String(v).split('|')[0]).sort()
    const rss = gw.rssPeakMb()
    if (process.env.KF_DEBUG) console.log(timeline.join(' '))
    console.log(
      `[kafka-faults] slow: ${CLIENTS}×${FRAMES_EACH} frames of ${RECORDS} records (64 KiB) with Kafka held 3 s; paused seen=${seen.paused} ` +
        `(${seen.pausedSamples}/${seen.samples} samples, from ${seen.pausedAt ? seen.pausedAt - t0 : -1} ms, longest unbroken ${seen.longestPauseMs} ms), pauses_total=${seen.pauses}, ` +
        `pending peak=${(seen.pendingPeak / 1024).toFixed(0)} KiB (max ${MAX_PENDING / 1024} KiB), sped up at ${spedUpAt - t0} ms, all acked at ${allAckedAt - t0} ms, ` +
        `closed=${closed.length}, not-ok answers=${bad.length}, stored=${storedValues.length}/${expected.length}, rss peak=${rss.toFixed(0)} MB`,
    )
    expect.soft(seen.paused, 'isokafka_gateway_backpressure_paused was never 1').toBe(1)
    expect.soft(seen.pauses, 'isokafka_gateway_pauses_total').toBeGreaterThan(0)
    // the case only means something when the gateway stayed paused for several heartbeat periods
    expect
      .soft(seen.longestPauseMs, `longest unbroken pause (ms); samples ${timeline.join(' ')}`)
      .toBeGreaterThanOrEqual(3 * HEARTBEAT_MS)
    expect.soft(closed, 'connections dropped while the gateway was paused').toEqual([])
    expect.soft(bad.slice(0, 3), 'answers that are not ack errorCode 0').toEqual([])
    expect.soft(acks.length).toBe(CLIENTS * FRAMES_EACH)
    // bounded: what the gateway holds for Kafka stays near maxPendingBytes (the clients had 4 MiB in flight)
    expect.soft(seen.pendingPeak, 'pending bytes peak').toBeLessThan(4 * MAX_PENDING)
    expect.soft(rss, 'peak RSS (MB)').toBeLessThan(512)
    expect.soft(storedValues, 'the cluster holds exactly the acked records').toEqual([...expected].sort())
    for (const c of [...clients, ...idle]) c.close()
  })

  // "Kafka down" and "Kafka never reachable" run at the same time: each has a gateway of its own (the second one's
  // Kafka is a closed port, not the fake cluster), and both mostly wait for the gateway's own lookup/produce timeouts.
  it.concurrent('Kafka down: error codes without broker addresses or stacks, /readyz 503 and /healthz 200, serving again when Kafka is back', async ({
    expect,
  }) => {
    const f = fake!
    gwDown = await startChildGateway({
      bootstrap: f.bootstrap,
      kafka: { connectTimeoutMs: 1000 },
      producer: {
        requestTimeoutMs: 2000,
        deliveryTimeoutMs: 4000,
        retryBackoffMs: 100,
        retryBackoffMaxMs: 500,
        maxBlockMs: 4000,
      },
    })
    const gw = gwDown
    const brokers = brokerNames(f.bootstrap)
    const token = mintToken({ topics: ['down', 'down-*'], sub: 'down' })
    const secrets = { brokers, tokens: [...knownTokens] }
    const problems: string[] = []
    const check = (where: string, v: unknown) => {
      for (const s of stringsOf(v)) {
        const leak = leakIn(s, secrets)
        if (leak) problems.push(`${where}: ${leak} in ${JSON.stringify(s.slice(0, 200))}`)
      }
    }

    // up: ready, produces
    const c = await authed(gw, token)
    c.send(produceFrame(1, [{ topic: 'down', batchId: `down-warm-${Date.now()}`, records: [rec('down-warm')] }]))
    expect((await c.answer(1, 15_000)).results?.[0]?.errorCode).toBe(0)
    let ready = await httpRequest(gw, 'GET', '/readyz')
    for (let i = 0; i < 50 && ready.status !== 200; i++)
      ready = (await sleep(100), await httpRequest(gw, 'GET', '/readyz'))
    expect.soft(ready.status, `/readyz with Kafka up: ${ready.text}`).toBe(200)
    // REST v3 learns the cluster id while Kafka is up, so its produce path (not only the cluster lookup) runs below
    const clusters = await httpRequest(gw, 'GET', '/v3/clusters', { headers: { Authorization: `Bearer ${token}` } })
    expect.soft(clusters.status, clusters.text).toBe(200)

    await f.cmd('stop')
    const downAt = Date.now()
    // WebSocket: a produce that times out at the gateway, one that waits for the producer's own failure, a metadata
    // lookup of a topic the gateway never saw
    c.send(
      produceFrame(2, [{ topic: 'down', batchId: `down-a-${downAt}`, records: [rec('down-a')] }], { timeoutMs: 2000 }),
    )
    c.send(
      produceFrame(3, [{ topic: 'down', partition: 1, batchId: `down-b-${downAt}`, records: [rec('down-b')] }], {
        timeoutMs: 20_000,
      }),
    )
    c.send({ t: 'metadata', id: 4, topics: ['down-never-seen'] })
    const wsAnswers = Promise.all(
      [2, 3, 4].map((id) =>
        c.answer(id, 25_000).catch((err: Error) => ({ t: 'missing', id, message: err.message }) as Frame),
      ),
    )
    // HTTP: the gateway's own produce endpoint, REST Proxy v3 and v2, sent while the WebSocket answers are pending
    // (each waits for its own failure, a lookup or producer timeout: one after another they only add up waits)
    const auth = { Authorization: `Bearer ${token}` }
    const v1p = httpRequest(gw, 'POST', '/v1/produce', {
      headers: { ...auth, 'Content-Type': 'application/vnd.msgpack' },
      body: pack(
        produceFrame(1, [{ topic: 'down', batchId: `down-http-${downAt}`, records: [rec('down-http')] }], {
          timeoutMs: 20_000,
        }),
      ),
      timeoutMs: 25_000,
    })
    const v3p = httpRequest(gw, 'POST', `/v3/clusters/${CLUSTER_ID}/topics/down/records`, {
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ value: { type: 'STRING', data: 'down-v3' } }),
      timeoutMs: 25_000,
    })
    const v2p = httpRequest(gw, 'POST', '/topics/down', {
      headers: { ...auth, 'Content-Type': 'application/vnd.kafka.binary.v2+json' },
      body: JSON.stringify({ records: [{ value: Buffer.from('down-v2').toString('base64') }] }),
      timeoutMs: 25_000,
    })
    const [answers, v1, v3, v2] = await Promise.all([wsAnswers, v1p, v3p, v2p])
    for (const a of answers) check(`WebSocket answer ${a.id}`, a)
    const [a2, a3, a4] = answers as [Frame, Frame, Frame]
    const failedWithCode = (a: Frame) =>
      a.t === 'ack'
        ? a.results?.every((r: Frame) => typeof r.errorCode === 'number' && r.errorCode !== 0)
        : a.t === 'error' && typeof a.code === 'string'
    expect.soft(failedWithCode(a2), `produce (timeoutMs 2000) while Kafka is down: ${JSON.stringify(a2)}`).toBe(true)
    expect.soft(failedWithCode(a3), `produce (timeoutMs 20000) while Kafka is down: ${JSON.stringify(a3)}`).toBe(true)
    expect
      .soft(
        a4.t === 'metadata' ? a4.topics?.[0]?.errorCode : a4.code,
        `metadata while Kafka is down: ${JSON.stringify(a4)}`,
      )
      .not.toBe(0)

    let v1Body: unknown = null
    try {
      v1Body = decode(v1.body)
    } catch {
      v1Body = v1.text
    }
    check('POST /v1/produce', v1Body)
    const v1Failed = v1.status !== 200 || (v1Body as Frame)?.results?.every((r: Frame) => r.errorCode !== 0)
    expect.soft(v1Failed, `/v1/produce while Kafka is down: ${v1.status} ${JSON.stringify(v1Body)}`).toBe(true)
    check('POST /v3/.../records', v3.text)
    // the cluster exists; Kafka is only unreachable: a retriable 5xx, not "Cluster not found"
    expect.soft(v3.status, `REST v3 produce while Kafka is down: ${v3.status} ${v3.text}`).toBeGreaterThanOrEqual(500)
    expect
      .soft(
        v3.status === 200 && /"error_code":\s*200/.test(v3.text),
        `REST v3 while Kafka is down: ${v3.status} ${v3.text}`,
      )
      .toBe(false)
    check('POST /topics/down (v2)', v2.text)

    // probes
    let readyDown = await httpRequest(gw, 'GET', '/readyz')
    while (readyDown.status !== 503 && Date.now() - downAt < 10_000)
      readyDown = (await sleep(100), await httpRequest(gw, 'GET', '/readyz'))
    check('GET /readyz', readyDown.text)
    const health = await Promise.all([0, 1, 2].map(() => httpRequest(gw, 'GET', '/healthz')))
    expect.soft(readyDown.status, `/readyz with Kafka down: ${readyDown.text}`).toBe(503)
    expect
      .soft(
        health.map((h) => h.status),
        `/healthz with Kafka down: ${health.map((h) => h.text).join(' ')}`,
      )
      .toEqual([200, 200, 200])
    expect.soft(Math.max(...health.map((h) => h.ms)), '/healthz latency with Kafka down (ms)').toBeLessThan(1000)
    gw.assertAlive()
    console.log(
      `[kafka-faults] down: produce(2 s)=${JSON.stringify(a2).slice(0, 240)} produce(20 s)=${JSON.stringify(a3).slice(0, 240)} metadata=${JSON.stringify(a4).slice(0, 200)} ` +
        `/v1/produce=${v1.status} ${JSON.stringify(v1Body).slice(0, 240)} v3=${v3.status} ${v3.text.slice(0, 200)} v2=${v2.status} ${v2.text.slice(0, 200)} ` +
        `/readyz=${readyDown.status} /healthz=${health.map((h) => `${h.status}/${h.ms}ms`).join(',')}`,
    )
    expect.soft(problems, problems.join('\n')).toEqual([])

    // Kafka back: ready again, produces again
    await f.cmd('start')
    const backAt = Date.now()
    let readyBack = await httpRequest(gw, 'GET', '/readyz')
    while (readyBack.status !== 200 && Date.now() - backAt < 15_000)
      readyBack = (await sleep(100), await httpRequest(gw, 'GET', '/readyz'))
    expect.soft(readyBack.status, `/readyz after Kafka came back: ${readyBack.text}`).toBe(200)
    let ok: Frame | null = null
    for (let i = 0; i < 10 && Date.now() - backAt < 25_000; i++) {
      c.send(
        produceFrame(10 + i, [{ topic: 'down', batchId: `down-back-${backAt}`, records: [rec('down-back')] }], {
          timeoutMs: 5000,
        }),
      )
      const a = await c.answer(10 + i, 10_000)
      if (a.t === 'ack' && a.results?.[0]?.errorCode === 0) {
        ok = a
        break
      }
      await sleep(500)
    }
    expect(ok, 'a produce after Kafka came back').not.toBeNull()
    expect(c.closed).toBeNull()
    c.close()
  })

  it.concurrent('Kafka never reachable (bootstrap to a closed port): error codes, no broker address, stack or ECONNREFUSED; /readyz 503, /healthz 200', async ({
    expect,
  }) => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer()
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port
        srv.close(() => resolve(p))
      })
    })
    const bootstrap = `127.0.0.1:${port}`
    gwNever = await startChildGateway({
      bootstrap,
      kafka: { connectTimeoutMs: 1000 },
      producer: {
        requestTimeoutMs: 2000,
        deliveryTimeoutMs: 4000,
        retryBackoffMs: 100,
        retryBackoffMaxMs: 500,
        maxBlockMs: 4000,
      },
    })
    const gw = gwNever
    const token = mintToken({ topics: ['never', 'never-*'], sub: 'never' })
    const secrets = { brokers: brokerNames(bootstrap), tokens: [...knownTokens] }
    const problems: string[] = []
    const check = (where: string, v: unknown) => {
      for (const s of stringsOf(v)) {
        const leak = leakIn(s, secrets)
        if (leak) problems.push(`${where}: ${leak} in ${JSON.stringify(s.slice(0, 200))}`)
      }
    }
    const auth = { Authorization: `Bearer ${token}` }
    const c = await authed(gw, token)
    c.send(
      produceFrame(1, [{ topic: 'never', batchId: `never-${Date.now()}`, records: [rec('never')] }], {
        timeoutMs: 20_000,
      }),
    )
    c.send({ t: 'metadata', id: 2, topics: ['never-a'] })
    const [a1, a2] = await Promise.all(
      [1, 2].map((id) =>
        c.answer(id, 25_000).catch((err: Error) => ({ t: 'missing', id, message: err.message }) as Frame),
      ),
    )
    check('WebSocket produce', a1)
    check('WebSocket metadata', a2)
    const ok = (a: Frame | undefined) =>
      a?.t === 'error' ||
      (a?.t === 'ack' && a.results?.every((r: Frame) => r.errorCode !== 0)) ||
      (a?.t === 'metadata' && a.topics?.every((t: Frame) => t.errorCode !== 0))
    expect.soft(ok(a1), `produce with Kafka never reachable: ${JSON.stringify(a1)}`).toBe(true)
    expect.soft(ok(a2), `metadata with Kafka never reachable: ${JSON.stringify(a2)}`).toBe(true)
    const bodies = await Promise.all([
      httpRequest(gw, 'POST', '/v1/produce', {
        headers: { ...auth, 'Content-Type': 'application/vnd.msgpack' },
        body: pack(
          produceFrame(1, [{ topic: 'never', batchId: `never-http-${Date.now()}`, records: [rec('x')] }], {
            timeoutMs: 20_000,
          }),
        ),
        timeoutMs: 25_000,
      }),
      httpRequest(gw, 'POST', '/v1/metadata', {
        headers: { ...auth, 'Content-Type': 'application/vnd.msgpack' },
        body: pack({ t: 'metadata', id: 1, topics: ['never'] }),
        timeoutMs: 25_000,
      }),
      httpRequest(gw, 'GET', '/v3/clusters', { headers: auth, timeoutMs: 25_000 }),
      httpRequest(gw, 'POST', `/v3/clusters/${CLUSTER_ID}/topics/never/records`, {
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ value: { type: 'STRING', data: 'x' } }),
        timeoutMs: 25_000,
      }),
      httpRequest(gw, 'GET', '/v3/clusters/x/topics/never/partitions', { headers: auth, timeoutMs: 25_000 }),
      httpRequest(gw, 'POST', '/topics/never', {
        headers: { ...auth, 'Content-Type': 'application/vnd.kafka.binary.v2+json' },
        body: JSON.stringify({ records: [{ value: 'eA==' }] }),
        timeoutMs: 25_000,
      }),
      httpRequest(gw, 'GET', '/topics/never/partitions', { headers: auth, timeoutMs: 25_000 }),
    ])
    const names = [
      '/v1/produce',
      '/v1/metadata',
      'GET /v3/clusters',
      'REST v3 produce',
      'REST v3 partitions',
      'REST v2 produce',
      'REST v2 partitions',
    ]
    bodies.forEach((b, i) => {
      let v: unknown = b.text
      if (String(b.headers['content-type']).includes('msgpack')) {
        try {
          v = decode(b.body)
        } catch {
          /* scanned as text */
        }
      }
      check(names[i]!, v)
    })
    let ready = await httpRequest(gw, 'GET', '/readyz')
    for (let i = 0; i < 50 && ready.status !== 503; i++)
      ready = (await sleep(100), await httpRequest(gw, 'GET', '/readyz'))
    const health = await httpRequest(gw, 'GET', '/healthz')
    console.log(
      `[kafka-faults] never reachable: produce=${JSON.stringify(a1).slice(0, 200)} metadata=${JSON.stringify(a2).slice(0, 200)} ` +
        bodies.map((b, i) => `${names[i]}=${b.status} ${b.text.slice(0, 120)}`).join(' | ') +
        ` /readyz=${ready.status} /healthz=${health.status}`,
    )
    expect.soft(problems, problems.join('\n')).toEqual([])
    // REST answers that claim success would be wrong: Kafka was never there
    expect
      .soft(
        bodies
          .slice(2)
          .filter((b) => b.status === 200 && !/error/.test(b.text))
          .map((b) => b.text.slice(0, 200)),
      )
      .toEqual([])
    expect.soft(ready.status, `/readyz: ${ready.text}`).toBe(503)
    expect.soft(health.status, `/healthz: ${health.text}`).toBe(200)
    gw.assertAlive()
    c.close()
  })

  it('under attack while Kafka is slow: junk and oversized frames do not delay a well-behaved client beyond Kafka + 1 s', async () => {
    const gw = gwSlow!
    const f = fake!
    const KAFKA_DELAY = 1500
    const good = await authed(gw, mintToken({ topics: ['attack'], sub: 'attack-good' }))
    // warm up (metadata, producer id) while Kafka is still fast, then slow it down
    good.send(
      produceFrame(1, [{ topic: 'attack', batchId: `attack-warm-${Date.now()}`, records: [rec('attack-warm')] }]),
    )
    expect((await good.answer(1, 15_000)).results?.[0]?.errorCode).toBe(0)
    await f.cmd(`delay-produce ${KAFKA_DELAY}`)

    // attackers: authenticated junk (fuzz frames, oversized ones) and unauthenticated churn, until told to stop
    const attackToken = mintToken({ topics: ['attack-junk'], sub: 'attacker' })
    const factory = new FrameFactory({
      seed: 4242,
      topic: 'attack-junk',
      otherTopic: 'attack',
      token: attackToken,
      badTokens: ['a.b.c'],
      maxFrameBytes: SLOW_FRAME_BYTES,
      hardCapBytes: SLOW_FRAME_BYTES + (64 << 10),
    })
    let recipes = FrameFactory.sample(recipeArb, 4242, 0, 4000)
    let chunk = 1
    const next = (): FuzzFrame => {
      for (;;) {
        if (recipes.length === 0) recipes = FrameFactory.sample(recipeArb, 4242, chunk++, 4000)
        const fr = factory.build(recipes.shift()!)
        if (!fr.hello) return fr
      }
    }
    const BIG = new Uint8Array(SLOW_FRAME_BYTES + (32 << 10))
    BIG.set(pack({ t: 'produce', id: 1 }))
    let attacking = true
    const attack = { frames: 0, answers: 0, big: 0, unauth: 0, closes: 0 }
    const attacker = async () => {
      while (attacking) {
        const c = await FrameClient.open(gw).catch(() => null)
        if (!c) {
          await sleep(50)
          continue
        }
        c.send({ t: 'hello', v: 1, token: attackToken })
        await c.next((x) => x.t === 'welcome' || x.t === 'error', 5000).catch(() => null)
        let sent = 0
        while (attacking && !c.closed) {
          while (sent - c.all.length < 64 && !c.closed) {
            const fr = sent % 50 === 49 ? null : next()
            c.send(fr ? fr.data : BIG)
            if (!fr) attack.big++
            sent++
            attack.frames++
          }
          c.frames.length = 0
          await sleep(5)
        }
        attack.answers += c.all.length
        if (c.closed) attack.closes++
        c.close()
      }
    }
    const churner = async () => {
      while (attacking) {
        const ws = new WebSocket(gw.wsUrl, ['isokafka.v1'], { perMessageDeflate: false })
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => (ws.terminate(), resolve()), 2000)
          ws.on('open', () => ws.send(next().data))
          ws.on('close', () => (clearTimeout(t), resolve()))
          ws.on('error', () => (clearTimeout(t), resolve()))
          ws.on('unexpected-response', () => (clearTimeout(t), ws.terminate(), resolve()))
        })
        attack.unauth++
      }
    }
    const attackers = [attacker(), attacker(), attacker(), churner(), churner()]
    await sleep(500)

    // the well-behaved client: one frame at a time, each ack timed
    const latencies: number[] = []
    const results: Frame[] = []
    for (let i = 0; i < 5; i++) {
      const t = Date.now()
      good.send(
        produceFrame(10 + i, [
          {
            topic: 'attack',
            batchId: `attack-good-${t}-${i}`,
            records: Array.from({ length: 10 }, (_, r) => rec(`attack-good-${i}-${r}`)),
          },
        ]),
      )
      const a = await good.answer(10 + i, 20_000)
      latencies.push(Date.now() - t)
      results.push(a)
    }
    attacking = false
    await Promise.all(attackers)
    await f.cmd('delay-produce 0')
    gw.assertAlive()
    console.log(
      `[kafka-faults] attack: Kafka held ${KAFKA_DELAY} ms; well-behaved ack latencies ${latencies.join(', ')} ms; attackers sent ${attack.frames} frames ` +
        `(${attack.big} oversized), got ${attack.answers} answers, ${attack.closes} attacker connections closed by the gateway, ${attack.unauth} unauthenticated connections`,
    )
    expect.soft(results.map((a) => (a.t === 'ack' ? a.results?.[0]?.errorCode : a.code))).toEqual([0, 0, 0, 0, 0])
    expect
      .soft(Math.max(...latencies), `well-behaved ack latencies ${latencies.join(', ')} ms`)
      .toBeLessThanOrEqual(KAFKA_DELAY + 1000)
    expect(good.closed).toBeNull()
    good.close()
  })
})
