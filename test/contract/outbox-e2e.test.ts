/// <reference types="node" />
// The durable outbox end to end (issue 15 §3), driven from Node with Playwright in Debian's Chromium (runs in
// vitest.contract.config.ts): a page bundled from the sources (test/contract/outbox/page.ts) produces through a
// gateway (adapters/gateway, in this process) with `indexedDbOutbox`, over websocket() or fetchTransport(). Between
// the page and the gateway sits a TCP proxy that can swallow the gateway's answers (batches reach Kafka, the page
// never hears of it: what a lost ack looks like). One persistent browser profile, so IndexedDB and Web Locks behave
// as in a real browser across pages, closes and renderer crashes. Every scenario ends with kcat reading the topic:
// each record the page stored is in Kafka exactly once, and nothing else is.
//   (a) network cut (CDP offline emulation) while 1,000 records are sent, then restored: all 1,000, once each;
//   (b) the page closed with records unacknowledged (answers swallowed, then offline), reopened: resent, once each
//       (the ones Kafka had are answered from the gateway's batch ledger), over WebSocket and over fetch;
//   (c) the renderer killed (CDP Page.crash) while records are being sent, a new page on the same profile: what was
//       stored is resent once; only records within the last linger before the crash may be missing;
//   (d) two tabs opening on the same leftovers, with tokens of different subjects (no shared dedup): each stored
//       batch is sent by one tab only.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { decode } from '@msgpack/msgpack'
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright'
import { createGateway, createGatewayToken, type Gateway } from '../../adapters/gateway/index.js'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bootstrap = inject('kafkaBootstrap')
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]
const SECRET = `outbox-e2e-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`
const PARTITIONS = 3

interface PageState {
  sent: number
  acked: number
  failed: string[]
  warnings: string[]
  drops: string[]
  depth: { batches: number; records: number; bytes: number }
  leftovers: number
  storage: string
  shipped: string[]
}

let gateway: Gateway
let gatewayPort = 0
let pageServer: http.Server
let pageOrigin = ''
let pageJs = ''
let context: BrowserContext
let profileDir = ''
const proxy = {
  server: undefined as net.Server | undefined,
  port: 0,
  /** What the gateway sends back is dropped (batches reach Kafka, the page never hears of it). */
  swallow: false,
  /** New connections are refused. */
  refuse: false,
  sockets: new Set<net.Socket>(),
  /** Connections whose bytes are dropped both ways for good (a cut the TCP stacks do not notice). */
  severed: new WeakSet<net.Socket>(),
  /** Every open connection goes dead, as when the network goes away under it. */
  severAll() {
    for (const s of this.sockets) this.severed.add(s)
  },
}

/** A TCP proxy to the gateway (see `proxy`). CDP offline emulation alone does not cut an open WebSocket for good: frames
 * it held back can still leave when the page closes. */
async function startProxy(): Promise<void> {
  proxy.server = net.createServer((client) => {
    if (proxy.refuse) return void client.destroy()
    const upstream = net.connect(gatewayPort, '127.0.0.1')
    proxy.sockets.add(client)
    proxy.sockets.add(upstream)
    client.on('data', (d) => {
      if (!proxy.severed.has(client)) upstream.write(d)
    })
    upstream.on('data', (d) => {
      if (!proxy.swallow && !proxy.severed.has(client)) client.write(d)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
      proxy.sockets.delete(client)
      proxy.sockets.delete(upstream)
    }
    for (const s of [client, upstream]) {
      s.on('close', end)
      s.on('error', end)
    }
  })
  await new Promise<void>((resolve) => proxy.server!.listen(0, '127.0.0.1', resolve))
  proxy.port = (proxy.server!.address() as AddressInfo).port
}

async function token(subject: string): Promise<string> {
  return createGatewayToken({ secret: SECRET, topics: ['outbox-*'], expiresInSec: 3600, subject })
}

async function openPage(opts: {
  transport: 'ws' | 'fetch'
  topic: string
  db: string
  subject: string
}): Promise<Page> {
  const url = opts.transport === 'ws' ? `ws://127.0.0.1:${proxy.port}/v1/ws` : `http://127.0.0.1:${proxy.port}`
  const q = new URLSearchParams({
    transport: opts.transport,
    url,
    token: await token(opts.subject),
    topic: opts.topic,
    db: opts.db,
  })
  const page = await context.newPage()
  page.on('pageerror', (err) => console.error(`[outbox-e2e] page error: ${err.message}`))
  await page.goto(`${pageOrigin}/?${q}`)
  await page.waitForFunction(() => document.body.dataset.ready === '1')
  return page
}

type Api = Record<string, (...args: never[]) => unknown>
function call<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    ([m, a]) =>
      ((window as unknown as { outboxPage: Api }).outboxPage[m as string] as (...x: unknown[]) => unknown)(
        ...(a as unknown[]),
      ),
    [method, args] as const,
  ) as Promise<T>
}
const stateOf = (page: Page) => call<PageState>(page, 'state')

