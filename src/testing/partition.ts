import type { DecodedBatch } from '../protocol/record-batch.js'

/** A record as the fake cluster stored it (what a consumer would read back). */
export interface FakeRecord {
  topic: string
  partition: number
  offset: number
  /** CreateTime from the batch, or the broker's append time when the topic uses LogAppendTime. */
  timestamp: number
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Array<[string, Uint8Array | null]>
  /** -1 for a non-idempotent producer. */
  producerId: number
  producerEpoch: number
  /** The record's sequence number (batch base sequence + offset delta), -1 without idempotence. */
  sequence: number
}

/** One appended batch: where it went and who wrote it. */
export interface FakeBatch {
  baseOffset: number
  lastOffset: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  lastSequence: number
  recordCount: number
  /** Compression codec id of the batch as produced (0 none, 1 gzip, ...). */
  codecId: number
  /** Broker time of the append. */
  appendTime: number
  /** Size of the batch as produced. */
  sizeInBytes: number
  /** Transactional batches: whether its transaction is still open, committed or aborted (EndTxn marks it). */
  transaction?: 'ongoing' | 'committed' | 'aborted'
}

export type TimestampType = 'CreateTime' | 'LogAppendTime'

/** Outcome of appending one batch, in Produce response terms. */
export interface AppendResult {
  errorCode: number
  baseOffset: number
  logAppendTimeMs: number
  errorMessage: string | null
  /** True when the batch was a retry of one already in the log (answered with the original offset). */
  duplicate: boolean
}

/** Kafka keeps the metadata of this many recent batches per producer to recognize retried duplicates. */
const BATCHES_RETAINED_PER_PRODUCER = 5
const INT32_MAX = 2147483647
const NO_EPOCH = -1

const OUT_OF_ORDER_SEQUENCE_NUMBER = 45
const INVALID_PRODUCER_EPOCH = 47
const INVALID_RECORD = 87

interface ProducerEntry {
  epoch: number
  /** Oldest first, at most BATCHES_RETAINED_PER_PRODUCER. */
  batches: FakeBatch[]
}

/** Sequence of the last record of a batch, wrapping after INT32_MAX as Kafka's DefaultRecordBatch does. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  if (baseSequence < 0) return -1
  return baseSequence > INT32_MAX - lastOffsetDelta
    ? baseSequence - (INT32_MAX - lastOffsetDelta) - 1
    : baseSequence + lastOffsetDelta
}

function inSequence(lastSequence: number, nextSequence: number): boolean {
  return nextSequence === lastSequence + 1 || (nextSequence === 0 && lastSequence === INT32_MAX)
}

/**
 * One partition: its leader, its log (decoded records with offsets) and the idempotent-producer state, checked the
 * way Kafka's ProducerStateManager does for a non-transactional producer:
 * - a batch equal (same epoch, first and last sequence) to one of the producer's last 5 batches is a duplicate: it is
 *   not appended again and is answered with the original base offset and no error;
 * - an epoch older than the one the partition knows → INVALID_PRODUCER_EPOCH;
 * - a new epoch must start at sequence 0 (unless the partition never saw this producer: then any sequence goes);
 * - otherwise the first sequence must follow the last one → else OUT_OF_ORDER_SEQUENCE_NUMBER.
 */
export class FakePartition {
  leader: number
  leaderEpoch = 0
  replicas: number[]
  readonly records: FakeRecord[] = []
  readonly batches: FakeBatch[] = []
  logStartOffset = 0
  private readonly producers = new Map<number, ProducerEntry>()

  constructor(
    readonly topic: string,
    readonly index: number,
    leader: number,
    replicas: number[],
  ) {
    this.leader = leader
    this.replicas = replicas
  }

  get logEndOffset(): number {
    return this.logStartOffset + this.records.length
  }

  /** The epoch this partition knows for a producer (-1 if none). */
  producerEpoch(producerId: number): number {
    return this.producers.get(producerId)?.epoch ?? NO_EPOCH
  }

  /** Raise the epoch the partition expects from a producer (fencing its current one). */
  bumpProducerEpoch(producerId: number, epoch: number): void {
    const entry = this.producers.get(producerId)
    if (entry && entry.epoch < epoch) {
      entry.epoch = epoch
      entry.batches = []
    } else if (!entry) this.producers.set(producerId, { epoch, batches: [] })
  }

  /** Forget a producer's state, as Kafka does when its last batches leave the log (retention). */
  forgetProducer(producerId: number): void {
    this.producers.delete(producerId)
  }

