/// <reference types="node" />
// Harness of the hostile-clients suite (test/gateway/hostile/*.test.ts). Black-box only: the gateway runs as a child
// process (./child.mjs loading dist/gateway.js, or ISOKAFKA_GATEWAY_MODULE), spoken to over WebSocket (`ws`), HTTP
// and raw TCP; frames are MessagePack made with @msgpack/msgpack or by hand; tokens are HS256 JWTs made here with
// node:crypto so forgeries are easy to build. Nothing from adapters/ is imported.
//
// Per file: startChildGateway() in beforeAll, finishChildren() in afterAll. finishChildren asserts the child is still
// alive, its peak RSS (VmHWM) is under 512 MB and the worst /healthz latency seen by the prober (a worker thread
// probing every 50 ms for the whole file, so stalls of the test process itself do not count) is under 1000 ms, and
// appends those figures to $HOSTILE_REPORT (default: <tmpdir>/isokafka-hostile-report.jsonl).
import { spawn, type ChildProcess } from 'node:child_process'
import { createHmac, randomUUID } from 'node:crypto'
import { appendFileSync, readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { decode, encode } from '@msgpack/msgpack'
import { expect, inject } from 'vitest'
import WebSocket from 'ws'
import { readAllWithKcat } from '../../helpers/kafka-tools.js'

export const SECRET = 'hostile-secret-0123456789abcdef'
export const OTHER_SECRET = 'another-secret-0123456789abcdef'
export const RSS_LIMIT_MB = 512
export const STALL_LIMIT_MS = 1000

const CHILD = path.join(import.meta.dirname, 'child.mjs')
const utf8 = new TextEncoder()
const utf8d = new TextDecoder()

export function kafkaBootstrap(): string {
  return inject('kafkaBootstrap')
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

// ---------------------------------------------------------------------------------------------------------------
// tokens

export const b64url = (v: string | Uint8Array | object): string =>
  Buffer.from(typeof v === 'string' || v instanceof Uint8Array ? v : JSON.stringify(v)).toString('base64url')

export function hs256(input: string, secret: string | Uint8Array = SECRET): string {
  return createHmac('sha256', secret).update(input).digest('base64url')
}

/** Every token this process minted or forged: none of them may ever show up in a log line or an answer. */
export const knownTokens = new Set<string>()

export interface Claims {
  topics?: unknown
  sub?: unknown
  exp?: unknown
  iat?: unknown
  nbf?: unknown
  [k: string]: unknown
}

/**
 * An HS256 JWT. Claims default to `{ iat: now, exp: now + 600 }` (pass `sub` to add a subject, or any claim to
 * override it; `undefined` leaves a claim out). `header` replaces `{alg: 'HS256', typ: 'JWT'}`; `secret` signs.
 */
export function mintToken(claims: Claims, opts: { secret?: string | Uint8Array; header?: object } = {}): string {
  const now = Math.floor(Date.now() / 1000)
  const body: Claims = { iat: now, exp: now + 600, ...claims }
  const input = `${b64url(opts.header ?? { alg: 'HS256', typ: 'JWT' })}.${b64url(body)}`
  return remember(`${input}.${hs256(input, opts.secret ?? SECRET)}`)
}

export function remember(token: string): string {
  knownTokens.add(token)
  return token
}

/** Pieces of tokens long enough to be recognised if a log line or an answer carried them. */
function tokenPieces(): string[] {
  const out = new Set<string>()
  for (const t of knownTokens) {
    if (t.length >= 16) out.add(t)
    for (const p of t.split('.')) if (p.length >= 16) out.add(p)
  }
  return [...out]
}

// ---------------------------------------------------------------------------------------------------------------
// leak tracking: answers (frames, HTTP bodies) must carry no broker address, stack trace or token

export const leaks: string[] = []
let brokerNames: string[] = []

function scanText(where: string, text: string): void {
  if (!text) return
  for (const b of brokerNames)
    if (text.includes(b)) leaks.push(`${where}: broker address ${b} in ${JSON.stringify(text.slice(0, 200))}`)
  if (
    /\n\s+at [^\n]*:\d+:\d+/.test(text) ||
    /\bat (?:async )?[\w$.<>]+ \((?:file:|node:|\/)[^)]*:\d+:\d+\)/.test(text)
  ) {
    leaks.push(`${where}: stack trace in ${JSON.stringify(text.slice(0, 200))}`)
  }
  for (const p of tokenPieces())
    if (text.includes(p)) leaks.push(`${where}: token piece ${p.slice(0, 24)}… in an answer`)
}

/** Every string in a decoded frame / JSON value. */
export function stringsOf(v: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 20) return out
  if (typeof v === 'string') out.push(v)
  else if (Array.isArray(v)) for (const x of v) stringsOf(x, out, depth + 1)
  else if (v && typeof v === 'object' && !(v instanceof Uint8Array))
    for (const x of Object.values(v)) stringsOf(x, out, depth + 1)
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// the gateway child

export interface ChildGateway {
  readonly url: string
  readonly wsUrl: string
  readonly port: number
  readonly pid: number
  readonly child: ChildProcess
  readonly options: Record<string, unknown>
  /** Resolves when the child exits, with its code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  alive(): boolean
  /** What the child wrote on stderr (its logs) so far. */
  stderr(): string
  stdout(): string
  /** Peak resident set (VmHWM) in MB; the last sample when the child is gone. */
  rssPeakMb(): number
  /** Current resident set (VmRSS) in MB. */
  rssMb(): number
  /** GET /metrics (Prometheus text; the old gateway answered JSON). */
  metrics(): Promise<string>
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>
  /** Worst /healthz latency so far, probes made, probes that failed. */
  lag(): { worstMs: number; probes: number; failures: number }
  /** Throws (with the end of stderr) when the child is gone. */
  assertAlive(): void
  describeExit(): string
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

function procStatus(pid: number): { hwm: number; rss: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN)
    return { hwm: kb('VmHWM') / 1024, rss: kb('VmRSS') / 1024 }
  } catch {
    return null
  }
}

