// producer.metrics() (Java's producer metric names) as OpenTelemetry asynchronous instruments, named as the OTel Java
// instrumentation's Kafka metrics bridge (opentelemetry-java-instrumentation, kafka-clients OpenTelemetryMetricsReporter)
// names a Java KafkaProducer's: `kafka.producer.` + the Java name with `-` turned into `_`, Java's tags as attributes
// (`client-id`, `topic`, `node-id`), no unit, a counter for cumulative totals and a gauge for the rest. A name the
// snapshot has per topic or per node is reported there only (the bridge keeps the most detailed version of a metric,
// so a sum over attributes does not count twice). One batch callback reads one snapshot per collection.
import {
  metrics,
  type Attributes,
  type BatchObservableCallback,
  type BatchObservableResult,
  type Meter,
  type MeterProvider,
  type Observable,
} from '@opentelemetry/api'
import type { Producer, ProducerMetrics } from '../../src/index.js'

/** The instrumentation scope the instruments are created under (as the tracer's). */
export const METER_NAME = 'isokafka'

/** The producer's default `clientId`, the `client-id` attribute when none is given. */
const DEFAULT_CLIENT_ID = 'isokafka'

/** Which part of the snapshot a metric is read from, and the attributes it carries beside `client-id`. */
type Level = 'producer' | 'topic' | 'node'

/** counter: cumulative (`*-total`); upDown: a current amount that adds up across producers; gauge: the rest. */
type Kind = 'counter' | 'upDown' | 'gauge'

export interface ProducerMetricDescriptor {
  /** Java's metric name, the key in `producer.metrics()`. */
  readonly java: string
  /** The OTel instrument's name: `kafka.producer.<java name, - as _>`. */
  readonly name: string
  readonly level: Level
  readonly kind: Kind
  readonly description: string
}

const UP_DOWN = new Set(['requests-in-flight', 'buffer-total-bytes', 'buffer-available-bytes'])

const d = (level: Level, java: string, description: string): ProducerMetricDescriptor => ({
  java,
  name: `kafka.producer.${java.replace(/-/g, '_')}`,
  level,
  kind: java.endsWith('-total') ? 'counter' : UP_DOWN.has(java) ? 'upDown' : 'gauge',
  description,
})

/** Every instrument, in the order of docs/otel.md's table. */
export const PRODUCER_METRICS: readonly ProducerMetricDescriptor[] = [
  // producer-topic-metrics: client-id, topic
  d('topic', 'record-send-total', 'Records sent (the first attempt of each batch)'),
  d('topic', 'record-send-rate', 'Records sent per second'),
  d('topic', 'byte-total', 'Bytes of record batches sent on the wire'),
  d('topic', 'byte-rate', 'Bytes of record batches sent per second'),
  d('topic', 'record-error-total', 'Records whose batch failed for good'),
  d('topic', 'record-error-rate', 'Records failed per second'),
  d('topic', 'record-retry-total', 'Records of batches retried'),
  d('topic', 'record-retry-rate', 'Records retried per second'),
  // producer-node-metrics: client-id, node-id
  d('node', 'request-latency-avg', 'Average ms from a request written to its response'),
  d('node', 'request-latency-max', 'Maximum ms from a request written to its response'),
  d('node', 'request-total', 'Requests sent'),
  d('node', 'outgoing-byte-total', 'Bytes of request frames sent'),
  d('node', 'outgoing-byte-rate', 'Bytes of request frames sent per second'),
  d('node', 'incoming-byte-total', 'Bytes of response frames read'),
  d('node', 'incoming-byte-rate', 'Bytes of response frames read per second'),
  // producer-metrics: client-id
  d('producer', 'batch-size-avg', 'Average bytes of a record batch on the wire'),
  d('producer', 'batch-size-max', 'Maximum bytes of a record batch on the wire'),
  d('producer', 'records-per-request-avg', 'Average records per Produce request'),
  d('producer', 'record-queue-time-avg', 'Average ms from a batch’s first record to its first send'),
  d('producer', 'record-queue-time-max', 'Maximum ms from a batch’s first record to its first send'),
  d('producer', 'request-rate', 'Produce requests sent per second'),
  d('producer', 'requests-in-flight', 'Produce requests written and not answered'),
  d('producer', 'produce-throttle-time-avg', 'Average ms a broker throttled a Produce request'),
  d('producer', 'produce-throttle-time-max', 'Maximum ms a broker throttled a Produce request'),
  d('producer', 'buffer-total-bytes', 'Buffer memory the producer may use (bufferMemory)'),
  d('producer', 'buffer-available-bytes', 'Buffer memory records do not hold now'),
]

