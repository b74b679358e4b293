/// <reference types="node" />
// Property-based fuzzer against a LIVE gateway child process (so a crash shows): 25,000 frames per CI run (FUZZ_FRAMES=100000
// FUZZ_UNAUTH=1500 for the full size, see docs/testing.md), pipelined
// over a few authenticated WebSocket connections (a window of outstanding frames each), plus a smaller share of fresh
// unauthenticated connections that each send one frame. The frames are drawn from fast-check arbitraries
// (./fuzz-frames.ts) with a FIXED seed printed below: FUZZ_SEED=<seed> replays the same frame stream,
// FUZZ_FRAMES=<n> changes how many frames go over the authenticated connections, FUZZ_UNAUTH=<n> how many
// unauthenticated connections are made.
//
//   KAFKA_BOOTSTRAP=host:port npx vitest run -c vitest.gateway.config.ts test/gateway/hostile/fuzz.test.ts
//
// Properties: the gateway stays alive; a frame with a readable numeric id gets at most one answer (and a valid frame
// exactly one); every answer is a MessagePack map with a string `t` and carries no stack trace, broker host:port or
// token; unauthenticated connections get at most one (fatal) error frame and close 4401; afterwards a well-behaved
// client still produces; peak RSS < 512 MB; worst /healthz latency < 1000 ms; the fuzz topic (the only one the token
// allows) holds every acknowledged record exactly once, at its acknowledged offset, and nothing that was refused.
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { Decoder } from '@msgpack/msgpack'
import { createTopic, readAllWithKcat, uniqueTopic } from '../../helpers/kafka-tools.js'
import {
  OTHER_SECRET,
  authed,
  finishChildren,
  kafkaBootstrap,
  knownTokens,
  mintToken,
  produceFrame,
  sleep,
  startChildGateway,
  type ChildGateway,
  type Frame,
} from './harness.js'
import {
  FrameFactory,
  brokerNames,
  leakIn,
  recipeArb,
  recordFingerprint,
  tryDecode,
  unauthRecipeArb,
  type FuzzFrame,
  type Recipe,
  type SentBatch,
} from './fuzz-frames.js'

const FILE = 'fuzz.test.ts'
const SEED = Number(process.env.FUZZ_SEED ?? 20261206)
// sized to fit the CI run (the authenticated and unauthenticated floods run side by side, about 3 ms per frame and 13 ms
// per unauthenticated connection on 2 busy cores); the full size is FUZZ_FRAMES=100000 FUZZ_UNAUTH=1500
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 25_000)
const UNAUTH = Number(process.env.FUZZ_UNAUTH ?? 600)
/**
 * How long an unauthenticated connection may stay open after its answer: below the gateway's 5 s hello window (a
 * connection left to that window would be caught), with room for a machine busy with other suites (1.5 s was not).
 */
const LINGER_MS = 4000
const CONNECTIONS = 6
const WINDOW = 256
const UNAUTH_PARALLEL = 8
const CHUNK = 1000
const MAX_FRAME_BYTES = 256 << 10
// the gateway closes (1009) above maxFrameBytes + max(64 KiB, a quarter of it): what it buffers per connection
const HARD_CAP = MAX_FRAME_BYTES + Math.max(64 * 1024, Math.floor(MAX_FRAME_BYTES / 4))
const STALL_MS = 5000
/** Frame-level refusals: nothing of such a frame may reach Kafka. */
const REFUSING_CODES = new Set([
  'MALFORMED',
  'UNSUPPORTED',
  'LIMIT_EXCEEDED',
  'FRAME_TOO_LARGE',
  'RATE_LIMITED',
  'TOO_MANY_IN_FLIGHT',
  'UNAUTHENTICATED',
  'TOKEN_EXPIRED',
])
/** Batch results that say "not written": not allowed, batch id reused, unknown partition/topic, invalid record/timestamp, too large, corrupt. */
const REFUSING_RESULTS = new Set([29, 42, 3, 17, 87, 32, 10, 2])
const FATAL_CODES = new Set(['MALFORMED', 'UNAUTHENTICATED', 'UNSUPPORTED', 'TOKEN_EXPIRED', 'FRAME_TOO_LARGE'])