// The /healthz prober runs in a worker thread: its own event loop, so a busy test process does not inflate the
// figures. Shared stats: [worstMs, probes, failures].
const PROBER = `
const { workerData } = require('node:worker_threads')
const http = require('node:http')
const { port, sab, everyMs } = workerData
const stats = new Int32Array(sab)
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
let started = 0
const note = (ms) => { if (ms > Atomics.load(stats, 0)) Atomics.store(stats, 0, Math.round(ms)) }
setInterval(() => {
  const now = performance.now()
  if (started) { note(now - started); return }
  started = now
  const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent, timeout: 10000 }, (res) => {
    res.resume()
    res.on('end', () => {
      note(performance.now() - started)
      Atomics.add(stats, 1, 1)
      if (res.statusCode !== 200) Atomics.add(stats, 2, 1)
      started = 0
    })
  })
  const fail = () => { if (!started) return; note(performance.now() - started); Atomics.add(stats, 1, 1); Atomics.add(stats, 2, 1); started = 0; req.destroy() }
  req.on('timeout', fail)
  req.on('error', fail)
}, everyMs)
`

/**
 * Start the gateway as a child process (options as JSON; `bootstrap` and `secret` default to the test cluster and
 * SECRET) and a /healthz prober. Rejects with the child's stderr when it does not start.
 */
