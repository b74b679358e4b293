// isokafka/otel metrics against the real broker: producer.metrics() through an OpenTelemetry Meter, exported by the OTel
// SDK (MeterProvider, PeriodicExportingMetricReader collecting on forceFlush, InMemoryMetricExporter). Names, instrument
// kinds, units and attributes as the OTel Java Kafka metrics bridge reports a Java KafkaProducer's; values checked
// against the acknowledgements and against the producer's own hooks, which count every request and batch.
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { metrics as otelMetrics } from '@opentelemetry/api'
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics'
import { createProducer, type ProducerHooks, type ProducerMetrics } from '../../src/index.js'
import { tcp } from '../../adapters/node-tcp/index.js'
import { fetchTransport } from '../../adapters/fetch/index.js'
import { instrumentProducerMetrics, PRODUCER_METRICS } from '../../adapters/otel/index.js'
import { createTopic, uniqueTopic } from '../helpers/kafka-tools.js'

const bootstrap = inject('kafkaBootstrap')
let topic: string

/** A MeterProvider whose reader exports only when asked (forceFlush runs the reader's collect()). */
function sdk() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  /** The instruments with points, by scope name, then by instrument name. */
  const collectScopes = async (): Promise<Map<string, Map<string, MetricData>>> => {
    exporter.reset()
    await reader.forceFlush()
    const out = new Map<string, Map<string, MetricData>>()
    for (const rm of exporter.getMetrics())
      for (const sm of rm.scopeMetrics) {
        const scope = out.get(sm.scope.name) ?? new Map<string, MetricData>()
        out.set(sm.scope.name, scope)
        for (const m of sm.metrics) if (m.dataPoints.length > 0) scope.set(m.descriptor.name, m)
      }
    return out
  }
  /** Scope 'isokafka' (METER_NAME) only; fails if anything else was exported. */
  const collect = async (): Promise<Map<string, MetricData>> => {
    const scopes = await collectScopes()
    expect([...scopes.keys()].filter((k) => k !== 'isokafka')).toEqual([])
    return scopes.get('isokafka') ?? new Map()
  }
  return { meterProvider, collect, collectScopes }
}

/** The points of one instrument as [attributes, value], sorted by attributes. */
function points(ms: Map<string, MetricData>, name: string): Array<[Record<string, unknown>, number]> {
  const m = ms.get(name)
  if (!m) return []
  return m.dataPoints
    .map((p) => [p.attributes, p.value as number] as [Record<string, unknown>, number])
    .sort((a, b) => JSON.stringify(a[0]).localeCompare(JSON.stringify(b[0])))
}

function value(ms: Map<string, MetricData>, name: string, attributes: Record<string, unknown>): number | undefined {
  return points(ms, name).find(([a]) => JSON.stringify(a) === JSON.stringify(attributes))?.[1]
}

beforeAll(async () => {
  topic = uniqueTopic('otel-metrics')
  await createTopic(bootstrap, topic, 3)
})