let gw: ChildGateway | undefined
let topic = ''
let bootstrap = ''

beforeAll(async () => {
  bootstrap = kafkaBootstrap()
  topic = uniqueTopic('gw-fuzz')
  // the topic (kafka-topics, a JVM) and the gateway child start at the same time
  const started = startChildGateway({
    bootstrap,
    // smaller than the default so FRAME_TOO_LARGE is cheap to reach; topic lookups raised so the produce path (not
    // only the lookup limiter) takes the valid-looking frames
    limits: { maxFrameBytes: MAX_FRAME_BYTES, metadataTopicsPerSecond: 10_000 },
  })
  const [topicMade, gwStarted] = await Promise.allSettled([createTopic(bootstrap, topic, 2), started])
  if (gwStarted.status === 'fulfilled') gw = gwStarted.value
  for (const r of [topicMade, gwStarted]) if (r.status === 'rejected') throw r.reason
})

afterAll(async () => {
  await finishChildren(FILE, [['fuzz', gw]])
})

// ---------------------------------------------------------------------------------------------------------------
// bookkeeping

class Tally {
  readonly counts = new Map<string, number>()
  add(k: string, n = 1): void {
    this.counts.set(k, (this.counts.get(k) ?? 0) + n)
  }
  get(k: string): number {
    return this.counts.get(k) ?? 0
  }
  text(): string {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')
  }
}

class Violations {
  readonly byKind = new Tally()
  readonly samples: string[] = []
  add(kind: string, detail: string): void {
    this.byKind.add(kind)
    if (this.byKind.get(kind) <= 5 && this.samples.length < 60) this.samples.push(`${kind}: ${detail}`)
  }
  kinds(): string[] {
    return [...this.byKind.counts.keys()]
  }
}

