/// <reference types="node" />
// `isokafka gateway` as a service, black-box: the CLI runs as a child process (bin/isokafka.mjs with the gateway
// bundled into a temporary dist/, so no `npm run build`), configured from a config file, the environment and flags;
// the test speaks HTTP and WebSocket to it (frames with @msgpack/msgpack) and reads Kafka back with kcat.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { decode, encode } from '@msgpack/msgpack'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import WebSocket from 'ws'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'
import { bundleCli, cleanEnv, startGatewayCli, upgradeStatus, type BundledCli, type RunningCli } from './cli-harness.js'

const bootstrap = inject('kafkaBootstrap')
const root = path.resolve(import.meta.dirname, '../..')
const SECRET = 'service-secret-0123456789abcdef'
const METRICS_TOKEN = 'metrics-token-0123456789'
const enc = new TextEncoder()
let cli: BundledCli
const children = new Set<ChildProcess>()
// The drain tests slow Kafka down for their gateway only: a produce quota on a client id of their own (Kafka holds a
// client's next request after one that went over its byte rate), so a drain lasts seconds and can be watched.
const THROTTLED_CLIENT = `isokafka-svc-test-${process.pid}-${Date.now().toString(36)}`
const WARM_RECORDS = 420 // ~430 KB: about 14 s worth of a 30 KB/s quota measured over Kafka's ~10 s window
let throttled: Promise<void>
// The drain tests' topics are created (kafka-topics, a JVM each) while the quota is set and the first test runs.
let drainTopic: string
let drainTopicReady: Promise<void>
let drain2Topic: string
let drain2TopicReady: Promise<void>

beforeAll(async () => {
  cli = await bundleCli('isokafka-service-')
})

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  cli?.remove()
  await clientQuota(THROTTLED_CLIENT, null).catch(() => {})
})

interface KafkaScript {
  ensureKafkaJars(): Promise<{ libs: string }>
  cacheRoot(): string
}

/** Sets (or with null removes) a client id's producer_byte_rate quota with Kafka's ConfigCommand. */
async function clientQuota(clientId: string, bytesPerSec: number | null): Promise<void> {
  const k = (await import(/* @vite-ignore */ path.join(root, 'scripts/kafka.mjs'))) as KafkaScript
  const { libs } = await k.ensureKafkaJars()
  const args = [
    '-Xmx256m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    `-Dlog4j2.configurationFile=${path.join(k.cacheRoot(), 'log4j2-tools.properties')}`,
    '-cp',
    path.join(libs, '*'),
    'org.apache.kafka.tools.ConfigCommand',
    '--bootstrap-server',
    bootstrap,
    '--alter',
    ...(bytesPerSec === null
      ? ['--delete-config', 'producer_byte_rate']
      : ['--add-config', `producer_byte_rate=${bytesPerSec}`]),
    '--entity-type',
    'clients',
    '--entity-name',
    clientId,
  ]
  await new Promise<void>((resolve, reject) => {
    const p = spawn(process.env.JAVA || 'java', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ConfigCommand exited with ${code}: ${err}`))))
  })
}

/** A started `isokafka gateway`, killed in afterAll if a test left it running. */
function startService(args: string[], env: Record<string, string>): Promise<RunningCli> {
  return startGatewayCli(cli.bin, args, env, (child) => children.add(child))
}

function mintToken(topics: string[]): string {
  const r = spawnSync(
    process.execPath,
    [cli.bin, 'token', '--topics', topics.join(','), '--subject', 'service-test', '--expires', '600'],
    {
      env: cleanEnv({ ISOKAFKA_GATEWAY_SECRET: SECRET }),
      encoding: 'utf8',
    },
  )
  if (r.status !== 0) throw new Error(`isokafka token failed: ${r.stderr}`)
  return r.stdout.trim()
}

interface HttpAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** One GET on a fresh connection (no keep-alive pool: a drain closes idle connections). */
function get(url: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers, timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** A WebSocket speaking raw frames: hello with the token, then frames in, frames out. */
class FrameClient {
  readonly frames: Array<Record<string, unknown>> = []
  private waiters: Array<() => void> = []
  closeCode: number | null = null
  readonly closed: Promise<number>
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.frames.push(isBinary ? (decode(data) as Record<string, unknown>) : { t: 'text', text: data.toString() })
      for (const w of this.waiters.splice(0)) w()
    })
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode = code
        for (const w of this.waiters.splice(0)) w()
        resolve(code)
      }),
    )
  }

  static async open(wsUrl: string, token: string): Promise<{ client: FrameClient; welcome: Record<string, unknown> }> {
    const ws = new WebSocket(wsUrl, ['isokafka.v1'])
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    const client = new FrameClient(ws)
    ws.send(encode({ t: 'hello', v: 1, token }, { ignoreUndefined: true }))
    const welcome = await client.next((f) => f.t === 'welcome' || f.t === 'error', 10_000)
    if (welcome.t !== 'welcome') throw new Error(`no welcome: ${JSON.stringify(welcome)}`)
    return { client, welcome }
  }

  next(match: (f: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no matching frame in ${timeoutMs} ms; got ${JSON.stringify(this.frames.map((f) => f.t))}, close ${this.closeCode}`,
            ),
          ),
        timeoutMs,
      )
      const check = () => {
        const i = this.frames.findIndex(match)
        if (i >= 0) {
          clearTimeout(timer)
          resolve(this.frames.splice(i, 1)[0]!)
        } else if (this.closeCode !== null) {
          clearTimeout(timer)
          reject(
            new Error(
              `the connection closed (${this.closeCode}) before a matching frame; got ${JSON.stringify(this.frames)}`,
            ),
          )
        } else this.waiters.push(check)
      }
      check()
    })
  }
}

