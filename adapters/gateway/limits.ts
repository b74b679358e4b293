/**
 * The gateway's limits as small mechanisms: a token bucket that never lends (records/s, topic lookups/s), the cost
 * of a record for memory accounting, budgets per remote address, and the global backpressure switch (bytes waiting
 * for Kafka). Each is O(1) per operation.
 */
/** What a record costs the gateway beyond its bytes (the objects that carry it, the producer's per-record state). */
export const RECORD_OVERHEAD_BYTES = 64

/** Bytes a record holds while it waits for Kafka: key, value, every header name and value, and the overhead. */
export function recordCost(
  key: Uint8Array | null,
  value: Uint8Array | null,
  headers: ReadonlyArray<readonly [string, Uint8Array | null]>,
): number {
  let n = RECORD_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0)
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    n += h[0].length * 3 + (h[1]?.length ?? 0) + 16 // a name's UTF-8 may take 3 bytes a character
  }
  return n
}

/**
 * A token bucket of `rate` tokens per second holding at most `rate` (one second of burst). take(n) takes n tokens
 * only when all n are there: it never goes negative, so one large request cannot overdraw it.
 */
export class TokenBucket {
  private tokens: number
  private last: number
  constructor(
    private readonly rate: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = rate
    this.last = now()
  }

  /** null when taken; else milliseconds until n tokens are there (Infinity when they never will be). */
  take(n: number): number | null {
    const wait = this.check(n)
    if (wait === null && this.rate > 0 && n > 0) this.tokens -= n
    return wait
  }

  /** What take(n) would answer, taking nothing. */
  check(n: number): number | null {
    if (!(this.rate > 0) || n <= 0) return null
    if (n > this.rate) return Infinity
    const now = this.now()
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate)
    this.last = now
    if (this.tokens >= n) return null
    return Math.max(1, Math.ceil(((n - this.tokens) / this.rate) * 1000))
  }
}

/** Counts per key (a remote address) with a cap per key and a cap over all keys. */
export class Budget {
  private readonly perKey = new Map<string, number>()
  total = 0
  constructor(
    private readonly maxTotal: number,
    private readonly maxPerKey: number,
  ) {}

  /** Takes a slot for `key`; false when either cap is reached. */
  take(key: string): boolean {
    const n = this.perKey.get(key) ?? 0
    if (this.total >= this.maxTotal || n >= this.maxPerKey) return false
    this.perKey.set(key, n + 1)
    this.total++
    return true
  }

  release(key: string): void {
    const n = this.perKey.get(key)
    if (n === undefined) return
    if (n <= 1) this.perKey.delete(key)
    else this.perKey.set(key, n - 1)
    this.total--
  }
}

/**
 * Bytes of records waiting for Kafka. Above `max` the gateway pauses (stops reading from clients); it resumes below
 * half of it. Listeners hear each switch.
 */
export class Backpressure {
  pendingBytes = 0
  paused = false
  pauses = 0
  private waiters: Array<() => void> = []
  private readonly listeners: Array<(paused: boolean) => void> = []
  constructor(private readonly max: number) {}

  onChange(listener: (paused: boolean) => void): void {
    this.listeners.push(listener)
  }

  add(bytes: number): void {
    this.pendingBytes += bytes
    if (!this.paused && this.pendingBytes > this.max) {
      this.paused = true
      this.pauses++
      for (const l of this.listeners) l(true)
    }
  }

  sub(bytes: number): void {
    this.pendingBytes -= bytes
    if (this.paused && this.pendingBytes <= this.max / 2) {
      this.paused = false
      for (const l of this.listeners) l(false)
      for (const w of this.waiters.splice(0)) w()
    }
  }

  whenResumed(): Promise<void> {
    if (!this.paused) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }
}