export async function startChildGateway(options: Record<string, unknown> = {}): Promise<ChildGateway> {
  const opts: Record<string, unknown> = { bootstrap: kafkaBootstrap(), secret: SECRET, ...options }
  brokerNames = [
    ...new Set(
      String(opts.bootstrap)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ]
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, ISOKAFKA_GATEWAY_OPTIONS: JSON.stringify(opts) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let out = ''
  const errChunks: string[] = []
  let errLen = 0
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    errChunks.push(d)
    errLen += d.length
    while (errLen > 64 << 20 && errChunks.length > 1) errLen -= errChunks.shift()!.length
  })
  const stderr = () => errChunks.join('')
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal }
      children.delete(child)
      resolve(exit)
    }),
  )
  const describeExit = () =>
    exit
      ? `the gateway child exited (code ${exit.code}, signal ${exit.signal}); end of its stderr:\n${stderr().slice(-3000)}`
      : 'the gateway child is running'

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the gateway child did not start within 20 s: ${out} ${stderr().slice(-3000)}`)),
      20_000,
    )
    const onData = () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        child.stdout!.off('data', onData)
        resolve(Number(m[1]))
      }
    }
    child.stdout!.on('data', onData)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(describeExit()))
    })
  })

  let last = { hwm: 0, rss: 0 }
  const sample = () => {
    const s = child.pid ? procStatus(child.pid) : null
    if (s && Number.isFinite(s.hwm)) last = s
    return last
  }
  const sampler = setInterval(sample, 200)
  sampler.unref()

  const sab = new SharedArrayBuffer(12)
  const stats = new Int32Array(sab)
  const prober = new Worker(PROBER, { eval: true, workerData: { port, sab, everyMs: 50 } })
  prober.unref()
  let proberStopped = false
  const stopProber = async () => {
    if (proberStopped) return
    proberStopped = true
    await prober.terminate()
  }

  const url = `http://127.0.0.1:${port}`
  const gw: ChildGateway = {
    url,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    port,
    pid: child.pid!,
    child,
    options: opts,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    stderr,
    stdout: () => out,
    rssPeakMb: () => sample().hwm,
    rssMb: () => sample().rss,
    async metrics() {
      const headers: Record<string, string> = opts.metricsToken
        ? { Authorization: `Bearer ${String(opts.metricsToken)}` }
        : {}
      const res = await httpRequest(gw, 'GET', '/metrics', { headers, scan: false })
      return res.text
    },
    async metric(name, labels) {
      return metricValue(await gw.metrics(), name, labels)
    },
    lag: () => ({ worstMs: Atomics.load(stats, 0), probes: Atomics.load(stats, 1), failures: Atomics.load(stats, 2) }),
    assertAlive() {
      if (!gw.alive()) throw new Error(describeExit())
    },
    describeExit,
    async stop() {
      clearInterval(sampler)
      await stopProber()
      if (gw.alive()) {
        child.kill('SIGTERM')
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(t)
      }
      return exited
    },
  }
  ;(gw as ChildGateway & { stopProber: () => Promise<void> }).stopProber = stopProber
  return gw
}

/** A value from Prometheus text (summed over matching series); from the old JSON metrics for a few names. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  if (text.trimStart().startsWith('{')) {
    try {
      const j = JSON.parse(text) as Record<string, any>
      const legacy: Record<string, unknown> = {
        isokafka_gateway_pauses_total: j.pauses,
        isokafka_gateway_pending_bytes: j.pendingBytes,
        isokafka_gateway_connections: j.connections?.current,
        isokafka_gateway_records_in_total: j.records?.in,
      }
      const v = legacy[name]
      return typeof v === 'number' ? v : undefined
    } catch {
      return undefined
    }
  }
  let sum: number | undefined
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line)
    if (!m || m[1] !== name) continue
    const have: Record<string, string> = {}
    for (const lm of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[lm[1]!] = lm[2]!
    if (Object.entries(labels).some(([k, v]) => have[k] !== v)) continue
    sum = (sum ?? 0) + Number(m[3])
  }
  return sum
}

export interface ChildFigures {
  file: string
  label: string
  module: string
  alive: boolean
  rssPeakMb: number
  worstHealthzMs: number
  probes: number
  failedProbes: number
}

/**
 * afterAll of every file: each child must still be alive; peak RSS and worst /healthz latency within bounds.
 * Stops the children in any case and appends the figures to the report file.
 */
