import { ErrorCode } from '../protocol/error-codes.js'
import type { FakeCluster } from './cluster.js'
import type { FakeBatch, FakeRecord } from './partition.js'

/** One transactional id as the fake coordinator keeps it. */
export interface FakeTransaction {
  readonly transactionalId: string
  producerId: number
  producerEpoch: number
  timeoutMs: number
  state: 'empty' | 'ongoing'
  /** `topic:partition` of the partitions added (explicitly in v1, by Produce v12 in v2). */
  readonly partitions: Set<string>
  /** Groups whose offsets are part of the transaction (AddOffsetsToTxn, or TxnOffsetCommit v5+). */
  readonly groups: Set<string>
  /** Offsets written by TxnOffsetCommit, applied to the group on commit: group → `topic:partition` → offset. */
  readonly pendingOffsets: Map<string, Map<string, number>>
  /** Batches appended in the current transaction. */
  readonly batches: FakeBatch[]
  /** Transactions ended: [committed?] in order. */
  readonly ended: boolean[]
}

/**
 * The fake cluster's transaction coordinator: producer id/epoch per transactional id (fencing older epochs), the
 * partitions and groups of the open transaction, and its batches, marked committed or aborted by EndTxn (or by a
 * new InitProducerId, which aborts what the previous holder left open). With `transactionVersion` ≥ 2 (KIP-890),
 * Produce v12 adds partitions itself, TxnOffsetCommit v5 adds the group, and EndTxn v5 bumps the epoch.
 * Transaction timeouts are not modelled.
 */
export class FakeTransactions {
  readonly byId = new Map<string, FakeTransaction>()
  /** Committed consumer group offsets: group → `topic:partition` → offset. */
  readonly groupOffsets = new Map<string, Map<string, number>>()

  constructor(
    private readonly cluster: FakeCluster,
    readonly transactionVersion: number,
  ) {}

  get(transactionalId: string): FakeTransaction | undefined {
    return this.byId.get(transactionalId)
  }

  /** InitProducerId with a transactional id: ends what the previous holder left open (aborted), then the next epoch. */
  init(transactionalId: string, timeoutMs: number): { producerId: number; producerEpoch: number } {
    const prev = this.byId.get(transactionalId)
    if (prev && prev.state === 'ongoing') this.complete(prev, false)
    const { producerId, producerEpoch } = this.cluster.initProducerId(transactionalId)
    const txn: FakeTransaction = prev ?? {
      transactionalId,
      producerId,
      producerEpoch,
      timeoutMs,
      state: 'empty',
      partitions: new Set(),
      groups: new Set(),
      pendingOffsets: new Map(),
      batches: [],
      ended: [],
    }
    txn.producerId = producerId
    txn.producerEpoch = producerEpoch
    txn.timeoutMs = timeoutMs
    this.byId.set(transactionalId, txn)
    return { producerId, producerEpoch }
  }

  /** The error for a request naming this id/producer/epoch (0 when it is the current holder). */
  check(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    version: number,
    fencedFrom: number,
  ): number {
    const txn = this.byId.get(transactionalId)
    if (!txn || txn.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
    if (producerEpoch !== txn.producerEpoch)
      return version >= fencedFrom ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH
    return 0
  }

  addPartition(txn: FakeTransaction, topic: string, partition: number): void {
    txn.partitions.add(`${topic}:${partition}`)
    txn.state = 'ongoing'
  }

  addGroup(txn: FakeTransaction, groupId: string): void {
    txn.groups.add(groupId)
    txn.state = 'ongoing'
  }

  /** EndTxn: marks the transaction's batches and applies (or drops) its offsets; v2 bumps the epoch. */
  end(txn: FakeTransaction, committed: boolean, bumpEpoch: boolean): void {
    this.complete(txn, committed)
    if (bumpEpoch) {
      txn.producerEpoch++
      this.cluster.fenceProducer(txn.producerId, txn.producerEpoch)
    }
  }

  private complete(txn: FakeTransaction, committed: boolean): void {
    for (const b of txn.batches) b.transaction = committed ? 'committed' : 'aborted'
    if (committed) {
      for (const [group, offsets] of txn.pendingOffsets) {
        let g = this.groupOffsets.get(group)
        if (!g) this.groupOffsets.set(group, (g = new Map()))
        for (const [tp, offset] of offsets) g.set(tp, offset)
      }
    }
    txn.ended.push(committed)
    txn.batches.length = 0
    txn.partitions.clear()
    txn.groups.clear()
    txn.pendingOffsets.clear()
    txn.state = 'empty'
  }

  /**
   * What a read_committed consumer reads from a partition's records: non-transactional and committed batches, up to
   * the first batch of a transaction still open (the last stable offset).
   */
  static readCommitted(records: readonly FakeRecord[], batches: readonly FakeBatch[]): FakeRecord[] {
    const out: FakeRecord[] = []
    let b = 0
    for (const r of records) {
      while (b < batches.length && batches[b]!.lastOffset < r.offset) b++
      const batch = batches[b]
      const state = batch?.transaction
      if (state === 'ongoing') break
      if (state !== 'aborted') out.push(r)
    }
    return out
  }
}