/** Java's tag names, which the bridge passes on as they are. */
export const METRIC_ATTRIBUTES = { clientId: 'client-id', topic: 'topic', nodeId: 'node-id' } as const

export interface ProducerMetricsOptions {
  /** Where the instruments are created; default the global one (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider
  /** A meter to use instead (then `meterProvider` is not asked). */
  meter?: Meter
  /**
   * The `client-id` attribute. Default: the producer's own `clientId` (its option, the transport's, or 'isokafka').
   */
  clientId?: string
}

/**
 * Reports `producer.metrics()` through OpenTelemetry observable instruments (names in `PRODUCER_METRICS`, after the
 * OTel Java Kafka metrics bridge), read once per collection by one batch callback. Calls `producer.metrics()` at once,
 * which starts the producer's collection, and so throws as it does where the producer has no metrics (over a gateway
 * transport: `UNSUPPORTED_OPERATION`). Returns the function that stops observing (removes the callback).
 */
export function instrumentProducerMetrics(
  producer: Pick<Producer<unknown, unknown>, 'metrics'> & { readonly clientId?: string },
  options: ProducerMetricsOptions = {},
): () => void {
  producer.metrics() // starts collection now; throws UNSUPPORTED_OPERATION where there is none
  const meter = options.meter ?? (options.meterProvider ?? metrics.getMeterProvider()).getMeter(METER_NAME)
  const clientId = options.clientId ?? producer.clientId ?? DEFAULT_CLIENT_ID
  const base: Attributes = { [METRIC_ATTRIBUTES.clientId]: clientId }

  const byLevel: Record<Level, Array<[string, Observable]>> = { producer: [], topic: [], node: [] }
  const observables: Observable[] = []
  for (const m of PRODUCER_METRICS) {
    const o = { description: m.description }
    const instrument =
      m.kind === 'counter'
        ? meter.createObservableCounter(m.name, o)
        : m.kind === 'upDown'
          ? meter.createObservableUpDownCounter(m.name, o)
          : meter.createObservableGauge(m.name, o)
    byLevel[m.level].push([m.java, instrument])
    observables.push(instrument)
  }

  // attributes per topic / node, made once each (a collection runs every export interval, for every topic)
  const topicAttrs = new Map<string, Attributes>()
  const nodeAttrs = new Map<string, Attributes>()
  const attrs = (cache: Map<string, Attributes>, key: string, name: string, value: string): Attributes => {
    let a = cache.get(key)
    if (a === undefined) cache.set(key, (a = { ...base, [name]: value }))
    return a
  }

  const callback: BatchObservableCallback = (result) => {
    let snapshot: ProducerMetrics
    try {
      snapshot = producer.metrics()
    } catch {
      return // nothing to report; a callback that throws would only make the SDK log it
    }
    observe(result, byLevel.producer, snapshot.producer, base)
    for (const topic in snapshot.topics)
      observe(result, byLevel.topic, snapshot.topics[topic]!, attrs(topicAttrs, topic, METRIC_ATTRIBUTES.topic, topic))
    for (const node in snapshot.nodes) {
      // Java's node-id tag: node-<id> (node--1 … for bootstrap connections; here node-<host:port> until the id is known)
      const a = attrs(nodeAttrs, node, METRIC_ATTRIBUTES.nodeId, `node-${node}`)
      observe(result, byLevel.node, snapshot.nodes[node]!, a)
    }
  }
  meter.addBatchObservableCallback(callback, observables)
  let stopped = false
  return () => {
    if (stopped) return
    stopped = true
    meter.removeBatchObservableCallback(callback, observables)
  }
}

function observe(
  result: BatchObservableResult,
  instruments: ReadonlyArray<[string, Observable]>,
  values: Record<string, number>,
  attributes: Attributes,
): void {
  for (const [java, instrument] of instruments) {
    const v = values[java]
    // an avg or max with no sample in the window is NaN in Java's metrics; no point instead (OTLP JSON has no NaN)
    if (typeof v === 'number' && !Number.isNaN(v)) result.observe(instrument, v, attributes)
  }
}
