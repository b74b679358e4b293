// isokafka/otel: OpenTelemetry for a producer, over its public API. Tracing: a wrapper, one PRODUCER span per record
// sent, ended when Kafka acknowledged the record or it failed; optionally the trace context in the record's headers.
// Metrics (metrics.ts): producer.metrics() as observable instruments. Runtime-free: only `@opentelemetry/api` (an
// optional peer dependency), imported by this folder alone.
import {
  context as otelContext,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type SpanOptions,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api'
import type { DeliveryCallback, Producer, ProducerRecord, RecordMetadata } from '../../src/index.js'
import { ATTR, errorType, parseServer, utf8Length, type StaticAttributes } from './attributes.js'
import { injectHeaders } from './headers.js'

export { ATTR as MESSAGING_ATTRIBUTES } from './attributes.js'
export { injectHeaders } from './headers.js'
export {
  instrumentProducerMetrics,
  METER_NAME,
  METRIC_ATTRIBUTES,
  PRODUCER_METRICS,
  type ProducerMetricDescriptor,
  type ProducerMetricsOptions,
} from './metrics.js'

/** The instrumentation scope name spans are created under. */
export const TRACER_NAME = 'isokafka'

const INVALID_TRACE_ID = '00000000000000000000000000000000'

export interface InstrumentOptions {
  /** Where spans go; default the global one (`trace.getTracerProvider()`, a no-op until an SDK registers). */
  tracerProvider?: TracerProvider
  /**
   * Write the send span's context into each record's headers (`traceparent`, `tracestate` with the W3C propagator)
   * so a consumer can continue the trace. A header the record already has under that name is left as it is.
   * Default false.
   */
  injectContext?: boolean
  /** The propagator for `injectContext`; default the global one (`propagation`, set by the SDK's register()). */
  propagator?: TextMapPropagator
  /** `messaging.client.id`: the producer's `clientId`, if you set one. */
  clientId?: string
  /**
   * `server.address` / `server.port`: the broker or gateway address (`host:port`; with a list or a comma-separated
   * string, the first). The leader a record goes to is not visible through the producer's API, so this names the
   * seed the producer was given.
   */
  server?: string | readonly string[]
  /**
   * `messaging.message.body.size` from the value before serialization: a `Uint8Array`'s length, a string's UTF-8
   * length (what the default and string serializers write). Turn off when a custom serializer changes the size.
   * Default true.
   */
  bodySize?: boolean
}

/**
 * Returns a producer of the same type whose `send`, `sendBatch`, `produce` (and sends inside `transaction(fn)`) each
 * create a span `send <topic>` (kind PRODUCER) per record, child of the active context. Every other method is the
 * wrapped producer's own.
 */
export function instrumentProducer<K, V>(producer: Producer<K, V>, options: InstrumentOptions = {}): Producer<K, V> {
  const tracer: Tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(TRACER_NAME)
  const inject = options.injectContext === true
  const propagator = options.propagator ?? propagation
  const bodySize = options.bodySize !== false
  const fixed: StaticAttributes = { clientId: options.clientId, ...parseServer(options.server) }

  // the span name and the attributes a sampler sees (the conventions ask for these at creation) depend only on the
  // topic: made once per topic, so a send with nothing recording allocates little beyond the no-op span. Tracers copy
  // the attributes they are given (the SDK sanitizes them into the span's own object), so sharing them is safe.
  const perTopic = new Map<string, { name: string; options: SpanOptions }>()
  const spanStart = (topic: string) => {
    let s = perTopic.get(topic)
    if (s === undefined) {
      const a: Attributes = {
        [ATTR.system]: 'kafka',
        [ATTR.operationType]: 'send',
        [ATTR.operationName]: 'send',
        [ATTR.destination]: topic,
      }
      if (fixed.serverAddress !== undefined) a[ATTR.serverAddress] = fixed.serverAddress
      if (fixed.serverPort !== undefined) a[ATTR.serverPort] = fixed.serverPort
      s = { name: `send ${topic}`, options: { kind: SpanKind.PRODUCER, attributes: a } }
      if (perTopic.size < 4096) perTopic.set(topic, s)
    }
    return s
  }

  // the rest only on recording spans
  const start = (record: ProducerRecord<K, V>): Span => {
    const { name, options } = spanStart(record.topic)
    const span = tracer.startSpan(name, options, otelContext.active())
    if (span.isRecording()) span.setAttributes(detail(record))
    return span
  }

  const detail = (record: ProducerRecord<K, V>): Attributes => {
    const a: Attributes = {}
    if (fixed.clientId !== undefined) a[ATTR.clientId] = fixed.clientId
    if (typeof record.partition === 'number') a[ATTR.partition] = String(record.partition)
    const key = record.key as unknown
    // the key's canonical string form; none for bytes or no key
    if (typeof key === 'string') a[ATTR.key] = key
    else if (typeof key === 'number' || typeof key === 'bigint') a[ATTR.key] = String(key)
    const value = record.value as unknown
    if (value === null) a[ATTR.tombstone] = true
    if (bodySize) {
      if (value instanceof Uint8Array) a[ATTR.bodySize] = value.byteLength
      else if (typeof value === 'string') a[ATTR.bodySize] = utf8Length(value)
    }
    return a
  }

  // the record as sent: with the span's context in its headers when asked for, else the caller's own object
  const withContext = (record: ProducerRecord<K, V>, span: Span): ProducerRecord<K, V> => {
    if (!inject || record === null || typeof record !== 'object') return record
    // nothing to propagate (the no-op provider and no incoming trace): skip the context and the propagator
    if (span.spanContext().traceId === INVALID_TRACE_ID) return record
    const headers = injectHeaders(propagator, trace.setSpan(otelContext.active(), span), record.headers)
    return headers === record.headers ? record : { ...record, headers }
  }

  const send = (record: ProducerRecord<K, V>): Promise<RecordMetadata> => {
    if (record === null || typeof record !== 'object') return producer.send(record) // rejects as the core does
    const span = start(record)
    const sent = producer.send(withContext(record, span))
    if (!span.isRecording()) return sent
    return sent.then(
      (meta) => {
        succeeded(span, meta)
        return meta
      },
      (err: unknown) => {
        failed(span, err)
        throw err
      },
    )
  }

  const produce = (record: ProducerRecord<K, V>, callback?: DeliveryCallback): boolean => {
    if (record === null || typeof record !== 'object') return producer.produce(record, callback)
    const span = start(record)
    const r = withContext(record, span)
    // not recording: the caller's callback as it is, so a shared callback stays one per batch (no closure per record)
    if (!span.isRecording()) return producer.produce(r, callback)
    const done: DeliveryCallback = (err, meta) => {
      if (err) failed(span, err)
      else succeeded(span, meta)
      callback?.(err, meta)
    }
    try {
      return producer.produce(r, done)
    } catch (err) {
      // thrown at once (bad input, too large, closed): the callback will not run
      failed(span, err)
      throw err
    }
  }

  const wrapped: Producer<K, V> = Object.create(producer)
  wrapped.send = send
  wrapped.sendBatch = (records) => Promise.all(records.map((r) => send(r)))
  wrapped.produce = produce
  wrapped.transaction = (fn) => producer.transaction(() => fn(wrapped))
  return wrapped
}

function succeeded(span: Span, meta: RecordMetadata | null): void {
  if (meta) {
    span.setAttribute(ATTR.partition, String(meta.partition))
    if (meta.offset >= 0) span.setAttribute(ATTR.offset, meta.offset) // -1 with acks 0: unknown
  }
  span.end()
}

function failed(span: Span, err: unknown): void {
  span.setAttribute(ATTR.errorType, errorType(err))
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) })
  if (err instanceof Error) span.recordException(err)
  span.end()
}
