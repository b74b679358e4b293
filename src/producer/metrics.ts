/**
 * `producer.metrics()`: a snapshot with Java's producer metric names and meanings where isokafka has the same facts
 * (`producer-metrics`, `producer-topic-metrics` and `producer-node-metrics` groups of Java's KafkaProducer). Collected
 * by a hook (src/hooks.ts) that the first metrics() call registers, so a producer nobody asks pays nothing.
 *
 * Windowed values are computed as Java's do (metrics.num.samples = 2, metrics.sample.window.ms = 30000): an avg or
 * max over the samples still in the window (NaN when there is none, as Java's), a rate as the samples' sum over their
 * elapsed time, counted as at least one full window. `*-total` values are cumulative since collection began.
 */
import type { HookSet, ProducerHooks } from '../hooks.js'

const SAMPLES = 2
const WINDOW_MS = 30_000

interface Sample {
  start: number
  count: number
  sum: number
  max: number
}

/** One measured quantity: cumulative total, and Java-style samples for avg / max / rate. */
class Stat {
  total = 0
  private samples: Sample[] = []

  record(value: number, now: number): void {
    this.total += value
    let s = this.samples[this.samples.length - 1]
    if (s === undefined || now - s.start >= WINDOW_MS) {
      s = { start: now, count: 0, sum: 0, max: -Infinity }
      this.samples.push(s)
      if (this.samples.length > SAMPLES) this.samples.shift()
    }
    s.count++
    s.sum += value
    if (value > s.max) s.max = value
  }

  private live(now: number): Sample[] {
    while (this.samples.length > 0 && now - this.samples[0]!.start >= SAMPLES * WINDOW_MS) this.samples.shift()
    return this.samples
  }

  avg(now: number): number {
    let count = 0
    let sum = 0
    for (const s of this.live(now)) {
      count += s.count
      sum += s.sum
    }
    return count === 0 ? NaN : sum / count
  }

  max(now: number): number {
    const live = this.live(now)
    return live.length === 0 ? NaN : Math.max(...live.map((s) => s.max))
  }

  /** Per second; `of: 'sum'` (default) or `'count'` of the recorded values. */
  rate(now: number, of: 'sum' | 'count' = 'sum'): number {
    const live = this.live(now)
    if (live.length === 0) return 0
    let v = 0
    for (const s of live) v += of === 'sum' ? s.sum : s.count
    const elapsed = Math.max(now - live[0]!.start, (SAMPLES - 1) * WINDOW_MS)
    return v / (elapsed / 1000)
  }

  sumInWindow(now: number): number {
    let v = 0
    for (const s of this.live(now)) v += s.sum
    return v
  }

  countInWindow(now: number): number {
    let v = 0
    for (const s of this.live(now)) v += s.count
    return v
  }
}

export interface ProducerMetrics {
  /** Java's producer-metrics group. */
  producer: Record<string, number>
  /** producer-topic-metrics, by topic. */
  topics: Record<string, Record<string, number>>
  /** producer-node-metrics, by broker node id (`host:port` while the id is unknown). */
  nodes: Record<string, Record<string, number>>
}

class TopicStats {
  readonly send = new Stat()
  readonly bytes = new Stat()
  readonly errors = new Stat()
  readonly retries = new Stat()
}

class NodeStats {
  readonly latency = new Stat()
  readonly outgoing = new Stat()
  readonly incoming = new Stat()
  requests = 0
}

/** The collector: a hook plus the snapshot it computes. */
export class MetricsCollector implements ProducerHooks {
  private readonly recordSend = new Stat()
  private readonly recordError = new Stat()
  private readonly recordRetry = new Stat()
  private readonly batchSize = new Stat()
  private readonly queueTime = new Stat()
  private readonly requestLatency = new Stat()
  private readonly produceRequests = new Stat()
  private readonly outgoing = new Stat()
  private readonly incoming = new Stat()
  private readonly throttle = new Stat()
  private readonly topicStats = new Map<string, TopicStats>()
  private readonly nodeStats = new Map<string, NodeStats>()
  /** Produce requests written and not answered, per broker (a broken connection answers none of them). */
  private readonly inFlight = new Map<string, number>()

  constructor(
    private readonly now: () => number,
    private readonly buffer: { total: number; used: () => number },
  ) {}

  private topic(name: string): TopicStats {
    let t = this.topicStats.get(name)
    if (!t) this.topicStats.set(name, (t = new TopicStats()))
    return t
  }

  private node(b: { host: string; port: number; nodeId: number }): NodeStats {
    const key = b.nodeId >= 0 ? String(b.nodeId) : `${b.host}:${b.port}`
    let n = this.nodeStats.get(key)
    if (!n) this.nodeStats.set(key, (n = new NodeStats()))
    return n
  }

  batchSent: ProducerHooks['batchSent'] = (e) => {
    const now = this.now()
    this.batchSize.record(e.bytes, now)
    if (e.attempt !== 1) return
    this.recordSend.record(e.records, now)
    this.queueTime.record(e.ageMs, now)
    const t = this.topic(e.topic)
    t.send.record(e.records, now)
    t.bytes.record(e.bytes, now)
  }

