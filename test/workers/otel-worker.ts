// Test Worker (runs inside workerd, driven by otel.test.ts through Miniflare): an instrumented producer with the OTel
// SDK (BasicTracerProvider, in-memory exporter, W3C propagator; MeterProvider, a reader collecting on forceFlush into
// the in-memory metric exporter) bundled in; sends the records it is given over the Workers TCP transport and answers
// with each send's outcome, the finished spans and the metric points collected after the sends.
import { SpanKind } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createProducer } from '../../src/index.js'
import { workersSocket } from '../../adapters/workers-socket/index.js'
import { instrumentProducer, instrumentProducerMetrics } from '../../adapters/otel/index.js'

interface Env {
  KAFKA_BOOTSTRAP: string
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const records = (await request.json()) as Array<{ topic: string; key?: string; value: string | null }>
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })
    const meterProvider = new MeterProvider({ readers: [reader] })
    const base = createProducer({
      transport: workersSocket({ bootstrap: env.KAFKA_BOOTSTRAP }),
      clientId: 'otel-worker',
      maxBlockMs: 500,
      lingerMs: 5,
    })
    const stopMetrics = instrumentProducerMetrics(base, { meterProvider, clientId: 'otel-worker' })
    const producer = instrumentProducer(base, {
      tracerProvider: provider,
      injectContext: true,
      propagator: new W3CTraceContextPropagator(),
      clientId: 'otel-worker',
      server: env.KAFKA_BOOTSTRAP,
    })
    try {
      const outcomes = await Promise.all(
        records.map((r) =>
          producer.send(r).then(
            (m) => ({ ok: true, partition: m.partition, offset: m.offset }),
            (e: { code?: string }) => ({ ok: false, code: e.code }),
          ),
        ),
      )
      await producer.flush()
      await reader.forceFlush()
      const metrics = metricExporter.getMetrics().flatMap((rm) =>
        rm.scopeMetrics.flatMap((sm) =>
          sm.metrics.map((m) => ({
            scope: sm.scope.name,
            name: m.descriptor.name,
            unit: m.descriptor.unit,
            type: m.dataPointType === DataPointType.GAUGE ? 'gauge' : 'sum',
            monotonic: 'isMonotonic' in m ? m.isMonotonic : undefined,
            points: m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value as number })),
          })),
        ),
      )
      stopMetrics()
      await producer.close({ timeoutMs: 2000 })
      const spans = exporter.getFinishedSpans().map((s) => ({
        name: s.name,
        producer: s.kind === SpanKind.PRODUCER,
        traceId: s.spanContext().traceId,
        spanId: s.spanContext().spanId,
        status: s.status.code,
        attributes: s.attributes,
      }))
      return Response.json({ outcomes, spans, metrics })
    } catch (e) {
      return Response.json({ error: String((e as Error)?.stack ?? e) }, { status: 500 })
    } finally {
      await provider.shutdown()
      await meterProvider.shutdown()
    }
  },
}
