/// <reference types="node" />
// The web-app example (examples/web-app) end to end, driven from Node with Playwright (runs in
// vitest.contract.config.ts, not in browser mode): build the page with its build.mjs, start its serve.mjs (page server
// + gateway + token endpoint, bundled from the sources so no `npm run build` is needed), open the page in Debian's
// Chromium, click the button N times, save a screenshot to test-results/web-app.png, and read the click records back
// from Kafka with kcat.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'
import { chromium, type Browser } from 'playwright'
import { murmur2Partition } from '../../src/index.js'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const appDir = path.join(root, 'examples/web-app')
const bootstrap = inject('kafkaBootstrap')
const topic = uniqueTopic('web-app-clicks')
const PARTITIONS = 3
const CLICKS = 12
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** `isokafka/*` → the sources, as `npm install isokafka` would resolve them to dist/. */
const sourceAliases: Plugin = {
  name: 'isokafka-sources',
  setup(b) {
    const map: Record<string, string> = { isokafka: 'src/index.ts', 'isokafka/gateway': 'adapters/gateway/index.ts' }
    b.onResolve({ filter: /^isokafka(\/gateway)?$/ }, (args) => ({ path: path.join(root, map[args.path]!) }))
  },
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')))
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')))
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${out}`)),
    )
  })
}

let server: ChildProcess | undefined
let browser: Browser | undefined
let pageUrl = ''
let gatewayHttpUrl = ''
/** WebSocket upgrades the example's gateway refused for their Origin (its /metrics). */
async function forbiddenOrigins(): Promise<number> {
  const metrics = (await (await fetch(`${gatewayHttpUrl}/metrics?format=json`)).json()) as {
    errors: Record<string, number>
  }
  return metrics.errors.FORBIDDEN_ORIGIN ?? 0
}
const serverOutput: string[] = []

beforeAll(async () => {
  await createTopic(bootstrap, topic, PARTITIONS)
  console.log(`[web-app] ${(await run(process.execPath, [path.join(appDir, 'build.mjs')])).trim()}`)
  // serve.mjs imports isokafka/gateway: bundle it against the sources (externals resolve from the repo's node_modules)
  const serveBundle = path.join(appDir, 'dist/serve.from-sources.mjs')
  await build({
    entryPoints: [path.join(appDir, 'serve.mjs')],
    outfile: serveBundle,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    plugins: [sourceAliases],
    logLevel: 'silent',
  })
  server = spawn(process.execPath, [serveBundle, '--port', '0', '--topic', topic], {
    cwd: root,
    env: { ...process.env, KAFKA_BOOTSTRAP: bootstrap, WEB_APP_DIR: appDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  pageUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve.mjs did not start: ${serverOutput.join('')}`)), 30_000)
    server!.stdout!.on('data', (d: Buffer) => {
      const text = d.toString('utf8')
      serverOutput.push(text)
      const m = /web-app listening (\S+) gateway (\S+)/.exec(text)
      if (m) {
        clearTimeout(timer)
        gatewayHttpUrl = new URL(m[2]!.replace(/^ws/, 'http')).origin
        resolve(m[1]!)
      }
    })
    server!.stderr!.on('data', (d: Buffer) => serverOutput.push(d.toString('utf8')))
    server!.on('exit', (code) => reject(new Error(`serve.mjs exited with ${code}: ${serverOutput.join('')}`)))
  })
  browser = await chromium.launch({
    executablePath: process.env.CHROME_BIN ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  })
})

afterAll(async () => {
  await browser?.close()
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve))
    server.kill('SIGTERM')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
    if (server.exitCode === null) server.kill('SIGKILL')
  }
})

describe('examples/web-app in Chromium (Playwright)', () => {
  it(`sends ${CLICKS} clicks through the gateway; Kafka has them, in order, byte for byte`, async () => {
    const page = await browser!.newPage({ viewport: { width: 900, height: 700 } })
    const problems: string[] = []
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    page.on('console', (msg) => msg.type() === 'error' && problems.push(`console error: ${msg.text()}`))
    await page.goto(pageUrl)
    const button = page.locator('#send')
    await expect.poll(() => button.isEnabled(), { timeout: 30_000 }).toBe(true)
    expect(await page.locator('#status').textContent()).toContain(`topic "${topic}"`)

    const started = Date.now()
    for (let i = 0; i < CLICKS; i++) {
      await button.click()
      if (i % 4 === 3) await page.waitForTimeout(50) // some clicks travel together, some alone
    }
    await page.waitForFunction((n) => document.body.dataset.acked === String(n), CLICKS, { timeout: 30_000 })
    console.log(`[web-app] ${CLICKS} clicks acknowledged by Kafka within ${Date.now() - started} ms of the first click`)
    const acked = (
      await page.evaluate(
        () => (window as unknown as { clicks: Array<{ n: number; partition: number; offset: number }> }).clicks,
      )
    ).slice()
    mkdirSync(path.join(root, 'test-results'), { recursive: true })
    await page.screenshot({ path: path.join(root, 'test-results/web-app.png'), fullPage: true })
    await page.close()
    expect(problems).toEqual([])

    const read = await readAllWithKcat(bootstrap, topic, CLICKS, 30_000)
    expect(read).toHaveLength(CLICKS)
    const events = read.map((r) => ({
      r,
      v: JSON.parse(Buffer.from(r.value!).toString('utf8')) as {
        type: string
        n: number
        session: string
        at: string
        page: string
      },
    }))
    const session = events[0]!.v.session
    // one session key → one partition (murmur2 of the key, as Java's producer), clicks 1..N in order
    expect(new Set(read.map((r) => r.partition))).toEqual(new Set([murmur2Partition(Buffer.from(session), PARTITIONS)]))
    expect(events.map((e) => e.v.n)).toEqual(Array.from({ length: CLICKS }, (_, i) => i + 1))
    for (const { r, v } of events) {
      expect(v).toMatchObject({ type: 'click', session, page: '/' })
      expect(Buffer.from(r.key!).toString('utf8')).toBe(session)
      expect(r.headers.map(([k, h]) => [k, h && Buffer.from(h).toString('utf8')])).toEqual([
        ['source', 'web-app'],
        ['content-type', 'application/json'],
      ])
      // where the page was told each click landed is where kcat found it
      expect(acked.find((a) => a.n === v.n)).toEqual({ n: v.n, partition: r.partition, offset: r.offset })
    }
  })

  it('the gateway refuses the same page served from another origin', async () => {
    // another port is another origin: a proxy on 127.0.0.1 serves the very same files (and /config)
    const proxy = http.createServer(async (req, res) => {
      const upstream = await fetch(pageUrl + (req.url ?? '/'))
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' })
      res.end(Buffer.from(await upstream.arrayBuffer()))
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const page = await browser!.newPage()
    try {
      const seen: string[] = []
      page.on('console', (msg) => seen.push(`${msg.type()}: ${msg.text()}`))
      const before = await forbiddenOrigins()
      await page.goto(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`)
      await expect
        .poll(forbiddenOrigins, { timeout: 30_000, message: `refused upgrades (${seen.join(' | ')})` })
        .toBeGreaterThan(before)
      expect(await page.locator('#send').isEnabled()).toBe(false)
      expect(await page.locator('#status').textContent()).toBe('connecting…') // it keeps retrying, with backoff
    } finally {
      await page.close()
      proxy.closeAllConnections()
      await new Promise((resolve) => proxy.close(resolve))
    }
  })
})