function produceFrame(
  id: number,
  batches: Array<{ topic: string; partition: number; batchId: string; values: string[] }>,
) {
  const now = Date.now()
  return encode(
    {
      t: 'produce',
      id,
      acks: -1,
      timeoutMs: 30_000,
      batches: batches.map((b) => ({
        topic: b.topic,
        partition: b.partition,
        batchId: b.batchId,
        records: b.values.map((v, i) => [now + i, enc.encode(`k-${i}`), enc.encode(v), [['h', enc.encode('x')]]]),
      })),
    },
    { ignoreUndefined: true },
  )
}

function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text)
  return m ? Number(m[1]) : undefined
}

/** stderr: JSON lines with ts/level/msg, none holding a secret or a token. */
function checkLogs(stderr: string, secrets: string[]): Array<Record<string, unknown>> {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '')
  const entries = lines.map((l) => {
    let e: Record<string, unknown>
    try {
      e = JSON.parse(l) as Record<string, unknown>
    } catch {
      throw new Error(`a log line is not JSON: ${l}`)
    }
    expect(e).toMatchObject({ level: expect.stringMatching(/^(debug|info|warn|error)$/), msg: expect.any(String) })
    expect(Number.isNaN(Date.parse(String(e.ts)))).toBe(false)
    return e
  })
  for (const s of secrets) expect(stderr).not.toContain(s)
  return entries
}

const METRIC_NAMES = [
  'isokafka_gateway_connections',
  'isokafka_gateway_connections_total',
  'isokafka_gateway_http_requests_total',
  'isokafka_gateway_frames_total',
  'isokafka_gateway_records_in_total',
  'isokafka_gateway_records_out_total',
  'isokafka_gateway_records_failed_total',
  'isokafka_gateway_bytes_in_total',
  'isokafka_gateway_refusals_total',
  'isokafka_gateway_dedup_hits_total',
  'isokafka_gateway_paused_sockets',
  'isokafka_gateway_backpressure_paused',
  'isokafka_gateway_pauses_total',
  'isokafka_gateway_pending_bytes',
  'isokafka_gateway_running_batches',
  'isokafka_gateway_kafka_latency_seconds',
  'isokafka_gateway_event_loop_lag_max_seconds',
  'process_resident_memory_bytes',
]

