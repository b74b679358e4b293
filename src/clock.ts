/**
 * Time, timers and randomness, passed in so linger, backoff and timeout behaviour can be tested with a fake clock.
 */
export interface Clock {
  /** Milliseconds since the epoch (wall clock; Date.now() is the fastest timer in every runtime). */
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  /** Uniform in [0, 1): used for backoff jitter and sticky-partition choice. */
  random(): number
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
}

/** Exponential backoff with ±20% jitter, as Java's ExponentialBackoff (multiplier 2). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  if (baseMs <= 0) return 0
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  const jitter = 1 + (random() * 2 - 1) * 0.2
  return Math.max(0, Math.min(maxMs, Math.round(exp * jitter)))
}

/**
 * One timer that knows when it is due. An overdue timer does not count as pending: in Workers a timer set during an
 * earlier request never fires once that request is over (a producer in module scope lives on), so whoever would wait
 * for it replaces it instead.
 */
export class DueTimer {
  private handle: unknown = null
  /** When it is due; Infinity when not set. */
  at = Infinity

  constructor(private readonly clock: Clock) {}

  /** Set and not yet overdue. */
  pending(): boolean {
    return this.handle !== null && this.at >= this.clock.now()
  }

  /** Run `fn` at `at` (ms), replacing whatever was set. */
  set(at: number, fn: () => void): void {
    this.clear()
    this.at = at
    this.handle = this.clock.setTimeout(() => {
      this.handle = null
      this.at = Infinity
      fn()
    }, Math.max(0, at - this.clock.now()))
  }

  clear(): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle)
    this.handle = null
    this.at = Infinity
  }
}

/**
 * Runs one pass function soon (coalesced into one microtask) or at the earliest requested time (one timer).
 * Both senders drive their loop with it.
 */
export class PassScheduler {
  private scheduled = false
  private readonly timer: DueTimer
  private stopped = false

  constructor(clock: Clock, private readonly pass: () => void) {
    this.timer = new DueTimer(clock)
  }

  /** Run a pass soon. */
  wake(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.pass()
    })
  }

  /** Run a pass at `at` (ms) unless one is already due earlier. An overdue timer is replaced by one that runs now. */
  wakeAt(at: number): void {
    if (at === Infinity || this.stopped) return
    if (this.timer.pending()) {
      if (at >= this.timer.at) return
    } else {
      at = Math.min(at, this.timer.at) // overdue (never fired): the pass it owed runs at once; not set: Infinity
    }
    this.timer.set(at, this.pass)
  }

  /** Cancel the timer; with `final`, later wakeAt calls are ignored too. */
  stop(final = false): void {
    this.timer.clear()
    if (final) this.stopped = true
  }
}