export async function finishChildren(
  file: string,
  list: Array<[label: string, gw: ChildGateway | undefined]>,
): Promise<void> {
  const problems: string[] = []
  for (const [label, gw] of list) {
    if (!gw) {
      problems.push(`${label}: the gateway child never started`)
      continue
    }
    const alive = gw.alive()
    await (gw as ChildGateway & { stopProber: () => Promise<void> }).stopProber()
    const lag = gw.lag()
    const figures: ChildFigures = {
      file,
      label,
      module: process.env.ISOKAFKA_GATEWAY_MODULE ?? 'dist/gateway.js',
      alive,
      rssPeakMb: Math.round(gw.rssPeakMb() * 10) / 10,
      worstHealthzMs: lag.worstMs,
      probes: lag.probes,
      failedProbes: lag.failures,
    }
    process.stderr.write(
      `[hostile] ${file} ${label}: ${alive ? 'alive' : 'DEAD'}, peak RSS ${figures.rssPeakMb} MB, worst /healthz ${lag.worstMs} ms over ${lag.probes} probes (${lag.failures} failed)\n`,
    )
    try {
      appendFileSync(
        process.env.HOSTILE_REPORT ?? path.join(os.tmpdir(), 'isokafka-hostile-report.jsonl'),
        JSON.stringify({ ...figures, at: new Date().toISOString() }) + '\n',
      )
    } catch {
      /* the report is a convenience */
    }
    if (!alive) problems.push(`${label}: ${gw.describeExit()}`)
    if (!(figures.rssPeakMb < RSS_LIMIT_MB))
      problems.push(`${label}: peak RSS ${figures.rssPeakMb} MB (limit ${RSS_LIMIT_MB} MB)`)
    if (!(lag.worstMs < STALL_LIMIT_MS))
      problems.push(`${label}: worst /healthz latency ${lag.worstMs} ms (limit ${STALL_LIMIT_MS} ms)`)
    await gw.stop()
  }
  expect(problems, problems.join('\n')).toEqual([])
}

// ---------------------------------------------------------------------------------------------------------------
// frames

export type WireRecord = [number, Uint8Array | null, Uint8Array | null, Array<[string, Uint8Array | null]>]
export interface Batch {
  topic: string
  partition?: number
  batchId: string
  records: WireRecord[]
}

export const bytes = (s: string) => utf8.encode(s)
export const text = (b: Uint8Array | null) => (b === null ? '<null>' : utf8d.decode(b))

export function pack(frame: unknown): Uint8Array {
  return encode(frame, { ignoreUndefined: true })
}

export function rec(
  value: string | null,
  opts: { key?: string | null; headers?: Array<[string, Uint8Array | null]>; ts?: number } = {},
): WireRecord {
  return [
    opts.ts ?? Date.now(),
    opts.key == null ? null : bytes(opts.key),
    value === null ? null : bytes(value),
    opts.headers ?? [],
  ]
}

export function produceFrame(
  id: number,
  batches: Batch[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    t: 'produce',
    id,
    acks: -1,
    timeoutMs: 15_000,
    batches: batches.map((b) => ({
      topic: b.topic,
      partition: b.partition ?? 0,
      batchId: b.batchId,
      records: b.records,
    })),
    ...extra,
  }
}

let idCounter = 0
export const uniqueId = (prefix = 'b') => `${prefix}-${(++idCounter).toString(36)}-${randomUUID().slice(0, 8)}`

/** A decoded server frame (loosely typed: this suite checks what arrives). */
export type Frame = Record<string, any>

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: http.IncomingHttpHeaders,
  ) {
    super(`the WebSocket upgrade was refused with HTTP ${status}: ${body.slice(0, 200)}`)
  }
}

