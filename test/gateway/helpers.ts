/// <reference types="node" />
// Shared helpers for the gateway tests: start a gateway on a free port, mint tokens, make deterministic records,
// compare what kcat read back with what was sent, and a raw WebSocket client that speaks frames directly.
import WebSocket from 'ws'
import { createGateway, createGatewayToken, type Gateway, type GatewayOptions } from '../../adapters/gateway/index.js'
import {
  decodeServerFrame,
  encodeFrame,
  type ClientFrame,
  type ServerFrame,
} from '../../adapters/gateway-wire/index.js'
import type { KcatRecord } from '../helpers/kafka-tools.js'
import { xorshift32 } from '../helpers/xorshift.js'

export const SECRET = 'test-secret-0123456789abcdef'

export interface RunningGateway {
  gateway: Gateway
  url: string
  wsUrl: string
  close(): Promise<void>
}

export async function startGateway(
  bootstrap: string,
  options: Partial<GatewayOptions> = {},
  port = 0,
): Promise<RunningGateway> {
  const gateway = createGateway({ bootstrap, secret: SECRET, ...options })
  const { url } = await gateway.listen(port)
  return { gateway, url, wsUrl: `${url.replace(/^http/, 'ws')}/v1/ws`, close: () => gateway.close({ timeoutMs: 5000 }) }
}

export function token(
  topics: string[],
  opts: { subject?: string; expiresInSec?: number; secret?: string; nowSec?: number } = {},
): Promise<string> {
  return createGatewayToken({
    secret: opts.secret ?? SECRET,
    topics,
    expiresInSec: opts.expiresInSec ?? 600,
    subject: opts.subject ?? 'tester',
    nowSec: opts.nowSec,
  })
}

const enc = new TextEncoder()

/** Deterministic pseudo-random numbers (xorshift32), so a failure reproduces. */
export const rng = xorshift32

export interface Sent {
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
  timestamp: number
}

/** Binary keys/values (all 256 byte values), null and empty keys/values, headers with null values and repeats. */
export function makeRecords(n: number, seed: number, opts: { headers?: boolean; base?: number } = {}): Sent[] {
  const rand = rng(seed)
  const bytes = (len: number) => {
    const b = new Uint8Array(len)
    for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256)
    return b
  }
  const withHeaders = opts.headers ?? true
  const base = opts.base ?? Date.now() - 60_000
  const out: Sent[] = []
  for (let i = 0; i < n; i++) {
    const r = rand()
    const key = r < 0.2 ? null : r < 0.25 ? new Uint8Array(0) : bytes(1 + Math.floor(rand() * 24))
    const value = i % 97 === 0 ? null : i % 89 === 0 ? new Uint8Array(0) : bytes(8 + Math.floor(rand() * 120))
    const headers: Array<[string, Uint8Array | null]> = []
    if (withHeaders) {
      headers.push(['seq', enc.encode(String(i))])
      if (i % 5 === 0) headers.push(['bin', bytes(6)], ['nil', null])
      if (i % 7 === 0) headers.push(['dup', enc.encode('a')], ['dup', enc.encode('b')])
    }
    out.push({ key, value, headers, timestamp: base + i })
  }
  return out
}

export function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const hex = (b: Uint8Array | null) => (b === null ? 'null' : Buffer.from(b).toString('hex'))
export function fingerprint(r: {
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
}): string {
  return `${hex(r.key)}|${hex(r.value)}|${r.headers.map(([k, v]) => `${k}=${hex(v)}`).join(',')}`
}

/**
 * Every sent record is in `read` exactly once with the same key, value, headers (and timestamp when given), at the
 * partition and offset its send resolved with.
 */
export function expectExactlyOnce(
  sent: Sent[],
  read: KcatRecord[],
  acked: Array<{ partition: number; offset: number }> | null,
  opts: { timestamps?: boolean; headers?: boolean } = {},
): string[] {
  const problems: string[] = []
  if (read.length !== sent.length) problems.push(`read ${read.length} records, sent ${sent.length}`)
  const at = new Map<string, KcatRecord>()
  for (const r of read) at.set(`${r.partition}:${r.offset}`, r)
  if (acked) {
    sent.forEach((s, i) => {
      const a = acked[i]!
      const r = at.get(`${a.partition}:${a.offset}`)
      if (!r) return void problems.push(`record ${i} acked at ${a.partition}:${a.offset} is not in Kafka`)
      if (!sameBytes(r.key, s.key)) problems.push(`record ${i}: key differs`)
      if (!sameBytes(r.value, s.value)) problems.push(`record ${i}: value differs`)
      if (
        (opts.headers ?? true) &&
        fingerprint({ key: null, value: null, headers: r.headers }) !==
          fingerprint({ key: null, value: null, headers: s.headers })
      ) {
        problems.push(`record ${i}: headers differ`)
      }
      if (opts.timestamps && r.timestamp !== s.timestamp)
        problems.push(`record ${i}: timestamp ${r.timestamp} != ${s.timestamp}`)
    })
  }
  // multiset comparison (catches duplicates even without acks)
  const want = new Map<string, number>()
  for (const s of sent)
    want.set(
      fingerprint(opts.headers === false ? { ...s, headers: [] } : s),
      (want.get(fingerprint(opts.headers === false ? { ...s, headers: [] } : s)) ?? 0) + 1,
    )
  for (const r of read) {
    const f = fingerprint(opts.headers === false ? { ...r, headers: [] } : r)
    const n = want.get(f)
    if (!n) problems.push(`unexpected (or duplicate) record at ${r.partition}:${r.offset}`)
    else want.set(f, n - 1)
  }
  return problems.slice(0, 20)
}

/** A raw protocol client: send frames, collect answers. */
export class RawClient {
  readonly frames: ServerFrame[] = []
  closed: { code: number; reason: string } | null = null
  private waiters: Array<() => void> = []
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.frames.push(decodeServerFrame(new Uint8Array(data)))
      this.wake()
    })
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() }
      this.wake()
    })
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w()
  }

  static open(url: string, opts: { protocols?: string[]; origin?: string } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, opts.protocols ?? ['isokafka.v1'], {
        headers: opts.origin ? { Origin: opts.origin } : {},
      })
      const client = new RawClient(ws)
      ws.once('open', () => resolve(client))
      ws.once('unexpected-response', (_req, res) =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
      )
      ws.once('error', reject)
    })
  }

  send(frame: ClientFrame | Uint8Array): void {
    this.ws.send(frame instanceof Uint8Array ? frame : encodeFrame(frame))
  }

  /** The next frame matching `pred` (waits up to `ms`). */
  async next(pred: (f: ServerFrame) => boolean = () => true, ms = 15_000): Promise<ServerFrame> {
    const deadline = Date.now() + ms
    for (;;) {
      const i = this.frames.findIndex(pred)
      if (i >= 0) return this.frames.splice(i, 1)[0]!
      if (this.closed)
        throw new Error(`connection closed (${this.closed.code} ${this.closed.reason}) before the frame arrived`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out waiting for a frame')
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  async hello(tok: string): Promise<ServerFrame> {
    this.send({ t: 'hello', v: 1, token: tok })
    return this.next((f) => f.t === 'welcome' || f.t === 'error')
  }

  async waitClosed(ms = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + ms
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    if (!this.closed) throw new Error('the connection did not close')
    return this.closed
  }

  close(): void {
    this.ws.terminate()
  }
}
