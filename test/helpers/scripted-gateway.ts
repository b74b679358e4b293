// A scripted GatewayTransport (answers chosen per call, on a fake clock) and an in-memory Outbox that logs what the
// producer asks of it: the gateway backend's unit tests drive the producer through these.
import { gatewayBackend } from '../../src/index.js'
import type {
  GatewayPartitionBatch,
  GatewayPartitionResult,
  GatewayTopicMetadata,
  GatewayTransport,
  OutboxBatch,
} from '../../src/transport.js'
import { outboxLane } from '../../src/producer/outbox-lane.js'
import type { FakeClock } from './fake-clock.js'
import { decodeWireRecords } from '../../adapters/gateway-wire/index.js'

export type Answer = (batches: GatewayPartitionBatch[]) => GatewayPartitionResult[] | Error | 'hang'

export class ScriptedTransport implements GatewayTransport {
  readonly kind = 'gateway' as const
  readonly backend = gatewayBackend
  readonly calls: Array<{
    batches: Array<{ topic: string; partition: number; batchId: string; values: string[] }>
    at: number
  }> = []
  metadataCalls = 0
  partitions = new Map<string, number>([['t', 3]])
  metadataError: Error | null = null
  inFlight = 0
  maxInFlightSeen = 0
  /** Partitions with a batch in flight now, and whether two ever were at once. */
  private readonly busy = new Set<string>()
  overlaps = 0
  private offsets = new Map<string, number>()
  answers: Answer[] = []
  /** Delay (fake ms) before answering. */
  latency = 0
  constructor(private readonly clock: FakeClock) {}

  /** The next metadata calls that never answer. */
  metadataHangs = 0
  async metadata(topics: string[]): Promise<GatewayTopicMetadata[]> {
    this.metadataCalls++
    if (this.metadataHangs > 0) {
      this.metadataHangs--
      return new Promise(() => {})
    }
    if (this.metadataError) throw this.metadataError
    return topics.map((topic) => ({
      topic,
      partitions: this.partitions.get(topic) ?? 0,
      errorCode: this.partitions.has(topic) ? 0 : 3,
    }))
  }

  /** Acknowledge like a gateway: consecutive offsets per partition. */
  ok(batches: GatewayPartitionBatch[]): GatewayPartitionResult[] {
    return batches.map((b) => {
      const k = `${b.topic}-${b.partition}`
      const base = this.offsets.get(k) ?? 0
      this.offsets.set(k, base + b.count)
      return {
        topic: b.topic,
        partition: b.partition,
        batchId: b.batchId,
        errorCode: 0,
        baseOffset: base,
        logAppendTime: -1,
      }
    })
  }

  produce(batches: GatewayPartitionBatch[]): Promise<GatewayPartitionResult[]> {
    const dec = new TextDecoder()
    this.calls.push({
      at: this.clock.now(),
      batches: batches.map((b) => ({
        topic: b.topic,
        partition: b.partition,
        batchId: b.batchId,
        values: decodeWireRecords(b.records).map((r) => dec.decode(r[2]!)),
      })),
    })
    this.inFlight++
    this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlight)
    const keys = batches.map((b) => `${b.topic}-${b.partition}`)
    for (const k of keys) {
      if (this.busy.has(k)) this.overlaps++
      this.busy.add(k)
    }
    const answer = this.answers.shift() ?? ((b) => this.ok(b))
    const result = answer(batches)
    return new Promise((resolve, reject) => {
      if (result === 'hang') return
      this.clock.setTimeout(() => {
        this.inFlight--
        for (const k of keys) this.busy.delete(k)
        if (result instanceof Error) reject(result)
        else resolve(result)
      }, this.latency)
    })
  }

  async close(): Promise<void> {}
}

/** An Outbox in memory that logs what the producer asks of it. */
export class MemoryOutbox {
  readonly lane = outboxLane
  readonly log: string[] = []
  readonly stored = new Map<string, OutboxBatch>()
  readonly failures: Array<[string, string]> = []
  leftovers: OutboxBatch[] = []
  later: OutboxBatch[] = []
  async open(): Promise<OutboxBatch[]> {
    this.log.push('open')
    for (const b of this.leftovers) this.stored.set(b.batchId, b)
    return this.leftovers
  }
  async put(b: OutboxBatch): Promise<void> {
    this.log.push(`put ${b.batchId}`)
    this.stored.set(b.batchId, b)
  }
  async remove(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      this.log.push(`remove ${id}`)
      this.stored.delete(id)
    }
  }
  async reclaim(): Promise<OutboxBatch[]> {
    const got = this.later
    this.later = []
    for (const b of got) this.stored.set(b.batchId, b)
    return got
  }
  failed(b: OutboxBatch, err: Error): void {
    this.failures.push([b.batchId, (err as { code?: string }).code ?? err.message])
  }
  async close(): Promise<void> {
    this.log.push('close')
  }
}