export interface OpenOptions {
  /** Token in the query string (`?token=`). */
  token?: string
  /** Token as subprotocol `isokafka.token.<t>`. */
  subprotocolToken?: string
  /** Subprotocols (default ['isokafka.v1'] plus the token one). */
  protocols?: string[]
  origin?: string
  /** Path and query (default /v1/ws). */
  path?: string
  localAddress?: string
  autoPong?: boolean
  headers?: Record<string, string>
}

/** A WebSocket speaking raw frames; collects every answer. */
export class FrameClient {
  readonly frames: Frame[] = []
  readonly all: Frame[] = []
  closed: { code: number; reason: string } | null = null
  private waiters: Array<() => void> = []

  private constructor(
    readonly ws: WebSocket,
    readonly gw: ChildGateway,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      let f: Frame
      if (!isBinary) f = { t: '<text>', text: data.toString('utf8') }
      else {
        try {
          f = decode(data) as Frame
        } catch {
          f = { t: '<undecodable>', bytes: data.length }
        }
      }
      for (const s of stringsOf(f)) scanText(`WebSocket frame ${String(f?.t)}`, s)
      this.frames.push(f)
      this.all.push(f)
      this.wake()
    })
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() }
      this.wake()
    })
    ws.on('error', () => {})
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  static open(gw: ChildGateway, opts: OpenOptions = {}): Promise<FrameClient> {
    gw.assertAlive()
    let target = `ws://127.0.0.1:${gw.port}${opts.path ?? '/v1/ws'}`
    if (opts.token !== undefined) target += `${target.includes('?') ? '&' : '?'}token=${encodeURIComponent(opts.token)}`
    const protocols = opts.protocols ?? [
      'isokafka.v1',
      ...(opts.subprotocolToken !== undefined ? [`isokafka.token.${opts.subprotocolToken}`] : []),
    ]
    return raceChild(
      gw,
      new Promise<FrameClient>((resolve, reject) => {
        const ws = new WebSocket(target, protocols, {
          headers: { ...(opts.origin !== undefined ? { Origin: opts.origin } : {}), ...(opts.headers ?? {}) },
          localAddress: opts.localAddress,
          autoPong: opts.autoPong ?? true,
          handshakeTimeout: 8000,
          perMessageDeflate: false,
        })
        const client = new FrameClient(ws, gw)
        ws.once('open', () => resolve(client))
        ws.once('unexpected-response', (req, res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8')
            scanText(`upgrade refusal ${res.statusCode}`, body)
            reject(new UpgradeRefused(res.statusCode ?? 0, body, res.headers))
            req.destroy()
          })
          res.on('error', () => reject(new UpgradeRefused(res.statusCode ?? 0, '', res.headers)))
        })
        ws.once('error', (err) => reject(err))
        ws.once('close', (code) => reject(new Error(`closed (${code}) before opening`)))
      }),
    )
  }

  send(frame: unknown): void {
    if (typeof frame === 'string') this.ws.send(frame)
    else this.ws.send(frame instanceof Uint8Array ? frame : pack(frame), { binary: true })
  }

  async next(pred: (f: Frame) => boolean = () => true, ms = 10_000): Promise<Frame> {
    const deadline = Date.now() + ms
    for (;;) {
      const i = this.frames.findIndex(pred)
      if (i >= 0) return this.frames.splice(i, 1)[0]!
      if (this.closed)
        throw new Error(
          `the connection closed (${this.closed.code} ${this.closed.reason}) before the expected frame arrived; got ${JSON.stringify(this.all.map(brief))}`,
        )
      this.gw.assertAlive()
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(`timed out after ${ms} ms waiting for a frame; got ${JSON.stringify(this.all.map(brief))}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** The answer to request `id`. */
  answer(id: number, ms = 15_000): Promise<Frame> {
    return this.next((f) => f.id === id, ms)
  }

  async hello(token: string | undefined, extra: Record<string, unknown> = {}): Promise<Frame> {
    this.send({ t: 'hello', v: 1, token, ...extra })
    return this.next((f) => f.t === 'welcome' || f.t === 'error')
  }

  async waitClosed(ms = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + ms
    while (!this.closed && Date.now() < deadline) {
      this.gw.assertAlive()
      await sleep(20)
    }
    if (!this.closed)
      throw new Error(`the connection was still open after ${ms} ms; got ${JSON.stringify(this.all.map(brief))}`)
    return this.closed
  }

  close(): void {
    this.ws.terminate()
  }
}

function brief(f: Frame): unknown {
  if (!f || typeof f !== 'object') return f
  if (f.t === 'error')
    return { t: f.t, id: f.id, code: f.code, fatal: f.fatal, message: String(f.message).slice(0, 120) }
  if (f.t === 'ack')
    return {
      t: f.t,
      id: f.id,
      results: (f.results ?? []).slice(0, 3).map((r: Frame) => ({ errorCode: r.errorCode, baseOffset: r.baseOffset })),
    }
  return { t: f.t, id: f.id }
}

/** Open a WebSocket and authenticate with a hello; returns the client and the welcome. */
export async function authed(gw: ChildGateway, token: string, opts: OpenOptions = {}): Promise<FrameClient> {
  const c = await FrameClient.open(gw, opts)
  const w = await c.hello(token)
  expect(w, JSON.stringify(brief(w))).toMatchObject({ t: 'welcome' })
  return c
}

/** Expect a refused upgrade with this HTTP status. */
export async function expectUpgradeStatus(p: Promise<FrameClient>, status: number): Promise<UpgradeRefused> {
  let client: FrameClient | undefined
  try {
    client = await p
  } catch (err) {
    if (err instanceof UpgradeRefused) {
      expect(err.status, err.message).toBe(status)
      return err
    }
    throw new Error(`expected HTTP ${status} on the upgrade, the handshake failed instead: ${(err as Error).message}`)
  }
  const got = await Promise.race([client.next(() => true, 1500).catch(() => null), sleep(1500)])
  client.close()
  throw new Error(
    `expected HTTP ${status} on the upgrade, but the WebSocket opened (then got ${JSON.stringify(got ? brief(got as Frame) : null)})`,
  )
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP and raw TCP

function raceChild<T>(gw: ChildGateway, p: Promise<T>): Promise<T> {
  return Promise.race([p, gw.exited.then(() => Promise.reject(new Error(gw.describeExit())))])
}

export interface HttpAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  text: string
  ms: number
}

export function httpRequest(
  gw: ChildGateway,
  method: string,
  pathAndQuery: string,
  opts: {
    headers?: Record<string, string | number>
    body?: string | Uint8Array
    timeoutMs?: number
    localAddress?: string
    scan?: boolean
  } = {},
): Promise<HttpAnswer> {
  gw.assertAlive()
  const t0 = Date.now()
  return raceChild(
    gw,
    new Promise<HttpAnswer>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...(opts.headers ?? {}) }
      if (opts.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
        headers['Content-Length'] = typeof opts.body === 'string' ? Buffer.byteLength(opts.body) : opts.body.length
      }
      const req = http.request(
        {
          host: '127.0.0.1',
          port: gw.port,
          method,
          path: pathAndQuery,
          headers,
          agent: false,
          localAddress: opts.localAddress,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const body = Buffer.concat(chunks)
            const answer = {
              status: res.statusCode ?? 0,
              headers: res.headers,
              body,
              text: body.toString('utf8'),
              ms: Date.now() - t0,
            }
            if (opts.scan !== false) {
              const type = String(res.headers['content-type'] ?? '')
              if (type.includes('msgpack')) {
                try {
                  for (const s of stringsOf(decode(body))) scanText(`HTTP ${method} answer`, s)
                } catch {
                  /* not decodable: nothing to scan */
                }
              } else scanText(`HTTP ${method} answer`, answer.text)
            }
            resolve(answer)
          })
          res.on('error', reject)
        },
      )
      req.setTimeout(opts.timeoutMs ?? 20_000, () =>
        req.destroy(
          new Error(`no answer to ${method} ${pathAndQuery.slice(0, 80)} within ${opts.timeoutMs ?? 20_000} ms`),
        ),
      )
      req.on('error', reject)
      req.end(opts.body === undefined ? undefined : Buffer.from(opts.body))
    }),
  )
}

/** Write raw bytes on a new TCP connection; collect what comes back until the server closes or `timeoutMs`. */
export function rawExchange(
  gw: ChildGateway,
  data: string | Uint8Array,
  opts: { timeoutMs?: number; localAddress?: string; until?: (text: string) => boolean } = {},
): Promise<{ text: string; closedByServer: boolean; ms: number }> {
  const t0 = Date.now()
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: gw.port, localAddress: opts.localAddress })
    let buf = ''
    let done = false
    const finish = (closedByServer: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      s.destroy()
      resolve({ text: buf, closedByServer, ms: Date.now() - t0 })
    }
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 3000)
    s.on('connect', () => s.write(data))
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1')
      if (opts.until?.(buf)) finish(false)
    })
    s.on('end', () => finish(true))
    s.on('close', () => finish(true))
    s.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') finish(true)
      else if (!done) {
        done = true
        clearTimeout(timer)
        reject(err)
      }
    })
  })
}

/**
 * A slow writer: sends `parts` one every `intervalMs` on a raw TCP connection and reports when the server closed
 * it (ms after connecting), or null when it was still open after `maxMs`.
 */
export function trickle(
  gw: ChildGateway,
  parts: Array<string | Uint8Array>,
  intervalMs: number,
  maxMs: number,
  opts: { localAddress?: string } = {},
): Promise<{ closedAfterMs: number | null; text: string; sent: number }> {
  const t0 = Date.now()
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: gw.port, localAddress: opts.localAddress })
    let buf = ''
    let sent = 0
    let done = false
    const finish = (closed: boolean) => {
      if (done) return
      done = true
      clearInterval(tick)
      clearTimeout(timer)
      s.destroy()
      resolve({ closedAfterMs: closed ? Date.now() - t0 : null, text: buf, sent })
    }
    const tick = setInterval(() => {
      if (sent < parts.length && s.writable) s.write(parts[sent++]!)
    }, intervalMs)
    const timer = setTimeout(() => finish(false), maxMs)
    s.on('data', (d: Buffer) => (buf += d.toString('latin1')))
    s.on('end', () => finish(true))
    s.on('close', () => finish(true))
    s.on('error', () => finish(true))
  })
}

/** A client-side (masked) WebSocket frame header + payload, for raw-TCP WebSocket clients. */
export function wsFrame(
  opcode: number,
  payload: Uint8Array,
  opts: { fin?: boolean; declaredLength?: number } = {},
): Buffer {
  const len = opts.declaredLength ?? payload.length
  const head: number[] = [((opts.fin ?? true) ? 0x80 : 0) | opcode]
  if (len < 126) head.push(0x80 | len)
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 0xff)
  else {
    head.push(0x80 | 127, 0, 0, 0, 0)
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff)
  }
  const mask = [0x12, 0x34, 0x56, 0x78]
  const body = Buffer.from(payload).map((b, i) => b ^ mask[i % 4]!)
  return Buffer.concat([Buffer.from(head), Buffer.from(mask), body])
}

/** The HTTP text of a WebSocket upgrade request for `target` (kept verbatim: raw request targets are the point). */
export function upgradeRequest(target: string, extraHeaders: string[] = []): string {
  return [
    `GET ${target} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Protocol: isokafka.v1',
    ...extraHeaders,
    '',
    '',
  ].join('\r\n')
}

/** The status code of the first HTTP response line in `text`, or null. */
export function statusOf(text: string): number | null {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text)
  return m ? Number(m[1]) : null
}

