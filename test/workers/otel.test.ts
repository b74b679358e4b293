/// <reference types="node" />
// isokafka/otel inside workerd (Miniflare) against the real broker: the OTel SDK bundled into the Worker with the
// instrumented producer; spans checked against the messaging conventions, and the traceparent header read back by
// kcat matched to the span of each record; producer.metrics() through the SDK's MeterProvider (instrumentProducerMetrics)
// checked against the acknowledgements.
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

interface WorkerMetric {
  scope: string
  name: string
  unit: string
  type: 'gauge' | 'sum'
  monotonic?: boolean
  points: Array<{ attributes: Record<string, unknown>; value: number }>
}

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
    metrics: WorkerMetric[]
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

it('metrics from the same Worker: kafka.producer.* instruments with the records acked, per topic and node', async () => {
  const body = [
    { topic, key: 'm-1', value: 'a' },
    { topic, key: 'm-2', value: 'b' },
    { topic, key: 'm-3', value: 'c' },
    { topic, key: 'm-4', value: 'd' },
    { topic: uniqueTopic('workers-otel-missing'), value: 'never batched' },
  ]
  const res = await mf.dispatchFetch('http://otel.test/', { method: 'POST', body: JSON.stringify(body) })
  const text = await res.text()
  const out = JSON.parse(text) as { outcomes: Array<{ ok: boolean }>; metrics: WorkerMetric[]; error?: string }
  expect(out.error, text).toBeUndefined()
  expect(out.outcomes.map((o) => o.ok)).toEqual([true, true, true, true, false])
  const byName = new Map(out.metrics.filter((m) => m.points.length > 0).map((m) => [m.name, m]))
  const client = { 'client-id': 'otel-worker' }
  const perTopic = { ...client, topic }
  const pts = (name: string) => byName.get(name)?.points.map((p) => [p.attributes, p.value])

  for (const m of out.metrics) {
    expect(m.scope).toBe('isokafka')
    expect(m.name).toMatch(/^kafka\.producer\.[a-z_]+$/)
    expect(m.unit).toBe('')
  }
  // the records acked, under their topic only (the one to a missing topic never reached a batch)
  expect(pts('kafka.producer.record_send_total')).toEqual([[perTopic, 4]])
  expect(byName.get('kafka.producer.record_send_total')).toMatchObject({ type: 'sum', monotonic: true })
  expect(pts('kafka.producer.record_error_total')).toEqual([[perTopic, 0]])
  expect(pts('kafka.producer.byte_total')![0]![1]).toBeGreaterThan(0)
  expect(byName.get('kafka.producer.record_send_rate')).toMatchObject({ type: 'gauge' })
  // client level: the default bufferMemory (32 MiB), all of it free after flush(); nothing in flight
  expect(pts('kafka.producer.buffer_total_bytes')).toEqual([[client, 33554432]])
  expect(pts('kafka.producer.buffer_available_bytes')).toEqual([[client, 33554432]])
  expect(pts('kafka.producer.requests_in_flight')).toEqual([[client, 0]])
  expect(byName.get('kafka.producer.requests_in_flight')).toMatchObject({ type: 'sum', monotonic: false })
  expect(pts('kafka.producer.batch_size_max')![0]![1]).toBeGreaterThan(0)
  // per node, under Java's node-id tag; the leader answered at least one Produce request
  const nodes = byName.get('kafka.producer.request_total')!.points
  expect(nodes.every((p) => Object.keys(p.attributes).sort().join() === 'client-id,node-id')).toBe(true)
  const leaders = nodes.filter((p) => /^node-\d+$/.test(String(p.attributes['node-id'])))
  expect(leaders.length).toBeGreaterThan(0)
  expect(Math.min(...leaders.map((p) => p.value))).toBeGreaterThan(0)
  expect(byName.get('kafka.producer.request_latency_avg')!.points.length).toBeGreaterThan(0)
})
