// Test Worker (runs inside workerd, driven by otel.test.ts through Miniflare): an instrumented producer with the OTel
// SDK (BasicTracerProvider, in-memory exporter, W3C propagator) bundled in; sends the records it is given over the
// Workers TCP transport and answers with each send's outcome and the finished spans.
import { SpanKind } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createProducer } from '../../src/index.js'
import { workersSocket } from '../../adapters/workers-socket/index.js'
import { instrumentProducer } from '../../adapters/otel/index.js'

interface Env {
  KAFKA_BOOTSTRAP: string
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const records = (await request.json()) as Array<{ topic: string; key?: string; value: string | null }>
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const producer = instrumentProducer(
      createProducer({
        transport: workersSocket({ bootstrap: env.KAFKA_BOOTSTRAP }),
        clientId: 'otel-worker',
        maxBlockMs: 500,
        lingerMs: 5,
      }),
      {
        tracerProvider: provider,
        injectContext: true,
        propagator: new W3CTraceContextPropagator(),
        clientId: 'otel-worker',
        server: env.KAFKA_BOOTSTRAP,
      },
    )
    try {
      const outcomes = await Promise.all(
        records.map((r) =>
          producer.send(r).then(
            (m) => ({ ok: true, partition: m.partition, offset: m.offset }),
            (e: { code?: string }) => ({ ok: false, code: e.code }),
          ),
        ),
      )
      await producer.close({ timeoutMs: 2000 })
      const spans = exporter.getFinishedSpans().map((s) => ({
        name: s.name,
        producer: s.kind === SpanKind.PRODUCER,
        traceId: s.spanContext().traceId,
        spanId: s.spanContext().spanId,
        status: s.status.code,
        attributes: s.attributes,
      }))
      return Response.json({ outcomes, spans })
    } catch (e) {
      return Response.json({ error: String((e as Error)?.stack ?? e) }, { status: 500 })
    } finally {
      await provider.shutdown()
    }
  },
}