// ---------------------------------------------------------------------------------------------------------------
// Kafka: exactly the accepted records

/** Values (UTF-8) of the records the gateway acknowledged, per topic. */
export class Accepted {
  private readonly byTopic = new Map<string, string[]>()
  add(topic: string, values: string[]): void {
    const list = this.byTopic.get(topic) ?? []
    list.push(...values)
    this.byTopic.set(topic, list)
  }
  get(topic: string): string[] {
    return this.byTopic.get(topic) ?? []
  }
}

function runKcat(args: string[], timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(Buffer.concat(out))
      else reject(new Error(`kcat ${args.join(' ')} exited with ${code}: ${Buffer.concat(err).toString().trim()}`))
    })
  })
}

/** Records in a topic (all partitions), counted cheaply with kcat (one byte per record). */
export async function countRecords(bootstrap: string, topic: string): Promise<number> {
  // fetch.wait.max.ms: -e ends on an empty fetch at the end of each partition, which the broker holds that long (500 ms by default)
  const out = await runKcat(
    ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-X', 'fetch.wait.max.ms=10', '-f', '.'],
    60_000,
  )
  return out.length
}

/**
 * The topic holds exactly the accepted values (as a multiset): nothing refused reached Kafka, nothing accepted is
 * missing, nothing is there twice.
 */
