/**
 * The batch ledger: what became of each client batch id, so a batch resent after a reconnect is acknowledged from
 * memory instead of written twice. Keys are (namespace, batch id), where the namespace is the token's subject (or,
 * for a token without one, its signature). Running batches live in their own map and are never evicted; finished
 * ones go to an LRU of `maxDone` entries. Every operation is O(1).
 */
import type { WireRecord, WireResult } from '../gateway-wire/index.js'

/** A batch id's fate: offsets filled in as Kafka acknowledges; `pending` while a produce of it runs. */
export interface LedgerEntry {
  topic: string
  partition: number
  count: number
  /** batchDigest() of the records: a resend must carry the same records, not only as many. */
  digest: number
  /**
   * Each record's offset once written (undefined: not yet), made only when needed: a partial resend, records that
   * went through produce(), pieces out of order, or a failure that a retry must resume. Until then the records
   * written are [0, runCount), at runBase, runBase + 1, ... (the usual way: a client batch's pieces acked in order).
   * An array of the batch's count per batch was ~800 B for 100 records, alive until Kafka answered.
   */
  offsets: Array<number | undefined> | null
  runBase: number
  runCount: number
  logAppendTime: number
  pending: Promise<void> | null
  result: WireResult | null
}

/** One 32-bit step of the digest (MurmurHash2's multiply-and-shift mix). */
export function mixWord(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x5bd1e995)
  return h ^ (h >>> 15)
}
const mix = mixWord

export const DIGEST_SEED = 0x811c9dc5
/** What a nil key, value or header value mixes in (an empty one mixes its length, 0). */
export const DIGEST_NULL = 0x9e3779b9

/** Mixes the `n` bytes at `off` of `b` (`view` is a DataView over exactly b's bytes): the length, then 4 bytes a step. */
export function mixBytesAt(h: number, b: Uint8Array, view: DataView, off: number, n: number): number {
  h = mix(h, n)
  let i = 0
  if (n >= 16) for (; i + 4 <= n; i += 4) h = mix(h, view.getInt32(off + i, true))
  for (; i < n; i++) h = mix(h, b[off + i]!)
  return h
}

// a DataView over the frame the bytes are views of, kept while consecutive fields share it (they do: one frame)
let lastBuffer: ArrayBufferLike | null = null
let lastView: DataView | null = null

function mixBytes(h: number, b: Uint8Array | null): number {
  if (b === null) return mix(h, DIGEST_NULL)
  const n = b.length
  h = mix(h, n)
  if (n >= 16) {
    if (b.buffer !== lastBuffer) {
      lastBuffer = b.buffer
      lastView = new DataView(b.buffer)
    }
    const view = lastView!
    const base = b.byteOffset
    let i = 0
    for (; i + 4 <= n; i += 4) h = mix(h, view.getInt32(base + i, true))
    for (; i < n; i++) h = mix(h, b[i]!)
    return h
  }
  for (let i = 0; i < n; i++) h = mix(h, b[i]!)
  return h
}

/**
 * A 32-bit digest of a batch's records (keys, values, header names and values, with lengths so that null, empty
 * and shifted bytes differ), four bytes a step. A client that reuses a batch id for other records gets
 * BATCH_ID_REUSED even when the count matches. Timestamps are left out: a client that stamps a resend anew still
 * sends the same records, and gets the first write's offsets. It is no cryptographic hash: a collision can only make a client's own
 * resend of different records look like a duplicate, within its own namespace. Cost: ~110 ns a 100-byte record
 * (CRC32C called per field cost ~470 ns).
 */
export function batchDigest(records: readonly WireRecord[]): number {
  let h = DIGEST_SEED
  for (const r of records) {
    h = mixBytes(h, r[1])
    h = mixBytes(h, r[2])
    h = mix(h, r[3].length)
    for (const [name, value] of r[3]) {
      h = mix(h, name.length)
      for (let i = 0; i < name.length; i++) h = mix(h, name.charCodeAt(i))
      h = mixBytes(h, value)
    }
  }
  return h >>> 0
}

/** An unambiguous key: the namespace's length first, so no namespace/batch-id pair can spell another's key. */
export function ledgerKey(namespace: string, batchId: string): string {
  return `${namespace.length}:${namespace}${batchId}`
}

/** A finished entry in the LRU, linked from the least to the most recently used. */
interface DoneNode {
  key: string
  entry: LedgerEntry
  older: DoneNode | null
  newer: DoneNode | null
}

export class BatchLedger {
  private readonly running = new Map<string, LedgerEntry>()
  // The LRU of finished entries keeps its own order (a linked list) instead of relying on the Map's insertion order:
  // evicting the Map's first key (`keys().next()`) walks over every slot deleted before it, so once the ledger was
  // full each finished batch cost 30–115 µs (100,000 entries), and a client sending tiny batches could make the
  // gateway spend most of its time there.
  private readonly done = new Map<string, DoneNode>()
  private oldest: DoneNode | null = null
  private newest: DoneNode | null = null
  constructor(
    private readonly maxDone: number,
    private readonly maxRunning: number,
  ) {}

  get runningCount(): number {
    return this.running.size
  }

  get size(): number {
    return this.running.size + this.done.size
  }

  /** Can `n` more batches start running now? */
  hasRoomFor(n: number): boolean {
    return this.running.size + n <= this.maxRunning
  }

  /** The entry for a key (a finished one becomes the most recently used). */
  get(key: string): LedgerEntry | undefined {
    const r = this.running.get(key)
    if (r) return r
    const node = this.done.get(key)
    if (node === undefined) return undefined
    if (node !== this.newest) {
      this.unlink(node)
      this.append(node)
    }
    return node.entry
  }

  /** Marks an entry (new, or finished and being retried) as running: it cannot be evicted until finish(). */
  start(key: string, entry: LedgerEntry): void {
    this.forget(key)
    this.running.set(key, entry)
  }

  /** A running entry finished: it joins the LRU of finished ones, evicting the least recently used beyond maxDone. */
  finish(key: string, entry: LedgerEntry): void {
    if (this.running.get(key) !== entry) return
    this.running.delete(key)
    if (this.maxDone <= 0) return
    // not in `done`: start() took it out, and only finish() of its running entry puts it back
    const node: DoneNode = { key, entry, older: null, newer: null }
    this.done.set(key, node)
    this.append(node)
    if (this.done.size > this.maxDone) this.forget(this.oldest!.key)
  }

  private forget(key: string): void {
    const node = this.done.get(key)
    if (node === undefined) return
    this.done.delete(key)
    this.unlink(node)
  }

  private append(node: DoneNode): void {
    node.older = this.newest
    node.newer = null
    if (this.newest !== null) this.newest.newer = node
    else this.oldest = node
    this.newest = node
  }

  private unlink(node: DoneNode): void {
    if (node.older !== null) node.older.newer = node.newer
    else this.oldest = node.newer
    if (node.newer !== null) node.newer.older = node.older
    else this.newest = node.older
    node.older = node.newer = null
  }
}
