/**
 * The gateway's fast way into its Kafka producer: a client batch's records go straight into the producer's record
 * accumulator, as produce() would put them there, without produce()'s per-record work the gateway has already
 * done (the frame was validated: topic name, partition, timestamps; the topic's metadata was looked up), and with
 * one delivery callback per piece of the client batch that lands in one Kafka batch, not one per record.
 *
 * The pieces: a client batch's records are appended in order, so they are contiguous in the Kafka batches they
 * land in; a piece is the records that share one Kafka batch. The first record of each piece carries the piece's
 * callback, the others none (ignoreOutcome: the batch passes over them), and a piece's records share their Kafka
 * batch's fate: its error, or consecutive offsets from the first record's.
 *
 * What produce() does that this path must keep:
 * - order: sends that produce() queued (no memory, no metadata) are appended by the producer later, in order. While
 *   any record this gateway gave to produce() is not yet delivered, a batch goes through produce() too, so it never
 *   overtakes one of those (`viaProduce`);
 * - memory: a record goes in only when bufferMemory has room for it; from the first one that does not fit, the rest
 *   of the batch goes through produce(), which waits for room (maxBlockMs) as it always did;
 * - sizes: a record over maxRequestSize or bufferMemory goes to produce(), which refuses it with its typed error;
 * - a closed or failed producer: nothing is appended; produce() throws its error;
 * - the sender: woken when a batch opens or fills, as produce() wakes it.
 */
import type { PartitionQueue, RecordAccumulator } from '../../src/producer/accumulator.js'
import { BATCH_CREATED, BATCH_FULL } from '../../src/producer/accumulator.js'
import type { BackendFactory, ProducerBackend, Sender } from '../../src/producer/backend.js'
import type { ResolvedOptions } from '../../src/producer/options.js'
import { encodeHeaders } from '../../src/producer/pending-send.js'
import {
  ignoreOutcome,
  type DeliveryCallback,
  type ProducerBatch,
  type RecordToAppend,
} from '../../src/producer/producer-batch.js'
import { BATCH_HEADER_SIZE, type EncodedHeader } from '../../src/protocol/record-batch.js'

/** A header as the gateway's frame parser hands it over: name and value. */
export type FrameHeader = [string, Uint8Array | null]

/**
 * Told once per piece: records [first, first + count) of the client batch (indexes into it) were written at
 * `offset`, `offset + 1`, ... (`logAppendTime`: the broker's time when the topic uses LogAppendTime, else -1), or
 * failed with `err`.
 */
export type PieceCallback = (
  err: Error | null,
  first: number,
  count: number,
  offset: number,
  logAppendTime: number,
) => void

/** The producer's parts this path writes into, taken when the producer is made (see captureInternals). */
export interface ProducerInternals {
  accumulator: RecordAccumulator
  sender: Sender
  backend: ProducerBackend
  options: ResolvedOptions
}

/**
 * Wraps a transport so that the producer made with it hands its internals to `take` (the backend factory sees
 * them all); the transport is otherwise the same object (its prototype).
 */
export function captureInternals<T extends { backend: BackendFactory }>(
  transport: T,
  take: (internals: ProducerInternals) => void,
): T {
  const wrapped = Object.create(transport) as T
  Object.defineProperty(wrapped, 'backend', {
    value: ((context) => {
      const made = transport.backend(context)
      take({ accumulator: context.accumulator, sender: made.sender, backend: made.backend, options: context.options })
      return made
    }) satisfies BackendFactory,
  })
  return wrapped
}

/** One piece being filled: its first record's index in the client batch, and how many followed it. */
interface Piece {
  first: number
  count: number
  /** The first record's timestamp (CreateTime): a different one in its metadata is the broker's LogAppendTime. */
  timestamp: number
  batch: ProducerBatch | null
}

export class DirectAppender {
  /** Records given to produce() (by the caller) and not yet called back: while any are, appendRecord refuses. */
  viaProduce = 0
  closed = false
  readonly #record: RecordToAppend = {
    topic: '',
    partition: 0,
    key: null,
    value: null,
    headers: [],
    timestamp: null as unknown as number, // see blankPendingSend: a reference, not an unboxed double
    estimate: 0,
    now: 0,
    callback: ignoreOutcome,
    reject: null,
    promise: null,
    tag: undefined,
  }
  #piece: Piece | null = null
  #onPiece: PieceCallback | null = null
  #queue: PartitionQueue | null = null

  constructor(private readonly p: ProducerInternals) {}

  /**
   * May a client batch for topic/partition start here? Not while records given to produce() wait, nor when the
   * producer is closed or failed, nor when the producer's metadata does not have the partition.
   */
  begin(topic: string, partition: number, now: number, onPiece: PieceCallback): boolean {
    if (this.viaProduce > 0 || this.closed || this.p.sender.fatalError !== null) return false
    const t = this.p.backend.topic(topic)
    if (t === undefined || partition >= t.partitionCount) return false
    const r = this.#record
    r.topic = topic
    r.partition = partition
    r.now = now
    this.#onPiece = onPiece
    this.#queue = this.p.accumulator.queue(topic, partition)
    this.#piece = null
    return true
  }

  /**
   * Appends record `i` of the client batch begun; false when it does not go this way (no room in bufferMemory,
   * too large): then neither it nor any later record of this batch does, and the caller hands them to produce().
   */
  append(
    i: number,
    timestamp: number,
    key: Uint8Array | null,
    value: Uint8Array | null,
    headers: FrameHeader[],
  ): boolean {
    const { accumulator, options } = this.p
    const encoded: EncodedHeader[] = encodeHeaders(headers)
    const estimate = accumulator.format.estimate(key, value, encoded)
    if (estimate + BATCH_HEADER_SIZE > options.maxRequestSize || !accumulator.hasRoom(estimate)) return false
    const r = this.#record
    r.key = key
    r.value = value
    r.headers = encoded
    r.timestamp = timestamp
    r.estimate = estimate
    // the record's piece: the one being filled when the record joins that piece's batch, else a new one (it opens
    // a batch, or the batch it joins holds none of this client batch yet), whose callback the record carries
    const q = this.#queue!
    const joins = accumulator.joinable(q, estimate)
    let piece = this.#piece
    if (piece === null || joins === undefined || joins !== piece.batch) {
      piece = this.#piece = { first: i, count: 0, timestamp, batch: null }
      r.callback = this.#callbackFor(piece)
    } else r.callback = ignoreOutcome
    const flags = accumulator.append(r)
    piece.batch = joins ?? q.batches[q.batches.length - 1]!
    piece.count++
    if ((flags & (BATCH_CREATED | BATCH_FULL)) !== 0) this.p.sender.wake()
    return true
  }

  /** The client batch is done (every record appended, or the rest went to produce()). */
  end(): void {
    this.#piece = null
    const r = this.#record
    r.key = r.value = null
    r.headers = []
    r.callback = ignoreOutcome
    this.#onPiece = null
    this.#queue = null
  }

  /** The callback of a piece's first record: told that record's outcome, it answers for the whole piece. */
  #callbackFor(piece: Piece): DeliveryCallback {
    const onPiece = this.#onPiece!
    return (err, meta) => {
      if (err !== null || meta === null) onPiece(err ?? new Error('no metadata'), piece.first, piece.count, -1, -1)
      else
        onPiece(null, piece.first, piece.count, meta.offset, meta.timestamp !== piece.timestamp ? meta.timestamp : -1)
    }
  }
}
