/**
 * The gateway's counters, and their two views: `gateway.metrics()` (a JSON snapshot) and GET /metrics (Prometheus
 * text format 0.0.4). Event-loop lag comes from perf_hooks' histogram, reset at each scrape.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'

/** Upper bounds (seconds) of the Kafka latency histogram's buckets. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

export interface GatewayMetrics {
  uptimeSec: number
  connections: { current: number; authenticated: number; unauthenticated: number; total: number; httpRequests: number }
  frames: Record<string, number>
  records: { in: number; out: number; failed: number }
  batches: { in: number; acked: number; deduplicated: number; running: number }
  bytesIn: number
  pendingBytes: number
  paused: boolean
  pauses: number
  pausedSockets: number
  /** Refusals and failures by code (gateway codes, and KAFKA_<n> for Kafka error codes). */
  errors: Record<string, number>
}

/** Gauges the registry reads from the parts that own them. */
export interface GaugeSources {
  authenticated(): number
  unauthenticated(): number
  pausedSockets(): number
  pendingBytes(): number
  paused(): boolean
  pauses(): number
  runningBatches(): number
}

export class MetricsRegistry {
  readonly started = Date.now()
  connectionsTotal = 0
  httpRequests = 0
  recordsIn = 0
  recordsOut = 0
  recordsFailed = 0
  batchesIn = 0
  batchesAcked = 0
  dedupHits = 0
  bytesIn = 0
  readonly frames: Record<string, number> = {}
  readonly refusals: Record<string, number> = {}
  private readonly latencyCounts = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0)
  private latencySum = 0
  private latencyCount = 0
  private readonly loop: IntervalHistogram
  private gauges: GaugeSources | null = null

  constructor() {
    this.loop = monitorEventLoopDelay({ resolution: 20 })
    this.loop.enable()
  }

  setGauges(g: GaugeSources): void {
    this.gauges = g
  }

  refuse(code: string): void {
    this.refusals[code] = (this.refusals[code] ?? 0) + 1
  }

  frame(type: string): void {
    const t = type === 'hello' || type === 'produce' || type === 'metadata' ? type : 'other'
    this.frames[t] = (this.frames[t] ?? 0) + 1
  }

  /** A Kafka round trip (a client batch from start to acknowledgement), in milliseconds. */
  kafkaLatency(ms: number): void {
    const s = ms / 1000
    let i = 0
    while (i < LATENCY_BUCKETS.length && s > LATENCY_BUCKETS[i]!) i++
    this.latencyCounts[i]!++
    this.latencySum += s
    this.latencyCount++
  }

  close(): void {
    this.loop.disable()
  }

  snapshot(): GatewayMetrics {
    const g = this.gauges
    const authenticated = g?.authenticated() ?? 0
    const unauthenticated = g?.unauthenticated() ?? 0
    return {
      uptimeSec: Math.round((Date.now() - this.started) / 1000),
      connections: {
        current: authenticated + unauthenticated,
        authenticated,
        unauthenticated,
        total: this.connectionsTotal,
        httpRequests: this.httpRequests,
      },
      frames: { ...this.frames },
      records: { in: this.recordsIn, out: this.recordsOut, failed: this.recordsFailed },
      batches: {
        in: this.batchesIn,
        acked: this.batchesAcked,
        deduplicated: this.dedupHits,
        running: g?.runningBatches() ?? 0,
      },
      bytesIn: this.bytesIn,
      pendingBytes: g?.pendingBytes() ?? 0,
      paused: g?.paused() ?? false,
      pauses: g?.pauses() ?? 0,
      pausedSockets: g?.pausedSockets() ?? 0,
      errors: { ...this.refusals },
    }
  }

  /** Prometheus text exposition. */
  prometheus(): string {
    const s = this.snapshot()
    const out: string[] = []
    const metric = (name: string, type: 'counter' | 'gauge', help: string, rows: Array<[string, number]>) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const [labels, v] of rows) out.push(`${name}${labels} ${Number.isFinite(v) ? v : 0}`)
    }
    const label = (k: string, v: string) => `{${k}="${v.replace(/[\\"\n]/g, '_')}"}`
    metric('isokafka_gateway_connections', 'gauge', 'Open WebSocket connections.', [
      [label('state', 'authenticated'), s.connections.authenticated],
      [label('state', 'unauthenticated'), s.connections.unauthenticated],
    ])
    metric('isokafka_gateway_connections_total', 'counter', 'WebSocket connections accepted.', [
      ['', s.connections.total],
    ])
    metric('isokafka_gateway_http_requests_total', 'counter', 'HTTP requests.', [['', s.connections.httpRequests]])
    metric(
      'isokafka_gateway_frames_total',
      'counter',
      'Frames received, by type.',
      Object.entries(s.frames).map(([t, n]) => [label('type', t), n]),
    )
    metric('isokafka_gateway_records_in_total', 'counter', 'Records handed to the Kafka producer.', [
      ['', s.records.in],
    ])
    metric('isokafka_gateway_records_out_total', 'counter', 'Records Kafka acknowledged.', [['', s.records.out]])
    metric('isokafka_gateway_records_failed_total', 'counter', 'Records that failed.', [['', s.records.failed]])
    metric('isokafka_gateway_bytes_in_total', 'counter', 'Frame and body bytes received.', [['', s.bytesIn]])
    metric(
      'isokafka_gateway_refusals_total',
      'counter',
      'Refusals and failures, by code.',
      Object.entries(s.errors).map(([c, n]) => [label('code', c), n]),
    )
    metric('isokafka_gateway_dedup_hits_total', 'counter', 'Resent batches answered from the batch ledger.', [
      ['', s.batches.deduplicated],
    ])
    metric('isokafka_gateway_batches_in_total', 'counter', 'Client batches received.', [['', s.batches.in]])
    metric('isokafka_gateway_batches_acked_total', 'counter', 'Client batches acknowledged.', [['', s.batches.acked]])
    metric('isokafka_gateway_running_batches', 'gauge', 'Client batches waiting for Kafka.', [['', s.batches.running]])
    metric('isokafka_gateway_paused_sockets', 'gauge', 'WebSocket connections not being read (backpressure).', [
      ['', s.pausedSockets],
    ])
    metric(
      'isokafka_gateway_backpressure_paused',
      'gauge',
      '1 while the gateway stops reading because too many bytes wait for Kafka.',
      [['', s.paused ? 1 : 0]],
    )
    metric('isokafka_gateway_pauses_total', 'counter', 'Times the gateway paused for backpressure.', [['', s.pauses]])
    metric('isokafka_gateway_pending_bytes', 'gauge', 'Bytes of records waiting for Kafka.', [['', s.pendingBytes]])
    out.push(
      '# HELP isokafka_gateway_kafka_latency_seconds Client batch to Kafka acknowledgement.',
      '# TYPE isokafka_gateway_kafka_latency_seconds histogram',
    )
    let cumulative = 0
    LATENCY_BUCKETS.forEach((b, i) => {
      cumulative += this.latencyCounts[i]!
      out.push(`isokafka_gateway_kafka_latency_seconds_bucket{le="${b}"} ${cumulative}`)
    })
    cumulative += this.latencyCounts[LATENCY_BUCKETS.length]!
    out.push(`isokafka_gateway_kafka_latency_seconds_bucket{le="+Inf"} ${cumulative}`)
    out.push(
      `isokafka_gateway_kafka_latency_seconds_sum ${this.latencySum}`,
      `isokafka_gateway_kafka_latency_seconds_count ${this.latencyCount}`,
    )
    const lagMax = this.loop.max / 1e9
    this.loop.reset()
    metric(
      'isokafka_gateway_event_loop_lag_max_seconds',
      'gauge',
      'Longest event-loop delay since the previous scrape.',
      [['', Number.isFinite(lagMax) ? lagMax : 0]],
    )
    metric('process_resident_memory_bytes', 'gauge', 'Resident set size.', [['', process.memoryUsage.rss()]])
    metric('isokafka_gateway_uptime_seconds', 'gauge', 'Seconds since start.', [['', s.uptimeSec]])
    return out.join('\n') + '\n'
  }
}