/** User + system CPU seconds of a process so far (/proc/PID/stat). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return NaN
  }
}

const hex = (d: Uint8Array | string, n = 80) =>
  typeof d === 'string'
    ? `text ${JSON.stringify(d.slice(0, n))}`
    : `${d.length} bytes ${Buffer.from(d.subarray(0, n)).toString('hex')}`

interface AckSeen {
  id: number
  results: Array<Record<string, any>>
}

// ---------------------------------------------------------------------------------------------------------------

describe('gateway fuzzer', () => {
  it(`survives ${FRAMES} fuzzed frames (seed ${SEED}) and keeps its invariants`, async () => {
    const g = gw!
    const brokers = brokerNames(bootstrap)
    const token = mintToken({ topics: [topic], sub: 'fuzzer' })
    const now = Math.floor(Date.now() / 1000)
    const badTokens = [
      mintToken({ topics: [topic], sub: 'fuzzer' }, { secret: OTHER_SECRET }),
      mintToken({ topics: [topic], sub: 'fuzzer', iat: now - 1000, exp: now - 10 }),
      mintToken({ topics: ['*'], sub: 'fuzzer' }, { header: { alg: 'none', typ: 'JWT' } }),
      mintToken({ topics: [topic], sub: 'fuzzer', nbf: now + 3600 }),
      mintToken({ topics: 'everything', sub: 'fuzzer' }),
      mintToken({ topics: [topic], sub: 12 }),
      `${token.slice(0, -4)}AAAA`,
      'a.b.c',
      '',
    ]
    for (const t of badTokens) if (t.length >= 16) knownTokens.add(t)
    const secrets = { brokers, tokens: [...knownTokens] }
    const ctx = {
      seed: SEED,
      topic,
      otherTopic: `${topic}-other`,
      token,
      badTokens,
      maxFrameBytes: MAX_FRAME_BYTES,
      hardCapBytes: HARD_CAP,
    }
    console.log(
      `[fuzz] seed ${SEED} (FUZZ_SEED=${SEED} reproduces the frame stream), ${FRAMES} frames over ${CONNECTIONS} authenticated connections, ${UNAUTH} unauthenticated connections, topic ${topic}`,
    )

    const factory = new FrameFactory(ctx)
    const violations = new Violations()
    const answers = new Tally() // by type / code
    const results = new Tally() // ack results by errorCode
    const sentKinds = new Tally()
    const sentIds = new Map<number, number>() // id → frames sent that carried it (readable)
    const answeredIds = new Map<number, number>()
    const intactIds: Array<{ id: number; conn: number }> = []
    const produceById = new Map<number, SentBatch[][]>()
    const refusedIds = new Set<number>()
    const refusedBatches = new Set<string>() // "id\0batchId" answered with a refusing result code
    const acks: AckSeen[] = []
    const decoder = new Decoder({
      maxStrLength: 1 << 22,
      maxBinLength: 1 << 22,
      maxArrayLength: 1 << 22,
      maxMapLength: 1 << 16,
      maxExtLength: 1 << 16,
    })
    const decodeAnswer = (b: Uint8Array): unknown => {
      try {
        return decoder.decode(b)
      } catch {
        return undefined
      }
    }

    // ---- the frame stream (sampled lazily, CHUNK recipes at a time) ----
    let recipes: Recipe[] = []
    let chunk = 0
    let taken = 0
    // a hello with a bad token may end an authenticated connection (and the frames in flight on it): at most
    // HELLO_BUDGET of those go over the authenticated connections, the others are skipped (counted)
    const HELLO_BUDGET = Math.max(20, Math.floor(FRAMES / 1000))
    let hellos = 0
    let hellosSkipped = 0
    const nextFrame = (): FuzzFrame => {
      for (;;) {
        if (recipes.length === 0) recipes = FrameFactory.sample(recipeArb, SEED, chunk++, CHUNK)
        const f = factory.build(recipes.shift()!)
        if (f.hello && ++hellos > HELLO_BUDGET) {
          hellosSkipped++
          continue
        }
        taken++
        return f
      }
    }

    /** Checks one answer frame; returns its decoded form (or undefined when it is not a valid answer). */
    const checkAnswer = (where: string, data: Buffer, isBinary: boolean): Frame | undefined => {
      const leak = leakIn(data.toString('latin1'), secrets)
      if (leak) violations.add('leak', `${where}: ${leak} in ${JSON.stringify(data.toString('utf8').slice(0, 200))}`)
      if (!isBinary) {
        violations.add('text-answer', `${where}: ${JSON.stringify(data.toString('utf8').slice(0, 120))}`)
        return undefined
      }
      const v = decodeAnswer(data)
      if (
        !v ||
        typeof v !== 'object' ||
        Array.isArray(v) ||
        v instanceof Uint8Array ||
        typeof (v as Frame).t !== 'string'
      ) {
        violations.add('malformed-answer', `${where}: ${hex(data)}`)
        return undefined
      }
      return v as Frame
    }

    // ---- authenticated connections, each pumping frames with a window of outstanding ones ----
    interface Conn {
      n: number
      ws: WebSocket
      outstanding: number
      dead: boolean
      wake: (() => void) | null
      lastAnswerAt: number
      lastAnswer: string
      intact: number[]
      corked: boolean
      /** The last frame sent. */
      last: FuzzFrame | null
      /** Closed by this test (a stall). */
      terminated: boolean
      /** Size of the largest frame sent. */
      biggest: number
    }
    const authedClose = new Tally()
    // frames go out in bursts: cork the socket while a burst is written (one write instead of one per frame)
    const socketOf = (c: Conn) => (c.ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket
    const flush = (c: Conn) => {
      if (!c.corked) return
      c.corked = false
      socketOf(c)?.uncork()
    }
    let connsOpened = 0
    let lostOnClose = 0
    let stalls = 0
    let authedSent = 0
    let answersTotal = 0
    const deadConns = new Set<number>()

    const onAnswer = (conn: Conn, f: Frame | undefined) => {
      answersTotal++
      conn.outstanding = Math.max(0, conn.outstanding - 1)
      conn.lastAnswerAt = Date.now()
      conn.lastAnswer = String(f?.t)
      if (!f) return
      answers.add(f.t === 'error' ? `error:${String(f.code)}` : String(f.t))
      if (typeof f.id === 'number') {
        answeredIds.set(f.id, (answeredIds.get(f.id) ?? 0) + 1)
        if (f.t === 'error' && REFUSING_CODES.has(String(f.code))) refusedIds.add(f.id)
      } else if (f.id !== undefined)
        violations.add('malformed-answer', `an id that is not a number: ${JSON.stringify(f).slice(0, 200)}`)
      if (f.t === 'ack') {
        if (!Array.isArray(f.results))
          violations.add('malformed-answer', `ack without results: ${JSON.stringify(f).slice(0, 200)}`)
        else {
          for (const r of f.results) {
            results.add(String(r?.errorCode))
            if (REFUSING_RESULTS.has(r?.errorCode)) refusedBatches.add(`${f.id}\u0000${String(r.batchId)}`)
          }
          acks.push({ id: f.id, results: f.results })
        }
      }
      if (f.t === 'error' && typeof f.message !== 'string')
        violations.add('malformed-answer', `error frame without a message: ${JSON.stringify(f).slice(0, 200)}`)
    }

    const openAuthed = (): Promise<Conn> =>
      new Promise((resolve, reject) => {
        const n = connsOpened++
        const ws = new WebSocket(g.wsUrl, ['isokafka.v1'], {
          perMessageDeflate: false,
          handshakeTimeout: 8000,
          maxPayload: 64 << 20,
        })
        const conn: Conn = {
          n,
          ws,
          outstanding: 0,
          dead: false,
          wake: null,
          lastAnswerAt: Date.now(),
          lastAnswer: '',
          intact: [],
          corked: false,
          last: null,
          terminated: false,
          biggest: 0,
        }
        let welcomed = false
        ws.on('open', () => ws.send(factory.helloBytes(), { binary: true }))
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          const f = checkAnswer(`connection ${n}`, data, isBinary)
          if (!welcomed) {
            welcomed = true
            if (f?.t === 'welcome') resolve(conn)
            else reject(new Error(`no welcome for the fuzz token: ${JSON.stringify(f)}`))
            return
          }
          onAnswer(conn, f)
          conn.wake?.()
        })
        ws.on('close', (code: number) => {
          conn.dead = true
          deadConns.add(n)
          authedClose.add(String(code))
          // only a hello with a bad token, or a frame above the hard cap (1009), may end an authenticated connection
          const expected = (conn.last?.hello && code === 4401) || (code === 1009 && conn.biggest > HARD_CAP)
          if (!conn.terminated && !expected) {
            const big = conn.biggest
              ? `; the largest frame sent on it was ${conn.biggest} bytes (maxFrameBytes ${MAX_FRAME_BYTES}, spec hard cap max(4×, +1 MiB) = ${HARD_CAP})`
              : ''
            violations.add(
              'authed-closed',
              `connection ${n} closed by the gateway with ${code} (${conn.outstanding} frames in flight)${big}; last frame ${conn.last ? `${conn.last.kind} ${hex(conn.last.data, 48)}` : 'none'}`,
            )
          }
          lostOnClose += conn.outstanding
          conn.outstanding = 0
          conn.wake?.()
          if (!welcomed) reject(new Error('the connection closed before the welcome'))
        })
        ws.on('error', () => {})
      })

    /** Waits for an answer (or the close) on `conn`; false when none came within STALL_MS. */
    const waitAnswer = (conn: Conn, ms = STALL_MS): Promise<boolean> =>
      new Promise((resolve) => {
        flush(conn)
        const timer = setTimeout(() => {
          conn.wake = null
          resolve(false)
        }, ms)
        conn.wake = () => {
          clearTimeout(timer)
          conn.wake = null
          resolve(true)
        }
      })

    /** Waits for an answer on `conn`; a connection that gives none within STALL_MS is a stall, and is ended. */
    const awaitAnswerOrStall = async (conn: Conn): Promise<void> => {
      if (!(await waitAnswer(conn)) && !conn.dead) {
        stalls++
        violations.add('stall', `connection ${conn.n}: ${conn.outstanding} frames unanswered for ${STALL_MS} ms`)
        conn.terminated = true
        conn.ws.terminate()
      }
    }

    const record = (f: FuzzFrame, conn: number) => {
      sentKinds.add(f.kind)
      for (const id of f.ids) sentIds.set(id, (sentIds.get(id) ?? 0) + 1)
      if (f.intact && f.ids.length === 1) intactIds.push({ id: f.ids[0]!, conn })
      if (f.produce && f.produce.batches.length > 0) {
        const id = f.produce.id
        if (typeof id === 'number' && Number.isSafeInteger(id)) {
          const list = produceById.get(id) ?? []
          list.push(f.produce.batches)
          produceById.set(id, list)
        } // without a numeric id a produce frame must be refused: its batches count as never written
      }
    }

    const pending: Array<FuzzFrame | undefined> = []
    const pump = async (slot: number) => {
      let conn = await openAuthed()
      let sinceYield = 0
      while (taken < FRAMES || pending[slot]) {
        g.assertAlive()
        if (conn.dead) {
          conn = await openAuthed()
          continue
        }
        if (conn.outstanding >= WINDOW) {
          await awaitAnswerOrStall(conn)
          continue
        }
        const f = pending[slot] ?? nextFrame()
        pending[slot] = undefined
        if (f.hello && conn.outstanding > 0) {
          // a hello may end the connection (a bad token): first let everything before it be answered, so no
          // answer is lost with the connection
          pending[slot] = f
          await awaitAnswerOrStall(conn)
          continue
        }
        record(f, conn.n)
        conn.outstanding++
        authedSent++
        if (!conn.corked) {
          conn.corked = true
          socketOf(conn)?.cork()
        }
        conn.ws.send(f.data, { binary: typeof f.data !== 'string' })
        conn.last = f
        if (f.data.length > conn.biggest) conn.biggest = f.data.length
        if (f.hello) {
          // ... and nothing after it until it is answered, and (when the answer is not a welcome) the connection closed
          while (!conn.dead && conn.outstanding > 0) if (!(await waitAnswer(conn))) break
          if (!conn.dead && conn.lastAnswer !== 'welcome') await waitAnswer(conn, 1000)
          continue
        }
        // let answers in now and then, and do not hog the loop while the window has room
        if (++sinceYield >= 32) {
          sinceYield = 0
          flush(conn)
          await new Promise<void>((r) => setImmediate(r))
        }
      }
      // drain: every outstanding frame answered, or the connection quiet for STALL_MS
      while (!conn.dead && conn.outstanding > 0) {
        if (!(await waitAnswer(conn))) {
          stalls++
          violations.add(
            'stall',
            `connection ${conn.n}: ${conn.outstanding} frames unanswered at the end after ${STALL_MS} ms`,
          )
          break
        }
      }
      return conn
    }

    // ---- unauthenticated connections: one frame each, then a fatal error frame and close 4401 (or a welcome) ----
    let unauthDone = 0
    let unauthWelcomed = 0
    let unauthRefusedUpgrade = 0
    let lingerChecks = true
    const unauthClose = new Tally()
    const unauthFrames = FrameFactory.sample(unauthRecipeArb, SEED, 1_000_003, UNAUTH)
    const unauthFactory = new FrameFactory({ ...ctx, seed: SEED + 1 })
    let unauthNext = 0
    const unauthOne = (f: FuzzFrame): Promise<void> =>
      new Promise((resolve) => {
        const ws = new WebSocket(g.wsUrl, ['isokafka.v1'], { perMessageDeflate: false, handshakeTimeout: 8000 })
        const got: Frame[] = []
        let settled = false
        const decoded = typeof f.data === 'string' ? undefined : tryDecode(f.data)
        const validHello =
          !!decoded &&
          typeof decoded === 'object' &&
          (decoded as Frame).t === 'hello' &&
          (decoded as Frame).token === token
        const finish = () => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          unauthDone++
          ws.terminate()
          resolve()
        }
        let timer = setTimeout(
          () => {
            unauthClose.add('still-open')
            violations.add(
              'unauth-linger',
              `no close ${got.length ? 'after the answer' : 'and no answer'} within ${lingerChecks ? LINGER_MS : 100} ms for ${f.kind} ${hex(f.data, 48)}; got ${JSON.stringify(got).slice(0, 160)}`,
            )
            if (violations.byKind.get('unauth-linger') >= 30) lingerChecks = false
            finish()
          },
          lingerChecks ? LINGER_MS : 100,
        )
        ws.on('open', () => ws.send(f.data, { binary: typeof f.data !== 'string' }))
        ws.on('unexpected-response', (_req, res) => {
          unauthRefusedUpgrade++
          unauthClose.add(`http-${res.statusCode}`)
          res.resume()
          finish()
        })
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          const a = checkAnswer('unauthenticated connection', data, isBinary)
          if (!a) return
          got.push(a)
          if (a.t === 'welcome') {
            unauthWelcomed++
            if (!validHello) violations.add('unauth-welcome', `a welcome for ${f.kind} ${hex(f.data, 64)}`)
            finish()
            return
          }
          if (got.length > 1)
            violations.add(
              'unauth-answers',
              `${got.length} answers before the close: ${JSON.stringify(got).slice(0, 200)}`,
            )
          if (a.t !== 'error' || a.fatal !== true || !FATAL_CODES.has(String(a.code))) {
            violations.add(
              'unauth-answer',
              `expected a fatal error frame (MALFORMED/UNAUTHENTICATED/UNSUPPORTED), got ${JSON.stringify(a).slice(0, 160)} for ${f.kind} ${hex(f.data, 48)}`,
            )
          }
        })
        ws.on('close', (code) => {
          if (settled) return // we ended it (linger)
          unauthClose.add(String(code))
          // a big first frame may meet the WebSocket library's payload cap for unauthenticated sockets (1009)
          const capped = code === 1009 && typeof f.data !== 'string' && f.data.length > 16 * 1024
          if (!validHello && code !== 4401 && !capped)
            violations.add(
              'unauth-close',
              `closed with ${code}, not 4401, after ${f.kind} ${hex(f.data, 48)}; got ${JSON.stringify(got).slice(0, 160)}`,
            )
          if (!validHello && got.length === 0 && code === 4401)
            violations.add('unauth-answer', `closed 4401 without an error frame after ${f.kind} ${hex(f.data, 48)}`)
          finish()
        })
        ws.on('error', () => finish())
      })
    const unauthWorker = async () => {
      while (unauthNext < unauthFrames.length) {
        g.assertAlive()
        const f = unauthFactory.build(unauthFrames[unauthNext++]!)
        await unauthOne(f)
      }
    }

    // ---- run ----
    const t0 = Date.now()
    let authedMs = 0
    let unauthMs = 0
    const [conns] = await Promise.all([
      Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => pump(i))).finally(() => (authedMs = Date.now() - t0)),
      Promise.all(Array.from({ length: UNAUTH_PARALLEL }, () => unauthWorker())).finally(
        () => (unauthMs = Date.now() - t0),
      ),
    ])
    const floodMs = Date.now() - t0
    g.assertAlive()

    // ---- a well-behaved client still produces ----
    const healthyValues = Array.from({ length: 5 }, (_, i) => `fuzz-healthy-${SEED}-${i}`)
    const healthy = await authed(g, mintToken({ topics: [topic], sub: 'fuzz-healthy' }))
    healthy.send(
      produceFrame(1, [
        {
          topic,
          partition: 0,
          batchId: `fuzz-healthy-${SEED}-${Date.now()}`,
          records: healthyValues.map((v) => [Date.now(), null, Buffer.from(v), []]),
        },
      ]),
    )
    const healthyAck = await healthy.answer(1, 20_000)
    healthy.close()
    for (const c of conns) {
      c.terminated = true
      c.ws.terminate()
    }
    expect.soft(healthyAck.t, JSON.stringify(healthyAck)).toBe('ack')
    expect.soft(healthyAck.results?.[0]?.errorCode, JSON.stringify(healthyAck)).toBe(0)

    // ---- ids: at most one answer per frame that carried the id; valid frames exactly one ----
    for (const [id, n] of answeredIds) {
      const sent = sentIds.get(id) ?? 0
      if (n > sent) violations.add('extra-answers', `id ${id}: ${n} answers, ${sent} frame(s) carried it`)
    }
    for (const { id, conn } of intactIds) {
      if (deadConns.has(conn)) continue // its answer may have been lost with the connection
      if (!answeredIds.has(id)) violations.add('unanswered', `valid frame id ${id} (connection ${conn}) got no answer`)
    }

    // ---- Kafka: every acked record exactly once at its offset, nothing refused ----
    interface AckedBatch {
      batchId: string
      partition: number
      offsets: number[]
      fps: string[]
      what: string
    }
    const ackedBatches: AckedBatch[] = []
    const ackedBatchIds = new Set<string>()
    if (healthyAck.results?.[0]?.errorCode === 0) {
      const r = healthyAck.results[0]
      ackedBatches.push({
        batchId: r.batchId,
        partition: r.partition,
        offsets: healthyValues.map((_, i) => r.baseOffset + i),
        fps: healthyValues.map((v) => recordFingerprint(null, Buffer.from(v), [])),
        what: 'the well-behaved client',
      })
    }
    // the first batch (in sending order) with this batch id for the fuzz topic among the frames that carried `id`:
    // indexed once per id (a common id such as 0 or 1 is carried by thousands of fuzzed frames)
    const sentBatchIndex = new Map<number, Map<string, SentBatch>>()
    const firstSentBatch = (id: number, batchId: unknown): SentBatch | undefined => {
      let index = sentBatchIndex.get(id)
      if (!index) {
        index = new Map()
        for (const list of produceById.get(id) ?? [])
          for (const sb of list) if (sb.topic === topic && !index.has(sb.batchId)) index.set(sb.batchId, sb)
        sentBatchIndex.set(id, index)
      }
      return typeof batchId === 'string' ? index.get(batchId) : undefined
    }
    for (const a of acks) {
      for (const r of a.results) {
        if (r?.errorCode !== 0) continue
        if (r.topic !== topic) {
          violations.add(
            'ack-foreign-topic',
            `ack errorCode 0 for topic ${JSON.stringify(String(r.topic)).slice(0, 80)} (the token allows only ${topic}), frame id ${a.id}`,
          )
          continue
        }
        const b = firstSentBatch(a.id, r.batchId)
        if (!b) {
          violations.add(
            'ack-unknown-batch',
            `ack errorCode 0 for batch ${JSON.stringify(String(r.batchId)).slice(0, 80)} under id ${a.id}: no frame with that id carried it`,
          )
          continue
        }
        if (!(r.baseOffset >= 0)) continue // acks=0: "sent", not "written"
        ackedBatchIds.add(r.batchId)
        const offsets: number[] = Array.isArray(r.offsets) ? r.offsets : b.fps.map((_, i) => r.baseOffset + i)
        if (offsets.length !== b.fps.length)
          violations.add('ack-offsets', `batch ${r.batchId}: ${offsets.length} offsets for ${b.fps.length} records`)
        ackedBatches.push({
          batchId: r.batchId,
          partition: r.partition,
          offsets,
          fps: b.fps,
          what: `batch ${r.batchId} (frame id ${a.id})`,
        })
      }
    }
    // what may be there without an ack: batches of frames that were not refused and that no ack covered
    const maybe = new Map<string, number>()
    const maybeBatches = new Map<string, SentBatch>()
    for (const [id, lists] of produceById) {
      const unique = (sentIds.get(id) ?? 0) === 1
      if (refusedIds.has(id) && unique) continue
      for (const b of lists.flat()) {
        if (b.topic !== topic || ackedBatchIds.has(b.batchId)) continue
        if (unique && refusedBatches.has(`${id}\u0000${b.batchId}`)) continue
        maybeBatches.set(`${b.batchId}\u0000${b.fps.join(',')}`, b)
      }
    }
    for (const b of maybeBatches.values()) for (const fp of b.fps) maybe.set(fp, (maybe.get(fp) ?? 0) + 1)

    const ackedOffsets = new Set<string>()
    for (const b of ackedBatches) for (const o of b.offsets) ackedOffsets.add(`${b.partition}:${o}`)
    const read = await readAllWithKcat(bootstrap, topic, ackedOffsets.size, 30_000)
    const at = new Map<string, string>()
    for (const r of read) at.set(`${r.partition}:${r.offset}`, recordFingerprint(r.key, r.value, r.headers))
    const reused = new Map<string, number>()
    for (const b of ackedBatches) reused.set(b.batchId, (reused.get(b.batchId) ?? 0) + 1)
    for (const b of ackedBatches) {
      const missing = b.offsets.filter((o) => !at.has(`${b.partition}:${o}`))
      const differ = b.offsets.filter(
        (o, i) => at.has(`${b.partition}:${o}`) && at.get(`${b.partition}:${o}`) !== b.fps[i],
      )
      if (missing.length)
        violations.add(
          'acked-missing',
          `${b.what}: acknowledged at ${b.partition}:${missing.join(',')} but not in Kafka`,
        )
      if (differ.length) {
        violations.add(
          'acked-other-records',
          `${b.what}: acknowledged (errorCode 0) at ${b.partition}:${differ.join(',')}, where Kafka holds other records` +
            ((reused.get(b.batchId) ?? 0) > 1
              ? ` (batch id acknowledged ${reused.get(b.batchId)} times: a reused batch id with other records was answered as a duplicate instead of errorCode 42)`
              : ''),
        )
      }
    }
    let unexplained = 0
    const extra = new Map<string, number>()
    for (const r of read) {
      if (ackedOffsets.has(`${r.partition}:${r.offset}`)) continue
      const fp = at.get(`${r.partition}:${r.offset}`)!
      const left = maybe.get(fp) ?? 0
      if (left > 0) maybe.set(fp, left - 1)
      else {
        unexplained++
        extra.set(fp, (extra.get(fp) ?? 0) + 1)
        violations.add(
          'kafka-extra',
          `a record at ${r.partition}:${r.offset} that no ack covers and no unrefused frame carried: ${fp.slice(0, 120)}`,
        )
      }
    }
    const claimed = ackedOffsets

    // ---- figures ----
    const rss = g.rssPeakMb()
    const lag = g.lag()
    const durationS = ((Date.now() - t0) / 1000).toFixed(1)
    console.log(
      `[fuzz] SUMMARY seed=${SEED} frames=${authedSent + unauthDone} (authenticated ${authedSent} over ${connsOpened} connections, ` +
        `unauthenticated ${unauthDone}) flood=${(floodMs / 1000).toFixed(1)}s (authenticated ${(authedMs / 1000).toFixed(1)}s, unauthenticated ${(unauthMs / 1000).toFixed(1)}s) total=${durationS}s answers=${answersTotal} ` +
        `[${answers.text()}] ackResults=[${results.text()}] unauth=[welcome=${unauthWelcomed} upgrade-refused=${unauthRefusedUpgrade} close:${unauthClose.text()}] ` +
        `authenticated-closes=[${authedClose.text()}] hellos-skipped=${hellosSkipped} lost-on-close=${lostOnClose} gatewayCpu=${cpuSeconds(g.pid).toFixed(1)}s stalls=${stalls} kafka: acked=${claimed.size} read=${read.length} unexplained=${unexplained} ` +
        `rssPeak=${rss.toFixed(0)}MB worstHealthz=${lag.worstMs}ms (${lag.probes} probes, ${lag.failures} failed) ` +
        `violations=[${violations.byKind.text()}]`,
    )
    console.log(`[fuzz] frames sent by kind: ${sentKinds.text()}`)
    if (violations.samples.length)
      console.log(`[fuzz] violation samples (seed ${SEED}):\n  ${violations.samples.join('\n  ')}`)

    expect(g.alive(), g.describeExit()).toBe(true)
    expect.soft(authedSent + unauthDone).toBeGreaterThanOrEqual(FRAMES)
    expect.soft(rss, 'peak RSS (MB)').toBeLessThan(512)
    expect.soft(lag.worstMs, 'worst /healthz latency (ms)').toBeLessThan(1000)
    expect.soft(read.length, 'records in the fuzz topic').toBeGreaterThanOrEqual(claimed.size)
    for (const kind of violations.kinds()) {
      expect
        .soft(
          violations.byKind.get(kind),
          `${kind}: ${violations.samples.filter((s) => s.startsWith(`${kind}:`)).join('\n')}`,
        )
        .toBe(0)
    }
  })
})
