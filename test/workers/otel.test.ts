/// <reference types="node" />
// isokafka/otel inside workerd (Miniflare) against the real broker: the OTel SDK bundled into the Worker with the
// instrumented producer; spans checked against the messaging conventions, and the traceparent header read back by
// kcat matched to the span of each record.
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Miniflare as MiniflareType } from 'miniflare'
import { createTopic, readAllWithKcat, uniqueTopic } from '../helpers/kafka-tools.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bootstrap = inject('kafkaBootstrap')
const topic = uniqueTopic('workers-otel')
let mf: MiniflareType
let bundleBytes = 0

interface WorkerSpan {
  name: string
  producer: boolean
  traceId: string
  spanId: string
  status: number
  attributes: Record<string, unknown>
}

beforeAll(async () => {
  const { Miniflare } = await import('miniflare')
  // the topic (a JVM start) while the bundle builds and workerd starts
  const topicReady = createTopic(bootstrap, topic, 2)
  const result = await build({
    entryPoints: [path.join(root, 'test/workers/otel-worker.ts')],
    // platform 'browser' as wrangler bundles: the OTel packages map their Node platform files away through the
    // package.json "browser" field, which esbuild applies only there
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    conditions: ['workerd', 'worker', 'browser'],
    external: ['cloudflare:*'],
  })
  bundleBytes = result.outputFiles[0]!.contents.byteLength
  mf = new Miniflare({
    modules: [{ type: 'ESModule', path: 'index.js', contents: result.outputFiles[0]!.text }],
    compatibilityDate: '2025-09-01',
    bindings: { KAFKA_BOOTSTRAP: bootstrap },
  })
  await Promise.all([mf.ready, topicReady])
})

afterAll(async () => {
  await mf?.dispose()
})

it('spans from an instrumented producer in a Worker, with the OTel SDK bundled in; traceparent read back by kcat', async () => {
  const missing = uniqueTopic('workers-otel-missing')
  const body = [
    { topic, key: 'w-1', value: 'één' },
    { topic, key: 'w-2', value: null },
    { topic, value: 'no key' },
    { topic: missing, key: 'w-3', value: 'x' },
  ]
  const res = await mf.dispatchFetch('http://otel.test/', { method: 'POST', body: JSON.stringify(body) })
  const text = await res.text()
  const out = JSON.parse(text) as {
    outcomes: Array<{ ok: boolean; partition?: number; offset?: number; code?: string }>
    spans: WorkerSpan[]
    error?: string
  }
  expect(out.error, text).toBeUndefined()
  expect(bundleBytes).toBeGreaterThan(0)

  expect(out.outcomes.map((o) => o.ok)).toEqual([true, true, true, false])
  expect(out.outcomes[3]!.code).toBe('MAX_BLOCK_TIMEOUT')
  expect(out.spans).toHaveLength(4)
  const [host, port] = bootstrap.split(':')
  for (const s of out.spans) {
    expect(s.producer).toBe(true)
    expect(s.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.client.id': 'otel-worker',
      'server.address': host,
      'server.port': Number(port),
    })
    expect(s.name).toBe(`send ${s.attributes['messaging.destination.name']}`)
  }
  const byKey = (k: string | undefined) => out.spans.find((s) => s.attributes['messaging.kafka.message.key'] === k)!
  const failed = byKey('w-3')
  expect(failed.name).toBe(`send ${missing}`)
  expect(failed.status).toBe(2) // SpanStatusCode.ERROR
  expect(failed.attributes['error.type']).toBe('MAX_BLOCK_TIMEOUT')
  expect(byKey('w-1').attributes['messaging.message.body.size']).toBe(5)
  expect(byKey('w-2').attributes['messaging.kafka.message.tombstone']).toBe(true)

  const sent = out.outcomes.slice(0, 3)
  const read = await readAllWithKcat(bootstrap, topic, 3)
  expect(read).toHaveLength(3)
  for (const [i, key] of (['w-1', 'w-2', undefined] as const).entries()) {
    const s = byKey(key)
    expect(s.status).toBe(0) // UNSET
    expect(s.attributes['error.type']).toBeUndefined()
    expect(s.attributes['messaging.destination.partition.id']).toBe(String(sent[i]!.partition))
    expect(s.attributes['messaging.kafka.offset']).toBe(sent[i]!.offset)
    const rec = read.find((r) => r.partition === sent[i]!.partition && r.offset === sent[i]!.offset)!
    const tp = rec.headers.filter(([k]) => k === 'traceparent').map(([, v]) => new TextDecoder().decode(v!))
    expect(tp).toEqual([`00-${s.traceId}-${s.spanId}-01`])
  }
})