describe('isokafka/otel metrics on a real broker', () => {
  it('instruments named after the Java bridge (kafka.producer.*), per topic / node / client, values as acked and as the hooks saw', async () => {
    const { meterProvider, collect } = sdk()
    // what the producer did, tallied independently from its hooks: per node label as the collector keys them
    const label = (b: { host: string; port: number; nodeId: number }) =>
      b.nodeId >= 0 ? `node-${b.nodeId}` : `node-${b.host}:${b.port}`
    const requests = new Map<string, { count: number; out: number; in: number }>()
    const node = (b: { host: string; port: number; nodeId: number }) => {
      let n = requests.get(label(b))
      if (!n) requests.set(label(b), (n = { count: 0, out: 0, in: 0 }))
      return n
    }
    const batchBytes: number[] = []
    const hooks: ProducerHooks = {
      requestWritten: (e) => {
        node(e.broker).count++
        node(e.broker).out += e.bytes
      },
      responseRead: (e) => {
        node(e.broker).in += e.bytes
      },
      batchSent: (e) => {
        if (e.attempt === 1) batchBytes.push(e.bytes)
      },
    }
    const producer = createProducer({
      transport: tcp({ bootstrap }),
      clientId: 'otel-metrics-it',
      lingerMs: 5,
      bufferMemory: 1 << 20,
      hooks,
    })
    // no clientId here: the attribute comes from the producer's own (producer.clientId)
    const stop = instrumentProducerMetrics(producer, { meterProvider })
    const client = { 'client-id': 'otel-metrics-it' }
    const perTopic = { ...client, topic }

    // before any send: the producer-level amounts, no topic yet, and no avg/max (Java's NaN) as points
    const idle = await collect()
    expect(value(idle, 'kafka.producer.buffer_total_bytes', client)).toBe(1 << 20)
    expect(value(idle, 'kafka.producer.buffer_available_bytes', client)).toBe(1 << 20)
    expect(value(idle, 'kafka.producer.requests_in_flight', client)).toBe(0)
    expect(idle.has('kafka.producer.record_send_total')).toBe(false)
    expect(idle.has('kafka.producer.batch_size_avg')).toBe(false)
    expect(idle.has('kafka.producer.record_queue_time_max')).toBe(false)

    const first = await producer.sendBatch(
      Array.from({ length: 10 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}`, partition: i % 3 })),
    )
    await producer.flush()
    const after10 = await collect()
    expect(first).toHaveLength(10)
    expect(value(after10, 'kafka.producer.record_send_total', perTopic)).toBe(10)
    expect(value(after10, 'kafka.producer.record_error_total', perTopic)).toBe(0)
    expect(value(after10, 'kafka.producer.record_retry_total', perTopic)).toBe(0)
    // the snapshot metrics() gives now says the same
    expect(producer.metrics().topics[topic]!['record-send-total']).toBe(10)

    const second = await Promise.all(Array.from({ length: 5 }, (_, i) => producer.send({ topic, value: `w${i}` })))
    await producer.flush()
    const snapshot: ProducerMetrics = producer.metrics()
    await producer.close()
    const ms = await collect()
    expect(second).toHaveLength(5)
    const acked = first.length + second.length

    // per topic: records as acked, bytes as the batches the hooks saw (the first attempt of each)
    expect(points(ms, 'kafka.producer.record_send_total')).toEqual([[perTopic, acked]])
    expect(points(ms, 'kafka.producer.byte_total')).toEqual([[perTopic, batchBytes.reduce((a, b) => a + b, 0)]])
    expect(points(ms, 'kafka.producer.record_error_total')).toEqual([[perTopic, 0]])
    expect(points(ms, 'kafka.producer.record_retry_total')).toEqual([[perTopic, 0]])
    expect(value(ms, 'kafka.producer.record_send_rate', perTopic)).toBeCloseTo(
      snapshot.topics[topic]!['record-send-rate']!,
      6,
    )
    expect(value(ms, 'kafka.producer.record_send_rate', perTopic)).toBeGreaterThan(0)
    expect(value(ms, 'kafka.producer.byte_rate', perTopic)).toBeGreaterThan(0)
    // the sum over attributes counts each record once: no client-level record_send_total beside the topic's
    expect(points(ms, 'kafka.producer.record_send_total').map(([a]) => a.topic)).toEqual([topic])

    // per node: requests and bytes exactly as the hooks counted them, under Java's node-id tag
    const nodes = [...requests.keys()].sort()
    expect(nodes.some((n) => /^node-\d+$/.test(n))).toBe(true)
    expect(points(ms, 'kafka.producer.request_total')).toEqual(
      nodes.map((n) => [{ ...client, 'node-id': n }, requests.get(n)!.count]),
    )
    expect(points(ms, 'kafka.producer.outgoing_byte_total')).toEqual(
      nodes.map((n) => [{ ...client, 'node-id': n }, requests.get(n)!.out]),
    )
    expect(points(ms, 'kafka.producer.incoming_byte_total')).toEqual(
      nodes.map((n) => [{ ...client, 'node-id': n }, requests.get(n)!.in]),
    )
    const leader = nodes.find((n) => /^node-\d+$/.test(n))!
    expect(value(ms, 'kafka.producer.request_latency_avg', { ...client, 'node-id': leader })).toBeGreaterThan(0)
    expect(value(ms, 'kafka.producer.request_latency_max', { ...client, 'node-id': leader })).toBeGreaterThanOrEqual(
      value(ms, 'kafka.producer.request_latency_avg', { ...client, 'node-id': leader })!,
    )

    // client level
    expect(value(ms, 'kafka.producer.batch_size_max', client)).toBe(Math.max(...batchBytes))
    expect(value(ms, 'kafka.producer.batch_size_avg', client)).toBeCloseTo(
      batchBytes.reduce((a, b) => a + b, 0) / batchBytes.length,
      6,
    )
    expect(value(ms, 'kafka.producer.records_per_request_avg', client)).toBe(
      snapshot.producer['records-per-request-avg'],
    )
    expect(value(ms, 'kafka.producer.records_per_request_avg', client)).toBeGreaterThan(1) // 10 records, 3 partitions
    expect(value(ms, 'kafka.producer.record_queue_time_max', client)).toBeGreaterThanOrEqual(0)
    expect(value(ms, 'kafka.producer.request_rate', client)).toBeGreaterThan(0)
    expect(value(ms, 'kafka.producer.requests_in_flight', client)).toBe(0)
    expect(value(ms, 'kafka.producer.buffer_available_bytes', client)).toBe(1 << 20) // all released after the acks
    expect(ms.has('kafka.producer.produce_throttle_time_avg')).toBe(false) // no quota: no sample (Java: NaN)

    // every instrument: the kind and unit the table says, and only the attributes of its level
    for (const d of PRODUCER_METRICS) {
      const m = ms.get(d.name)
      if (!m) continue
      expect(m.descriptor.unit).toBe('')
      expect(m.descriptor.description).toBe(d.description)
      if (d.kind === 'gauge') expect(m.dataPointType).toBe(DataPointType.GAUGE)
      else {
        expect(m.dataPointType).toBe(DataPointType.SUM)
        expect((m as { isMonotonic?: boolean }).isMonotonic).toBe(d.kind === 'counter')
      }
      const keys =
        d.level === 'topic' ? ['client-id', 'topic'] : d.level === 'node' ? ['client-id', 'node-id'] : ['client-id']
      for (const p of m.dataPoints) expect(Object.keys(p.attributes).sort()).toEqual(keys)
    }
    expect([...ms.keys()].filter((n) => !PRODUCER_METRICS.some((d) => d.name === n))).toEqual([])

    stop()
    stop() // twice is fine
    await meterProvider.shutdown()
  })

  it('records that fail for good count per topic (record_error_total); stopping freezes what is exported', async () => {
    const { meterProvider, collect } = sdk()
    const producer = createProducer({ transport: tcp({ bootstrap }), maxRequestSize: 4 << 20, retries: 0, lingerMs: 0 })
    const stop = instrumentProducerMetrics(producer, { meterProvider }) // client-id: the producer's default
    const perTopic = { 'client-id': 'isokafka', topic }
    // over the broker's message.max.bytes (1 MiB by default): MESSAGE_TOO_LARGE, not retriable
    const big = await producer.send({ topic, value: new Uint8Array(1_100_000), partition: 1 }).catch((e) => e)
    expect((big as { code?: string }).code).toBe('MESSAGE_TOO_LARGE')
    await producer.send({ topic, value: 'fits', partition: 1 })
    const ms = await collect()
    expect(value(ms, 'kafka.producer.record_error_total', perTopic)).toBe(1)
    expect(value(ms, 'kafka.producer.record_error_rate', perTopic)).toBeGreaterThan(0)
    expect(value(ms, 'kafka.producer.record_send_total', perTopic)).toBe(2) // both were sent once
    expect(value(ms, 'kafka.producer.record_retry_total', perTopic)).toBe(0)

    // once stopped, the callback no longer reads the producer: the SDK repeats the last (cumulative) values
    stop()
    await producer.send({ topic, value: 'after stop', partition: 1 })
    expect(producer.metrics().topics[topic]!['record-send-total']).toBe(3)
    const frozen = await collect()
    expect(value(frozen, 'kafka.producer.record_send_total', perTopic)).toBe(2)
    await producer.close()
    await meterProvider.shutdown()
  })
})

describe('isokafka/otel metrics without a broker', () => {
  it('a gateway producer has no metrics(): instrumentProducerMetrics throws its UNSUPPORTED_OPERATION and registers nothing', async () => {
    const { meterProvider, collect } = sdk()
    const producer = createProducer({ transport: fetchTransport({ url: 'http://127.0.0.1:9' }) })
    expect(() => instrumentProducerMetrics(producer, { meterProvider })).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_OPERATION' }),
    )
    expect((await collect()).size).toBe(0)
    await producer.close()
    await meterProvider.shutdown()
  })

  it('one snapshot per collection; a snapshot that throws or holds NaN yields no points; the global provider by default; one series per client id', async () => {
    const { meterProvider, collectScopes } = sdk()
    let calls = 0
    let fail = false
    const snap = (n: number): ProducerMetrics => ({
      producer: { 'batch-size-avg': Number.NaN, 'buffer-available-bytes': n, 'not-a-java-name': 1 },
      topics: { t: { 'record-send-total': n } },
      nodes: { '3': { 'request-total': n }, 'b:9092': { 'request-total': 1 } },
    })
    const stub = {
      metrics: () => {
        calls++
        if (fail) throw new Error('closed')
        return snap(calls)
      },
    }
    const other = { metrics: () => snap(100) }
    otelMetrics.setGlobalMeterProvider(meterProvider)
    try {
      const stopA = instrumentProducerMetrics(stub, { clientId: 'a' })
      const stopB = instrumentProducerMetrics(other, { meter: meterProvider.getMeter('mine'), clientId: 'b' })
      expect(calls).toBe(1) // the first call, which starts the producer's collection
      const scopes = await collectScopes()
      expect(calls).toBe(2) // one read for all the instruments
      const ms = scopes.get('isokafka')!
      expect(points(ms, 'kafka.producer.record_send_total')).toEqual([[{ 'client-id': 'a', topic: 't' }, 2]])
      expect(points(ms, 'kafka.producer.request_total')).toEqual([
        [{ 'client-id': 'a', 'node-id': 'node-3' }, 2],
        [{ 'client-id': 'a', 'node-id': 'node-b:9092' }, 1],
      ])
      expect(points(ms, 'kafka.producer.buffer_available_bytes')).toEqual([[{ 'client-id': 'a' }, 2]])
      expect(ms.has('kafka.producer.batch_size_avg')).toBe(false)
      // the meter given: client b's series under its scope, apart from a's
      expect(points(scopes.get('mine')!, 'kafka.producer.record_send_total')).toEqual([
        [{ 'client-id': 'b', topic: 't' }, 100],
      ])
      fail = true
      const none = (await collectScopes()).get('isokafka')!
      expect(calls).toBe(3)
      // a's callback observed nothing this time; the SDK repeats a's last cumulative sum, and no error came out
      expect(points(none, 'kafka.producer.record_send_total')).toEqual([[{ 'client-id': 'a', topic: 't' }, 2]])
      stopA()
      stopB()
    } finally {
      otelMetrics.disable()
      await meterProvider.shutdown()
    }
  })
})