async function until(
  what: string,
  fn: () => Promise<boolean>,
  timeoutMs = 30_000,
  detail?: () => Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${detail ? `: ${JSON.stringify(await detail().catch((e) => String(e)))}` : ''}`,
      )
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** One CDP session per page: emulated conditions belong to the session that set them. */
const cdpSessions = new WeakMap<Page, CDPSession>()
async function cdp(page: Page): Promise<CDPSession> {
  let session = cdpSessions.get(page)
  if (!session) {
    session = await page.context().newCDPSession(page)
    cdpSessions.set(page, session)
  }
  return session
}

/** CDP offline emulation: the page's requests and WebSockets fail while it is on. */
async function setOffline(page: Page, offline: boolean): Promise<void> {
  const session = await cdp(page)
  await session.send('Network.enable')
  await session.send('Network.emulateNetworkConditions', {
    offline,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  })
}

/** Values of the records stored in the outbox (MessagePack `[timestamp, key, value, headers]` arrays). */
function storedValues(rows: Array<{ records: number[] }>): string[] {
  const out: string[] = []
  for (const r of rows) {
    for (const rec of decode(Uint8Array.from(r.records)) as Array<
      [number, Uint8Array | null, Uint8Array | null, unknown]
    >) {
      out.push(Buffer.from(rec[2]!).toString('utf8'))
    }
  }
  return out
}

/** kcat reads the topic once everything should be there: every expected value once, no value twice, nothing else. */
async function expectExactlyOnce(
  topic: string,
  expected: Iterable<string>,
  allowedExtra: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const want = new Set(expected)
  const read = await readAllWithKcat(bootstrap, topic, want.size, 30_000)
  const values = read.map((r) => Buffer.from(r.value!).toString('utf8'))
  const seen = new Map<string, number>()
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1)
  const twice = [...seen].filter(([, n]) => n > 1).map(([v, n]) => `${v}×${n}`)
  const missing = [...want].filter((v) => !seen.has(v))
  const unexpected = [...seen.keys()].filter((v) => !want.has(v) && !allowedExtra.has(v))
  expect({
    twice: twice.slice(0, 10),
    missing: missing.slice(0, 10),
    missingCount: missing.length,
    unexpected: unexpected.slice(0, 10),
  }).toEqual({ twice: [], missing: [], missingCount: 0, unexpected: [] })
  return values
}

const range = (prefix: string, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}${from + i}`)
const dedupHits = () => gateway.metrics().batches.deduplicated
const t0 = Date.now()
const log = (line: string) => console.log(`[outbox-e2e +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`)

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [path.join(root, 'test/contract/outbox/page.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'silent',
  })
  pageJs = bundle.outputFiles[0]!.text
  pageServer = http.createServer((req, res) => {
    if (req.url?.startsWith('/page.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(pageJs)
    else
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(
          '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><body><script type="module" src="/page.js"></script></body>',
        )
  })
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve))
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`
  gateway = createGateway({ bootstrap, secret: SECRET, origins: [pageOrigin] })
  gatewayPort = Number(new URL((await gateway.listen(0, '127.0.0.1')).url).port)
  await startProxy()
  profileDir = mkdtempSync(path.join(os.tmpdir(), 'isokafka-outbox-profile-'))
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROME_BIN ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
  })
})

afterAll(async () => {
  await context?.close()
  for (const s of proxy.sockets) s.destroy()
  await new Promise((r) => (proxy.server ? proxy.server.close(r) : r(undefined)))
  await gateway?.close({ timeoutMs: 5000 })
  await new Promise((r) => (pageServer ? pageServer.close(r) : r(undefined)))
  if (profileDir) rmSync(profileDir, { recursive: true, force: true })
})

describe('indexedDbOutbox end to end (Chromium, gateway, Kafka)', () => {
  for (const transport of ['ws', 'fetch'] as const) {
    it(`(a) ${transport}: the network cut (CDP offline) while 1,000 records are sent, then restored: each once in Kafka`, async () => {
      const topic = uniqueTopic('outbox-a')
      await createTopic(bootstrap, topic, PARTITIONS)
      const page = await openPage({ transport, topic, db: `a-${transport}`, subject: `a-${transport}` })
      const started = Date.now()
      await call(page, 'start', { noOutbox: !!process.env.NO_OUTBOX })
      await call(page, 'connect')
      await call(page, 'send', 'a', 0, 300)
      await setOffline(page, true)
      for (let i = 300; i < 700; i += 50) {
        await call(page, 'send', 'a', i, 50)
        await page.waitForTimeout(100)
      }
      const offline = await stateOf(page)
      await page.waitForTimeout(500)
      await setOffline(page, false)
      await call(page, 'send', 'a', 700, 300)
      await until(
        '1,000 acks',
        async () => (await stateOf(page)).acked === 1000,
        60_000,
        async () => ({
          ...(await stateOf(page)),
          failed: (await stateOf(page)).failed.slice(0, 5),
          gateway: gateway.metrics().batches,
        }),
      )
      const s = await stateOf(page)
      log(
        `(a) ${transport}: 1,000 acked in ${Date.now() - started} ms; at the end of the cut ${offline.acked} acked, ${offline.depth.records} records in the outbox; dedup hits so far ${dedupHits()}`,
      )
      expect(s.failed).toEqual([])
      expect(s.warnings).toEqual([])
      expect(s.depth).toEqual({ batches: 0, records: 0, bytes: 0 })
      expect(await call<unknown[]>(page, 'rows')).toEqual([])
      await call(page, 'close')
      await page.close()
      await expectExactlyOnce(topic, range('a', 0, 1000))
    })
  }

  for (const transport of ['ws', 'fetch'] as const) {
    it(`(b) ${transport}: the page closed with records unacknowledged, then reopened: resent, each once in Kafka`, async () => {
      const topic = uniqueTopic('outbox-b')
      await createTopic(bootstrap, topic, PARTITIONS)
      const db = `b-${transport}`
      const subject = `b-${transport}` // the same user on both pages: the gateway's dedup spans them
      const first = await openPage({ transport, topic, db, subject })
      await call(first, 'start', { pageHide: transport === 'fetch' })
      await call(first, 'connect')
      // 1: the gateway's answers are lost: records reach Kafka, the page never hears of it
      // 0: some records go through normally (and the fetch transport's CORS preflight for /v1/produce is cached)
      await call(first, 'send', 'b', 0, 20)
      await until('20 acks', async () => (await stateOf(first)).acked === 20)
      proxy.swallow = true
      let before!: PageState
      let inKafka = 0
      let rows!: Array<{ records: number[] }>
      try {
        await call(first, 'send', 'b', 20, 300)
        // (fetch: Chromium asks the CORS preflight again, and its answer is swallowed too: nothing reaches Kafka)
        if (transport === 'ws')
          await until(
            '320 records in Kafka',
            async () => (await readAllWithKcat(bootstrap, topic, 320, 1000)).length >= 320,
            20_000,
          )
        else await first.waitForTimeout(500)
        inKafka = (await readAllWithKcat(bootstrap, topic, 0, 1000)).length
        // 2: and then no network at all: records stay in the page
        await setOffline(first, true)
        await call(first, 'send', 'b', 320, 200)
        await first.waitForTimeout(300) // a linger and a store write
        before = await stateOf(first)
        rows = await call<Array<{ records: number[] }>>(first, 'rows')
        await first.close()
      } finally {
        proxy.swallow = false
      }
      log(
        `(b) ${transport}: closed with ${before.acked} of 520 acked, ${inKafka} in Kafka, ${before.depth.records} records in the outbox (${storedValues(rows).length} in its rows)`,
      )
      expect(before.acked).toBe(20)

      const dedupBefore = dedupHits()
      const second = await openPage({ transport, topic, db, subject })
      expect(await call<boolean>(second, 'locksReleased')).toBe(true)
      const left = storedValues(await call<Array<{ records: number[] }>>(second, 'rows'))
      await call(second, 'start')
      await until(
        'the outbox to drain',
        async () => {
          const s = await stateOf(second)
          return s.leftovers > 0 && s.depth.batches === 0
        },
        30_000,
      )
      const s = await stateOf(second)
      log(
        `(b) ${transport}: reopened: ${s.leftovers} leftover records resent, ${dedupHits() - dedupBefore} batches answered from the gateway's ledger`,
      )
      expect(s.leftovers).toBe(left.length)
      expect(s.warnings).toEqual([])
      await call(second, 'close')
      await second.close()
      // every record the first page accepted was stored before the page closed (all were sent > one linger before)
      await expectExactlyOnce(topic, range('b', 0, 520))
    })
  }

  it('(c) ws: the renderer crashes while records are being sent; a new page resends what was stored, once', async () => {
    const topic = uniqueTopic('outbox-c')
    await createTopic(bootstrap, topic, PARTITIONS)
    const db = 'c-ws'
    const subject = 'c-ws'
    const lingerMs = 20
    const first = await openPage({ transport: 'ws', topic, db, subject })
    await call(first, 'start', { lingerMs })
    await call(first, 'connect')
    proxy.swallow = true // batches reach Kafka, acks do not reach the page
    let sentBefore = 0
    try {
      await call(first, 'send', 'c', 0, 400)
      await first.waitForTimeout(500)
      await call(first, 'startLoop', 'c', 400, 10, 2) // ~5,000 records/s until the crash
      await first.waitForTimeout(300)
      // every record sent up to now is sent ≥ 400 ms (20 lingers) before the crash: it must have been stored
      sentBefore = (await stateOf(first)).sent
      await first.waitForTimeout(400)
      const crashed = new Promise<void>((resolve) => first.once('crash', () => resolve()))
      log('(c) crashing the renderer')
      void (await cdp(first)).send('Page.crash').catch(() => {}) // the renderer dies: no pagehide, no unload, nothing flushed
      await Promise.race([crashed, new Promise((r) => setTimeout(r, 5000))])
      log('(c) crashed')
    } finally {
      proxy.swallow = false
    }
    await Promise.race([first.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))])
    log('(c) closed the crashed page')

    const second = await openPage({ transport: 'ws', topic, db, subject })
    log('(c) second page open')
    expect(await call<boolean>(second, 'locksReleased')).toBe(true)
    const stored = storedValues(await call<Array<{ records: number[] }>>(second, 'rows'))
    log(`(c) ${stored.length} records stored`)
    const kafkaBefore = (await readAllWithKcat(bootstrap, topic, 0, 1000)).map((r) =>
      Buffer.from(r.value!).toString('utf8'),
    )
    await call(second, 'start', { lingerMs })
    await until(
      'the outbox to drain',
      async () => {
        const s = await stateOf(second)
        return s.leftovers > 0 && s.depth.batches === 0
      },
      30_000,
    )
    await call(second, 'close')
    await second.close()
    // every record sent more than a linger before the crash was stored (or acknowledged); so was every one in Kafka
    const expected = new Set([...range('c', 0, sentBefore), ...stored, ...kafkaBefore])
    const possible = new Set(range('c', 0, sentBefore + 10_000)) // the loop ran on until the crash
    const values = await expectExactlyOnce(topic, expected, possible)
    log(
      `(c) crash: ${sentBefore} records sent ≥ 400 ms before the crash, ${kafkaBefore.length} in Kafka then, ${stored.length} stored; after the resend ${values.length} in Kafka, each once`,
    )
  })

  it('(d) ws: two tabs open on the same leftovers (different token subjects): each stored batch is sent by one tab', async () => {
    const topic = uniqueTopic('outbox-d')
    await createTopic(bootstrap, topic, PARTITIONS)
    const db = 'd-ws'
    const batchesBefore = gateway.metrics().batches.in
    const first = await openPage({ transport: 'ws', topic, db, subject: 'd-first' })
    await call(first, 'start')
    await call(first, 'connect')
    // nothing of the first page reaches the gateway: a second send of any of its batches would be a duplicate
    proxy.severAll()
    proxy.refuse = true
    let before!: PageState
    try {
      await setOffline(first, true)
      for (let i = 0; i < 600; i += 100) {
        await call(first, 'send', 'd', i, 100)
        await first.waitForTimeout(60)
      }
      await first.waitForTimeout(300)
      before = await stateOf(first)
      await first.close()
    } finally {
      proxy.refuse = false
    }
    expect(gateway.metrics().batches.in).toBe(batchesBefore)
    const tabs = await Promise.all(
      ['d-tab1', 'd-tab2'].map((subject) => openPage({ transport: 'ws', topic, db, subject })),
    )
    expect(await call<boolean>(tabs[0]!, 'locksReleased')).toBe(true)
    const stored = storedValues(await call<Array<{ records: number[] }>>(tabs[0]!, 'rows'))
    await Promise.all(tabs.map((t) => call(t, 'start')))
    await until(
      'both outboxes to drain',
      async () => {
        const s = await Promise.all(tabs.map(stateOf))
        return s[0]!.leftovers + s[1]!.leftovers === stored.length && s.every((x) => x.depth.batches === 0)
      },
      30_000,
    )
    const s = await Promise.all(tabs.map(stateOf))
    log(
      `(d) two tabs: ${before.depth.records} records left by the first page (${stored.length} stored), claimed ${s[0]!.leftovers} + ${s[1]!.leftovers}`,
    )
    for (const t of tabs) {
      await call(t, 'close')
      await t.close()
    }
    expect(stored.length).toBe(600)
    await expectExactlyOnce(topic, range('d', 0, 600))
  })
})