export async function expectTopicHolds(bootstrap: string, topic: string, accepted: string[]): Promise<void> {
  let n = await countRecords(bootstrap, topic)
  if (n < accepted.length) {
    await sleep(500)
    n = await countRecords(bootstrap, topic)
  } else {
    // give anything refused-but-sent a moment to land before comparing
    await sleep(300)
    n = await countRecords(bootstrap, topic)
  }
  expect(n, `${topic} holds ${n} records; ${accepted.length} were accepted`).toBe(accepted.length)
  const read = await readAllWithKcat(bootstrap, topic, accepted.length, 15_000)
  const got = read.map((r) => text(r.value)).sort()
  const want = [...accepted].sort()
  expect(got).toEqual(want)
}

// ---------------------------------------------------------------------------------------------------------------
// the well-behaved client

let healthyRuns = 0
/**
 * A well-behaved client still gets in and gets acks: WebSocket, hello with a valid token, a small batch with
 * acks=all; the ack must have errorCode 0 and an offset. The records are added to `accepted`.
 */
export async function assertHealthy(
  gw: ChildGateway,
  topic: string,
  accepted: Accepted,
  label = 'healthy',
): Promise<void> {
  gw.assertAlive()
  const c = await authed(gw, mintToken({ topics: [topic], sub: 'well-behaved' }))
  try {
    const n = ++healthyRuns
    const values = [0, 1, 2].map((i) => `${label}-${process.pid}-${n}-${i}`)
    c.send(produceFrame(1, [{ topic, batchId: uniqueId('healthy'), records: values.map((v) => rec(v)) }]))
    const ack = await c.answer(1, 20_000)
    expect(ack.t, JSON.stringify(brief(ack))).toBe('ack')
    expect(ack.results).toHaveLength(1)
    expect(ack.results[0].errorCode, JSON.stringify(ack.results[0])).toBe(0)
    expect(ack.results[0].baseOffset).toBeGreaterThanOrEqual(0)
    accepted.add(topic, values)
  } finally {
    c.close()
  }
}

/** No answer seen by this file carried a broker address, a stack trace or a token. */
export function expectNoLeaks(): void {
  expect(leaks.slice(0, 10)).toEqual([])
}

/** No line of the child's stderr carries a token (whole or a piece) or a `token=` query string. */
export function tokenLinesIn(logText: string): string[] {
  const pieces = tokenPieces()
  return logText.split('\n').filter((l) => l && (/token=/i.test(l) || pieces.some((p) => l.includes(p))))
}