  batchRetried: ProducerHooks['batchRetried'] = (e) => {
    const now = this.now()
    this.recordRetry.record(e.records, now)
    this.topic(e.topic).retries.record(e.records, now)
  }

  batchFailed: ProducerHooks['batchFailed'] = (e) => {
    const now = this.now()
    this.recordError.record(e.records, now)
    this.topic(e.topic).errors.record(e.records, now)
  }

  requestWritten: ProducerHooks['requestWritten'] = (e) => {
    const now = this.now()
    this.outgoing.record(e.bytes, now)
    const n = this.node(e.broker)
    n.outgoing.record(e.bytes, now)
    n.requests++
    if (e.api !== 'Produce') return
    this.produceRequests.record(1, now)
    const key = `${e.broker.host}:${e.broker.port}`
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1)
  }

  responseRead: ProducerHooks['responseRead'] = (e) => {
    const now = this.now()
    this.incoming.record(e.bytes, now)
    const n = this.node(e.broker)
    n.incoming.record(e.bytes, now)
    n.latency.record(e.latencyMs, now)
    if (e.api !== 'Produce') return
    this.requestLatency.record(e.latencyMs, now)
    const key = `${e.broker.host}:${e.broker.port}`
    this.inFlight.set(key, Math.max(0, (this.inFlight.get(key) ?? 0) - 1))
  }

  brokerDisconnected: ProducerHooks['brokerDisconnected'] = (e) => {
    this.inFlight.delete(`${e.broker.host}:${e.broker.port}`)
  }

  throttled: ProducerHooks['throttled'] = (e) => {
    this.throttle.record(e.throttleTimeMs, this.now())
  }

  snapshot(): ProducerMetrics {
    const now = this.now()
    let inFlight = 0
    for (const n of this.inFlight.values()) inFlight += n
    const requests = this.produceRequests.countInWindow(now)
    const used = this.buffer.used()
    const producer: Record<string, number> = {
      'record-send-total': this.recordSend.total,
      'record-send-rate': this.recordSend.rate(now),
      'record-error-total': this.recordError.total,
      'record-error-rate': this.recordError.rate(now),
      'record-retry-total': this.recordRetry.total,
      'record-retry-rate': this.recordRetry.rate(now),
      'batch-size-avg': this.batchSize.avg(now),
      'batch-size-max': this.batchSize.max(now),
      'records-per-request-avg': requests === 0 ? NaN : this.recordSend.sumInWindow(now) / requests,
      'record-queue-time-avg': this.queueTime.avg(now),
      'record-queue-time-max': this.queueTime.max(now),
      'request-latency-avg': this.requestLatency.avg(now),
      'request-latency-max': this.requestLatency.max(now),
      'request-total': this.produceRequests.total,
      'request-rate': this.produceRequests.rate(now, 'count'),
      'requests-in-flight': inFlight,
      'outgoing-byte-total': this.outgoing.total,
      'outgoing-byte-rate': this.outgoing.rate(now),
      'incoming-byte-total': this.incoming.total,
      'incoming-byte-rate': this.incoming.rate(now),
      'produce-throttle-time-avg': this.throttle.avg(now),
      'produce-throttle-time-max': this.throttle.max(now),
      'buffer-total-bytes': this.buffer.total,
      'buffer-available-bytes': Math.max(0, this.buffer.total - used),
    }
    const topics: ProducerMetrics['topics'] = Object.create(null) // no prototype: a topic may be named __proto__
    for (const [name, t] of this.topicStats) {
      topics[name] = {
        'record-send-total': t.send.total,
        'record-send-rate': t.send.rate(now),
        'byte-total': t.bytes.total,
        'byte-rate': t.bytes.rate(now),
        'record-error-total': t.errors.total,
        'record-error-rate': t.errors.rate(now),
        'record-retry-total': t.retries.total,
        'record-retry-rate': t.retries.rate(now),
      }
    }
    const nodes: ProducerMetrics['nodes'] = Object.create(null)
    for (const [key, n] of this.nodeStats) {
      nodes[key] = {
        'request-latency-avg': n.latency.avg(now),
        'request-latency-max': n.latency.max(now),
        'request-total': n.requests,
        'outgoing-byte-total': n.outgoing.total,
        'outgoing-byte-rate': n.outgoing.rate(now),
        'incoming-byte-total': n.incoming.total,
        'incoming-byte-rate': n.incoming.rate(now),
      }
    }
    return { producer, topics, nodes }
  }
}

/** The producer's metrics() function: registers the collector on its first call. */
export function metricsOf(hooks: HookSet, buffer: { total: number; used: () => number }): () => ProducerMetrics {
  let collector: MetricsCollector | null = null
  return () => {
    if (collector === null) {
      collector = new MetricsCollector(hooks.now, buffer)
      hooks.add(collector)
    }
    return collector.snapshot()
  }
}