  /** Validates and appends one decoded batch. Synchronous: appends to one partition never interleave. */
  append(batch: DecodedBatch, now: number, timestampType: TimestampType): AppendResult {
    const fail = (errorCode: number, errorMessage: string): AppendResult => ({
      errorCode,
      baseOffset: -1,
      logAppendTimeMs: -1,
      errorMessage,
      duplicate: false,
    })
    if (batch.lastOffsetDelta !== batch.recordCount - 1)
      return fail(
        INVALID_RECORD,
        `lastOffsetDelta ${batch.lastOffsetDelta} does not match ${batch.recordCount} records`,
      )
    for (let i = 0; i < batch.records.length; i++) {
      if (batch.records[i]!.offset - batch.baseOffset !== i)
        return fail(INVALID_RECORD, `record ${i} has offset delta ${batch.records[i]!.offset - batch.baseOffset}`)
    }
    if (batch.recordCount === 0) return fail(INVALID_RECORD, 'empty record batch')
    const pid = batch.producerId
    const idempotent = pid >= 0
    const lastSequence = lastSequenceOf(batch.baseSequence, batch.lastOffsetDelta)
    const entry = idempotent ? this.producers.get(pid) : undefined
    if (idempotent) {
      if (entry && entry.epoch === batch.producerEpoch) {
        const dup = entry.batches.find((b) => b.baseSequence === batch.baseSequence && b.lastSequence === lastSequence)
        if (dup) {
          return {
            errorCode: 0,
            baseOffset: dup.baseOffset,
            logAppendTimeMs: timestampType === 'LogAppendTime' ? dup.appendTime : -1,
            errorMessage: null,
            duplicate: true,
          }
        }
      }
      if (batch.baseSequence < 0) return fail(INVALID_RECORD, 'an idempotent batch needs a sequence number')
      const known = entry?.epoch ?? NO_EPOCH
      if (batch.producerEpoch < known) {
        return fail(
          INVALID_PRODUCER_EPOCH,
          `producer ${pid} epoch ${batch.producerEpoch} is older than the current epoch ${known}`,
        )
      }
      if (batch.producerEpoch !== known) {
        if (batch.baseSequence !== 0 && known !== NO_EPOCH) {
          return fail(
            OUT_OF_ORDER_SEQUENCE_NUMBER,
            `producer ${pid}: new epoch ${batch.producerEpoch} must start at sequence 0, got ${batch.baseSequence}`,
          )
        }
      } else {
        const last = entry!.batches.length > 0 ? entry!.batches[entry!.batches.length - 1]!.lastSequence : -1
        if (!inSequence(last, batch.baseSequence)) {
          return fail(
            OUT_OF_ORDER_SEQUENCE_NUMBER,
            `producer ${pid}: sequence ${batch.baseSequence} does not follow ${last}`,
          )
        }
      }
    }

    const baseOffset = this.logEndOffset
    const appendTime = now
    for (let i = 0; i < batch.records.length; i++) {
      const r = batch.records[i]!
      this.records.push({
        topic: this.topic,
        partition: this.index,
        offset: baseOffset + i,
        timestamp: timestampType === 'LogAppendTime' ? appendTime : r.timestamp,
        key: r.key === null ? null : r.key.slice(),
        value: r.value === null ? null : r.value.slice(),
        headers: r.headers.map(([k, v]) => [k, v === null ? null : v.slice()]),
        producerId: pid,
        producerEpoch: batch.producerEpoch,
        sequence: idempotent ? lastSequenceOf(batch.baseSequence, i) : -1,
      })
    }
    const stored: FakeBatch = {
      baseOffset,
      lastOffset: baseOffset + batch.recordCount - 1,
      producerId: pid,
      producerEpoch: batch.producerEpoch,
      baseSequence: batch.baseSequence,
      lastSequence,
      recordCount: batch.recordCount,
      codecId: batch.codecId,
      appendTime,
      sizeInBytes: batch.sizeInBytes,
    }
    this.batches.push(stored)
    if (idempotent) {
      let e = entry
      if (!e || e.epoch !== batch.producerEpoch) {
        e = { epoch: batch.producerEpoch, batches: [] }
        this.producers.set(pid, e)
      }
      e.batches.push(stored)
      if (e.batches.length > BATCHES_RETAINED_PER_PRODUCER) e.batches.shift()
    }
    return {
      errorCode: 0,
      baseOffset,
      logAppendTimeMs: timestampType === 'LogAppendTime' ? appendTime : -1,
      errorMessage: null,
      duplicate: false,
    }
  }
}