describe('isokafka gateway as a service', () => {
  beforeAll(() => {
    throttled = clientQuota(THROTTLED_CLIENT, 30_000)
    throttled.catch(() => {})
    drainTopic = uniqueTopic('gw-drain')
    drainTopicReady = createTopic(bootstrap, drainTopic, 2)
    drainTopicReady.catch(() => {})
    drain2Topic = uniqueTopic('gw-drain2')
    drain2TopicReady = createTopic(bootstrap, drain2Topic, 1)
    drain2TopicReady.catch(() => {})
  })

  it('takes settings from a config file, the environment and flags; serves /healthz, /readyz and token-protected /metrics', async () => {
    const configFile = path.join(cli.dir, 'gateway.json')
    writeFileSync(
      configFile,
      JSON.stringify({
        bootstrap,
        port: 1, // the flag --port 0 wins
        logLevel: 'silent', // the flag --log-level debug wins (silent would leave stderr empty)
        limits: { maxFrameBytes: 1 << 20, maxRecordsPerFrame: 5000 }, // the environment wins for maxFrameBytes
        drainTimeoutMs: 5000,
      }),
    )
    const svc = await startService(['--port', '0', '--host', '127.0.0.1', '--log-level', 'debug'], {
      ISOKAFKA_GATEWAY_CONFIG: configFile,
      ISOKAFKA_GATEWAY_SECRET: SECRET,
      ISOKAFKA_GATEWAY_METRICS_TOKEN: METRICS_TOKEN,
      ISOKAFKA_GATEWAY_MAX_FRAME_BYTES: String(3 << 20),
    })
    let token = ''
    try {
      expect(new URL(svc.url).port).not.toBe('1')
      expect(new URL(svc.url).hostname).toBe('127.0.0.1')
      expect(svc.out()).toMatch(
        new RegExp(
          `^isokafka gateway listening on ${svc.url} \\(WebSocket ${svc.url.replace('http', 'ws')}/v1/ws\\), Kafka ${bootstrap}\\n$`,
        ),
      )

      const health = await get(`${svc.url}/healthz`)
      expect(health.status).toBe(200)
      expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' })
      await until(
        '/readyz 200',
        async () => ((await get(`${svc.url}/readyz`)).status === 200 ? true : undefined),
        15_000,
        200,
      )

      // the limits the gateway announces: env over file over default
      const topic = uniqueTopic('gw-svc')
      token = mintToken([topic])
      const { client, welcome } = await FrameClient.open(svc.wsUrl, token)
      expect(welcome.limits).toMatchObject({
        maxFrameBytes: 3 << 20,
        maxRecordsPerFrame: 5000,
        maxInFlightBatches: 256,
        recordsPerSecond: 200_000,
      })
      client.ws.close()

      expect((await get(`${svc.url}/metrics`)).status).toBe(401)
      expect((await get(`${svc.url}/metrics`, { authorization: 'Bearer wrong-token' })).status).toBe(401)
      const metrics = await get(`${svc.url}/metrics`, { authorization: `Bearer ${METRICS_TOKEN}` })
      expect(metrics.status).toBe(200)
      expect(metrics.headers['content-type']).toMatch(/^text\/plain; ?version=0\.0\.4/)
      for (const name of METRIC_NAMES)
        expect(metrics.body, name).toMatch(new RegExp(`^(# (TYPE|HELP) )?${name}[ {_]`, 'm'))
      expect(metrics.body).toMatch(/^isokafka_gateway_connections\{state="authenticated"\} /m)
      expect(metricValue(metrics.body, 'isokafka_gateway_connections_total')).toBeGreaterThanOrEqual(1)
    } finally {
      svc.child.kill('SIGTERM')
      expect(await svc.exited).toBe(0)
    }
    const logs = checkLogs(svc.err(), [SECRET, METRICS_TOKEN, token])
    expect(logs.length).toBeGreaterThan(0)
    const start = logs.find((e) => e.msg === 'gateway started')
    expect(start).toBeDefined()
    expect(JSON.stringify(start)).toContain('[redacted]')
  })

  it('SIGTERM drains: frames read are acked and in Kafka once, a frame not read is neither, new connections refused, exit 0', async () => {
    const topic = drainTopic
    await drainTopicReady
    await throttled
    // long enough for the throttled broker to take A and B (a drain that hits its deadline leaves B "unsure":
    // possibly written, never acked); the drain ends as soon as they are acked, not at this deadline
    const DRAIN_MS = 30_000
    const svc = await startService(
      [
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--drain-timeout-ms',
        String(DRAIN_MS),
        '--kafka-client-id',
        THROTTLED_CLIENT,
        '--log-level',
        'debug',
      ],
      {
        KAFKA_BOOTSTRAP: bootstrap,
        ISOKAFKA_GATEWAY_SECRET: SECRET,
        ISOKAFKA_GATEWAY_METRICS_TOKEN: METRICS_TOKEN,
      },
    )
    const auth = { authorization: `Bearer ${METRICS_TOKEN}` }
    const token = mintToken([topic])
    const { client } = await FrameClient.open(svc.wsUrl, token)
    const fail = (e: Error) => {
      throw new Error(`${e.message}\nthe gateway's log:\n${svc.err()}`)
    }

    // Over the client-id quota: acked at once, but the broker then holds the gateway's next produce for a few
    // seconds, so the drain below lasts long enough to be looked at.
    const warm = Array.from({ length: WARM_RECORDS }, (_, i) => `warm-${i}-${'x'.repeat(1000)}`)
    client.ws.send(produceFrame(1, [{ topic, partition: 0, batchId: 'warm-0', values: warm }]))
    expect(await client.next((f) => f.id === 1, 20_000).catch(fail)).toMatchObject({
      t: 'ack',
      results: [{ errorCode: 0 }],
    })

    // A: a few thousand records, read by the gateway (records_in counts them) before the signal
    const N = 4000
    const values = Array.from({ length: N }, (_, i) => `drain-${i}`)
    client.ws.send(
      produceFrame(2, [
        { topic, partition: 0, batchId: 'a-0', values: values.filter((_, i) => i % 2 === 0) },
        { topic, partition: 1, batchId: 'a-1', values: values.filter((_, i) => i % 2 === 1) },
      ]),
    )
    const ackA = client.next((f) => f.id === 2, DRAIN_MS + 5000)
    ackA.catch(() => {})
    await until(
      'frame A to be read',
      async () => {
        const m = await get(`${svc.url}/metrics`, auth)
        return (metricValue(m.body, 'isokafka_gateway_records_in_total') ?? 0) >= WARM_RECORDS + N ? true : undefined
      },
      10_000,
      10,
    )

    // B: written, then SIGTERM at once; the gateway may or may not have read it
    const late = Array.from({ length: 1000 }, (_, i) => `late-${i}`)
    const ackB = client.next((f) => f.id === 3, DRAIN_MS + 5000).catch(() => null)
    let signalled = 0
    await new Promise<void>((resolve, reject) =>
      client.ws.send(produceFrame(3, [{ topic, partition: 1, batchId: 'b-1', values: late }]), (err) => {
        if (err) return reject(err)
        svc.child.kill('SIGTERM')
        signalled = Date.now()
        resolve()
      }),
    )

    // while it drains the listener stays open: not ready (503), and new connections get 503, not a WebSocket
    await new Promise((r) => setTimeout(r, 100))
    const readyz = await get(`${svc.url}/readyz`).then(
      (r) => r.status,
      (e: Error & { code?: string }) => e.code ?? e.message,
    )
    expect(readyz).toBe(503)
    expect(await upgradeStatus(svc.wsUrl)).toBe(503)
    expect(svc.child.exitCode, 'the drain was already over').toBeNull()

    const a = await ackA.catch(fail)
    const results = a.results as Array<{ batchId: string; errorCode: number }>
    expect(results.map((r) => [r.batchId, r.errorCode]).sort()).toEqual([
      ['a-0', 0],
      ['a-1', 0],
    ])
    const b = await ackB

    expect(await svc.exited).toBe(0)
    expect(Date.now() - signalled).toBeLessThan(DRAIN_MS + 3000)
    expect(await client.closed).toBe(1001)

    // exactly what was acked, once: B is in Kafka if and only if it was acked
    if (b) expect(b).toMatchObject({ t: 'ack', results: [{ batchId: 'b-1', errorCode: 0 }] })
    const expected = [...warm, ...values, ...(b ? late : [])]
    const read = await readAllWithKcat(bootstrap, topic, expected.length, 30_000)
    if (!b) await new Promise((r) => setTimeout(r, 1000)) // nothing more may show up
    const again = b ? read : await readAllWithKcat(bootstrap, topic, expected.length, 5000)
    const seen = again.map((r) => new TextDecoder().decode(r.value!))
    expect(seen).toHaveLength(expected.length)
    expect([...seen].sort()).toEqual([...expected].sort())

    const logs = checkLogs(svc.err(), [SECRET, METRICS_TOKEN, token])
    expect(logs.some((e) => e.msg === 'draining')).toBe(true)
  })

  it('a second signal during the drain exits at once with code 1', async () => {
    const topic = drain2Topic
    await drain2TopicReady
    await throttled
    const svc = await startService(
      ['--port', '0', '--host', '127.0.0.1', '--drain-timeout-ms', '20000', '--kafka-client-id', THROTTLED_CLIENT],
      {
        KAFKA_BOOTSTRAP: bootstrap,
        ISOKAFKA_GATEWAY_SECRET: SECRET,
      },
    )
    const { client } = await FrameClient.open(svc.wsUrl, mintToken([topic]))
    const warm = Array.from({ length: WARM_RECORDS }, (_, i) => `warm-${i}-${'x'.repeat(1000)}`)
    client.ws.send(produceFrame(1, [{ topic, partition: 0, batchId: 'warm-0', values: warm }]))
    await client.next((f) => f.id === 1, 30_000)
    client.ws.send(produceFrame(2, [{ topic, partition: 0, batchId: 'held-0', values: ['held'] }]))
    await new Promise((r) => setTimeout(r, 200))
    svc.child.kill('SIGTERM')
    await until('the drain to start', async () => (/"msg":"draining"/.test(svc.err()) ? true : undefined), 5000, 20)
    const t0 = Date.now()
    svc.child.kill('SIGINT')
    expect(await svc.exited).toBe(1)
    expect(Date.now() - t0).toBeLessThan(3000)
    checkLogs(svc.err(), [SECRET])
  })
})
