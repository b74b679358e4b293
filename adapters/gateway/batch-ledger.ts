/**
 * The batch ledger: what became of each client batch id, so a batch resent after a reconnect is acknowledged from
 * memory instead of written twice. Keys are (namespace, batch id), where the namespace is the token's subject (or,
 * for a token without one, its signature). Running batches live in their own map and are never evicted; finished
 * ones go to an LRU of `maxDone` entries. Every operation is O(1).
 */
import type { WireResult } from '../gateway-wire/index.js'

/** A batch id's fate: offsets filled in as Kafka acknowledges; `pending` while a produce of it runs. */
export interface LedgerEntry {
  topic: string
  partition: number
  count: number
  offsets: Array<number | undefined>
  logAppendTime: number
  pending: Promise<void> | null
  result: WireResult | null
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
