/**
 * The batch ledger: what became of each client batch id, so a batch resent after a reconnect is acknowledged from
 * memory instead of written twice. Keys are (namespace, batch id), where the namespace is the token's subject (or,
 * for a token without one, its signature). Running batches live in their own map and are never evicted; finished
 * ones go to an LRU of `maxDone` entries. Every operation is O(1).
 */
import { CRC32C_INIT, crc32cUpdate } from '../../src/protocol/crc32c.js'
import type { WireRecord, WireResult } from '../gateway-wire/index.js'

/** A batch id's fate: offsets filled in as Kafka acknowledges; `pending` while a produce of it runs. */
export interface LedgerEntry {
  topic: string
  partition: number
  count: number
  /** batchDigest() of the records: a resend must carry the same records, not only as many. */
  digest: number
  offsets: Array<number | undefined>
  logAppendTime: number
  pending: Promise<void> | null
  result: WireResult | null
}

const scratch = new Uint8Array(8)
const view = new DataView(scratch.buffer)

function mixNumber(crc: number, v: number): number {
  view.setFloat64(0, v)
  return crc32cUpdate(crc, scratch)
}

function mixBytes(crc: number, b: Uint8Array | null): number {
  crc = mixNumber(crc, b === null ? -1 : b.length)
  return b === null || b.length === 0 ? crc : crc32cUpdate(crc, b)
}

/**
 * A digest of a batch's records (timestamps, keys, values, header names and values, with lengths so that null,
 * empty and shifted bytes differ): CRC32C, the record batches' own checksum, fast on every runtime. A client that
 * reuses a batch id for other records gets BATCH_ID_REUSED even when the count matches; a collision could only
 * make a client's own resend of different records look like a duplicate, within its own namespace.
 */
export function batchDigest(records: readonly WireRecord[]): number {
  let crc = CRC32C_INIT
  for (const r of records) {
    crc = mixNumber(crc, r[0])
    crc = mixBytes(crc, r[1])
    crc = mixBytes(crc, r[2])
    crc = mixNumber(crc, r[3].length)
    for (const [name, value] of r[3]) {
      let h = 0x811c9dc5
      for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
      crc = mixNumber(crc, h * 65536 + name.length)
      crc = mixBytes(crc, value)
    }
  }
  return crc >>> 0
}

/** An unambiguous key: the namespace's length first, so no namespace/batch-id pair can spell another's key. */
export function ledgerKey(namespace: string, batchId: string): string {
  return `${namespace.length}:${namespace}${batchId}`
}

export class BatchLedger {
  private readonly running = new Map<string, LedgerEntry>()
  private readonly done = new Map<string, LedgerEntry>()
  constructor(private readonly maxDone: number, private readonly maxRunning: number) {}

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
    const d = this.done.get(key)
    if (d) {
      this.done.delete(key)
      this.done.set(key, d)
    }
    return d
  }

  /** Marks an entry (new, or finished and being retried) as running: it cannot be evicted until finish(). */
  start(key: string, entry: LedgerEntry): void {
    this.done.delete(key)
    this.running.set(key, entry)
  }

  /** A running entry finished: it joins the LRU of finished ones, evicting the least recently used beyond maxDone. */
  finish(key: string, entry: LedgerEntry): void {
    if (this.running.get(key) !== entry) return
    this.running.delete(key)
    if (this.maxDone <= 0) return
    this.done.set(key, entry)
    if (this.done.size > this.maxDone) {
      const oldest = this.done.keys().next().value as string
      this.done.delete(oldest)
    }
  }
}
